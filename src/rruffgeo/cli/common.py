"""Options shared by several subcommands."""

from __future__ import annotations

import argparse
from pathlib import Path

from rruffgeo.workdir import DEFAULT_WORKDIR, WorkDir


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


def workdir_of(args: argparse.Namespace) -> WorkDir:
    return WorkDir(args.workdir)
