"""Pooling rules for one answer per specimen, chosen on the inner folds, scored on the outer.

Stage 1 (``evidence``) rebuilds, for every outer fold of the provenance CV, the inner
out-of-fold answers of the chosen model (each family at the setting and the combination weights
that fold's cache holds, so they are the ``inner`` probabilities ``fit_pool`` saw) and its test
answers, with what other pooling rules need: each spectrum's best library similarity, its number
of near-duplicates among its specimen's spectra, and the combination's answer from evidence
pooled over a specimen's spectra (its neighbours by the mean and by the max similarity over
them). Stored under ``W/metrics/pooling_rules/fold_<k>.npz``.

Stage 2 scores every rule: its pooled answers calibrated and given conformal thresholds on the
inner folds (as ``fit_pool``), its inner log-loss and top-1, and its outer-fold numbers each
specimen once; then each selection criterion picks one rule per fold from the inner numbers only.

    python benchmarks/pooling_rules.py --workdir DIR [--split specimen] [--json OUT]
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from pathlib import Path

import numpy as np

from rruffgeo.config import MAX_NEIGHBOURS, Settings
from rruffgeo.provenance.calibration import Calibrator, log_loss_per_sample, top_label_ece
from rruffgeo.provenance.conformal import SplitConformal, conformal_set
from rruffgeo.provenance.cv import cv_key, load_fold
from rruffgeo.provenance.data import ProvenanceData, load_provenance_data
from rruffgeo.provenance.library import unit_rows
from rruffgeo.provenance.models import (
    ClassPrior,
    KNNCountry,
    Neighbours,
    SpeciesFrequency,
    top_neighbours,
)
from rruffgeo.provenance.pooling import (
    POOL_RULES,
    choose_rule,
    group_codes,
    group_labels,
    pool,
    pool_mean,
    similarity_weights,
)
from rruffgeo.splits import cv_splits
from rruffgeo.workdir import WorkDir

DUP_LEVELS = (0.9, 0.95, 0.99)


def fitted_parts(data: ProvenanceData, rows: np.ndarray, params: dict, model: str,
                 n_classes: int) -> tuple[list, np.ndarray]:
    """The combination's parts fitted on ``rows`` at the fold's settings, and their weights."""
    weights = params[model]["weights"]
    parts = []
    for name in weights:
        p = {k: params[name][k] for k in ("alpha", "k", "tau", "lam") if k in params[name]}
        factory = {"prior": ClassPrior, "species_freq": SpeciesFrequency,
                   "knn_spectra": lambda **q: KNNCountry(by_specimen=False, **q),
                   "knn_specimens": lambda **q: KNNCountry(by_specimen=True, **q)}[name]
        parts.append(factory(**p).fit(data.X[rows], data.y[rows], groups=data.groups[rows],
                                      species=data.species[rows], n_classes=n_classes))
    return parts, np.array(list(weights.values()))


def combine(parts: list, w: np.ndarray, nb: Neighbours) -> np.ndarray:
    return sum(wi * m.proba_from_neighbours(nb) for wi, m in zip(w, parts, strict=True))


def pooled_sims(sims: np.ndarray, codes: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Per group, the mean and the max similarity of its rows to every reference."""
    order = np.argsort(codes, kind="stable")
    starts = np.searchsorted(codes[order], np.arange(n))
    s = sims[order]
    counts = np.bincount(codes, minlength=n)[:, None]
    return np.add.reduceat(s, starts, axis=0) / counts, np.maximum.reduceat(s, starts, axis=0)


def duplicates(U: np.ndarray, codes: np.ndarray) -> np.ndarray:
    """(n, len(DUP_LEVELS)): how many spectra of its group (itself included) each spectrum
    has at cosine >= each level."""
    out = np.zeros((len(U), len(DUP_LEVELS)))
    for g in np.unique(codes):
        rows = np.flatnonzero(codes == g)
        gram = U[rows] @ U[rows].T
        for j, lv in enumerate(DUP_LEVELS):
            out[rows, j] = (gram >= lv - 1e-6).sum(axis=1)
    return out


