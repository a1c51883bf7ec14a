"""Provenance predictions as tables: terminal text, CSV, JSON and Parquet.

Torch-free. The country table keeps the columns of ``rruffgeo predict``
(``file,rank,country_iso3,country_name,probability``) first and adds whether each country is in
the conformal set, the set's size and coverage, the evidence used, the best species match with
its HQI, the library-match verdict (novelty score and p-value), what the countries rest on
(the model, or the stated prior when nothing in the library is close) and the top continent.
CSV and Parquet get companion tables beside the main file, ``<stem>.species.<ext>``,
``<stem>.specimens.<ext>`` and, when the model has continents, ``<stem>.continents.<ext>``;
JSON holds them all per file.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from rruffgeo.output_plan import companion
from rruffgeo.provenance.answer import ProvenanceResult
from rruffgeo.workdir import (
    spreadsheet_safe,
    write_csv_atomic,
    write_parquet_atomic,
    write_text_atomic,
)

COUNTRY_COLUMNS = ["file", "rank", "country_iso3", "country_name", "probability", "in_set",
                   "set_size", "coverage", "evidence", "mineral_given", "species_match",
                   "species_similarity", "species_hqi", "library_match", "novelty_score",
                   "novelty_p_value", "country_basis", "continent", "continent_probability",
                   "continent_set"]
OUTPUT_SUFFIXES = (".csv", ".json", ".parquet")


def country_rows(name: str, r: ProvenanceResult, coverage: float, top_k: int) -> pd.DataFrame:
    """The ``max(top_k, set size)`` most probable countries of one file."""
    df = r.countries.head(max(top_k, r.set_size)).copy()
    df.insert(0, "file", name)
    best = r.species.iloc[0] if len(r.species) else None
    df["set_size"], df["coverage"] = r.set_size, coverage
    df["evidence"], df["mineral_given"] = r.evidence, r.mineral_used
    df["species_match"] = best["species"] if best is not None else ""
    df["species_similarity"] = float(best["similarity"]) if best is not None else float("nan")
    df["species_hqi"] = float(best["hqi"]) if best is not None and "hqi" in best else \
        float("nan")
    nv = r.novelty
    df["library_match"] = nv.verdict if nv is not None else "not checked"
    df["novelty_score"] = nv.score if nv is not None else float("nan")
    df["novelty_p_value"] = nv.p_value if nv is not None else float("nan")
    df["country_basis"] = r.country_basis
    cont = r.continents
    df["continent"] = cont["continent"].iloc[0] if cont is not None else ""
    df["continent_probability"] = float(cont["probability"].iloc[0]) if cont is not None \
        else float("nan")
    df["continent_set"] = ";".join(cont[cont["in_set"]]["continent"]) if cont is not None \
        else ""
    return df[COUNTRY_COLUMNS]


def tables(names: Sequence[str], results: Sequence[ProvenanceResult], coverage: float,
           top_k: int = 3) -> dict[str, pd.DataFrame]:
    """Countries, species, specimens and continents of every file as long tables (the
    continents only when the model has them)."""
    def with_file(frames: list[pd.DataFrame | None]) -> pd.DataFrame:
        parts = [f.assign(file=n)[["file", *f.columns]] for n, f in
                 zip(names, frames, strict=True) if f is not None]
        return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()

    return {
        "countries": pd.concat([country_rows(n, r, coverage, top_k)
                                for n, r in zip(names, results, strict=True)], ignore_index=True)
        if results else pd.DataFrame(columns=COUNTRY_COLUMNS),
        "species": with_file([r.species for r in results]),
        "specimens": with_file([r.specimens for r in results]),
        "continents": with_file([r.continents for r in results]),
    }


def to_json(names: Sequence[str], results: Sequence[ProvenanceResult], coverage: float,
            refused: Sequence[tuple[str, str]]) -> str:
    out = {}
    for name, r in zip(names, results, strict=True):
        in_set = r.countries[r.countries["in_set"]]
        out[name] = {
            "evidence": r.evidence, "mineral_given": r.mineral_used,
            "coverage": coverage, "set_size": r.set_size,
            "prediction_set": in_set["country_iso3"].tolist(),
            "countries": r.countries.to_dict("records"),
            "species": r.species.to_dict("records"),
            "nearest_specimens": r.specimens.astype(object).where(r.specimens.notna(), None)
            .to_dict("records"),
            "library_match": r.novelty.to_json() if r.novelty is not None else None,
            "country_basis": r.country_basis,
            "continents": r.continents.to_dict("records") if r.continents is not None
            else None,
        }
    payload = {"predictions": out, "refused": [{"file": f, "reason": m} for f, m in refused]}
    return json.dumps(payload, indent=2, default=float) + "\n"


def write_outputs(path: Path, names: Sequence[str], results: Sequence[ProvenanceResult],
                  coverage: float, refused: Sequence[tuple[str, str]], top_k: int = 3
                  ) -> list[Path]:
    """Write ``path`` (.csv, .json or .parquet) and, for tables, its companions."""
    suffix = path.suffix.lower()
    if suffix not in OUTPUT_SUFFIXES:
        raise ValueError(f"--output {path}: use a {', '.join(OUTPUT_SUFFIXES)} file name")
    if suffix == ".json":
        write_text_atomic(path, to_json(names, results, coverage, refused))
        return [path]
    written = []
    for kind, df in tables(names, results, coverage, top_k).items():
        if kind == "continents" and df.empty:
            continue
        target = path if kind == "countries" else companion(path, kind)
        if suffix == ".csv":  # localities and file names are text from outside: no formulas
            write_csv_atomic(target, spreadsheet_safe(df))
        else:
            write_parquet_atomic(target, df)
        written.append(target)
    return written


def render(name: str, r: ProvenanceResult, coverage: float, top_k: int = 5) -> str:
    """One file's answer for the terminal: species, nearest specimens, countries and set."""
    fmt = {"similarity": "{:.3f}".format, "probability": "{:.3f}".format,
           "lat": "{:.2f}".format, "lon": "{:.2f}".format, "hqi": "{:.1f}".format}
    evidence = (f"spectrum and mineral name {r.mineral_used!r}" if r.mineral_used
                else "spectrum only")
    spec = r.specimens.drop(columns=["spectrum_id"]).copy()
    spec["locality"] = spec["locality"].astype(str).str.slice(0, 50)
    countries = r.countries.head(max(top_k, min(r.set_size, 15)))
    members = r.countries[r.countries["in_set"]]["country_iso3"].tolist()
    shown = ", ".join(members[:25]) + (" ..." if len(members) > 25 else "")
    basis = ("calibrated probabilities" if r.country_basis == "model"
             else f"no answer from the spectrum; the {r.country_basis}")
    return "\n".join([
        f"== {name}  (evidence: {evidence})",
        library_line(r),
        "species match (best similarity per species in the reference library; HQI 0-100):",
        r.species.to_string(index=False, formatters=fmt),
        "nearest reference specimens:",
        spec.to_string(index=False, formatters=fmt),
        f"country of origin ({basis}):",
        countries.to_string(index=False, formatters=fmt),
        f"{coverage:.0%} prediction set: {r.set_size} of {len(r.countries)} countries: {shown}",
        *continent_lines(r, coverage),
    ])


def library_line(r: ProvenanceResult) -> str:
    """The open-set verdict in words, with its score and p-value."""
    nv = r.novelty
    if nv is None:
        return "library match: not checked (model saved without novelty.json)"
    return (f"library match: {nv.verdict} (novelty score {nv.score:.4f}, threshold "
            f"{nv.threshold:.4f}; p-value {nv.p_value:.3f}: share of known-species test "
            "spectra at least as far from the library)")


def continent_lines(r: ProvenanceResult, coverage: float) -> list[str]:
    """Continent probabilities and their set, when the model has them."""
    if r.continents is None:
        return []
    c = r.continents
    probs = ", ".join(f"{n} {p:.3f}" for n, p in zip(c["continent"], c["probability"],
                                                     strict=True))
    members = ", ".join(c[c["in_set"]]["continent"])
    return [f"continent: {probs}", f"{coverage:.0%} continent set: {members}"]
