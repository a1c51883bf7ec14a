"""What the page shows of one batch: per sample its plots, tables, map and set in words, per
refused file its reason, and the CSV/JSON downloads written as ``rruffgeo predict --output``.

It reads the answer of the public predict API (`rruffgeo.Predictions`) only; the overlay of
the best reference spectrum uses the reference library when the model has one.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from markupsafe import Markup

from rruffgeo.serve.svg import Curve, spectrum_svg, world_map_svg
from rruffgeo.spectra.spectrum import Spectrum

RAW, PREP, REF = "#1f77b4", "#1f77b4", "#d62728"
#: Countries listed per sample (the whole set when it is larger, up to this many more).
SHOWN_COUNTRIES = 8
MAX_SET_LISTED = 25
#: Samples drawn in full (plots, tables, map); a map file's other spectra get one line each,
#: so a page of thousands of spectra stays light enough for a browser.
MAX_CARDS = 100
SUMMARY_COLUMNS = ["file", "best species", "similarity", "top country", "probability",
                   "set size"]


@dataclass
class Table:
    """A table as the template draws it: column titles and formatted cells."""

    columns: list[str]
    rows: list[list[str]]


@dataclass
class Sample:
    """One predicted spectrum on the page."""

    name: str
    anchor: str
    raw_plot: Markup
    prep_plot: Markup
    countries: Table
    species: Table | None = None
    specimens: Table | None = None
    map_svg: Markup = Markup("")
    set_words: str = ""
    warnings: list[str] = field(default_factory=list)


def _cell(value: Any) -> str:
    """A table cell as text: floats to 3 decimals, missing values blank."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, float | np.floating):
        return f"{float(value):.3f}"
    if isinstance(value, bool | np.bool_):
        return "yes" if value else ""
    return str(value)


def as_table(df: pd.DataFrame, drop: Sequence[str] = ()) -> Table:
    """Every column the predictions carry (new ones such as HQI or a novelty verdict show up
    without a change here), minus ``drop``."""
    df = df.drop(columns=[c for c in drop if c in df.columns])
    return Table([str(c).replace("_", " ") for c in df.columns],
                 [[_cell(v) for v in row] for row in df.to_numpy(dtype=object).tolist()])


def strip_name(name: str, reason: str) -> str:
    """A reason without the file name it starts with (the page shows the name beside it)."""
    return reason[len(name) + 2:] if reason.startswith(name + ": ") else reason


def display_row(spectrum: Spectrum, model: Any, steps: Sequence[Any]) -> np.ndarray:
    """The spectrum as the model sees it: preprocessed, then on the model's grid."""
    from rruffgeo.spectra.preprocess import apply_steps
    from rruffgeo.spectra.resample import resample_spectrum

    if steps:
        spectrum = apply_steps(spectrum, steps)
    return resample_spectrum(spectrum.wavenumber_cm1, spectrum.intensity, model.grid_cm1,
                             bool(getattr(model, "minmax", True)))


def reference_index(model: Any) -> tuple[np.ndarray, dict[str, int]] | None:
    """The reference spectra and row of each spectrum id, when the model holds a library
    (a provenance model does, a network does not)."""
    library = getattr(getattr(model, "predictor", None), "library", None)
    meta, X = getattr(library, "meta", None), getattr(library, "X", None)
    if meta is None or X is None or "spectrum_id" not in meta:
        return None
    return X, {str(s): i for i, s in enumerate(meta["spectrum_id"])}


def _plots(spectrum: Spectrum, model: Any, steps: Sequence[Any], best: pd.Series | None,
           references: tuple[np.ndarray, dict[str, int]] | None) -> tuple[Markup, Markup]:
    """The spectrum as read, and as preprocessed with the best reference match overlaid."""
    raw = spectrum_svg([Curve(spectrum.wavenumber_cm1, spectrum.intensity, "as read", RAW)],
                       f"{spectrum.source} as read")
    curves = [Curve(model.grid_cm1, display_row(spectrum, model, steps), "preprocessed", PREP)]
    if best is not None and references is not None:
        X, rows = references
        row = rows.get(str(best.get("spectrum_id", "")))
        if row is not None:
            ref = np.asarray(X[row], np.float64)
            label = f"best match: {best.get('mineral', '')} {best.get('specimen_id', '')}"
            curves.append(Curve(model.grid_cm1, ref, label.strip(), REF))
    return raw, spectrum_svg(curves, f"{spectrum.source} preprocessed")


