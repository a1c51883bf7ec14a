"""Does ``--preprocess auto`` make a raw RRUFF spectrum predict like its processed twin?

Usage: python benchmarks/raw_vs_processed.py --workdir WORK   (after `rruffgeo ingest` and
`rruffgeo geocode` on the RRUFF data, e.g. ../shared/rruff)

For every raw spectrum with a processed twin (same sample RRUFF ID and laser; the same
orientation where there is one), three spectra are compared: the raw one as it is, the raw
one after ``--preprocess auto``, and the twin. Each is matched against the processed reference
library with the twin's whole specimen left out (a grouped split):
  * top species: the mineral of the nearest reference spectrum (cosine, on one grid, min-max);
  * country distribution: the countries of the k nearest reference specimens (one vote each).
Reported: how often the raw spectrum's top species agrees with the twin's, and the mean total
variation distance between their country distributions, with and without preprocessing; also
how often each top species is the specimen's own mineral, beside the majority-mineral rate.
No network fold model is used (kNN only), so the numbers isolate the effect of preprocessing
on spectral matching; a network would see the same inputs.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from rruffgeo.network.baseline import _unit_rows
from rruffgeo.spectra.preprocess import apply_steps, parse_steps
from rruffgeo.spectra.resample import clean_axis, make_grid, resample_many
from rruffgeo.spectra.spectrum import Spectrum

KEYS = ["sample_id", "laser_nm", "orientation_angle_deg", "orientation_rotation"]


def load(workdir: Path) -> tuple[pd.DataFrame, pd.Series]:
    cat = pd.read_parquet(workdir / "catalog.parquet")
    geo = pd.read_parquet(workdir / "geocoded.parquet")
    natural = geo[geo["country_iso3"].notna() & (geo["country_iso3"] != "")
                  & ~geo["synthetic"].astype(bool)]
    return cat, natural.set_index("specimen_id")["country_iso3"]


def twins(cat: pd.DataFrame) -> list[tuple[int, int]]:
    """(raw row, processed twin row) pairs: same sample, laser and orientation if any."""
    raw, proc = cat[cat["kind"] == "raw"], cat[cat["kind"] == "processed"]
    pairs = []
    for i, r in raw.iterrows():
        same = proc[(proc["sample_id"] == r["sample_id"]) & (proc["laser_nm"] == r["laser_nm"])]
        exact = same[(same["orientation_angle_deg"].fillna(-1) ==
                      (-1 if pd.isna(r["orientation_angle_deg"])
                       else r["orientation_angle_deg"]))
                     & (same["orientation_rotation"] == r["orientation_rotation"])]
        pick = exact if len(exact) else same
        if len(pick):
            pairs.append((i, pick.index[0]))
    return pairs


def on_grid(spectra: list[Spectrum], grid: np.ndarray) -> np.ndarray:
    cleaned = [clean_axis(s.wavenumber_cm1, s.intensity) for s in spectra]
    X, errors = resample_many(cleaned, grid)
    return X


def as_spectrum(row: pd.Series) -> Spectrum:
    return Spectrum(np.asarray(row["wavenumber_cm1"]), np.asarray(row["intensity"]),
                    {"source": row["spectrum_id"]})


def ranked(query: np.ndarray, lib: np.ndarray, lib_specimens: np.ndarray,
           exclude: str) -> np.ndarray:
    """Library rows by cosine similarity to ``query``, the excluded specimen left out."""
    sims = lib @ query
    sims[lib_specimens == exclude] = -np.inf
    order = np.argsort(-sims, kind="stable")
    return order[np.isfinite(sims[order])]


def country_distribution(order: np.ndarray, lib_specimens: np.ndarray, countries: pd.Series,
                         classes: list[str], k: int) -> np.ndarray:
    """Share of each country among the k nearest reference specimens that have one."""
    seen: set[str] = set()
    votes = np.zeros(len(classes))
    index = {c: i for i, c in enumerate(classes)}
    for row in order:
        specimen = lib_specimens[row]
        if specimen in seen or specimen not in countries.index:
            continue
        seen.add(specimen)
        votes[index[countries[specimen]]] += 1
        if len(seen) == k:
            break
    return votes / max(votes.sum(), 1)


def measure(workdir: Path, k: int, steps_spec: str, grid_points: int) -> dict[str, float]:
    cat, countries = load(workdir)
    pairs = twins(cat)
    lib_rows = cat[cat["kind"] == "processed"]
    grid = make_grid(float(lib_rows["wavenumber_min_cm1"].min()),
                     float(lib_rows["wavenumber_max_cm1"].max()), grid_points)
    lib = _unit_rows(on_grid([as_spectrum(r) for _, r in lib_rows.iterrows()], grid))
    lib_specimens = lib_rows["specimen_id"].to_numpy()
    lib_minerals = lib_rows["mineral"].to_numpy()
    classes = sorted(set(countries))
    steps = parse_steps(steps_spec)
    raw = [as_spectrum(cat.loc[i]) for i, _ in pairs]
    variants = {"raw": raw, "raw+auto": [apply_steps(s, steps) for s in raw],
                "twin": [as_spectrum(cat.loc[j]) for _, j in pairs]}
    X = {name: _unit_rows(on_grid(spectra, grid)) for name, spectra in variants.items()}
    species: dict[str, list[str]] = {name: [] for name in X}
    dists: dict[str, list[np.ndarray]] = {name: [] for name in X}
    for n, (i, _) in enumerate(pairs):
        specimen = cat.loc[i, "specimen_id"]
        for name in X:
            order = ranked(X[name][n], lib, lib_specimens, specimen)
            species[name].append(lib_minerals[order[0]])
            dists[name].append(country_distribution(order, lib_specimens, countries,
                                                    classes, k))
    truth = [cat.loc[i, "mineral"] for i, _ in pairs]
    majority = pd.Series(lib_minerals).value_counts().index[0]
    out = {"pairs": len(pairs), "raw_files": int((cat["kind"] == "raw").sum()),
           "specimens": len({cat.loc[i, "specimen_id"] for i, _ in pairs}),
           "majority_mineral_rate": float(np.mean([t == majority for t in truth]))}
    for name in ("raw", "raw+auto"):
        agree = np.array(species[name]) == np.array(species["twin"])
        tvd = [0.5 * np.abs(p - q).sum() for p, q in zip(dists[name], dists["twin"],
                                                          strict=True)]
        out[f"{name}: species agreement"] = float(agree.mean())
        out[f"{name}: mean TVD"] = float(np.mean(tvd))
    for name in X:
        out[f"{name}: species = own mineral"] = float(np.mean(
            np.array(species[name]) == np.array(truth)))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workdir", type=Path, required=True)
    parser.add_argument("--k", type=int, default=10, help="reference specimens per country "
                        "distribution (default 10)")
    parser.add_argument("--preprocess", default="auto", help="steps compared with none "
                        "(default auto)")
    parser.add_argument("--grid-points", type=int, default=2048)
    args = parser.parse_args(argv)
    for name in ("catalog.parquet", "geocoded.parquet"):
        if not (args.workdir / name).is_file():
            print(f"{args.workdir / name}: missing; run rruffgeo ingest and geocode first",
                  file=sys.stderr)
            return 1
    result = measure(args.workdir, args.k, args.preprocess, args.grid_points)
    for key, value in result.items():
        print(f"{key:<32} {value:.3f}" if isinstance(value, float) else f"{key:<32} {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
