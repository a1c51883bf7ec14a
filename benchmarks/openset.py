"""Measure the open-set species answer (novelty) and the continent answer on real data.

Novelty: outer open-set folds of the learning table (each leaves out a fifth of the species
whole and a fifth of the remaining specimens, ``novelty.open_set_folds``); on each, the
learned novelty model is fitted and its threshold calibrated by ``fit_learned_novelty`` on the
fold's library alone (inner open-set splits), then the held-out spectra are scored against
that library. The 48 pharmaceutical reference compounds (``XD`` IDs, not in the learning
table) are scored as one held-out group against the whole library, with a novelty model
fitted on it.

Continents: printed from the grouped provenance CV's report (``rruffgeo provenance-cv --split
specimen`` scores them: the winner's out-of-fold country probabilities summed per continent,
re-calibrated where inner splits say it helps and given conformal sets, each fold's continent
model fitted on the other folds; ``provenance.continents_eval``).

    python benchmarks/openset.py --workdir W [--seed 0] [--curve out.json]
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
from rruffgeo.dataset import reference_compound_spectra
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
from rruffgeo.provenance.novelty_eval import REFERENCE_COMPOUNDS, group_flagged
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
    X, specimens = reference_compound_spectra(workdir, Settings())
    model = load_novelty_model(saved) if saved else fit_learned_novelty(
        data.X, data.species, data.groups, data.grid_cm1, seed)
    if model is None:
        raise SystemExit(f"{saved}: no readable novelty.json")
    if save_to is not None:
        save_to.mkdir(parents=True, exist_ok=True)
        model.save(save_to)
    group = group_flagged(REFERENCE_COMPOUNDS, model, X, specimens, data.X)
    print("\n== XD pharmaceutical reference compounds, held out as one group")
    print(f"novelty model {'read from ' + str(saved) if saved else 'fitted'} on the whole "
          "library: "
          f"{getattr(model, 'label', view_name(model.kind, model.k, model.hub_weight))}, "
          f"threshold {model.threshold:.4f}; inner AUROC: "
          + ", ".join(f"{k} {v:.3f}" for k, v in model.inner_auroc.items()))
    print(f"XD spectra {group.n_spectra}, specimens {group.n_specimens}: flagged "
          f"{group.flagged:.3f} per spectrum, {group.flagged_per_specimen:.3f} per specimen")
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


def continent_table(workdir: WorkDir) -> None:
    """The continent answer as ``rruffgeo provenance-cv --split specimen`` scored it
    (``provenance.continents_eval``: each fold's continent model fitted on the other folds)."""
    from rruffgeo.results import ProvenanceReport

    cv = ProvenanceReport.of(workdir, "specimen")
    if cv is None or cv.continents is None:
        raise SystemExit(f"{workdir.root}: run `rruffgeo provenance-cv --split specimen` first")
    c, v = cv.continents, cv.continents.vs_majority
    print(f"\n== continents from the out-of-fold country probabilities of {c.model} "
          "(fitted on the other outer folds, scored on each)")
    print("top-1 (majority) [CI of diff] | top-3 (3 largest) [CI] | log-loss (prior) [CI] | "
          "ECE (plain sums) | 90% set: coverage, size")
    print(f"{v.top1.text()} | {v.top3.text()} | {v.log_loss.text()} | {c.ece:.3f} "
          f"({c.ece_summed:.3f}) | {c.coverage90:.3f}, {c.size90:.2f}")
    print(f"folds whose inner splits chose re-calibration: {c.recalibrated_folds} of "
          f"{c.n_folds}")
    print("continent shares: " + ", ".join(f"{k} {x:.3f}" for k, x in c.shares.items()))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workdir", type=Path, required=True)
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
        continent_table(wd)
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
