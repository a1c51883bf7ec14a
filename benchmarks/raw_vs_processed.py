"""Does a raw RRUFF spectrum, preprocessed, match like its processed twin?

Usage: python benchmarks/raw_vs_processed.py --workdir WORK --out raw.json
(after `rruffgeo ingest`, `geocode` and `spectra` on the RRUFF data, e.g. ../shared/rruff)

Every raw file whose measurement has exactly one processed file (``leakage.twin_rows``: same
sample, instrument, laser and orientation) is a pair. The raw spectrum, after each
preprocessing choice, and its twin are matched against the processed reference library (the
spectra matrix's processed rows) with the pair's whole specimen left out:
  * top-1 species: the mineral of the nearest reference spectrum (cosine on the grid);
  * country distribution: the countries of the k nearest reference specimens (one vote each).
A choice that crops below a minimum shift crops the library (and the twin) the same way.
The pairs' specimens are split in two (seeded): the rule and its thresholds are chosen on the
"choose" half by top-1 species accuracy (a later, more elaborate choice must gain more than
``MIN_GAIN``); the table reports the other half. No network model is
used (kNN only), so the numbers isolate preprocessing; a network would see the same inputs.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd

from rruffgeo.data.columns import read_catalog_columns
from rruffgeo.network.leakage import twin_rows
from rruffgeo.provenance.library import species_key, unit_rows
from rruffgeo.spectra.preprocess import AutoRule, baseline_share, smooth
from rruffgeo.spectra.resample import clean_axis, resample_many
from rruffgeo.spectra.spectrum import Spectrum

LIGHT = ["spectrum_id", "specimen_id", "sample_id", "mineral", "kind", "laser_nm",
         "laser_line_nm", "orientation", "orientation_angle_deg", "orientation_rotation",
         "polarization", "member", "wavenumber_min_cm1", "wavenumber_max_cm1"]


@dataclass
class Bench:
    """Catalog, the spectra matrix, the pairs and each specimen's country."""

    cat: pd.DataFrame
    X: np.ndarray          # matrix rows in catalog order
    grid: np.ndarray
    pairs: np.ndarray      # (n, 2): raw row, processed row
    raw: list[Spectrum]
    library: list[Spectrum]  # every processed spectrum, in catalog order
    countries: pd.Series   # specimen_id -> ISO3, natural specimens only


def load(workdir: Path) -> Bench:
    """Everything from a work folder; raw spectra read from the catalog, the rest from the
    matrix (the library as ``rruffgeo`` builds it)."""
    cat = read_catalog_columns(workdir / "catalog.parquet", [*LIGHT, "technique"])
    index = pd.read_parquet(workdir / "spectra" / "index.parquet")
    rows = index.set_index("spectrum_id")["row"].reindex(cat["spectrum_id"]).to_numpy()
    X = np.load(workdir / "spectra" / "matrix.npy", mmap_mode="r")[rows].astype(np.float32)
    grid = np.load(workdir / "spectra" / "grid.npy")
    twin = twin_rows(cat)
    raw_rows = np.flatnonzero((cat["kind"] == "raw").to_numpy() & (twin >= 0))
    pairs = np.c_[raw_rows, twin[raw_rows]]
    raw = read_spectra(workdir, cat["spectrum_id"].to_numpy()[pairs[:, 0]], "raw")
    lib_ids = cat["spectrum_id"].to_numpy()[(cat["kind"] == "processed").to_numpy()]
    library = read_spectra(workdir, lib_ids, "processed")
    geo = pd.read_parquet(workdir / "geocoded.parquet")
    natural = geo[geo["country_iso3"].fillna("").ne("") & ~geo["synthetic"].astype(bool)]
    countries = natural.drop_duplicates("specimen_id").set_index("specimen_id")["country_iso3"]
    return Bench(cat, X, grid, pairs, raw, library, countries)


