"""The ``rruffgeo`` command: a thin layer over the Python API, one module per pipeline stage.

Each module in ``COMMAND_MODULES`` has ``register(subparsers)``, which adds its subcommands and
sets ``func`` on each: ``func(args) -> int`` does the work by calling the API and returns the
exit code.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
import warnings
from collections.abc import Sequence

from rruffgeo import __version__

#: Modules of ``rruffgeo.cli`` that add subcommands, in the order ``--help`` lists them.
COMMAND_MODULES: tuple[str, ...] = ("ingest", "geocode", "learn", "provenance", "report")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rruffgeo",
        description="Geolocate mineral specimens from their Raman spectra (RRUFF).",
    )
    parser.add_argument("--version", action="version", version=f"rruffgeo {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(f"rruffgeo.cli.{name}").register(sub)
    return parser


def _one_line_warning(message, category, filename, lineno, line=None) -> str:  # noqa: ANN001
    """Warnings for users: one line, no source location."""
    return f"rruffgeo: warning: {message}\n"


def main(argv: Sequence[str] | None = None) -> int:
    warnings.formatwarning = _one_line_warning
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(levelname)s %(name)s: %(message)s",
    )
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("interrupted: finished work is kept; run the same command again to resume",
              file=sys.stderr)
        return 130
    except (FileNotFoundError, ValueError) as exc:
        print(f"rruffgeo {args.command}: error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
