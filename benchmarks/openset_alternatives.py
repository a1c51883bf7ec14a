"""Two other novelty scores against the nearest-neighbour one, on one inner open-set split.

Inner data only: the library of the first outer open-set fold of ``benchmarks/openset.py``
(seed 0), split again by ``open_set_folds`` (seed 1), so nothing here sees that fold's test
spectra. Scores, on the derivative view: ``nn`` (one minus the best similarity); ``ratio`` and
``ratio_sqrt`` (``nn`` divided by the nearest reference's species spread: its distance to the
nearest other specimen of its species, a LOF-like density ratio); ``cos`` (``nn`` on the
cosine view); ``rank mean`` (mean rank of ``nn`` and ``cos``). Also the in-library tail's share
of raw spectra and the AUROC per spectrum kind.

    python benchmarks/openset_alternatives.py --workdir W
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from scipy.stats import rankdata

from rruffgeo.config import Settings
from rruffgeo.provenance.data import load_provenance_data
from rruffgeo.provenance.novelty import auroc, features, open_set_folds
from rruffgeo.workdir import WorkDir


def report(name: str, s: np.ndarray, out: np.ndarray) -> None:
    thr = np.quantile(s[~out], 0.95)
    print(f"{name}: AUROC {auroc(s, out):.3f}, flagged at 95% kept {(s[out] > thr).mean():.3f}")


def species_spread(F: np.ndarray, sp: np.ndarray, g: np.ndarray) -> np.ndarray:
    """Per reference: one minus its best similarity to another specimen of its species
    (the median of those where the species has one specimen)."""
    R = F @ F.T
    mask = (sp[:, None] == sp[None, :]) & (g[:, None] != g[None, :])
    spread = 1 - np.where(mask, R, -np.inf).max(axis=1)
    finite = np.isfinite(spread)
    return np.where(finite, spread, np.median(spread[finite]))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workdir", type=Path, required=True)
    d = load_provenance_data(WorkDir(ap.parse_args().workdir), Settings())
    lib0, _, _ = open_set_folds(d.species, d.groups, 5, 0)[0]
    X, sp, g = d.X[lib0], d.species[lib0], d.groups[lib0]
    kind = d.table["kind"].to_numpy()[lib0]
    lib, q, out = open_set_folds(sp, g, 5, 1)[0]
    F = features(X, "derivative")
    S = F[q] @ F[lib].T
    nn, s1 = S.argmax(axis=1), 1 - S.max(axis=1)
    report("nn", s1, out)
    tail = (~out) & (s1 > np.quantile(s1[~out], 0.95))
    print(f"raw share: in-library tail {(kind[q][tail] == 'raw').mean():.3f}, all in-library "
          f"{(kind[q][~out] == 'raw').mean():.3f}")
    spread = species_spread(F[lib], sp[lib], g[lib])
    report("ratio", s1 / (spread[nn] + 0.01), out)
    report("ratio_sqrt", s1 / np.sqrt(spread[nn] + 0.01), out)
    Fc = features(X, "cosine")
    sc = 1 - (Fc[q] @ Fc[lib].T).max(axis=1)
    report("cos", sc, out)
    report("rank mean", rankdata(s1) + rankdata(sc), out)
    for name in ("processed", "raw"):
        m = kind[q] == name
        print(f"{name} queries {m.sum()}: AUROC {auroc(s1[m], out[m]):.3f}")


if __name__ == "__main__":
    main()
