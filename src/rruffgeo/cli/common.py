"""Options shared by several subcommands."""

from __future__ import annotations

import argparse
import os
from dataclasses import fields
from pathlib import Path
from typing import Any, TypeVar

from rruffgeo.config import (
    DATA_ENV,
    NETWORK_POINTS,
    Head,
    ModelSettings,
    Settings,
    Split,
    TrainPrecision,
    replace,
)
from rruffgeo.errors import UserError
from rruffgeo.recipes import recipe_settings
from rruffgeo.workdir import DEFAULT_WORKDIR, WorkDir

Section = TypeVar("Section")


def option_dest(option: str) -> str:
    """Where argparse keeps ``option``'s value: ``--n-folds`` -> ``n_folds``."""
    return option.lstrip("-").replace("-", "_")


def with_options(section: Section, args: argparse.Namespace) -> Section:
    """``section`` with each field whose ``option`` (its ``setting`` metadata) the command
    has and was given; checked again, so a bad value names its option."""
    given: dict[str, Any] = {}
    for f in fields(section):  # type: ignore[arg-type]
        option = f.metadata.get("option")
        value = None if option is None else getattr(args, option_dest(option), None)
        if value is not None:
            given[f.name] = value
    return replace(section, **given) if given else section  # type: ignore[type-var]


def settings_from_args(args: argparse.Namespace) -> Settings:
    """The settings of every command: ``--recipe`` (else the defaults), then each option the
    command was given, wherever a settings field names it (``--seed`` sets the network's and
    the provenance CV's, so their folds stay the same)."""
    recipe = getattr(args, "recipe", None)
    s = recipe_settings(recipe) if recipe else Settings()
    return replace(s, **{f.name: with_options(getattr(s, f.name), args) for f in fields(s)})


def add_workdir(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--workdir",
        type=Path,
        default=DEFAULT_WORKDIR,
        help=f"work folder where every stage reads and writes (default: ./{DEFAULT_WORKDIR})",
    )


def add_data(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--data",
        default=None,
        help="RRUFF data: a folder (of .txt files or of the official zips), a .zip, a .txt file "
        "or the RRUFF download URL; default $RRUFFGEO_DATA, else ../shared/rruff when present, "
        "else download the official zips",
    )


def add_head(parser: argparse.ArgumentParser) -> None:
    """``--head``: the network's classifier head (``ModelSettings.head_pool``)."""
    parser.add_argument(
        "--head",
        choices=[h.value for h in Head],
        default=None,
        help="classifier head: " + "; ".join(f"{h.value} = {h.help}" for h in Head)
        + f" (default {ModelSettings().head_pool.value}; the paper's: avg)",
    )


def add_network_pool(parser: argparse.ArgumentParser) -> None:
    """``--network-pool``: the network's own, coarser grid (``ModelSettings.input_pool``)."""
    parser.add_argument(
        "--network-pool", type=int, default=None, metavar="N",
        help="the network averages every N neighbouring grid points before its stem (its own, "
        "coarser grid, about N times less compute; the species library keeps --grid-points) "
        f"(default 0 = auto: about {NETWORK_POINTS} points for the network, 4 on the 2,048-point "
        "grid; 1 = the whole grid)")


def add_train_precision(parser: argparse.ArgumentParser) -> None:
    """``--precision``: training precision on the CPU (``TrainSettings.precision``)."""
    parser.add_argument(
        "--precision", choices=[p.value for p in TrainPrecision], default=None,
        help="training precision on the CPU: auto (default: bf16 autocast where the CPU has "
        "AVX512-BF16/AMX, 1.5-1.8x faster there, else fp32), fp32 (the same numbers on every "
        "CPU) or bf16 (refused where the CPU has no bf16 kernels)")


def add_jobs(parser: argparse.ArgumentParser) -> None:
    """``--jobs``: trainings side by side (``TrainSettings.jobs``)."""
    parser.add_argument(
        "--jobs", type=int, default=None,
        help="trainings run side by side (folds, or run's split protocols), each in its own "
        "process with its share of the cores (default 0 = one per core when --threads is not "
        "given, else 1)")


def add_split(parser: argparse.ArgumentParser) -> None:
    """``--split``: the split protocol of ``train`` and ``cv`` (``TrainSettings.split``)."""
    parser.add_argument(
        "--split",
        choices=[s.value for s in Split],
        default=Split.SPECTRUM.value,
        help="; ".join(f"{s.value}: {s.label}" for s in Split)
        + f" (default {Split.SPECTRUM.value})",
    )


def add_n_folds(parser: argparse.ArgumentParser) -> None:
    """``--n-folds``: how many folds cross-validation makes (``TrainSettings.n_folds``)."""
    parser.add_argument("--n-folds", dest="n_folds", type=int, default=None,
                        help="how many folds cross-validation makes (default 5)")


def data_of(args: argparse.Namespace) -> str | None:
    """The data source of ``--data``: the option, else None when ``$RRUFFGEO_DATA`` is set (the
    library reads it), else ``../shared/rruff`` beside the current folder when it exists (the
    project's shared layout), else None (the library downloads the official zips)."""
    if args.data:
        return str(args.data)
    shared = Path.cwd().parent / "shared" / "rruff"
    if os.environ.get(DATA_ENV) or not shared.is_dir():
        return None
    return str(shared)


def workdir_of(args: argparse.Namespace) -> WorkDir:
    """The ``--workdir`` folder; a clear error when a file stands in its place."""
    if args.workdir.exists() and not args.workdir.is_dir():
        raise UserError(f"--workdir {args.workdir}: is a file, not a folder")
    return WorkDir(args.workdir)


def add_grid_points(parser: argparse.ArgumentParser) -> None:
    """``--grid-points``: the global wavenumber grid (``SpectraSettings.grid_points``); the
    commands that read a matrix or reuse `cv` fold models must be given the same one."""
    parser.add_argument("--grid-points", type=int, default=None,
                        help="points of the global wavenumber grid "
                        f"(default {Settings().spectra.grid_points})")
