"""The global grid the data gives: window, spacing, and how much of it spectra cover.

Usage: python benchmarks/grid_window.py --workdir WORK   (after `rruffgeo ingest`)

The window is the one the matrix stage computes (``spectra.window.global_window`` on every
spectrum's cleaned range, the settings' window when one is given); the grid has the settings'
number of points. Printed: the window and the spacing of grid points; each spectrum's coverage
(the share of grid points inside its own range, the measure prediction's coverage rule uses)
as percentiles, for all spectra and per technique; and what the prediction rule's shares of
the window are in grid points and cm-1, and how many of the catalog's spectra fall below
them. The docs' numbers on the grid come from here, so that they follow the data when it
grows.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from rruffgeo.config import Settings
from rruffgeo.data.columns import read_catalog_columns
from rruffgeo.spectra.matrix import scan_catalog
from rruffgeo.spectra.resample import make_grid
from rruffgeo.spectra.window import global_window

#: Shares of the window the prediction rule warns below and refuses below (its constants
#: ``WARN_COVERAGE`` and ``MIN_COVERAGE``, repeated here so that this script needs no torch).
RULE_SHARES = {"warn below": 0.20, "refuse below": 0.08}
PERCENTILES = [1, 10, 50, 90, 99]


def coverage(grid: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """Per spectrum, the share of grid points inside its measured range."""
    inside = (grid[None, :] >= starts[:, None]) & (grid[None, :] <= ends[:, None])
    return inside.mean(axis=1)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", type=Path, required=True)
    args = parser.parse_args(argv)
    catalog = args.workdir / "catalog.parquet"
    spectra = Settings().spectra
    scan = scan_catalog(catalog)
    window = global_window(scan.starts, scan.ends, spectra.window_cm1)
    grid = make_grid(window.start_cm1, window.stop_cm1, spectra.grid_points)
    step = float(grid[1] - grid[0])
    kept = np.array([r is None for r in window.outliers])
    techniques = read_catalog_columns(catalog, ["technique"])["technique"].to_numpy()
    techniques = techniques[scan.usable][kept]
    cover = coverage(grid, scan.starts[kept], scan.ends[kept])
    print(f"{scan.n_rows:,} spectra, {int(kept.sum()):,} in the window, measured from "
          f"{scan.starts.min():.2f} to {scan.ends.max():.2f} cm-1; window "
          f"{grid[0]:.2f} .. {grid[-1]:.2f} cm-1, {len(grid):,} points, {step:.4f} cm-1 apart")
    rows = [("all", cover)] + [(t or "unknown", cover[techniques == t])
                               for t in sorted(set(techniques))]
    table = pd.DataFrame([{"spectra": name, "n": len(c),
                           **{f"p{p}": round(100 * float(np.percentile(c, p)), 1)
                              for p in PERCENTILES}} for name, c in rows])
    print("coverage of the window, percent (percentiles over spectra):")
    print(table.to_string(index=False))
    for rule, share in RULE_SHARES.items():
        points = int(np.ceil(share * len(grid)))
        print(f"{rule} {share:.0%}: {points} grid points, a range of {(points - 1) * step:.1f} "
              f"cm-1; {int((cover < share).sum()):,} of the catalog's spectra are below it")
    return 0


if __name__ == "__main__":
    sys.exit(main())
