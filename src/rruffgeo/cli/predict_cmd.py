"""``rruffgeo predict``: open the model, check every option, predict, then write.

Both kinds of model folder go through `rruffgeo.predict.open_model` and the same loop; this
module only checks the options up front, prints one line per refused spectrum (names escaped
for the terminal) and writes what the output plan allows.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from rruffgeo.errors import UserError
from rruffgeo.output_plan import check_not_inputs, plan_outputs, table_targets
from rruffgeo.textsafe import terminal_safe

COMPANIONS = ("species", "specimens", "continents")


def check_options(args: argparse.Namespace) -> None:
    """Every option that can be wrong, checked before the model is loaded or a file read."""
    from rruffgeo.config import PredictSettings
    from rruffgeo.spectra.prepare import as_path_list
    from rruffgeo.spectra.preprocess import parse_steps
    from rruffgeo.spectra.readers.units import check_laser

    PredictSettings(top_k=args.top_k, precision=args.precision, device=args.device)
    for option, value, low in (("--top-k", args.top_k, 1), ("--species", args.species, 1),
                               ("--neighbours", args.neighbours, 1)):
        if value < low:
            raise UserError(f"{option} {value}: must be a whole number of at least {low}")
    parse_steps(args.preprocess)
    check_laser(args.laser_nm, "--laser-nm")
    as_path_list(args.files, "files")
    table_targets(args.output, _companions(args))
    check_not_inputs(table_targets(args.output, _companions(args)),
                     [str(f) for f in args.files])
    column = _sample_column(args)
    if column is not None and len(args.files) != 1:
        raise UserError(f"--sample-by column:{column}: give one CSV file, got "
                        f"{len(args.files)} paths")
    if column is None and args.sample_by:
        from rruffgeo.predict import check_sample_by

        check_sample_by(args.sample_by)


def _companions(args: argparse.Namespace) -> tuple[str, ...]:
    """Companion tables: with pooled samples, the per-spectrum answers go beside them."""
    return (*COMPANIONS, "spectra") if args.sample_by else COMPANIONS


def _sample_column(args: argparse.Namespace) -> str | None:
    """NAME of ``--sample-by column:NAME``, else None."""
    how = args.sample_by or ""
    if not how.startswith("column:"):
        return None
    name = how.partition(":")[2]
    if not name:
        raise UserError("--sample-by column:NAME: name the CSV column holding sample IDs")
    return name


def _predict(model: Any, args: argparse.Namespace) -> Any:
    """Per-spectrum answers, and pooled ones per sample with ``--sample-by``."""
    options = _model_options(args, model)
    column = _sample_column(args)
    if column is None:
        if args.sample_by:
            options["sample_by"] = args.sample_by
        return model.predict_files(args.files, laser_nm=args.laser_nm,
                                   preprocess=args.preprocess, **options)
    from rruffgeo.predict import read_sample_table

    spectra, samples = read_sample_table(args.files[0], column)
    return model.predict_spectra(spectra, preprocess=args.preprocess, sample_by=samples,
                                 **options)


def _model_options(args: argparse.Namespace, model: Any) -> dict[str, Any]:
    if model.kind == "provenance":
        return {"coverage": args.coverage, "species": args.species,
                "neighbours": args.neighbours, "mineral": args.mineral}
    if args.sample_by:
        raise UserError(f"--sample-by: pooled answers need a provenance model "
                        f"(models/final); {terminal_safe(args.model)} is a network model")
    if args.mineral:
        print(f"rruffgeo predict: warning: --mineral is used by provenance models "
              f"(models/final) only; {terminal_safe(args.model)} is a network model and "
              "ignores it", file=sys.stderr)
    return {}


def run_predict(args: argparse.Namespace) -> int:
    """Predict the files of ``args`` with the model folder ``args.model``; 1 when nothing
    could be predicted."""
    from rruffgeo.predict import open_model

    written: list[Path] = []
    args.interrupted = lambda: ("interrupted: " + (
        f"only these were written: {', '.join(map(str, written))}" if written
        else "nothing was written (predictions are written at the end)"))
    check_options(args)
    model = open_model(args.model, device=args.device, precision=args.precision)
    result = _predict(model, args)
    for _source, reason in result.refused:
        print(f"refused: {terminal_safe(reason)}", file=sys.stderr)  # each names its file
    sources = [*map(str, args.files), *result.names, *(s for s, _ in result.refused)]
    plan = plan_outputs(args.output, args.map, result.names, sources, _companions(args))
    if plan.tables:
        written += _write_tables(plan.tables, model, result, args)
        print(f"{len(result.names)} predicted, {len(result.refused)} refused -> "
              + ", ".join(terminal_safe(w) for w in written))
    else:
        print(_terminal_text(model, result, args))
    for i, stem in enumerate(plan.maps.values()):
        out = _draw_map(model, result, i, stem)
        written += out
        print(f"map: {', '.join(terminal_safe(o) for o in out)}")
    return 0 if result.names else 1


def _write_tables(targets: list[Path], model: Any, result: Any,
                  args: argparse.Namespace) -> list[Path]:
    if model.kind == "provenance":
        from rruffgeo.provenance.output import write_outputs

        if result.samples is not None:
            return _write_samples(targets[0], result, args)
        return write_outputs(targets[0], result.names, result.details,
                             float(args.coverage), result.refused, args.top_k)
    from rruffgeo.workdir import (
        spreadsheet_safe,
        write_csv_atomic,
        write_parquet_atomic,
        write_text_atomic,
    )

    table = result.table(args.top_k)
    target = targets[0]
    suffix = target.suffix.lower()
    if suffix == ".json":
        records = {n: table[table["file"] == n].drop(columns="file").to_dict("records")
                   for n in result.names}
        payload = {"predictions": records,
                   "refused": [{"file": f, "reason": r} for f, r in result.refused]}
        write_text_atomic(target, json.dumps(payload, indent=2) + "\n")
    elif suffix == ".csv":
        write_csv_atomic(target, spreadsheet_safe(table))
    else:
        write_parquet_atomic(target, table)
    return [target]


def _write_samples(target: Path, result: Any, args: argparse.Namespace) -> list[Path]:
    """The pooled answers in ``target`` and the per-spectrum ones in its ``.spectra``
    companion (each with its own species and specimens companions)."""
    from rruffgeo.output_plan import companion
    from rruffgeo.provenance.output import write_outputs

    coverage = float(args.coverage)
    names = [s.name for s in result.samples]
    written = write_outputs(target, names, [s.result for s in result.samples], coverage,
                            result.refused, args.top_k)
    return written + write_outputs(companion(target, "spectra"), result.names, result.details,
                                   coverage, result.refused, args.top_k)


def _sample_text(result: Any, args: argparse.Namespace) -> str:
    """Each sample's pooled answer, then its spectra's answers one line each."""
    from rruffgeo.provenance.output import render

    coverage, blocks = float(args.coverage), []
    for sample in result.samples:
        head = f"sample {terminal_safe(sample.name)}: {len(sample.members)} spectra, pooled"
        lines = [render(head, sample.result, coverage, args.top_k), "per spectrum:"]
        for i in sample.members:
            r = result.details[i]
            top = ", ".join(f"{c} {p:.3f}" for c, p in zip(
                r.countries["country_iso3"][:args.top_k],
                r.countries["probability"][:args.top_k], strict=True))
            lines.append(f"  {terminal_safe(result.names[i])}: {top}; set of {r.set_size}")
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)


def _terminal_text(model: Any, result: Any, args: argparse.Namespace) -> str:
    if not result.names:
        return "no file could be predicted"
    if getattr(result, "samples", None) is not None:
        return _sample_text(result, args)
    if model.kind == "provenance":
        from rruffgeo.provenance.output import render

        return "\n\n".join(render(terminal_safe(n), r, float(args.coverage), args.top_k)
                           for n, r in zip(result.names, result.details, strict=True))
    table = result.table(args.top_k)
    table["file"] = table["file"].map(terminal_safe)
    return table.to_string(index=False, float_format=lambda v: f"{v:.3f}")


def _draw_map(model: Any, result: Any, i: int, stem: Path) -> list[Path]:
    name = result.names[i]
    probs = {c: float(v) for c, v in zip(result.classes, result.proba[i], strict=True)}
    title = f"Predicted origin: {terminal_safe(Path(name).name)}"
    if model.kind == "provenance":
        from rruffgeo.report.figures_provenance import fig_provenance_map

        r = result.details[i]
        return fig_provenance_map(dict(zip(r.countries["country_iso3"],
                                           r.countries["probability"], strict=True)),
                                  r.specimens, f"{title} ({r.set_size} countries in the set)",
                                  stem)
    from rruffgeo.report.maps import plot_prediction_map

    return plot_prediction_map(probs, title, stem)