def evidence_of(data: ProvenanceData, rows: np.ndarray, queries: np.ndarray, params: dict,
                model: str) -> dict[str, np.ndarray]:
    """Per-spectrum raw answers and features, and pooled-evidence answers per group."""
    n_classes = len(data.classes)
    parts, w = fitted_parts(data, rows, params, model, n_classes)
    ref = parts[0].reference_
    U = unit_rows(data.X[queries])
    _, codes = group_codes(data.groups[queries])
    n = int(codes.max()) + 1
    raw, best, ev_mean, ev_max = (np.zeros((len(queries), n_classes)), np.zeros(len(queries)),
                                  np.zeros((n, n_classes)), np.zeros((n, n_classes)))
    sims = np.concatenate([U[lo:lo + 512] @ ref.T for lo in range(0, len(U), 512)])
    for lo in range(0, len(U), 512):  # find_neighbours' blocks: the same ties
        nb = top_neighbours(sims[lo:lo + 512], MAX_NEIGHBOURS)
        raw[lo:lo + 512] = combine(parts, w, nb)
        best[lo:lo + 512] = nb.sim[:, 0]
    mean_s, max_s = pooled_sims(sims, codes, n)
    del sims
    ev_mean = combine(parts, w, top_neighbours(mean_s, MAX_NEIGHBOURS))
    ev_max = combine(parts, w, top_neighbours(max_s, MAX_NEIGHBOURS))
    return {"raw": raw, "best": best, "dups": duplicates(U, codes), "codes": codes,
            "ev_mean": ev_mean, "ev_max": ev_max}


def fold_evidence(data: ProvenanceData, tr: np.ndarray, te: np.ndarray, params: dict,
                  model: str, inner_folds: int, seed: int) -> dict[str, np.ndarray]:
    """Inner out-of-fold evidence on the training fold (pooled groups in the inner test
    sets, which hold whole specimens) and the test fold's evidence."""
    inner = cv_splits(data.y[tr], data.groups[tr], "specimen", inner_folds, seed)
    out: dict[str, list] = {}
    offset = 0
    for itr, iva in inner:
        e = evidence_of(data, tr[itr], tr[iva], params, model)
        for k in ("raw", "best", "dups", "ev_mean", "ev_max"):
            out.setdefault(f"inner_{k}", []).append(e[k])
        out.setdefault("inner_codes", []).append(e["codes"] + offset)
        out.setdefault("inner_rows", []).append(tr[iva])
        offset += int(e["codes"].max()) + 1
    res = {k: np.concatenate(v) for k, v in out.items()}
    e = evidence_of(data, tr, te, params, model)
    res.update({f"test_{k}": v for k, v in e.items()})
    res["test_rows"] = te
    return res


# ---------------------------------------------------------------- stage 2: rules


def power_mean(p: np.ndarray, codes: np.ndarray, n: int, a: float) -> np.ndarray:
    """Per group, ``(mean p^a)^(1/a)`` normalised: a > 1 leans on the surer spectra."""
    out = pool_mean(p ** a, codes, n) ** (1.0 / a)
    return out / out.sum(axis=1, keepdims=True)


def trimmed_mean(p: np.ndarray, codes: np.ndarray, n: int, cut: float) -> np.ndarray:
    """Per class, the mean after dropping ``cut`` of a group's rows at each end."""
    out = np.zeros((n, p.shape[1]))
    for g in range(n):
        rows = p[codes == g]
        k = int(np.floor(cut * len(rows)))
        out[g] = np.sort(rows, axis=0)[k:len(rows) - k].mean(axis=0)
    return out / out.sum(axis=1, keepdims=True)


Rule = Callable[[dict[str, np.ndarray], str, int], np.ndarray]


