"""Does ``--preprocess auto`` make a raw RRUFF spectrum predict like its processed twin?

Usage: python benchmarks/raw_vs_processed.py --workdir WORK   (after `rruffgeo ingest` and
`rruffgeo geocode` on the RRUFF data, e.g. ../shared/rruff)

Every raw spectrum is paired with its processed twin: the processed file of the same
technique (``Raman``, or ``Broad_Scan`` in LR-Raman), sample RRUFF ID and laser line, and the
same orientation where one has it (else the first such file; how many pairs needed that is
printed). Three spectra are compared per pair: the raw one as it is (``--preprocess none``),
the raw one after ``--preprocess auto``, and the twin. Each is matched against the processed
reference library (every processed mineral spectrum; reference compounds, which are no
mineral, left out) with the pair's whole specimen left out (a grouped split), on the grid the
matrix stage would build (``spectra.window.global_window`` of the library), min-max, cosine:
  * top species: the mineral of the nearest reference spectrum;
  * country distribution: the countries of the k nearest reference specimens (one vote each).
Reported, for all pairs and per technique: how often the raw spectrum's top species agrees
with the twin's; the top-1 species accuracy (top species = the specimen's own mineral) of
raw, raw + auto and the twin; and the mean total variation distance between the raw and twin
country distributions. No network fold model is used (kNN only), so the numbers isolate the
effect of preprocessing on spectral matching; a network would see the same inputs.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from rruffgeo.data.columns import read_catalog_columns
from rruffgeo.spectra.preprocess import apply_steps, parse_steps
from rruffgeo.spectra.resample import clean_axis, make_grid, resample_many
from rruffgeo.spectra.spectrum import Spectrum
from rruffgeo.spectra.window import global_window

#: What a raw file and its processed twin share (orientation is matched after these).
TWIN_KEYS = ["technique", "sample_id", "laser_line_nm"]
ORIENTATION_KEYS = ["orientation_angle_deg", "orientation_rotation"]
COLUMNS = ["spectrum_id", "specimen_id", "sample_id", "mineral", "kind", "technique",
           "is_reference_compound", "laser_line_nm", *ORIENTATION_KEYS, "wavenumber_cm1",
           "intensity"]


def load(workdir: Path) -> tuple[pd.DataFrame, pd.Series]:
    """Mineral spectra of the catalog, and the country of each natural, kept specimen."""
    cat = read_catalog_columns(workdir / "catalog.parquet", COLUMNS)
    cat = cat[~cat["is_reference_compound"].astype(bool)].reset_index(drop=True)
    geo = pd.read_parquet(workdir / "geocoded.parquet")
    kept = geo["excluded_reason"].fillna("").eq("") if "excluded_reason" in geo else True
    natural = geo[geo["country_iso3"].notna() & (geo["country_iso3"] != "")
                  & ~geo["synthetic"].astype(bool) & kept]
    return cat, natural.set_index("specimen_id")["country_iso3"]


def _twin_key(row: pd.Series) -> tuple:
    """A row's twin key, NaN laser and angle made comparable."""
    return tuple(-1.0 if isinstance(v, float) and np.isnan(v) else v
                 for v in row[TWIN_KEYS + ORIENTATION_KEYS])


def twins(cat: pd.DataFrame) -> tuple[list[tuple[int, int]], int]:
    """(raw row, processed twin row) pairs, and how many were paired without the same
    orientation (no processed file had it)."""
    n_keys = len(TWIN_KEYS)
    processed: dict[tuple, list[tuple[tuple, int]]] = {}
    for j, row in cat[cat["kind"] == "processed"].iterrows():
        key = _twin_key(row)
        processed.setdefault(key[:n_keys], []).append((key[n_keys:], j))
    pairs, loose = [], 0
    for i, row in cat[cat["kind"] == "raw"].iterrows():
        key = _twin_key(row)
        same = processed.get(key[:n_keys], [])
        exact = [j for orientation, j in same if orientation == key[n_keys:]]
        if exact or same:
            pairs.append((i, exact[0] if exact else same[0][1]))
            loose += not exact
    return pairs, loose


