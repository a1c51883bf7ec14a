"""Measure the open-set species answer (novelty) and the continent answer on real data.

Novelty: outer open-set folds of the learning table (each leaves out a fifth of the species
whole and a fifth of the remaining specimens, ``novelty.open_set_folds``); on each, the
learned novelty model is fitted and its threshold calibrated by ``fit_learned_novelty`` on the
fold's library alone (inner open-set splits), then the held-out spectra are scored against
that library. The 48 pharmaceutical reference compounds (``XD`` IDs, not in the learning
table) are scored as one held-out group against the whole library, with a novelty model
fitted on it.

Continents: the provenance CV's out-of-fold calibrated country probabilities of the chosen
model (``metrics/provenance_cv_specimen_oof_proba.npz``; run ``rruffgeo provenance-cv --split
specimen`` first), summed per continent, re-calibrated where inner splits say it helps and
given conformal sets by cross-fitting over the outer folds (``continents.cross_fit``).

    python benchmarks/openset.py --workdir W [--model combination] [--seed 0] [--curve out.json]
        [--skip novelty|continents|folds] [--novelty-model W/models/final]
        [--save-novelty FOLDER]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import pandas as pd

from rruffgeo.config import Settings
from rruffgeo.dataset import resampled_learning_table
from rruffgeo.provenance.calibration import top_label_ece
from rruffgeo.provenance.continents import cross_fit
from rruffgeo.provenance.data import ProvenanceData, load_provenance_data
from rruffgeo.provenance.novelty import (
    HUB_WEIGHTS,
    KINDS,
    NEIGHBOURS,
    NoveltyModel,
    auroc,
    features,
    hub_offsets,
    open_set_folds,
    scores_from_top,
    top_similarities,
    view_name,
)
from rruffgeo.provenance.novelty_learned import fit_learned_novelty, load_novelty_model
from rruffgeo.workdir import WorkDir

OUTER_FOLDS = 5


def per_specimen_mean(values: np.ndarray, groups: np.ndarray) -> float:
    """Mean over specimens of each specimen's mean: every specimen counts once."""
    return float(pd.Series(values.astype(float)).groupby(np.asarray(groups)).mean().mean())


def outer_fold(data: ProvenanceData, lib: np.ndarray, query: np.ndarray, out: np.ndarray,
               seed: int) -> dict:
    """One outer fold: the inner choice, the held-out verdicts and every view's test AUROC."""
    t0 = time.perf_counter()
    model = fit_learned_novelty(data.X[lib], data.species[lib], data.groups[lib],
                                data.grid_cm1, seed)
    scores = model.score(data.X[query], data.X[lib])
    flagged = model.is_novel(scores)
    g = data.groups[query]
    row = {"choice": "learned", "inner_auroc": model.inner_auroc["learned"],
           "n_in": int((~out).sum()), "n_out": int(out.sum()),
           "kept_in": float((~flagged[~out]).mean()), "flagged_out": float(flagged[out].mean()),
           "kept_in_specimen": per_specimen_mean(~flagged[~out], g[~out]),
           "flagged_out_specimen": per_specimen_mean(flagged[out], g[out]),
           "auroc": auroc(scores, out), "seconds": time.perf_counter() - t0}
    views = {}
    for kind in KINDS:
        F = features(data.X, kind)
        for w in HUB_WEIGHTS:
            offset = hub_offsets(F[lib], data.groups[lib], w)
            top = top_similarities(F[query], F[lib], max(NEIGHBOURS), offset)
            for k in NEIGHBOURS:
                views[view_name(kind, k, w)] = auroc(scores_from_top(top, k), out)
    return {**row, "test_auroc_by_view": views, "scores": scores, "out": out,
            "p": model.p_values(scores)}


def novelty_table(data: ProvenanceData, seed: int) -> list[dict]:
    folds = open_set_folds(data.species, data.groups, OUTER_FOLDS, seed)
    rows = []
    print("\n== novelty, outer open-set folds (choice and threshold on inner splits only)")
    print("fold | score | inner AUROC | in-library n | kept | out n | flagged | "
          "kept/specimen | flagged/specimen | test AUROC | s")
    for f, (lib, query, out) in enumerate(folds):
        r = outer_fold(data, lib, query, out, seed)
        rows.append(r)
        print(f"{f} | {r['choice']} | {r['inner_auroc']:.3f} | {r['n_in']} | "
              f"{r['kept_in']:.3f} | {r['n_out']} | {r['flagged_out']:.3f} | "
              f"{r['kept_in_specimen']:.3f} | {r['flagged_out_specimen']:.3f} | "
              f"{r['auroc']:.3f} | {r['seconds']:.0f}")
    s = np.concatenate([r["scores"] for r in rows])
    out = np.concatenate([r["out"] for r in rows])
    p = np.concatenate([r["p"] for r in rows])
    print(f"pooled | | | {(~out).sum()} | {(p[~out] >= 0.05).mean():.3f} | {out.sum()} | "
          f"{(p[out] < 0.05).mean():.3f} | | | {auroc(s, out):.3f} |")
    print("\ntest AUROC of each nearest-neighbour score on the same folds (for comparison)")
    for view in rows[0]["test_auroc_by_view"]:
        vals = [r["test_auroc_by_view"][view] for r in rows]
        print(f"{view} | " + " | ".join(f"{v:.3f}" for v in vals) + f" | mean {np.mean(vals):.3f}")
    return rows


