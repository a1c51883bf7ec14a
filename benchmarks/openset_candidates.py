"""Candidate novelty features and classifiers against the 16-feature regression, on inner
open-set splits only (no XD spectra, no outer test spectra are read).

Inner data: the library of outer open-set fold ``--outer`` of ``benchmarks/openset.py`` (seed
0), split again five ways by ``open_set_folds`` (seed 1, as ``openset_learned.py``). Each
split's held-out spectra get ``search_features`` against the split's library: the 16 search
features and the ``novelty_match`` ones (non-negative mix residuals, peak matching, wide-band
shares), and here one more candidate, density: the nearest cosine similarity less how close
the nearest reference's species' specimens come to one another (``within_species``), less
its hub value, and that within-species similarity itself. Scores are cross-fitted over the five
splits (each scored by a model fitted on the other four); "flagged" is the share of
out-of-library spectra above the in-library 95% quantile (pooled, and the mean over the
splits of each split's own cut, with the number of splits where it beats the 16-feature
regression). Features are cached in ``--cache`` (npz) so classifiers can be compared without
a new search.

    python benchmarks/openset_candidates.py --workdir W [--outer 0] [--cache feats.npz]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

from rruffgeo.config import Settings
from rruffgeo.provenance.data import load_provenance_data
from rruffgeo.provenance.novelty import BLOCK, auroc, features, open_set_folds
from rruffgeo.provenance.novelty_features import (
    FEATURE_NAMES,
    SEARCH_NAMES,
    SearchLibrary,
    nearest,
    search_features,
)
from rruffgeo.provenance.novelty_match import MATCH_NAMES, band_edges
from rruffgeo.provenance.novelty_trees import PARAMS
from rruffgeo.workdir import WorkDir

DENSITY = ("top1_less_within", "top1_less_hub", "within_of_top1")
COLUMNS = FEATURE_NAMES + DENSITY
GROUPS = {"mix": MATCH_NAMES[:2], "peaks": MATCH_NAMES[2:6], "bands": MATCH_NAMES[6:13],
          "density": DENSITY}
#: Scores compared: (label, classifier, candidate groups added to the 16 search features).
SETS = (("regression, 16 search features", "lr", ()),
        *((f"regression, 16 + {g}", "lr", (g,)) for g in GROUPS),
        ("regression, 16 + all", "lr", tuple(GROUPS)),
        ("boosting, 16", "boosting", ()),
        *((f"boosting, 16 + {g}", "boosting", (g,)) for g in GROUPS),
        *((f"boosting, 16 + all but {g}", "boosting", tuple(h for h in GROUPS if h != g))
          for g in GROUPS),
        ("boosting, 16 + all", "boosting", tuple(GROUPS)),
        ("mean of regression and boosting, 16 + all", "both", tuple(GROUPS)))


def within_species(U: np.ndarray, codes: np.ndarray, groups: np.ndarray) -> np.ndarray:
    """Per reference (unit rows ``U``): its similarity to the closest spectrum of another
    specimen of its species, or of any species where its species has one specimen."""
    out = np.zeros(len(U), np.float32)
    for s in range(0, len(U), BLOCK):
        sims = U[s:s + BLOCK] @ U.T
        sims[groups[s:s + BLOCK, None] == groups[None, :]] = -np.inf
        same = np.where(codes[s:s + BLOCK, None] == codes[None, :], sims, -np.inf)
        best_same, best_any = same.max(axis=1), sims.max(axis=1)
        out[s:s + BLOCK] = np.where(np.isfinite(best_same), best_same,
                                    np.where(np.isfinite(best_any), best_any, 0.0))
    return out


def density(Xq: np.ndarray, lib: SearchLibrary, groups: np.ndarray) -> np.ndarray:
    """The ``DENSITY`` columns of queries ``Xq`` against ``lib``."""
    idx, sim, _ = nearest(features(Xq, "cosine"), lib.view("cosine"), 1,
                          np.zeros(len(lib.codes), np.float32))
    within = within_species(lib.view("cosine"), lib.codes, np.asarray(groups))
    first = idx[:, 0]
    return np.column_stack([sim[:, 0] - within[first], sim[:, 0] - lib.hubs["cosine"][first],
                            within[first]])


def build(wd: WorkDir, outer: int) -> dict[str, np.ndarray]:
    d = load_provenance_data(wd, Settings())
    lib0, _, _ = open_set_folds(d.species, d.groups, 5, 0)[outer]
    X, sp, g = d.X[lib0], d.species[lib0], d.groups[lib0]
    codes, edges = pd.factorize(sp)[0], band_edges(d.grid_cm1)
    F, outs, S = [], [], []
    for s, (lib, q, out) in enumerate(open_set_folds(sp, g, 5, 1)):
        library = SearchLibrary.build(X[lib], codes[lib], edges, groups=g[lib])
        F.append(np.hstack([search_features(X[q], library), density(X[q], library, g[lib])]))
        outs.append(out)
        S.append(np.full(len(q), s))
        print(f"split {s}: {len(q)} queries", flush=True)
    return {"F": np.vstack(F), "out": np.concatenate(outs), "split": np.concatenate(S)}


def model(name: str):
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    if name == "boosting":
        return HistGradientBoostingClassifier(random_state=0, **PARAMS)
    return make_pipeline(StandardScaler(), LogisticRegression(C=0.1, max_iter=5000))


def cross_fit(T: np.ndarray, out: np.ndarray, split: np.ndarray, name: str) -> np.ndarray:
    """Each split's probabilities from a model fitted on the others ("both": the mean of the
    regression's and the trees')."""
    if name == "both":
        return (cross_fit(T, out, split, "lr") + cross_fit(T, out, split, "boosting")) / 2
    s = np.zeros(len(T))
    for k in np.unique(split):
        m = model(name).fit(T[split != k], out[split != k])
        s[split == k] = m.predict_proba(T[split == k])[:, 1]
    return s


def per_split(s: np.ndarray, out: np.ndarray, split: np.ndarray) -> np.ndarray:
    """Per split: share of its out-of-library spectra above its in-library 95% quantile."""
    return np.array([(s[(split == k) & out] > np.quantile(s[(split == k) & ~out], 0.95)).mean()
                     for k in np.unique(split)])


def report(label: str, s: np.ndarray, out: np.ndarray, split: np.ndarray,
           base: np.ndarray | None) -> None:
    cut, per = np.quantile(s[~out], 0.95), per_split(s, out, split)
    wins = "" if base is None else f" | {(per > base).sum()}/{len(per)}"
    print(f"{label} | {auroc(s, out):.3f} | {(s[out] > cut).mean():.3f} | "
          f"{per.mean():.3f} ({per.min():.3f}-{per.max():.3f}){wins}", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workdir", type=Path, required=True)
    ap.add_argument("--outer", type=int, default=0)
    ap.add_argument("--cache", type=Path, default=None)
    args = ap.parse_args()
    if args.cache and args.cache.exists():
        with np.load(args.cache) as f:
            z = {k: f[k] for k in ("F", "out", "split")}
    else:
        z = build(WorkDir(args.workdir), args.outer)
        if args.cache:
            np.savez(args.cache, **z)
    F, out, split = z["F"], z["out"].astype(bool), z["split"]
    print("score | inner AUROC | flagged at pooled 95% kept | per split: mean (range) | "
          "splits beating the 16-feature regression")
    report("derivative_hub_top1", -F[:, COLUMNS.index("derivative_hub_top1")], out, split, None)
    base = None
    for label, name, groups in SETS:
        cols = list(SEARCH_NAMES) + [n for g in groups for n in GROUPS[g]]
        s = cross_fit(F[:, [COLUMNS.index(c) for c in cols]], out, split, name)
        report(label, s, out, split, base)
        base = per_split(s, out, split) if base is None else base


if __name__ == "__main__":
    main()