def unit_rows(X: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (cosine similarity is then a dot product)."""
    X = np.asarray(X, dtype=np.float32)
    norms = np.linalg.norm(X, axis=1, keepdims=True)
    return np.divide(X, norms, out=np.zeros_like(X), where=norms > 0)


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


@dataclass
class Library:
    """The processed reference spectra on one grid: unit rows, specimens, minerals."""

    grid: np.ndarray
    rows: np.ndarray
    specimens: np.ndarray
    minerals: np.ndarray


def library_of(cat: pd.DataFrame, grid_points: int) -> Library:
    """Every processed spectrum on the grid the matrix stage would build over them."""
    lib = cat[cat["kind"] == "processed"]
    spectra = [as_spectrum(r) for _, r in lib.iterrows()]
    starts = [float(np.nanmin(s.wavenumber_cm1)) for s in spectra]
    stops = [float(np.nanmax(s.wavenumber_cm1)) for s in spectra]
    window = global_window(starts, stops)
    grid = make_grid(window.start_cm1, window.stop_cm1, grid_points)
    return Library(grid, unit_rows(on_grid(spectra, grid)), lib["specimen_id"].to_numpy(),
                   lib["mineral"].to_numpy())


@dataclass
class Matches:
    """Per pair and variant (raw, raw+auto, twin): top species and country distribution; per
    pair and raw variant, its cosine similarity to the twin on the grid."""

    species: dict[str, list[str]]
    countries: dict[str, list[np.ndarray]]
    cosine_to_twin: dict[str, np.ndarray]


def match_pairs(cat: pd.DataFrame, pairs: list[tuple[int, int]], lib: Library,
                countries: pd.Series, k: int, steps_spec: str) -> Matches:
    """Match the three variants of every pair against the library, its specimen left out."""
    steps = parse_steps(steps_spec)
    raw = [as_spectrum(cat.loc[i]) for i, _ in pairs]
    variants = {"raw": raw, "raw+auto": [apply_steps(s, steps) for s in raw],
                "twin": [as_spectrum(cat.loc[j]) for _, j in pairs]}
    X = {name: unit_rows(on_grid(spectra, lib.grid)) for name, spectra in variants.items()}
    classes = sorted(set(countries))
    out = Matches({name: [] for name in X}, {name: [] for name in X},
                  {name: (X[name] * X["twin"]).sum(axis=1) for name in ("raw", "raw+auto")})
    for n, (i, _) in enumerate(pairs):
        specimen = cat.loc[i, "specimen_id"]
        for name in X:
            order = ranked(X[name][n], lib.rows, lib.specimens, specimen)
            out.species[name].append(lib.minerals[order[0]])
            out.countries[name].append(country_distribution(order, lib.specimens, countries,
                                                            classes, k))
    return out


def reachable(lib: Library, minerals: np.ndarray, specimens: np.ndarray) -> np.ndarray:
    """Per pair, whether the library holds its mineral from another specimen: the ceiling of
    top-1 species accuracy with the specimen left out."""
    holders = pd.Series(lib.specimens).groupby(lib.minerals).agg(set)
    return np.array([bool(holders.get(m, set()) - {s}) for m, s in zip(minerals, specimens,
                                                                      strict=True)])


def summarise(cat: pd.DataFrame, pairs: list[tuple[int, int]], matches: Matches,
              lib: Library, rows: np.ndarray) -> dict[str, float | int]:
    """The figures of the pairs at positions ``rows``."""
    raw_rows = [pairs[n][0] for n in rows]
    truth = cat.loc[raw_rows, "mineral"].to_numpy()
    species = {name: np.array(v)[rows] for name, v in matches.species.items()}
    out: dict[str, float | int] = {
        "pairs": len(rows), "specimens": int(cat.loc[raw_rows, "specimen_id"].nunique()),
        "ceiling: own mineral in the library from another specimen": float(np.mean(
            reachable(lib, truth, cat.loc[raw_rows, "specimen_id"].to_numpy())))}
    for name in ("raw", "raw+auto"):
        out[f"{name}: median cosine to twin"] = float(np.median(matches.cosine_to_twin[name][rows]))
    for name in ("raw", "raw+auto"):
        out[f"{name}: species agrees with twin"] = float(np.mean(species[name] == species["twin"]))
    for name in species:
        out[f"{name}: top-1 species accuracy"] = float(np.mean(species[name] == truth))
    for name in ("raw", "raw+auto"):
        tvd = [0.5 * np.abs(matches.countries[name][n] - matches.countries["twin"][n]).sum()
               for n in rows]
        out[f"{name}: mean TVD of countries"] = float(np.mean(tvd))
    return out


def measure(workdir: Path, k: int, steps_spec: str, grid_points: int) -> pd.DataFrame:
    """One column per group of pairs (all, then each technique), one row per figure."""
    t0 = time.perf_counter()
    cat, countries = load(workdir)
    pairs, loose = twins(cat)
    lib = library_of(cat, grid_points)
    matches = match_pairs(cat, pairs, lib, countries, k, steps_spec)
    techniques = cat.loc[[i for i, _ in pairs], "technique"].to_numpy()
    groups = {"all": np.arange(len(pairs))}
    groups.update({t: np.flatnonzero(techniques == t) for t in sorted(set(techniques))})
    table = pd.DataFrame({g: summarise(cat, pairs, matches, lib, rows)
                          for g, rows in groups.items()})
    n_raw = int((cat["kind"] == "raw").sum())
    print(f"{n_raw:,} raw mineral spectra, {len(pairs):,} with a processed twin "
          f"({loose} of them not of the same orientation); library {len(lib.rows):,} "
          f"processed spectra on {len(lib.grid):,} points over {lib.grid[0]:.1f}.."
          f"{lib.grid[-1]:.1f} cm-1; {time.perf_counter() - t0:.0f} s")
    return table


def markdown(table: pd.DataFrame) -> str:
    """The table in Markdown: counts with thousands separators, rates to 3 decimals."""
    def cell(value: object) -> str:
        value = float(value)
        return f"{value:,.0f}" if value.is_integer() and value > 1 else f"{value:.3f}"

    lines = ["| | " + " | ".join(table.columns) + " |",
             "|---|" + "---:|" * len(table.columns)]
    lines += [f"| {name} | " + " | ".join(cell(v) for v in row) + " |"
              for name, row in table.iterrows()]
    return "\n".join(lines)


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
    table = measure(args.workdir, args.k, args.preprocess, args.grid_points)
    print(markdown(table))
    return 0


if __name__ == "__main__":
    sys.exit(main())
