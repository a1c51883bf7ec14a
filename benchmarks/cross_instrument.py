"""Species and country matching across RRUFF's two instruments, and what treatment suits it.

Usage: python benchmarks/cross_instrument.py --workdir WORK --out cross.json --md cross.md
(after `rruffgeo ingest`, `geocode` and `spectra`)

The processed spectra of the high-resolution ``Raman`` instrument and of the low-resolution
LR-Raman ``Broad_Scan`` are each used as test spectra against a library of one instrument's
spectra (or both), always with the test spectrum's whole specimen left out (grouped by
specimen). Reported per cell: top-1 species; for natural specimens with a country, the top-1
and top-3 country of the k nearest reference specimens' vote, beside the library's majority
country. Treatments of the matrix rows (Gaussian smoothing of the high-resolution rows to the
broad scan's resolution, smoothing all rows, cropping to the common window) are chosen on
the "choose" half of the specimens (seeded) by top-1 species against the whole library, the
default use (a treatment must gain more than ``MIN_GAIN`` over none); the tables report the
other half.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.ndimage import gaussian_filter1d

from raw_vs_processed import LIGHT, MIN_GAIN, country_votes, split_specimens
from rruffgeo.data.columns import read_catalog_columns
from rruffgeo.provenance.library import match_window, species_key, unit_rows

INSTRUMENTS = ("Raman", "Broad_Scan")
LIBRARIES = ("Raman", "Broad_Scan", "both")


def load(workdir: Path) -> tuple[pd.DataFrame, np.ndarray, np.ndarray, pd.Series]:
    """Processed spectra: catalog rows, matrix rows, grid, each natural specimen's country."""
    cat = read_catalog_columns(workdir / "catalog.parquet", [*LIGHT, "technique"])
    cat = cat[cat["kind"] == "processed"].reset_index(drop=True)
    index = pd.read_parquet(workdir / "spectra" / "index.parquet")
    rows = index.set_index("spectrum_id")["row"].reindex(cat["spectrum_id"]).to_numpy()
    X = np.load(workdir / "spectra" / "matrix.npy", mmap_mode="r")[rows].astype(np.float32)
    grid = np.load(workdir / "spectra" / "grid.npy")
    geo = pd.read_parquet(workdir / "geocoded.parquet")
    natural = geo[geo["country_iso3"].fillna("").ne("") & ~geo["synthetic"].astype(bool)]
    countries = natural.drop_duplicates("specimen_id").set_index("specimen_id")["country_iso3"]
    return cat, X, grid, countries


def smoothed(X: np.ndarray, rows: np.ndarray, sigma_cm1: float, step: float) -> np.ndarray:
    """``X`` with ``rows`` blurred by a Gaussian of ``sigma_cm1`` (the padding kept at 0)."""
    out = X.copy()
    if sigma_cm1 > 0 and rows.any():
        blurred = gaussian_filter1d(X[rows], sigma_cm1 / step, axis=1, mode="constant")
        out[rows] = np.where(X[rows] > 0, blurred, 0.0)
    return out


def treatments(cat: pd.DataFrame, grid: np.ndarray
               ) -> dict[str, Callable[[np.ndarray], np.ndarray]]:
    """Candidate treatments of the matrix rows, by key (see ``LABELS``)."""
    step = float(grid[1] - grid[0])
    high = (cat["technique"] == "Raman").to_numpy()
    every = np.ones(len(cat), bool)
    out: dict[str, Callable[[np.ndarray], np.ndarray]] = {"none": lambda X: X}
    for sigma in (2.0, 4.0, 8.0):
        out[f"smooth-raman-{sigma:g}"] = lambda X, s=sigma: smoothed(X, high, s, step)
    for sigma in (2.0, 4.0):
        out[f"smooth-all-{sigma:g}"] = lambda X, s=sigma: smoothed(X, every, s, step)
    out["crop-1500"] = lambda X: match_window(X, grid, 1500.0)  # as ReferenceLibrary does
    return out


#: What each treatment does, for the tables.
LABELS = {"none": "none", "crop-1500": "compare up to 1500 cm-1 only",
          **{f"smooth-raman-{s:g}": f"smooth Raman rows, sigma {s:g} cm-1" for s in (2, 4, 8)},
          **{f"smooth-all-{s:g}": f"smooth all rows, sigma {s:g} cm-1" for s in (2, 4)}}


def nearest_in(Q: np.ndarray, own: np.ndarray, L: np.ndarray, specimens: np.ndarray,
               libmask: np.ndarray, depth: int = 300) -> np.ndarray:
    """Per query row of ``Q`` (of specimen ``own``), the ``depth`` nearest rows of the library
    ``libmask`` of ``L``, its own specimen left out; -1 pads when the library is small."""
    out = np.full((len(Q), depth), -1, dtype=np.int64)
    for lo in range(0, len(Q), 512):
        sims = Q[lo:lo + 512] @ L.T
        sims[:, ~libmask] = -np.inf
        sims[specimens[None, :] == own[lo:lo + 512, None]] = -np.inf
        top = np.argpartition(-sims, depth, axis=1)[:, :depth]
        vals = np.take_along_axis(sims, top, 1)
        order = np.argsort(-vals, axis=1, kind="stable")
        top = np.take_along_axis(top, order, 1)
        out[lo:lo + 512] = np.where(np.isfinite(np.take_along_axis(vals, order, 1)), top, -1)
    return out