def xd_table(workdir: WorkDir, data: ProvenanceData, seed: int,
             saved: Path | None = None, save_to: Path | None = None) -> NoveltyModel:
    """The XD pharmaceutical compounds scored as one held-out group against the library, with
    a novelty model fitted on the whole library (or ``saved``, the ``novelty.json`` folder
    that ``rruffgeo provenance-fit`` wrote from this same library and seed); the fitted
    model is written into ``save_to`` when given (for timing the predict path)."""
    matrix, _ = resampled_learning_table(workdir, Settings())
    index = matrix.index
    xd = index[index["specimen_id"].astype(str).str.startswith("XD")]
    X = np.asarray(matrix.X[matrix.rows_of(xd["spectrum_id"].tolist())], dtype=np.float32)
    model = load_novelty_model(saved) if saved else fit_learned_novelty(
        data.X, data.species, data.groups, data.grid_cm1, seed)
    if model is None:
        raise SystemExit(f"{saved}: no readable novelty.json")
    if save_to is not None:
        save_to.mkdir(parents=True, exist_ok=True)
        model.save(save_to)
    flagged = model.is_novel(model.score(X, data.X))
    print("\n== XD pharmaceutical reference compounds, held out as one group")
    print(f"novelty model {'read from ' + str(saved) if saved else 'fitted'} on the whole "
          "library: "
          f"{getattr(model, 'label', view_name(model.kind, model.k, model.hub_weight))}, "
          f"threshold {model.threshold:.4f}; inner AUROC: "
          + ", ".join(f"{k} {v:.3f}" for k, v in model.inner_auroc.items()))
    print(f"XD spectra {len(X)}, specimens {xd['specimen_id'].nunique()}: flagged "
          f"{flagged.mean():.3f} per spectrum, "
          f"{per_specimen_mean(flagged, xd['specimen_id'].to_numpy()):.3f} per specimen")
    return model


def curve(rows: list[dict], path: Path) -> None:
    """Share of out-of-library spectra flagged against share of in-library spectra kept, from
    the pooled outer-fold p-values, for the report's novelty figure."""
    p = np.concatenate([r["p"] for r in rows])
    out = np.concatenate([r["out"] for r in rows])
    alphas = np.unique(np.r_[np.linspace(0.0, 1.0, 101), 0.05])
    kept = [float((p[~out] >= a).mean()) for a in alphas]
    flagged = [float((p[out] < a).mean()) for a in alphas]
    doc = {"alpha": alphas.tolist(), "kept_in_library": kept, "flagged_out_of_library": flagged}
    path.write_text(json.dumps(doc, indent=1))
    print(f"novelty curve written to {path}")
    print_curve(doc)


def print_curve(doc: dict) -> None:
    """The curve at a few shares of in-library spectra kept (the nearest p-value cut)."""
    a, kept = np.asarray(doc["alpha"]), np.asarray(doc["kept_in_library"])
    flagged = np.asarray(doc["flagged_out_of_library"])
    print("p-value cut | in-library kept | out-of-library flagged")
    for target in (0.99, 0.95, 0.9, 0.8, 0.7, 0.5):
        i = int(np.argmin(np.abs(kept - target)))
        print(f"{a[i]:.2f} | {kept[i]:.3f} | {flagged[i]:.3f}")


def _topk(proba: np.ndarray, y: np.ndarray, k: int) -> float:
    top = np.argsort(-proba, axis=1)[:, :k]
    return float((top == y[:, None]).any(axis=1).mean())


def top1_gain_interval(proba: np.ndarray, y: np.ndarray, groups: np.ndarray, seed: int,
                       n_boot: int = 2000) -> tuple[float, float]:
    """95% bootstrap interval (resampling specimens) of top-1 minus the majority class's."""
    hit = (proba.argmax(axis=1) == y).astype(float) - (y == np.bincount(y).argmax())
    _, codes = np.unique(groups, return_inverse=True)
    sums, n = np.bincount(codes, weights=hit), np.bincount(codes).astype(float)
    rng = np.random.default_rng(seed)
    w = rng.multinomial(len(n), np.full(len(n), 1.0 / len(n)), size=n_boot)
    lo, hi = np.quantile((w @ sums) / (w @ n), [0.025, 0.975])
    return float(lo), float(hi)


