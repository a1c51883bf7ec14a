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
from typing import TYPE_CHECKING

from rruffgeo.cli.common import add_grid_points, add_workdir, settings_from_args, workdir_of
from rruffgeo.config import Settings, Split
from rruffgeo.workdir import WorkDir

if TYPE_CHECKING:
    from rruffgeo.provenance.evaluate import ProvenanceEvaluation
    from rruffgeo.results import ProvenanceReport

COVERAGES = ("0.8", "0.9", "0.95")
#: ``provenance-cv --split`` choices of one protocol, and what "both" and "all" run.
PROTOCOLS = ("specimen", "spectrum", "locality")
#: "all" runs the grouped protocols first (they matter most); the table shows Split order.
RUNS = {"both": ("specimen", "spectrum"), "all": ("specimen", "locality", "spectrum")}


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("provenance-cv", help="cross-validate the provenance country models "
                       "(species, kNN, prior, combination, network) with calibration and "
                       "conformal sets")
    add_workdir(p)
    p.add_argument("--split", dest="protocols", choices=(*PROTOCOLS, "both", "all"),
                   default="specimen",
                   help="specimen: grouped by RRUFF ID (default); spectrum: the paper's "
                   "protocol; locality: grouped by cleaned locality; both: spectrum and "
                   "specimen; all: the three, then every metric side by side")
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
    splits = RUNS.get(args.protocols, (args.protocols,))  # not TrainSettings.split
    reports = [evaluate_and_report(workdir_of(args), settings, split, args.network != "off",
                                   not args.no_figures).report for split in splits]
    if len(reports) > 1:
        print_side_by_side(reports)
    return 0


def side_by_side_rows(report: ProvenanceReport, evidence: str = "spectrum") -> dict[str, str]:
    """The winner's metrics of one protocol as printed cells, by metric name."""
    r = report.scores(evidence)
    v = r.vs_majority
    cells = {"model": report.winner(evidence),
             "top-1 (majority)": f"{v.top1.value:.3f} ({v.top1.baseline:.3f})",
             "top-3 (prior)": f"{v.top3.value:.3f} ({v.top3.baseline:.3f})",
             "macro-F1": f"{v.macro_f1.value:.3f}",
             "log-loss (prior)": f"{v.log_loss.value:.3f} ({v.log_loss.baseline:.3f})",
             "ECE": f"{r.ece:.3f}"}
    for level, c in r.conformal.items():
        cells[f"coverage {level} (size)"] = f"{c.coverage:.3f} ({c.mean_size:.1f})"
    return cells


def print_side_by_side(reports: list[ProvenanceReport], evidence: str = "spectrum") -> None:
    """Every metric of each protocol's winner, one column per protocol, so the cost of
    keeping a specimen, or a place, out of training reads across a line."""
    order = {s: i for i, s in enumerate(Split)}
    columns = {str(r.split): side_by_side_rows(r, evidence)
               for r in sorted(reports, key=lambda r: order[r.split])}
    print(f"\nwinner by log-loss ({evidence} evidence), per protocol:")
    print(f"{'metric':<24}" + "".join(f"{name:>20}" for name in columns))
    for metric in next(iter(columns.values())):
        print(f"{metric:<24}" + "".join(f"{c.get(metric, '-'):>20}"
                                        for c in columns.values()))


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
    p.add_argument("--sample-by", default=None, metavar="file|folder|all|column:NAME",
                   help="one pooled answer per sample besides each spectrum's: the spectra "
                   "of one file (a map or series), of one folder, all given, or the rows of a "
                   "CSV (one spectrum per row, wavenumbers as headers) sharing column NAME "
                   "(provenance models)")
