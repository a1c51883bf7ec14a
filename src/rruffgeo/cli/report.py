"""Commands ``stats``, ``figures``, ``report`` and ``run`` (the main job)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from rruffgeo.cli.common import (
    add_data,
    add_head,
    add_jobs,
    add_n_folds,
    add_network_pool,
    add_train_precision,
    add_workdir,
    data_of,
    settings_from_args,
    workdir_of,
)
from rruffgeo.config import RUN_SPLITS, Settings


def _add_progress(p: argparse.ArgumentParser) -> None:
    p.add_argument("--no-progress", action="store_true", help="no progress bars")


def _add_settings(p: argparse.ArgumentParser) -> None:
    d = Settings()
    g = p.add_argument_group("settings (defaults: the paper's values)")
    g.add_argument("--min-samples-per-country", type=int,
                   default=d.train.min_samples_per_country,
                   help="keep countries with at least this many spectra for learning "
                        "(default %(default)s)")
    g.add_argument("--grid-points", type=int, default=d.spectra.grid_points,
                   help="points of the global wavenumber grid (default %(default)s)")


def _cmd_stats(args: argparse.Namespace) -> int:
    from rruffgeo.report.stats import TITLES, to_markdown, write_stats

    stats = write_stats(workdir_of(args), settings_from_args(args))
    for key, df in stats.tables().items():
        print(f"## {TITLES[key]}\n")
        print(to_markdown(df))
    for note in stats.notes:
        print(note)
    print(f"wrote {len(stats.files)} files under {workdir_of(args).tables_dir}")
    return 0


def _cmd_figures(args: argparse.Namespace) -> int:
    from rruffgeo.report.figures import make_figures

    res = make_figures(workdir_of(args), settings_from_args(args), progress=not args.no_progress)
    for stem, paths in res.written.items():
        print(f"{stem}: {', '.join(str(p) for p in paths)}")
    for stem, why in res.skipped.items():
        print(f"{stem}: skipped ({why})", file=sys.stderr)
    return 0 if res.written else 1


def _cmd_report(args: argparse.Namespace) -> int:
    from rruffgeo.report.figures import make_figures
    from rruffgeo.report.html import write_report
    from rruffgeo.report.stats import write_stats

    wd = workdir_of(args)
    settings = wd.load_run_settings() or settings_from_args(args)
    stats = write_stats(wd, settings)
    figures = make_figures(wd, settings, progress=not args.no_progress)
    path = write_report(wd, settings, stats=stats, figures=figures)
    print(f"report: {path}")
    return 0


def _cmd_run(args: argparse.Namespace) -> int:
    from rruffgeo.pipeline import StageError, run

    if args.folds is not None:
        raise ValueError(f"--folds {args.folds}: `run` evaluates every fold; use --n-folds for "
                         "how many (--folds picks which ones in `rruffgeo cv`)")
    splits = tuple(s.strip() for s in args.splits.split(",") if s.strip()) if args.splits \
        else RUN_SPLITS
    source = data_of(args)
    settings = settings_from_args(args)  # a bad option is one error line before anything starts
    if source is None or "://" in str(source) or Path(source).exists():  # bad: one error below
        shown = source or "the official RRUFF download (cached)"
        print(f"rruffgeo run: data from {shown}; work folder {workdir_of(args).root}",
              file=sys.stderr)
    try:
        result = run(data=source, workdir=workdir_of(args), settings=settings,
                     cv=args.cv, progress=not args.no_progress, splits=splits,
                     force=args.force)
    except StageError as exc:
        print(exc.result.summary(), file=sys.stderr)
        print(f"rruffgeo run: error: {exc}", file=sys.stderr)
        return 1
    print(result.summary())
    return 0 if result.ok else 1


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("stats", help="dataset totals and Tables 1-3 (CSV + Markdown in tables/)")
    add_workdir(p)
    _add_settings(p)
    p.set_defaults(func=_cmd_stats)

    p = sub.add_parser("figures", help="figures 1-9 as PNG and SVG in figures/")
    add_workdir(p)
    _add_settings(p)
    _add_progress(p)
    p.set_defaults(func=_cmd_figures)

    p = sub.add_parser("report", help="tables, figures and the self-contained report.html")
    add_workdir(p)
    _add_settings(p)
    _add_progress(p)
    p.set_defaults(func=_cmd_report)

    p = sub.add_parser(
        "run", help="the main job: ingest, geocode, stats, figures, train+evaluate both split "
                    "protocols (or --cv), report; skips stages that are up to date")
    add_data(p)
    add_workdir(p)
    _add_settings(p)
    _add_progress(p)
    p.add_argument("--cv", action="store_true",
                   help="stratified k-fold cross-validation instead of one 80/20 split")
    p.add_argument("--splits", default=None,
                   help="split protocols to evaluate, comma-separated (default: "
                        f"{','.join(RUN_SPLITS)}; also: locality)")
    d = Settings()
    p.add_argument("--epochs", type=int, default=None,
                   help=f"training epochs (default {d.train.epochs})")
    add_head(p)
    add_network_pool(p)
    add_train_precision(p)
    add_jobs(p)
    p.add_argument("--recipe", default=None, metavar="NAME",
                   help="training recipe: paper, default, or either plus variants, e.g. "
                        "paper+warmup (rruffgeo.recipes)")
    p.add_argument("--batch-size", dest="batch_size", type=int, default=None,
                   help="batch size (default 64)")
    add_n_folds(p)
    p.add_argument("--folds", default=None, help=argparse.SUPPRESS)
    p.add_argument("--lr", type=float, default=None, help="learning rate (default 1e-3)")
    p.add_argument("--seed", type=int, default=None, help="random seed (default 0)")
    p.add_argument("--device", default=None, help="auto (default), cpu or cuda")
    p.add_argument("--threads", type=int, default=None,
                   help="CPU threads for training (default: one per core; 1 on a busy machine)")
    p.add_argument("--workers", type=int, default=None,
                   help="ingest worker processes (default: one per CPU core)")
    p.add_argument("--online", action="store_true",
                   help="geocode with the online chain Nominatim -> Photon -> ArcGIS")
    p.add_argument("--force", action="store_true",
                   help="re-run every stage even when it is up to date")
    p.set_defaults(func=_cmd_run)