def rules() -> dict[str, Rule]:
    """Every pooling rule: (evidence, "inner" or "test", number of groups) -> pooled raw."""
    def mk(f: Callable[..., np.ndarray]) -> Rule:
        return lambda e, s, n: f(e[f"{s}_raw"], e[f"{s}_codes"], n, e, s)

    out: dict[str, Rule] = {
        rule: lambda e, s, n, rule=rule: pool(rule, e[f"{s}_raw"], e[f"{s}_codes"], n,
                                              e[f"{s}_best"])
        for rule in POOL_RULES}  # the predictor's rules, as rruffgeo.provenance.pooling has them
    out["sim_0.003"] = mk(lambda p, c, n, e, s: pool_mean(
        p, c, n, similarity_weights(e[f"{s}_best"], c, n, 0.003)))
    out["ev_mean"] = lambda e, s, n: e[f"{s}_ev_mean"]
    out["ev_max"] = lambda e, s, n: e[f"{s}_ev_max"]
    for a in (0.5, 2.0, 4.0):
        out[f"power_{a:g}"] = mk(lambda p, c, n, e, s, a=a: power_mean(p, c, n, a))
    for b in (1.0, 2.0, 4.0):
        out[f"conf^{b:g}"] = mk(lambda p, c, n, e, s, b=b: pool_mean(
            p, c, n, p.max(axis=1) ** b))
    for j, lv in enumerate(DUP_LEVELS):
        out[f"dedup_{lv:g}"] = mk(lambda p, c, n, e, s, j=j: pool_mean(
            p, c, n, 1.0 / e[f"{s}_dups"][:, j]))
    for cut in (0.1, 0.2):
        out[f"trimmed_{cut:g}"] = mk(lambda p, c, n, e, s, cut=cut: trimmed_mean(p, c, n, cut))
    for name in ("ev_mean", "ev_max"):
        out[f"mean+{name}"] = lambda e, s, n, name=name: 0.5 * (
            out["mean"](e, s, n) + e[f"{s}_{name}"])
    return out


def score_rule(rule: Rule, e: dict[str, np.ndarray], y: np.ndarray) -> dict[str, np.ndarray]:
    """Inner numbers of one rule (calibrated in-sample, as fit_pool) and its test answers."""
    ni, nt = int(e["inner_codes"].max()) + 1, int(e["test_codes"].max()) + 1
    yi = group_labels(y[e["inner_rows"]], e["inner_codes"], ni)
    yt = group_labels(y[e["test_rows"]], e["test_codes"], nt)
    pi, pt = rule(e, "inner", ni), rule(e, "test", nt)
    cal = Calibrator().fit(pi, yi)
    pic, ptc = cal.transform(pi), cal.transform(pt)
    thr = SplitConformal(0.9).fit(pic, yi).threshold_
    sets = conformal_set(ptc, thr)
    top3 = np.argsort(-ptc, axis=1)[:, :3]
    return {"inner_log_loss": float(log_loss_per_sample(pic, yi).mean()),
            "inner_top1": float((pi.argmax(axis=1) == yi).mean()),
            "top1": (ptc.argmax(axis=1) == yt).astype(float),
            "top3": (top3 == yt[:, None]).any(axis=1).astype(float),
            "log_loss": log_loss_per_sample(ptc, yt), "cov": sets[np.arange(nt), yt],
            "size": sets.sum(axis=1).astype(float), "proba": ptc, "y": yt}


def summary(per_fold: list[dict]) -> dict[str, float]:
    cat = {k: np.concatenate([f[k] for f in per_fold]) for k in ("top1", "top3", "log_loss",
                                                                  "cov", "size")}
    proba = np.concatenate([f["proba"] for f in per_fold])
    y = np.concatenate([f["y"] for f in per_fold])
    return {"top1": float(cat["top1"].mean()), "top3": float(cat["top3"].mean()),
            "log_loss": float(cat["log_loss"].mean()), "ece": top_label_ece(proba, y),
            "coverage90": float(cat["cov"].mean()), "size90": float(cat["size"].mean())}


SELECT = {
    "log-loss": lambda r: r["inner_log_loss"],
    "top-1, ties by log-loss": lambda r: (-r["inner_top1"], r["inner_log_loss"]),
    "top-1 to 3 decimals, then log-loss": lambda r: (-round(r["inner_top1"], 3),
                                                     r["inner_log_loss"]),
}
#: The rule sets a fold may choose from: the predictor's (``POOL_RULES``) and every rule here.
CHOICES = {"predictor's rules": list(POOL_RULES), "all rules": None}