def set_words(coverage: float, detail: Any) -> str:
    """The conformal set in words: "90% set: 23 of 78 countries (Italy, ...)"."""
    members = detail.countries[detail.countries["in_set"]]["country_name"].tolist()
    listed = ", ".join(members[:MAX_SET_LISTED]) + (" …" if len(members) > MAX_SET_LISTED
                                                     else "")
    return (f"{coverage:.0%} set: {detail.set_size} of {len(detail.countries)} countries "
            f"({listed})")


def _points(specimens: pd.DataFrame) -> list[tuple[float, float, str]]:
    """(lat, lon, label) of the specimens to draw; those without coordinates are skipped later."""
    if not {"lat", "lon"} <= set(specimens.columns):
        return []
    text = {c: specimens[c].astype(str).tolist() if c in specimens else [""] * len(specimens)
            for c in ("specimen_id", "mineral", "locality")}
    return [(float(a), float(b), f"{s} {m}: {loc}") for a, b, s, m, loc in zip(
        specimens["lat"].to_numpy(float), specimens["lon"].to_numpy(float),
        text["specimen_id"], text["mineral"], text["locality"], strict=True)]


def sample_view(k: int, spectrum: Spectrum, proba: np.ndarray, result: Any, detail: Any,
                coverage: float, model: Any, steps: Sequence[Any],
                references: tuple[np.ndarray, dict[str, int]] | None) -> Sample:
    """Everything the page shows for the ``k``-th predicted spectrum."""
    probs = dict(zip(result.classes, map(float, proba), strict=True))
    if detail is None:  # a network model: countries only
        top = result.table(SHOWN_COUNTRIES)
        table = as_table(top[top["file"] == spectrum.source], drop=("file",))
        raw, prep = _plots(spectrum, model, steps, None, None)
        return Sample(spectrum.source, f"s{k}", raw, prep, table,
                      map_svg=world_map_svg(probs, set(), [], spectrum.source))
    best = detail.specimens.iloc[0] if len(detail.specimens) else None
    raw, prep = _plots(spectrum, model, steps, best, references)
    shown = detail.countries.head(max(SHOWN_COUNTRIES, min(detail.set_size, 20)))
    in_set = set(detail.countries.loc[detail.countries["in_set"], "country_iso3"])
    return Sample(spectrum.source, f"s{k}", raw, prep, as_table(shown),
                  as_table(detail.species), as_table(detail.specimens, drop=("spectrum_id",)),
                  world_map_svg(probs, in_set, _points(detail.specimens), spectrum.source),
                  set_words(coverage, detail))


def summary_row(name: str, proba: np.ndarray, result: Any, detail: Any) -> list[str]:
    """One line for a sample past `MAX_CARDS`: best species, top country, set size."""
    top = int(np.argmax(proba))
    best = detail.species.iloc[0] if detail is not None and len(detail.species) else None
    return [name, "" if best is None else str(best["species"]),
            "" if best is None else _cell(float(best["similarity"])),
            result.class_names[top], _cell(float(proba[top])),
            "" if detail is None else str(detail.set_size)]


def download_names(model: Any) -> list[str]:
    """The files offered for download: JSON, and the CSV tables (three for models/final)."""
    extra = ["results.species.csv", "results.specimens.csv"] if model.kind == "provenance" \
        else []
    return ["results.csv", "results.json", *extra]


def download(model: Any, result: Any, coverage: float, refused: Sequence[tuple[str, str]],
             name: str, folder: Path, top_k: int = 3) -> bytes:
    """One of `download_names`, written when asked for as ``rruffgeo predict --output
    results.json`` (or ``results.csv``, with its species and specimens tables) writes it."""
    target = folder / ("results.json" if name.endswith(".json") else "results.csv")
    if model.kind == "provenance":
        from rruffgeo.provenance.output import write_outputs

        write_outputs(target, result.names, result.details, coverage, refused, top_k)
        return (folder / name).read_bytes()
    from rruffgeo.workdir import spreadsheet_safe

    table = result.table(top_k)
    if name.endswith(".csv"):
        return spreadsheet_safe(table).to_csv(index=False).encode()
    records = {n: table[table["file"] == n].drop(columns="file").to_dict("records")
               for n in result.names}
    payload = {"predictions": records, "refused": [{"file": f, "reason": r}
                                                   for f, r in refused]}
    return (json.dumps(payload, indent=2) + "\n").encode()
