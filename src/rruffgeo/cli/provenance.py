"""``rruffgeo provenance-cv | provenance-fit``, and the provenance answer of ``rruffgeo predict``.

``provenance-cv`` cross-validates the country models built on the reference library (class
prior, species frequency, kNN variants, their combination, and the network when
``rruffgeo cv`` left fold models for the same split), calibrated and with conformal sets, and
writes metrics/ and figures/. ``provenance-fit`` refits the CV winners on all data into
``models/final/``. ``predict --model WORKDIR/models/final`` then reports species, nearest
reference specimens, calibrated country probabilities and the prediction set.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rruffgeo.cli.common import add_grid_points, add_workdir, settings_from_args, workdir_of
from rruffgeo.config import Settings
from rruffgeo.workdir import WorkDir

if TYPE_CHECKING:
    from rruffgeo.provenance.evaluate import ProvenanceEvaluation
    from rruffgeo.results import ProvenanceReport

COVERAGES = ("0.8", "0.9", "0.95")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("provenance-cv", help="cross-validate the provenance country models "
                       "(species, kNN, prior, combination, network) with calibration and "
                       "conformal sets")
    add_workdir(p)
    p.add_argument("--split", dest="protocols", choices=("specimen", "spectrum", "both"),
                   default="specimen",
                   help="specimen: grouped by RRUFF ID (default); spectrum: the paper's "
                   "protocol; both")
    p.add_argument("--seed", type=int, default=None, help="fold seed (default 0, as `cv`)")
    p.add_argument("--network", choices=("auto", "off"), default="auto",
                   help="auto: include the network when `rruffgeo cv` fold models for the "
                   "split exist (default); off: cheap models only")
    p.add_argument("--no-figures", action="store_true", help="skip the figures")
    add_grid_points(p)
    p.set_defaults(func=cmd_provenance_cv)

    p = sub.add_parser("provenance-fit", help="refit the best provenance model on all data "
                       "into WORKDIR/models/final")
    add_workdir(p)
    p.add_argument("--model", default="auto",
                   help="auto: the winners of metrics/provenance_cv_specimen.json (else the "
                   "combinations); or a model name (default auto)")
    add_grid_points(p)
    p.set_defaults(func=cmd_provenance_fit)


def evaluate_and_report(workdir: WorkDir, settings: Settings, split: str, network: bool = True,
                        figures: bool = True, progress: bool = True) -> ProvenanceEvaluation:
    """Provenance CV of ``split`` (with the network's fold models when they fit), printed as a
    table, with its figures; returns the ``ProvenanceEvaluation``. Shared by ``provenance-cv``
    and ``cv``."""
    from rruffgeo.provenance.evaluate import evaluate_provenance

    ev = evaluate_provenance(workdir, settings, split, network, progress)
    print(ev.network_note)
    print_report(ev.report)
    if figures:
        from rruffgeo.report.figures_provenance import draw_provenance_figures

        out = draw_provenance_figures(workdir, ev.report)
        print("figures: " + ", ".join(str(p) for p in out))
    return ev


def cmd_provenance_cv(args: argparse.Namespace) -> int:
    settings = settings_from_args(args)
    both = args.protocols == "both"  # not TrainSettings.split, which "both" is not
    for split in (("specimen", "spectrum") if both else (args.protocols,)):
        evaluate_and_report(workdir_of(args), settings, split, args.network != "off",
                            not args.no_figures)
    return 0


def print_report(report: ProvenanceReport) -> None:
    """Models x metrics, each beside the majority class, with the winner and its goals."""
    print(f"provenance CV split by {report.split}: {report.n_spectra} spectra, "
          f"{report.n_specimens} specimens, {report.n_classes} countries, "
          f"{report.n_folds} folds ({report.wall_s:.0f} s)")
    print(f"{'model':<21} {'top-1 (maj.)':>13} {'top-3 (maj.)':>13} {'macro-F1':>15} "
          f"{'log-loss (prior) [95% CI of diff]':>34} {'ECE':>6} {'cov90':>6} {'size90':>6} "
          "most predicted")
    for name, r in report.models.items():
        v, set90 = r.vs_majority, r.conformal["0.9"]
        print(f"{name:<21} {v.top1.text(False)} {v.top3.text(False)} "
              f"{v.macro_f1.text(False)} {v.log_loss.text()} {r.ece:.3f} "
              f"{set90.coverage:.3f} {set90.mean_size:6.1f} {r.most_predicted.iso3} "
              f"{r.most_predicted.share:.0%}" + (f"  <- {r.one_class}" if r.one_class else ""))
    for evidence, w in report.winners.items():
        met = ", ".join(f"{g} {'met' if v.met else 'NOT met'}" for g, v in w.goals.items())
        print(f"best by log-loss ({evidence}): {w.model}; goals: {met}")


def cmd_provenance_fit(args: argparse.Namespace) -> int:
    from rruffgeo.provenance.final import choose_models, fit_final

    wd = workdir_of(args)
    if args.model != "auto":
        models, note = {"spectrum": args.model}, "chosen with --model"
    else:
        models, note = choose_models(wd)
    print(f"models: {models} ({note})")
    folder = fit_final(wd, settings_from_args(args), models, note)
    print(f"final provenance model saved in {folder} (predict with --model {folder})")
    return 0


# ---- rruffgeo predict: options and the provenance answer (hooked from cli/learn.py) ----

def add_predict_options(p: argparse.ArgumentParser) -> None:
    """Options of ``predict`` that a provenance model (models/final) uses."""
    p.add_argument("--coverage", choices=COVERAGES, default="0.9",
                   help="coverage of the conformal prediction set (provenance models; default 0.9)")
    p.add_argument("--mineral", default=None, metavar="NAME",
                   help="mineral name as extra evidence, or 'auto' to take it from each "
                   "RRUFF file's ##NAMES header (default: the spectrum alone)")
    p.add_argument("--neighbours", type=int, default=10,
                   help="nearest reference specimens to list (default 10)")
    p.add_argument("--species", type=int, default=5, help="species matches to list (default 5)")


def wants_provenance(args: argparse.Namespace) -> bool:
    """True for a provenance model folder; for a network model, warn about unused options."""
    from rruffgeo.provenance.final import is_provenance_model

    if is_provenance_model(args.model):
        return True
    if getattr(args, "mineral", None):
        print(f"rruffgeo predict: warning: --mineral is used by provenance models "
              f"(models/final) only; {args.model} is a network model and ignores it",
              file=sys.stderr)
    return False


def _mineral_of(spectrum: Any, option: str | None) -> str:
    """The mineral evidence of one spectrum: the given name, or its file's ##NAMES (auto)."""
    if not option:
        return ""
    if option != "auto":
        return option
    return str(spectrum.metadata.get("names", "")).split(",")[0].strip()


def read_for_provenance(args: argparse.Namespace, predictor: Any
                        ) -> tuple[list[str], list[Any], list[str], list[tuple[str, str]]]:
    """Names, rows on the model's grid, mineral evidence, and (source, reason) refusals, read
    with the same readers and preprocessing as the network's ``predict``."""
    from rruffgeo.spectra.preprocess import apply_steps, parse_steps
    from rruffgeo.spectra.readers import iter_inputs
    from rruffgeo.spectra.readers.inputs import read_input
    from rruffgeo.spectra.readers.units import check_laser

    steps = parse_steps(getattr(args, "preprocess", None))
    laser_nm = check_laser(getattr(args, "laser_nm", None), "--laser-nm")
    names, rows, minerals, refused = [], [], [], []
    for item in iter_inputs(args.files):
        try:
            spectra = read_input(item, laser_nm)
        except ValueError as exc:
            refused.append((item.name, str(exc)))
            continue
        for sp in spectra:
            try:
                ready = apply_steps(sp, steps)
                rows.append(predictor.prepare(ready.wavenumber_cm1, ready.intensity, sp.source))
                minerals.append(_mineral_of(sp, args.mineral))
                names.append(sp.source)
            except ValueError as exc:
                refused.append((sp.source, str(exc)))
    return names, rows, minerals, refused


def predict_provenance(args: argparse.Namespace) -> int:
    """``predict`` with a provenance model: terminal table, or --output CSV/JSON/Parquet."""
    import numpy as np

    from rruffgeo.provenance.final import ProvenancePredictor
    from rruffgeo.provenance.output import OUTPUT_SUFFIXES, render, write_outputs

    if args.output is not None and args.output.suffix.lower() not in OUTPUT_SUFFIXES:
        raise ValueError(f"--output {args.output}: use a {', '.join(OUTPUT_SUFFIXES)} file name")
    predictor = ProvenancePredictor(args.model)
    names, rows, minerals, refused = read_for_provenance(args, predictor)
    for _file, reason in refused:
        print(f"refused: {reason}", file=sys.stderr)
    coverage = float(args.coverage)
    results = (predictor.predict(np.stack(rows), minerals, coverage, args.species,
                                 args.neighbours) if rows else [])
    if args.output is not None:
        written = write_outputs(args.output, names, results, coverage, refused, args.top_k)
        print(f"{len(names)} predicted, {len(refused)} refused -> "
              + ", ".join(str(w) for w in written))
    else:
        print("\n\n".join(render(n, r, coverage, args.top_k) for n, r in
                          zip(names, results, strict=True)) or "no file could be predicted")
    if args.map is not None and results:
        _maps(args.map, names, results)
    return 0 if names else 1


def _maps(folder: Path, names: list[str], results: list[Any]) -> None:
    from rruffgeo.report.figures_provenance import fig_provenance_map

    folder.mkdir(parents=True, exist_ok=True)
    for name, r in zip(names, results, strict=True):
        probs = dict(zip(r.countries["country_iso3"], r.countries["probability"], strict=True))
        out = fig_provenance_map(probs, r.specimens, f"Predicted origin: {Path(name).name} "
                                 f"({r.set_size} countries in the set)", folder / Path(name).stem)
        print(f"map: {', '.join(str(o) for o in out)}")
