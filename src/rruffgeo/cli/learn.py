"""``rruffgeo spectra | train | cv | predict``: the learning stage's commands."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from rruffgeo.cli.common import (
    add_grid_points,
    add_head,
    add_jobs,
    add_n_folds,
    add_split,
    add_train_precision,
    add_workdir,
    with_grid_points,
    workdir_of,
)
from rruffgeo.config import PRECISIONS, PredictSettings, Settings, replace
from rruffgeo.recipes import recipe_settings
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

    p = sub.add_parser("predict", help="predict the country of your own spectra (RRUFF .txt, "
                       "CSV/TSV/TXT, JCAMP-DX, SPC, WDF; files, folders and zips)")
    p.add_argument("files", nargs="+", type=Path, metavar="PATH",
                   help="spectrum files, folders (read recursively) or .zip archives")
    p.add_argument("--model", type=Path, required=True,
                   help="model folder, e.g. WORKDIR/models/holdout_specimen")
    p.add_argument("--top-k", type=int, default=3, help="countries listed per spectrum, most "
                   "probable first (default 3)")
    p.add_argument("--output", type=Path, default=None, help="write predictions to OUT.csv, "
                   "OUT.json or OUT.parquet (default: print a table)")
    p.add_argument("--laser-nm", type=float, default=None, help="laser wavelength for files "
                   "whose x axis is a wavelength in nm and that do not state it (default: "
                   "from the file)")
    p.add_argument("--preprocess", default="none", metavar="auto|none|STEPS",
                   help="none (default; a spectrum already cropped above 150 cm-1 and "
                   "baseline-corrected), auto (any spectrum: despike, crop below 150 cm-1, "
                   "asLS baseline; the library is built with the same rule) or steps such as "
                   "despike,baseline:aspls,smooth:9,crop:100-1400")
    p.add_argument("--map", type=Path, default=None, metavar="DIR",
                   help="also draw a probability map per file into DIR")
    p.add_argument("--device", default="cpu", help="cpu (default), cuda or auto")
    p.add_argument("--precision", choices=PRECISIONS, default="fp32",
                   help="fp32 (default; the reference network's numbers) or bf16 (1.5-1.8x "
                   "faster on a CPU with AVX512-BF16; logits within ~0.01)")
    # --- provenance hook (issue 10): options of a models/final provenance model ---
    from rruffgeo.cli.provenance import add_predict_options

    add_predict_options(p)
    # --- end provenance hook ---
    p.set_defaults(func=cmd_predict)


def _add_training_options(p: argparse.ArgumentParser) -> None:
    add_workdir(p)
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


def settings_from_args(args: argparse.Namespace) -> Settings:
    """Default settings with the command-line overrides applied."""
    s = Settings()
    if getattr(args, "recipe", None):
        s = recipe_settings(args.recipe, s)
    if getattr(args, "inner_val", None) is not None:
        s = replace(s, train=replace(s.train, inner_val_fraction=args.inner_val))
    s = with_grid_points(s, args)
    spectra, model = s.spectra, s.model
    if getattr(args, "head", None) is not None:
        model = replace(model, head_pool=args.head)
    overrides = {name: getattr(args, name, None) for name in
                 ("epochs", "batch_size", "lr", "seed", "device", "threads", "n_folds",
                  "precision", "jobs")}
    overrides = {k: v for k, v in overrides.items() if v is not None}
    return replace(s, spectra=spectra, model=model, train=replace(s.train, **overrides))


def cmd_spectra(args: argparse.Namespace) -> int:
    from rruffgeo.spectra import build_matrix

    m = build_matrix(workdir_of(args), settings_from_args(args), force=args.force,
                     progress=not args.no_progress)
    print(f"{m.X.shape[0]} spectra on {m.X.shape[1]} points over "
          f"{m.grid_cm1[0]:.1f}-{m.grid_cm1[-1]:.1f} cm-1; {len(m.failures)} could not be "
          f"resampled (listed in {workdir_of(args).spectra_dir / MATRIX_FAILURES})")
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

    folds = None
    if args.folds:
        try:
            folds = [int(f) - 1 for f in args.folds.split(",") if f.strip()]
        except ValueError:
            raise ValueError(f"--folds {args.folds!r}: expected numbers such as 1,2") from None
    settings = settings_from_args(args)
    report = run_cv(workdir_of(args), settings, split=args.split,
                    progress=not args.no_progress, folds=folds)
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
    ps = PredictSettings(top_k=args.top_k, precision=args.precision, device=args.device)
    # --- provenance hook (issue 10): a provenance model folder gives its own answer ---
    from rruffgeo.cli.provenance import predict_provenance, wants_provenance

    if wants_provenance(args):
        return predict_provenance(args)
    # --- end provenance hook ---
    from rruffgeo.network import Predictor

    if args.output is not None and args.output.suffix.lower() not in (".csv", ".json",
                                                                      ".parquet"):
        raise ValueError(f"--output {args.output}: use a .csv, .json or .parquet file name")
    predictor = Predictor(args.model, device=ps.device, precision=ps.precision)
    names, proba, refused = predictor.predict_paths(args.files, laser_nm=args.laser_nm,
                                                    preprocess=args.preprocess)
    table = predictor.top_k(names, proba, ps.top_k)
    for _file, reason in refused:
        print(f"refused: {reason}", file=sys.stderr)  # every reason names its file
    if args.output is not None:
        suffix = args.output.suffix.lower()
        if suffix == ".json":
            records = {n: table[table["file"] == n].drop(columns="file").to_dict("records")
                       for n in names}
            payload = {"predictions": records,
                       "refused": [{"file": f, "reason": r} for f, r in refused]}
            args.output.write_text(json.dumps(payload, indent=2) + "\n")
        elif suffix == ".csv":
            table.to_csv(args.output, index=False)
        elif suffix == ".parquet":
            table.to_parquet(args.output, index=False)
        else:
            raise ValueError(f"--output {args.output}: use a .csv, .json or .parquet file name")
        print(f"{len(names)} predicted, {len(refused)} refused -> {args.output}")
    else:
        print(table.to_string(index=False, float_format=lambda v: f"{v:.3f}")
              if len(table) else "no file could be predicted")
    if args.map is not None and names:
        from rruffgeo.report.maps import plot_prediction_map

        args.map.mkdir(parents=True, exist_ok=True)
        for name, p in zip(names, proba, strict=True):
            probs = {c: float(v) for c, v in zip(predictor.classes, p, strict=True)}
            out = plot_prediction_map(probs, f"Predicted origin: {Path(name).name}",
                                      args.map / Path(name).stem)
            print(f"map: {', '.join(str(o) for o in out)}")
    return 0 if names else 1