def read_spectra(workdir: Path, ids: np.ndarray, kind: str) -> list[Spectrum]:
    """The catalog's spectra ``ids`` (all of one kind, read with a filter to save memory)."""
    arrays = pd.read_parquet(workdir / "catalog.parquet", filters=[("kind", "==", kind)],
                             columns=["spectrum_id", "wavenumber_cm1", "intensity"])
    arrays = arrays.set_index("spectrum_id").loc[ids]
    return [Spectrum(np.asarray(a), np.asarray(b), {"source": s}) for s, a, b in
            zip(arrays.index, arrays["wavenumber_cm1"], arrays["intensity"], strict=True)]


def split_specimens(specimens: np.ndarray, seed: int) -> np.ndarray:
    """True for rows whose specimen falls in the "choose" half (half the specimens)."""
    unique = np.unique(specimens)
    chosen = np.random.default_rng(seed).permutation(unique)[: len(unique) // 2]
    return np.isin(specimens, chosen)


def on_grid(spectra: list[Spectrum], grid: np.ndarray) -> np.ndarray:
    """Spectra resampled and min-max normalised as the spectra matrix is."""
    X, _ = resample_many([clean_axis(s.wavenumber_cm1, s.intensity) for s in spectra], grid)
    return X


def masked(X: np.ndarray, grid: np.ndarray, min_shift: float | None, start: np.ndarray,
           stop: np.ndarray) -> np.ndarray:
    """Matrix rows as if each spectrum (measured from ``start`` to ``stop``) had been cropped
    below ``min_shift`` before resampling: those columns zeroed, min-max re-applied."""
    if min_shift is None:
        return X
    inside = (grid >= np.maximum(start, min_shift)[:, None]) & (grid <= stop[:, None])
    out = np.where(inside, X, 0.0)
    lo = np.where(inside, X, np.inf).min(axis=1, keepdims=True)
    hi = np.where(inside, X, -np.inf).max(axis=1, keepdims=True)
    ok = np.isfinite(lo) & (hi > lo)
    scaled = np.divide(out - np.where(ok, lo, 0), np.where(ok, hi - lo, 1))
    return np.where(inside & ok, scaled, np.where(ok, 0.0, X)).astype(np.float32)


def nearest(Q: np.ndarray, L: np.ndarray, lib_specimens: np.ndarray, exclude: np.ndarray,
            depth: int = 400) -> np.ndarray:
    """Per query, the ``depth`` library rows by cosine similarity, best first, the query's
    own specimen left out (rows of ``unit_rows`` matrices)."""
    out = np.empty((len(Q), depth), dtype=np.int64)
    for lo in range(0, len(Q), 256):
        sims = Q[lo:lo + 256] @ L.T
        sims[lib_specimens[None, :] == exclude[lo:lo + 256, None]] = -np.inf
        top = np.argpartition(-sims, depth, axis=1)[:, :depth]
        order = np.argsort(-np.take_along_axis(sims, top, 1), axis=1, kind="stable")
        out[lo:lo + 256] = np.take_along_axis(top, order, 1)
    return out


def country_votes(order: np.ndarray, lib_specimens: np.ndarray, countries: pd.Series,
                  classes: list[str], k: int) -> np.ndarray:
    """Per query, the share of each country among its k nearest reference specimens that
    have one (a row of zeros when none has); ``order`` rows end at their first -1."""
    index = {c: i for i, c in enumerate(classes)}
    country = countries.reindex(lib_specimens).to_numpy()
    votes = np.zeros((len(order), len(classes)))
    for q, rows in enumerate(order):
        seen: set[str] = set()
        for row in rows:
            if row < 0:
                break
            if lib_specimens[row] in seen or not isinstance(country[row], str):
                continue
            seen.add(lib_specimens[row])
            votes[q, index[country[row]]] += 1
            if len(seen) == k:
                break
    return votes / np.maximum(votes.sum(1, keepdims=True), 1)


@dataclass(frozen=True)
class Choice:
    """One preprocessing of the raw spectra (``AutoRule``'s knobs plus smoothing)."""

    name: str
    min_shift: float | None = None
    method: str = "none"
    lam: float = 1e5
    share: float = 0.0
    despike: bool = False
    smooth: int = 0
    alike: bool = False  # the rule (less smoothing) applied to the library as well

    def rule(self) -> AutoRule:
        return AutoRule(self.min_shift, self.method, self.lam, self.share, self.despike)


class Prepared:
    """Raw spectra after the expensive part of a choice (despike, crop, baseline fit),
    cached so that thresholds and smoothing reuse one fit."""

    def __init__(self, spectra: list[Spectrum]) -> None:
        self.spectra = spectra
        self._cache: dict[tuple, list[tuple[Spectrum, np.ndarray, float]]] = {}

    def fitted(self, c: Choice) -> list[tuple[Spectrum, np.ndarray, float]]:
        """Per spectrum: the cropped spectrum, its baseline and the baseline's share."""
        key = (c.despike, c.min_shift, c.method, c.lam)
        if key not in self._cache:
            base = AutoRule(c.min_shift, "none", despike=c.despike)
            out = []
            for s in self.spectra:
                cropped = base(s)
                if c.method == "none":
                    out.append((cropped, np.zeros(len(cropped.intensity)), 0.0))
                    continue
                one = AutoRule(None, c.method, c.lam, share=-1.0, despike=False)(cropped)
                fitted = cropped.intensity - one.intensity
                out.append((cropped, fitted, baseline_share_of(cropped, fitted)))
            self._cache[key] = out
        return self._cache[key]

    def apply(self, c: Choice) -> tuple[list[Spectrum], np.ndarray]:
        """The spectra under choice ``c`` and whether each had its baseline subtracted."""
        spectra, flagged = [], []
        for cropped, fitted, share in self.fitted(c):
            use = c.method != "none" and share > c.share
            s = cropped.with_values(cropped.wavenumber_cm1, cropped.intensity - fitted) \
                if use else cropped
            spectra.append(smooth(s, c.smooth) if c.smooth else s)
            flagged.append(use)
        return spectra, np.array(flagged)


def baseline_share_of(spectrum: Spectrum, fitted: np.ndarray) -> float:
    return baseline_share(spectrum.intensity, fitted)


class Matcher:
    """The processed library (cropped as a choice crops it, or as built by a choice's rule)
    and the twins' matches; a twin's row is its own library row."""

    def __init__(self, b: Bench, k: int) -> None:
        self.b, self.k = b, k
        self.lib_rows = np.flatnonzero((b.cat["kind"] == "processed").to_numpy())
        self.lib_specimens = b.cat["specimen_id"].to_numpy()[self.lib_rows]
        self.lib_species = b.cat["mineral"].map(species_key).to_numpy()[self.lib_rows]
        self.classes = sorted(set(b.countries))
        self.query_specimens = b.cat["specimen_id"].to_numpy()[b.pairs[:, 0]]
        self.twin_pos = np.searchsorted(self.lib_rows, b.pairs[:, 1])
        self._lib: dict[object, np.ndarray] = {}
        self._twin: dict[object, tuple[np.ndarray, np.ndarray]] = {}
        self.flagged: dict[object, np.ndarray] = {}

    def library(self, key: object) -> np.ndarray:
        """Unit rows of the library ``key``: a min shift (None: as built) or a stored one."""
        if key not in self._lib:
            cat = self.b.cat
            self._lib[key] = unit_rows(masked(
                self.b.X[self.lib_rows], self.b.grid, key,  # type: ignore[arg-type]
                cat["wavenumber_min_cm1"].to_numpy()[self.lib_rows],
                cat["wavenumber_max_cm1"].to_numpy()[self.lib_rows]))
        return self._lib[key]

    def add_library(self, key: object, L: np.ndarray) -> None:
        self._lib[key] = unit_rows(L)

    def match(self, Q: np.ndarray, key: object) -> tuple[np.ndarray, np.ndarray]:
        """Top-1 species and country distribution of each query (one per pair)."""
        order = nearest(unit_rows(Q), self.library(key), self.lib_specimens,
                        self.query_specimens)
        votes = country_votes(order, self.lib_specimens, self.b.countries, self.classes,
                              self.k)
        return self.lib_species[order[:, 0]], votes

    def twin(self, key: object) -> tuple[np.ndarray, np.ndarray]:
        """The twins' matches against library ``key`` (cached: one per library)."""
        if key not in self._twin:
            self._twin[key] = self.match(self.library(key)[self.twin_pos], key)
        return self._twin[key]


def scores(species: np.ndarray, votes: np.ndarray, twin: tuple[np.ndarray, np.ndarray],
           truth: np.ndarray, keep: np.ndarray) -> dict[str, float]:
    """Top-1 species of the raw side and its twin, their agreement, mean country TVD."""
    tvd = 0.5 * np.abs(votes - twin[1]).sum(1)
    return {"top1_raw": float((species == truth)[keep].mean()),
            "top1_twin": float((twin[0] == truth)[keep].mean()),
            "agreement": float((species == twin[0])[keep].mean()),
            "mean_tvd": float(tvd[keep].mean())}


def run_choice(c: Choice, prep: Prepared, m: Matcher, halves: dict[str, np.ndarray],
               lib_prep: Prepared) -> dict[str, object]:
    """One preprocessing choice scored on each half, against the library as built (cropped
    as the choice crops) or, for an ``alike`` choice, the library under the same rule."""
    t0 = time.perf_counter()
    key: object = c.min_shift
    lib_flagged = np.zeros(len(m.lib_rows), bool)
    if c.alike:
        key = replace(c, name="", smooth=0)
        if key not in m._lib:
            lib_spectra, lib_flagged = lib_prep.apply(key)  # type: ignore[arg-type]
            m.add_library(key, on_grid(lib_spectra, m.b.grid))
            m.flagged[key] = lib_flagged
        lib_flagged = m.flagged[key]
    spectra, flagged = prep.apply(c)
    Q = on_grid(spectra, m.b.grid)
    species, votes = m.match(Q, key)
    twin = m.twin(key)
    truth = m.b.cat["mineral"].map(species_key).to_numpy()[m.b.pairs[:, 0]]
    out: dict[str, object] = {**asdict(c), "baseline_subtracted": float(flagged.mean()),
                              "library_baseline_subtracted": float(lib_flagged.mean()),
                              "twins_baseline_subtracted": float(
                                  lib_flagged[m.twin_pos].mean())}
    for half, keep in halves.items():
        out[half] = scores(species, votes, twin, truth, keep)
    print(f"{c.name:<34} choose top-1 {out['choose']['top1_raw']:.3f}  "  # type: ignore[index]
          f"({time.perf_counter() - t0:.0f} s)", flush=True)
    return out


#: A choice replaces the best so far only when it gains more than this top-1 on the choose
#: half (about 4 of its ~790 pairs): on a tie the simpler, earlier choice stays.
MIN_GAIN = 0.005


def best(results: list[dict[str, object]], min_gain: float = MIN_GAIN) -> dict[str, object]:
    """The choice with the best top-1 species on the choose half, earlier choices (fewer
    steps) kept unless beaten by more than ``min_gain``."""
    top = results[0]
    for r in results[1:]:
        if r["choose"]["top1_raw"] > top["choose"]["top1_raw"] + min_gain:  # type: ignore[index]
            top = r
    return top


def search(prep: Prepared, lib_prep: Prepared, m: Matcher, halves: dict[str, np.ndarray]
           ) -> tuple[list[dict[str, object]], dict[str, object]]:
    """Staged search on the choose half: crop, baseline method, then the rule applied to the
    library too at several baseline thresholds, then smoothing and despiking; each stage
    starts from the best so far."""
    done: list[dict[str, object]] = []

    def run(c: Choice) -> None:
        done.append(run_choice(c, prep, m, halves, lib_prep))

    def top() -> Choice:
        return Choice(**{k: best(done)[k] for k in Choice.__dataclass_fields__})

    run(Choice("none"))
    run(Choice("despike+arpls (old auto)", None, "arpls", 1e5, -1.0, True))
    for lo in (100.0, 150.0, 200.0):
        run(Choice(f"crop<{lo:g}", lo, despike=True))
        run(Choice(f"crop<{lo:g}+arpls", lo, "arpls", 1e5, -1.0, True))
    lo = top().min_shift
    for method, lam in (("arpls", 1e4), ("asls", 1e6)):
        run(Choice(f"crop<{lo:g}+{method}:{lam:g}", lo, method, lam, -1.0, True))
    base = top()
    for share in (-1.0, 0.05, 0.1, 0.2):
        when = "always" if share < 0 else f"if share>{share:g}"
        run(replace(base, name=f"{base.name} {when}, library alike", share=share, alike=True))
    base = top()
    for window in (5, 9):
        run(replace(base, name=f"{base.name}+smooth:{window}", smooth=window))
    if not base.alike:  # (with the library alike, one more fit of every library spectrum)
        run(replace(base, name=f"{base.name}, no despike", despike=False))
    return done, best(done)


def check_rule(c: Choice, prep: Prepared, n: int) -> None:
    """The search emulates ``AutoRule`` from cached fits: check on ``n`` spectra that the rule
    itself gives the same spectra, so the chosen numbers are those of the code."""
    emulated, _ = prep.apply(c)
    for s, e in zip(prep.spectra[:n], emulated[:n], strict=False):
        got = c.rule()(s)
        got = smooth(got, c.smooth) if c.smooth else got
        if not np.allclose(got.intensity, e.intensity) or len(got.intensity) != len(
                e.intensity):
            raise AssertionError(f"{s.source}: AutoRule differs from the benchmark's emulation")


def table(results: list[dict[str, object]], half: str) -> str:
    """Markdown: one row per choice, scored on ``half``."""
    lines = ["| preprocessing | raw: baseline subtracted | library: baseline subtracted | "
             "top-1 raw | top-1 twin | agreement | mean TVD |", "|---|---|---|---|---|---|---|"]
    for r in results:
        s = r[half]
        lines.append(f"| {r['name']} | {r['baseline_subtracted']:.2f} | "
                     f"{r['library_baseline_subtracted']:.2f} | {s['top1_raw']:.3f} | "
                     f"{s['top1_twin']:.3f} | {s['agreement']:.3f} | {s['mean_tvd']:.3f} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Search the choices, print the summary and the report-half table, write the JSON."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workdir", type=Path, required=True)
    parser.add_argument("--k", type=int, default=10, help="reference specimens per country "
                        "distribution (default 10)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the specimen split")
    parser.add_argument("--out", type=Path, help="JSON of every choice's scores")
    args = parser.parse_args(argv)
    for name in ("catalog.parquet", "geocoded.parquet", "spectra/matrix.npy"):
        if not (args.workdir / name).is_file():
            print(f"{args.workdir / name}: missing; run rruffgeo ingest, geocode and spectra "
                  "first", file=sys.stderr)
            return 1
    b = load(args.workdir)
    m = Matcher(b, args.k)
    choose = split_specimens(m.query_specimens, args.seed)
    halves = {"choose": choose, "report": ~choose, "all": np.ones(len(choose), bool)}
    prep = Prepared(b.raw)
    results, chosen = search(prep, Prepared(b.library), m, halves)
    rule = Choice(**{k: chosen[k] for k in Choice.__dataclass_fields__})
    check_rule(rule, prep, 25)
    summary = {"pairs": len(b.pairs), "specimens": len(set(m.query_specimens)),
               "pairs_choose": int(choose.sum()), "pairs_report": int((~choose).sum()),
               "specimens_report": len(set(m.query_specimens[~choose])),
               "by_technique": b.cat["technique"].to_numpy()[b.pairs[:, 0]][~choose].tolist(),
               "chosen": chosen["name"], "seed": args.seed, "k": args.k}
    by_tech = pd.Series(summary.pop("by_technique")).value_counts().to_dict()
    summary["report_pairs_by_technique"] = by_tech
    print(json.dumps(summary, indent=1))
    print(table(results, "report"))
    if args.out:
        args.out.write_text(json.dumps({"summary": summary, "choices": results}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
