"""Options shared by several subcommands."""

from __future__ import annotations

import argparse
from pathlib import Path

from rruffgeo.config import HEAD_POOLS
from rruffgeo.errors import UserError
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


def add_head(parser: argparse.ArgumentParser) -> None:
    """``--head``: the network's classifier head (``ModelSettings.head_pool``)."""
    parser.add_argument(
        "--head",
        choices=HEAD_POOLS,
        default=None,
        help="classifier head: avg = global average pool (the paper's, default); flatten = "
        "keep the positions (learns on RRUFF where avg stays at the prior)",
    )


def workdir_of(args: argparse.Namespace) -> WorkDir:
    """The ``--workdir`` folder; a clear error when a file stands in its place."""
    if args.workdir.exists() and not args.workdir.is_dir():
        raise UserError(f"--workdir {args.workdir}: is a file, not a folder")
    return WorkDir(args.workdir)