def cell_scores(order: np.ndarray, keep: np.ndarray, cat: pd.DataFrame, countries: pd.Series,
                libmask: np.ndarray, k: int) -> dict[str, float]:
    """Top-1 species; top-1/top-3 country by the k nearest specimens' vote and by majority."""
    species = cat["mineral"].map(species_key).to_numpy()
    specimens = cat["specimen_id"].to_numpy()
    truth_country = countries.reindex(specimens).to_numpy()
    order = order[keep]
    out = {"n": int(keep.sum()),
           "species_top1": float((species[order[:, 0]] == species[keep]).mean())}
    has = np.array([isinstance(c, str) for c in truth_country[keep]])
    classes = sorted(set(countries))
    votes = country_votes(order[has], specimens, countries, classes, k)
    ranked = np.argsort(-votes, axis=1, kind="stable")[:, :3]
    truth = np.array([classes.index(c) for c in truth_country[keep][has]])
    lib_countries = countries.reindex(pd.unique(specimens[libmask])).dropna()
    majority = [classes.index(c) for c in lib_countries.value_counts().index[:3]]
    out.update({"n_country": int(has.sum()),
                "country_top1": float((ranked[:, 0] == truth).mean()),
                "country_top3": float((ranked == truth[:, None]).any(1).mean()),
                "majority_top1": float(np.mean(truth == majority[0])),
                "majority_top3": float(np.isin(truth, majority).mean())})
    return out


def run_treatment(name: str, X: np.ndarray, cat: pd.DataFrame, countries: pd.Series,
                  halves: dict[str, np.ndarray], k: int) -> dict[str, object]:
    """Every (test instrument, library) cell of one treatment, on each half."""
    t0 = time.perf_counter()
    U = unit_rows(X)
    specimens = cat["specimen_id"].to_numpy()
    technique = cat["technique"].to_numpy()
    out: dict[str, object] = {"treatment": name}
    for test in INSTRUMENTS:
        rows = technique == test
        for lib in LIBRARIES:
            libmask = np.ones(len(cat), bool) if lib == "both" else technique == lib
            order = np.full((len(cat), 300), -1, dtype=np.int64)
            order[rows] = nearest_in(U[rows], specimens[rows], U, specimens, libmask)
            for half, keep in halves.items():
                out[f"{half}|{test}|{lib}"] = cell_scores(order, keep & rows, cat, countries,
                                                         libmask, k)
    score = out["choose|Raman|both"], out["choose|Broad_Scan|both"]
    out["choose_species_top1"] = float(sum(s["n"] * s["species_top1"] for s in score)
                                       / sum(s["n"] for s in score))
    print(f"{name:<36} choose top-1 (whole library) {out['choose_species_top1']:.3f} "
          f"({time.perf_counter() - t0:.0f} s)", flush=True)
    return out


def markdown(result: dict[str, object], half: str) -> str:
    """One row per (test instrument, library) cell of one treatment, scored on ``half``."""
    lines = ["| test spectra | library | n | species top-1 | country top-1 | country top-3 | "
             "majority top-1 | majority top-3 |", "|---|---|---|---|---|---|---|---|"]
    for test in INSTRUMENTS:
        for lib in LIBRARIES:
            s = result[f"{half}|{test}|{lib}"]
            lines.append(f"| {test} | {lib} | {s['n']} | {s['species_top1']:.3f} | "
                         f"{s['country_top1']:.3f} | {s['country_top3']:.3f} | "
                         f"{s['majority_top1']:.3f} | {s['majority_top3']:.3f} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Score each treatment, choose on the choose half, write the tables and the JSON."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workdir", type=Path, required=True)
    parser.add_argument("--k", type=int, default=10, help="reference specimens per country "
                        "vote (default 10)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the specimen split")
    parser.add_argument("--out", type=Path, help="JSON of every treatment's cells")
    parser.add_argument("--md", type=Path, help="Markdown tables (report half)")
    parser.add_argument("--treatments", help="comma-separated keys, the first the reference "
                        f"(default all: {', '.join(LABELS)})")
    args = parser.parse_args(argv)
    cat, X, grid, countries = load(args.workdir)
    choose = split_specimens(cat["specimen_id"].to_numpy(), args.seed)
    halves = {"choose": choose, "report": ~choose}
    candidates = treatments(cat, grid)
    keys = args.treatments.split(",") if args.treatments else list(candidates)
    results = [run_treatment(LABELS[key], candidates[key](X), cat, countries, halves, args.k)
               for key in keys]
    chosen = results[0]  # a treatment must beat the reference by more than MIN_GAIN
    for r in results[1:]:
        if r["choose_species_top1"] > chosen["choose_species_top1"] + MIN_GAIN:  # type: ignore
            chosen = r
    baseline = results[0]
    text = (f"Chosen on the choose half: **{chosen['treatment']}** (species top-1 against the "
            f"whole library {chosen['choose_species_top1']:.3f}; none "
            f"{baseline['choose_species_top1']:.3f}).\n\nReport half, no treatment:\n\n"
            f"{markdown(baseline, 'report')}\n")
    if chosen is not baseline:
        text += f"\nReport half, {chosen['treatment']}:\n\n{markdown(chosen, 'report')}\n"
    text += "\n| treatment | choose half: species top-1 (whole library) |\n|---|---|\n"
    text += "\n".join(f"| {r['treatment']} | {r['choose_species_top1']:.3f} |"
                      for r in results) + "\n"
    print(text)
    if args.md:
        args.md.write_text(text)
    if args.out:
        args.out.write_text(json.dumps({"seed": args.seed, "k": args.k, "chosen":
                                        chosen["treatment"], "treatments": results}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
