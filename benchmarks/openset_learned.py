"""The learned novelty score against the single-similarity one, and signal-quality rules, on
inner open-set splits only.

Inner data only: the library of the first outer open-set fold of ``benchmarks/openset.py``
(seed 0), split again five ways by ``open_set_folds`` (seed 1), so nothing here sees that
fold's test spectra. Each split's held-out spectra get the search features of
``novelty_features`` against the split's library, plus signal-quality features of the spectrum
alone (peaks above 0.05 of the range, prominences, noise, width of the strongest peak, the
share of intensity above 2,700 cm-1 and in the C-H band 2,800-3,100 cm-1). Scores, cross-fitted
over the five splits (each scored by a model fitted on the other four): the hub-penalised best
derivative similarity (today's score), logistic regressions on the kept 16 features and on
those plus the signal features, and gradient boosting on the latter. "flagged" is the share of
out-of-library spectra above the in-library 95% quantile.

Then the 48 XD pharmaceutical compounds against the same library (each score's threshold the
95% quantile of the cross-fitted in-library scores), and one-sided signal rules (a spectrum
beyond the 1% tail of the inner in-library spectra is flagged, whatever it matches): how many
in-library, out-of-library and XD spectra each flags.

    python benchmarks/openset_learned.py --workdir W     # about 3 min on 2 shared cores
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy.signal import find_peaks, peak_widths

from rruffgeo.config import Settings
from rruffgeo.dataset import resampled_learning_table
from rruffgeo.provenance.data import load_provenance_data
from rruffgeo.provenance.novelty import auroc, open_set_folds
from rruffgeo.provenance.novelty_features import SEARCH_NAMES, SearchLibrary, search_features
from rruffgeo.provenance.novelty_match import band_edges
from rruffgeo.workdir import WorkDir

SIGNAL = ("peaks_over_005", "prominence_top5", "log_noise", "log_width_top", "share_2700",
          "share_ch", "prominence_top")


def signal_features(X: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """Per spectrum (baseline removed, range 0-1 as the matrix stores it): ``SIGNAL``."""
    high, ch = grid > 2700, (grid > 2800) & (grid < 3100)
    rows = []
    for x in X:
        nz = np.flatnonzero(x)
        seg = x[nz[0]:nz[-1] + 1] if len(nz) >= 10 else np.zeros(10)
        noise = np.median(np.abs(np.diff(seg, 2))) / 0.6745 / np.sqrt(6) + 1e-6
        peaks, props = find_peaks(seg, prominence=0.02)
        prom = np.sort(props["prominences"])[::-1] if len(peaks) else np.zeros(1)
        width = (peak_widths(seg, peaks[[np.argmax(props["prominences"])]])[0][0]
                 if len(peaks) else len(seg))
        pos = np.clip(x, 0, None)
        total = pos.sum() + 1e-9
        rows.append([(prom > 0.05).sum(), prom[:5].sum(), np.log(noise), np.log(width + 1),
                     pos[high].sum() / total, pos[ch].sum() / total, prom[0]])
    return np.asarray(rows, dtype=np.float64)


def model(name: str) -> Any:
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    if name == "boosting":
        return HistGradientBoostingClassifier(max_iter=300, learning_rate=0.05, random_state=0)
    return make_pipeline(StandardScaler(), LogisticRegression(C=0.1, max_iter=5000))


def cross_fit(tabs: list[tuple[np.ndarray, np.ndarray]], cols: np.ndarray, name: str
              ) -> tuple[np.ndarray, object]:
    """Scores of each split from a model fitted on the others; and one fitted on all."""
    out = []
    for i, (F, _) in enumerate(tabs):
        rest = [t for j, t in enumerate(tabs) if j != i]
        m = model(name).fit(np.vstack([f[:, cols] for f, _ in rest]),
                            np.concatenate([o for _, o in rest]))
        out.append(m.predict_proba(F[:, cols])[:, 1])
    full = model(name).fit(np.vstack([f[:, cols] for f, _ in tabs]),
                           np.concatenate([o for _, o in tabs]))
    return np.concatenate(out), full


def xd_spectra(wd: WorkDir) -> np.ndarray:
    matrix, _ = resampled_learning_table(wd, Settings())
    index = matrix.index
    ids = index.loc[index["specimen_id"].astype(str).str.startswith("XD"), "spectrum_id"]
    return np.asarray(matrix.X[matrix.rows_of(ids.tolist())], dtype=np.float32)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workdir", type=Path, required=True)
    wd = WorkDir(ap.parse_args().workdir)
    d = load_provenance_data(wd, Settings())
    lib0, _, _ = open_set_folds(d.species, d.groups, 5, 0)[0]
    X, sp, g = d.X[lib0], d.species[lib0], d.groups[lib0]
    codes, edges, n = pd.factorize(sp)[0], band_edges(d.grid_cm1), len(SEARCH_NAMES)
    sig = signal_features(X, d.grid_cm1)
    tabs = []
    for lib, q, out in open_set_folds(sp, g, 5, 1):
        library = SearchLibrary.build(X[lib], codes[lib], edges, groups=g[lib])
        tabs.append((np.hstack([search_features(X[q], library)[:, :n], sig[q]]), out))
    Xd = xd_spectra(wd)
    xd = np.hstack([search_features(Xd, SearchLibrary.build(X, codes, edges, groups=g))[:, :n],
                    signal_features(Xd, d.grid_cm1)])
    is_out = np.concatenate([o for _, o in tabs])
    print("score | inner AUROC (cross-fitted, pooled) | flagged at 95% kept | XD flagged")
    base = -np.concatenate([f[:, SEARCH_NAMES.index("derivative_hub_top1")] for f, _ in tabs])
    report("derivative, k=1, hub 0.5 (a nearest-neighbour score)", base, is_out,
           -xd[:, SEARCH_NAMES.index("derivative_hub_top1")])
    for label, cols, name in (("regression, 16 search features (kept)", np.arange(n), "lr"),
                              ("regression, + 6 signal features", np.arange(n + 6), "lr"),
                              ("boosting, + 6 signal features", np.arange(n + 6), "boosting")):
        s, full = cross_fit(tabs, cols, name)
        report(label, s, is_out, full.predict_proba(xd[:, cols])[:, 1])
        if name == "lr" and len(cols) == n:
            kept = (s, full.predict_proba(xd[:, cols])[:, 1])
    inner = np.vstack([f for f, _ in tabs])
    with_ch_rule(kept, inner[:, n + SIGNAL.index("share_ch")], xd[:, n + SIGNAL.index("share_ch")],
                 is_out)
    print("\nsignal rule (1% tail of inner in-library) | in-library | out-of-library | XD")
    for j, name in enumerate(SIGNAL):
        side = -1 if name.startswith(("peaks", "prominence")) else 1
        v, vx = side * inner[:, n + j], side * xd[:, n + j]
        cut = np.quantile(v[~is_out], 0.99)
        print(f"{name} {'<' if side < 0 else '>'} {side * cut:.3f} | "
              f"{(v[~is_out] > cut).mean():.3f} | {(v[is_out] > cut).mean():.3f} | "
              f"{(vx > cut).mean():.3f}")


def with_ch_rule(kept: tuple[np.ndarray, np.ndarray], ch: np.ndarray, ch_xd: np.ndarray,
                 is_out: np.ndarray) -> None:
    """The kept regression with the C-H rule beside it (flag a C-H share above the inner
    in-library 99% quantile), the regression's cut at 95% and at 96% kept."""
    s, xd = kept
    ch_cut = np.quantile(ch[~is_out], 0.99)
    print("\nregression (16) or C-H rule | cut | in-library kept | out-of-library flagged | XD")
    for q in (0.95, 0.96):
        cut = np.quantile(s[~is_out], q)
        flag, flag_xd = (s > cut) | (ch > ch_cut), (xd > cut) | (ch_xd > ch_cut)
        print(f"{q:.2f} | {1 - flag[~is_out].mean():.3f} | {flag[is_out].mean():.3f} | "
              f"{flag_xd.mean():.3f}")


def report(label: str, s: np.ndarray, is_out: np.ndarray, xd: np.ndarray) -> None:
    cut = np.quantile(s[~is_out], 0.95)
    print(f"{label} | {auroc(s, is_out):.3f} | {(s[is_out] > cut).mean():.3f} | "
          f"{(xd > cut).mean():.3f}")


if __name__ == "__main__":
    main()