def continent_table(workdir: WorkDir, model: str | None) -> dict:
    """Continent answer from the CV's out-of-fold country probabilities, cross-fitted."""
    from rruffgeo.provenance.metrics import top_share
    from rruffgeo.results import ProvenanceReport

    cv = ProvenanceReport.of(workdir, "specimen")
    if cv is None:
        raise SystemExit(f"{workdir.root}: run `rruffgeo provenance-cv --split specimen` first")
    model = model or cv.winner()
    with np.load(workdir.provenance_cv_part("specimen", "oof_proba"), allow_pickle=False) as z:
        proba, ids, classes = z[model].astype(np.float64), z["spectrum_id"], list(z["classes"])
    oof = pd.read_parquet(workdir.provenance_cv_part("specimen", "oof"))
    oof = oof[oof["model"] == model].set_index("spectrum_id").loc[ids]
    y = np.array([classes.index(c) for c in oof["true_iso3"]])
    groups, folds = oof["specimen_id"].to_numpy(), oof["fold"].to_numpy()
    r = cross_fit(proba, y, groups, folds, classes, coverage=0.9)
    yc, p, s = r["y"], r["proba"], r["sets"]
    counts = np.bincount(yc, minlength=len(r["names"]))
    out = {"model": model, "n": len(yc), "top1": _topk(p, yc, 1), "top3": _topk(p, yc, 3),
           "majority_top1": float(counts.max() / counts.sum()),
           "majority_top3": top_share(yc, 3), "ece": top_label_ece(p, yc),
           "ece_summed": top_label_ece(r["summed"], yc),
           "top1_summed": _topk(r["summed"], yc, 1),
           "coverage90": float(s[np.arange(len(yc)), yc].mean()),
           "size90": float(s.sum(axis=1).mean()),
           "shares": {str(n): float(c / counts.sum()) for n, c in zip(r["names"], counts,
                                                                       strict=True)}}
    print(f"\n== continents from the out-of-fold country probabilities of {model} "
          f"({out['n']} spectra; fitted on the other outer folds, scored on each)")
    print("top-1 (majority) | top-3 (3 largest) | ECE (plain sums) | 90% set: coverage, size")
    print(f"{out['top1']:.3f} ({out['majority_top1']:.3f}) | {out['top3']:.3f} "
          f"({out['majority_top3']:.3f}) | {out['ece']:.3f} ({out['ece_summed']:.3f}) | "
          f"{out['coverage90']:.3f}, {out['size90']:.2f}")
    lo, hi = top1_gain_interval(p, yc, groups, 0)
    print(f"top-1 minus majority: {out['top1'] - out['majority_top1']:+.3f}, 95% interval over "
          f"specimens [{lo:+.3f}, {hi:+.3f}]")
    print(f"folds whose inner splits chose re-calibration: {int(r['recalibrated'].sum())} of "
          f"{len(r['recalibrated'])}; top-1 of the plain sums {out['top1_summed']:.3f}")
    print("continent shares: " + ", ".join(f"{k} {v:.3f}" for k, v in out["shares"].items()))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workdir", type=Path, required=True)
    ap.add_argument("--model", default=None, help="CV model for continents (default: winner)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--curve", type=Path, default=None, help="write the novelty curve (JSON)")
    ap.add_argument("--skip", choices=("novelty", "continents", "folds"), default=None,
                    help="leave out a part (folds: the outer novelty folds, XD kept)")
    ap.add_argument("--novelty-model", type=Path, default=None,
                    help="for XD: the model folder provenance-fit wrote from this work folder")
    ap.add_argument("--save-novelty", type=Path, default=None,
                    help="write the novelty model fitted on the whole library into FOLDER")
    ap.add_argument("--show-curve", type=Path, default=None,
                    help="print the table of a curve written before, and stop")
    args = ap.parse_args()
    if args.show_curve:
        print_curve(json.loads(args.show_curve.read_text()))
        return
    wd = WorkDir(args.workdir)
    if args.skip != "continents":
        continent_table(wd, args.model)
    if args.skip == "novelty":
        return
    data = load_provenance_data(wd, Settings())
    print(f"\nlearning table: {len(data.y)} spectra, {len(np.unique(data.groups))} specimens, "
          f"{len(np.unique(data.species))} species")
    if args.skip != "folds":
        rows = novelty_table(data, args.seed)
        if args.curve:
            curve(rows, args.curve)
    xd_table(wd, data, args.seed, args.novelty_model, args.save_novelty)


if __name__ == "__main__":
    main()
