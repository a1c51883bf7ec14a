"""The ``rruffgeo`` command: a thin layer over the Python API, one module per pipeline stage.

Each module in ``COMMAND_MODULES`` has ``register(subparsers)``, which adds its subcommands and
sets ``func`` on each: ``func(args) -> int`` does the work by calling the API and returns the
exit code.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys
import warnings
from collections.abc import Sequence

from rruffgeo import __version__
from rruffgeo.errors import describe
from rruffgeo.textsafe import terminal_safe

#: Modules of ``rruffgeo.cli`` that add subcommands, in the order ``--help`` lists them.
COMMAND_MODULES: tuple[str, ...] = ("ingest", "geocode", "learn", "provenance", "measure",
                                     "report", "serve")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rruffgeo",
        description="Geolocate mineral specimens from their Raman spectra (RRUFF).",
    )
    parser.add_argument("--version", action="version", version=f"rruffgeo {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
    parser.add_argument("--debug", action="store_true",
                        help="log debug messages and show the full traceback of any error "
                        "(for bug reports)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(f"rruffgeo.cli.{name}").register(sub)
    return parser


def _one_line_warning(message, category, filename, lineno, line=None) -> str:  # noqa: ANN001
    """Warnings for users: one line, no source location."""
    return f"rruffgeo: warning: {terminal_safe(message)}\n"


def main(argv: Sequence[str] | None = None) -> int:
    warnings.formatwarning = _one_line_warning
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose or args.debug else logging.INFO,
        format="%(levelname)s %(name)s: %(message)s",
    )
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        code = int(args.func(args) or 0)
        sys.stdout.flush()  # a closed pipe (`rruffgeo summary | head -1`) shows up here
        return code
    except KeyboardInterrupt:
        note = getattr(args, "interrupted", None)  # a command that knows what it kept
        print(note() if callable(note) else
              "interrupted: finished work is kept; run the same command again to resume",
              file=sys.stderr)
        return 130
    except BrokenPipeError:
        _silence_stdout()
        return 141  # as if killed by SIGPIPE, like other Unix tools
    except Exception as exc:
        message = None if args.debug else describe(exc, getattr(args, "workdir", None))
        if message is None:
            raise  # a bug, or --debug: keep the traceback
        print(f"rruffgeo {args.command}: error: {terminal_safe(message)}", file=sys.stderr)
        return 1


def _silence_stdout() -> None:
    """Point stdout at /dev/null so the interpreter's final flush does not fail again."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):  # stdout without a file descriptor (tests capture it)
        pass
    finally:
        os.close(devnull)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
