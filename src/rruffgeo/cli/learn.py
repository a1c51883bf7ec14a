"""``rruffgeo spectra | train | cv | predict``: the learning stage's commands."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from rruffgeo.cli.common import (
    add_grid_points,
    add_head,
    add_jobs,
    add_n_folds,
    add_network_pool,
    add_split,
    add_train_precision,
    add_workdir,
    settings_from_args,
    workdir_of,
)
from rruffgeo.config import PRECISIONS, Evaluation, Settings, Split
from rruffgeo.workdir import MATRIX_FAILURES

if TYPE_CHECKING:
    from rruffgeo.results import EvaluationResult


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("spectra", help="resample every catalog spectrum onto the global grid")
    add_workdir(p)
    add_grid_points(p)
    p.add_argument("--force", action="store_true", help="rebuild even when the cache is valid")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.set_defaults(func=cmd_spectra)

    p = sub.add_parser("train", help="train ConvNeXt1D on an 80/20 split (paper 4.3) and "
                       "evaluate it beside a 1-NN baseline")
    _add_training_options(p)
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("cv", help="stratified k-fold cross-validation of ConvNeXt1D and the "
                       "1-NN baseline (paper B.1)")
    _add_training_options(p)
    add_n_folds(p)
    add_jobs(p)
    p.add_argument("--folds", default=None,
                   help="which folds to run, 1-based and comma-separated (e.g. 1,2; default "
                   "all); finished folds of earlier runs with the same settings are kept")
    p.add_argument("--provenance", action=argparse.BooleanOptionalAction, default=True,
                   help="once every fold is finished, also cross-validate the provenance "
                   "models on the same folds, the network's fold models included, into "
                   "metrics/provenance_cv_SPLIT.* (default on; --no-provenance skips it)")
    p.set_defaults(func=cmd_cv)

    _register_twins(sub)
    _register_predict(sub)


def _register_predict(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("predict", help="predict the country of your own spectra (RRUFF .txt, "
                       "CSV/TSV/TXT, JCAMP-DX, SPC, WDF; files, folders and zips)")
    p.add_argument("files", nargs="+", type=Path, metavar="PATH",
                   help="spectrum files, folders (read recursively) or .zip archives")
    p.add_argument("--model", type=Path, required=True,
                   help="model folder: WORKDIR/models/final (species, specimens, calibrated "
                   "countries) or a network folder such as WORKDIR/models/holdout_specimen")
    p.add_argument("--top-k", type=int, default=3, help="countries listed per spectrum, most "
                   "probable first (default 3)")
    p.add_argument("--output", type=Path, default=None, help="write predictions to OUT.csv, "
                   "OUT.json or OUT.parquet (default: print a table)")
    p.add_argument("--laser-nm", type=float, default=None, help="laser wavelength for files "
                   "whose x axis is a wavelength in nm and that do not state it (default: "
                   "from the file)")
    p.add_argument("--preprocess", default="auto", metavar="auto|none|STEPS",
                   help="auto (default; any spectrum, raw or processed: despike, crop below "
                   "150 cm-1, asLS baseline, the rule the library is built with), none (a "
                   "spectrum already cropped above 150 cm-1 and baseline-corrected) or steps "
                   "such as despike,baseline:aspls,smooth:9,crop:100-1400")
    p.add_argument("--map", type=Path, default=None, metavar="DIR",
                   help="also draw a probability map per file into DIR")
    p.add_argument("--device", default="cpu", help="cpu (default), cuda or auto")
    p.add_argument("--precision", choices=PRECISIONS, default="fp32",
                   help="fp32 (default; the reference network's numbers) or bf16 (1.5-1.8x "
                   "faster on a CPU with AVX512-BF16; logits within ~0.01)")
    # the options of a models/final provenance model
    from rruffgeo.cli.provenance import add_predict_options

    add_predict_options(p)
    p.set_defaults(func=cmd_predict)


def _register_twins(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("twins", help="the paper's regime explained: 1-NN accuracy split by "
                       "spectrum by what each test spectrum has in training (its raw/processed "
                       "twin, its specimen, its species, nothing); the network's too once "
                       "`cv --split spectrum` has run with the same options")
    _add_training_options(p, split=False)
    add_n_folds(p)
    p.add_argument("--force", action="store_true", help="recompute even when cached")
    p.set_defaults(func=cmd_twins)


def _add_training_options(p: argparse.ArgumentParser, split: bool = True) -> None:
    add_workdir(p)
    if split:
        add_split(p)
    d = Settings()
    p.add_argument("--epochs", type=int, default=None,
                   help=f"training epochs (default {d.train.epochs})")
    p.add_argument("--batch-size", type=int, default=None,
                   help=f"spectra per optimizer step (default {d.train.batch_size})")
    p.add_argument("--lr", type=float, default=None,
                   help=f"schedule-free AdamW learning rate (default {d.train.lr:g})")
    p.add_argument("--seed", type=int, default=None,
                   help=f"seed of splits, initialisation and shuffling (default {d.train.seed})")
    add_grid_points(p)
    add_head(p)
    add_network_pool(p)
    add_train_precision(p)
    p.add_argument("--recipe", default=None, metavar="NAME",
                   help="training recipe: paper (what the paper states), default (the "
                   "project's), or either plus variants, e.g. paper+warmup+augment "
                   "(rruffgeo.recipes); the options above override it")
    p.add_argument("--inner-val", type=float, default=None, metavar="FRACTION",
                   help="hold out this share of each training part as a validation split "
                   "grouped like --split; its curves (val_*) are what recipes are chosen from")
    p.add_argument("--device", default=None, help="auto (default), cpu or cuda")
    p.add_argument("--threads", type=int, default=None,
                   help="CPU threads (default: one per core; 1 when other jobs share the cores)")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")


def cmd_spectra(args: argparse.Namespace) -> int:
    from rruffgeo.spectra import build_matrix

    m = build_matrix(workdir_of(args), settings_from_args(args), force=args.force,
                     progress=not args.no_progress)
    print(f"{m.X.shape[0]} spectra on {m.X.shape[1]} points over "
          f"{m.grid_cm1[0]:.1f}-{m.grid_cm1[-1]:.1f} cm-1; {len(m.failures)} could not be "
          f"resampled (listed in {workdir_of(args).spectra_dir / MATRIX_FAILURES})")
    return 0


def cmd_twins(args: argparse.Namespace) -> int:
    from rruffgeo.network.leakage import twin_breakdown

    wd = workdir_of(args)
    result = twin_breakdown(wd, settings_from_args(args), progress=not args.no_progress,
                            force=args.force)
    print(result.table().to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    print(f"{result.share_with_twin:.1%} of the learning spectra have a raw/processed twin; "
          f"split by spectrum, {result.twin_in_training_given_twin:.1%} of those find it in "
          f"training. Estimated for the paper's data ({result.official_share_paired:.1%} of "
          f"the official files in a pair): {result.paper_share_with_twin_in_training:.1%} of "
          f"its test spectra had their twin in training; it reports "
          f"{result.paper_accuracy:.0%}.")
    print(f"-> {wd.twins_file}")
    return 0


def cmd_train(args: argparse.Namespace) -> int:
    from rruffgeo.network import run_train

    report = run_train(workdir_of(args), settings_from_args(args), split=args.split,
                       progress=not args.no_progress)
    if report:  # empty on torchrun ranks other than 0
        _print_summary(report)
    return 0


def cmd_cv(args: argparse.Namespace) -> int:
    from rruffgeo.network import run_cv
    from rruffgeo.network.jobs import train_split_first

    folds = None
    if args.folds:
        try:
            folds = [int(f) - 1 for f in args.folds.split(",") if f.strip()]
        except ValueError:
            raise ValueError(f"--folds {args.folds!r}: expected numbers such as 1,2") from None
    settings = settings_from_args(args)
    progress = not args.no_progress
    train_split_first(workdir_of(args), settings, Evaluation.CV, Split(args.split), folds,
                      progress)  # side by side where the cores allow; run_cv then scores
    report = run_cv(workdir_of(args), settings, split=args.split, progress=progress,
                    folds=folds)
    if report:  # empty on torchrun ranks other than 0
        _print_summary(report)
        if args.provenance:
            _provenance_after_cv(args, settings, report)
    return 0


def _provenance_after_cv(args: argparse.Namespace, settings: Settings,
                         report: EvaluationResult) -> None:
    """The provenance evaluation of the split, reusing the fold models just trained; it waits
    until every fold is finished (a network with missing folds cannot join)."""
    done, n = len(report.folds), settings.train.n_folds
    if done < n:
        print(f"provenance evaluation: waits for every fold ({done} of {n} finished); it runs "
              "when `rruffgeo cv` finishes the last one (or run `rruffgeo provenance-cv`)")
        return
    from rruffgeo.cli.provenance import evaluate_and_report

    evaluate_and_report(workdir_of(args), settings, args.split, progress=not args.no_progress)


def _print_summary(report: EvaluationResult) -> None:
    print(f"{report.evaluation.file_stem} split={report.split}: {report.n_samples} spectra, "
          f"{report.n_specimens} specimens, {report.n_classes} countries, folds "
          f"{[f + 1 for f in report.folds_run]}")
    print(f"{'metric':<18} {'ConvNeXt1D':>17} {'1-NN cosine':>17}")
    net, base = report.summary["network"], report.summary["baseline_1nn"]
    for m in net:
        print(f"{m:<18} {net[m]['mean']:>8.3f} +/- {net[m]['std']:.3f} "
              f"{base[m]['mean']:>8.3f} +/- {base[m]['std']:.3f}")


def cmd_predict(args: argparse.Namespace) -> int:
    from rruffgeo.cli.predict_cmd import run_predict

    return run_predict(args)