def load_or_build(wd: WorkDir, data: ProvenanceData, settings: Settings, split: str,
                  model: str | None) -> tuple[list[dict], str]:
    ps = settings.provenance
    splits = cv_splits(data.y, data.split_groups(split), split, ps.n_folds, ps.seed)
    key = cv_key(data, settings, split, False)
    out_dir = Path(wd.root) / "metrics" / "pooling_rules"
    out_dir.mkdir(parents=True, exist_ok=True)
    folds = []
    for k, (tr, te) in enumerate(splits):
        path = out_dir / f"{split}_fold_{k}.npz"
        cached = load_fold(wd.provenance_cv_cache(split), k, key)
        if cached is None:
            raise SystemExit(f"no provenance CV cache for fold {k}: run `rruffgeo "
                             f"provenance-cv --split {split} --network off` first")
        params = {n: r["params"] for n, r in cached.items()}
        model = model or "combination"
        if not path.exists():
            e = fold_evidence(data, tr, te, params, model, ps.inner_folds, ps.seed)
            diff = np.abs(e["test_raw"] - cached[model]["raw"]).max(axis=1)
            print(f"fold {k}: rows off the CV's test answers by > 1e-4: "
                  f"{int((diff > 1e-4).sum())} of {len(diff)} (max {diff.max():.2g})")
            tmp = path.with_suffix(".tmp.npz")
            np.savez_compressed(tmp, **e)
            tmp.replace(path)
            print(f"fold {k}: evidence built", flush=True)
        with np.load(path) as z:
            folds.append({k2: z[k2] for k2 in z.files})
    return folds, model


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workdir", required=True)
    ap.add_argument("--split", default="specimen")
    ap.add_argument("--model", default=None, help="default: combination")
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    settings, wd = Settings(), WorkDir(args.workdir)
    data = load_provenance_data(wd, settings)
    folds, model = load_or_build(wd, data, settings, args.split, args.model)
    scored = {name: [score_rule(r, e, data.y) for e in folds] for name, r in rules().items()}
    report: dict[str, dict] = {"rules": {}, "selected": {}}
    print(f"{'rule':<20}{'inner ll':>9}{'inner t1':>9}{'top1':>7}{'top3':>7}{'ll':>7}"
          f"{'ece':>7}{'cov90':>7}{'size':>6}")
    for name, per in scored.items():
        s = summary(per)
        il = float(np.mean([f["inner_log_loss"] for f in per]))
        it = float(np.mean([f["inner_top1"] for f in per]))
        report["rules"][name] = {**s, "inner_log_loss": il, "inner_top1": it}
        print(f"{name:<20}{il:>9.4f}{it:>9.4f}{s['top1']:>7.3f}{s['top3']:>7.3f}"
              f"{s['log_loss']:>7.3f}{s['ece']:>7.3f}{s['coverage90']:>7.3f}{s['size90']:>6.1f}")
    print("per fold, inner log-loss / inner top-1:")
    for name, per in scored.items():
        print(f"{name:<20}" + "".join(f"  {f['inner_log_loss']:.4f}/{f['inner_top1']:.4f}"
                                        for f in per))
    for label, names in CHOICES.items():
        names = names or list(scored)
        for crit, key in SELECT.items():
            picks = [min(names, key=lambda n, k=k: key(scored[n][k]))
                     for k in range(len(folds))]
            s = summary([scored[p][k] for k, p in enumerate(picks)])
            report["selected"][f"{label}, by {crit}"] = {"picks": picks, **s}
            print(f"{label}, chosen by inner {crit}: {picks}: "
                  + ", ".join(f"{m} {v:.3f}" for m, v in s.items()))
    fit = [choose_rule({n: scored[n][k]["inner_top1"] for n in POOL_RULES},
                       {n: scored[n][k]["inner_log_loss"] for n in POOL_RULES})
           for k in range(len(folds))]
    chosen = np.concatenate([scored[r][k]["top1"] for k, r in enumerate(fit)])
    mean = np.concatenate([f["top1"] for f in scored["mean"]])
    print(f"fit_pool's choice (choose_rule): {fit}; specimens right only under it "
          f"{int((chosen > mean).sum())}, only under the plain mean {int((mean > chosen).sum())}")
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
