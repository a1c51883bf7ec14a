"""``rruffgeo serve``: the local web page for people who do not use the command line.

Binds to 127.0.0.1 unless told otherwise: the page has no login, so another address is only
used when given, with a warning.
"""

from __future__ import annotations

import argparse
import errno
import ipaddress
import socket
import sys

from rruffgeo.errors import UserError
from rruffgeo.textsafe import terminal_safe


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "serve", help="a local web page: drop spectra, see species, specimens, map and set",
        description="Serve a web page on this computer where spectra can be dropped and "
        "predicted with the model folder (models/final or a network folder). It needs no "
        "internet: maps and plots are drawn here.")
    p.add_argument("--model", required=True, help="model folder, e.g. "
                   "rruffgeo-work/models/final")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default "
                   "127.0.0.1: this computer only; the page has no login)")
    p.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    p.add_argument("--max-mb", type=int, default=200, help="largest upload in MB (default 200)")
    p.add_argument("--max-files", type=int, default=500,
                   help="most files in one upload (default 500)")
    p.set_defaults(func=run_serve)


def is_loopback(host: str) -> bool:
    """Whether ``host`` only reaches this computer (127.x, ::1, localhost)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_free(host: str, port: int) -> None:
    """`UserError` when ``host:port`` cannot be listened on (in use, or not an address of this
    computer), said before the model is loaded rather than as the web server's traceback."""
    try:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        with socket.socket(family, socket.SOCK_STREAM) as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind((host, port))
    except OSError as exc:
        why = "in use (another rruffgeo serve?)" if exc.errno == errno.EADDRINUSE \
            else (exc.strerror or str(exc))
        raise UserError(f"--host {host} --port {port}: cannot listen there: {why}; choose "
                        "another --port") from None


def run_serve(args: argparse.Namespace) -> int:
    """Load the model once and serve the page until interrupted."""
    import uvicorn

    from rruffgeo import open_model
    from rruffgeo.parallel import one_blas_thread
    from rruffgeo.serve.app import create_app
    from rruffgeo.serve.uploads import Limits

    if not 0 < args.port < 65536:
        raise UserError(f"--port {args.port}: must be between 1 and 65535")
    if args.max_mb < 1 or args.max_files < 1:
        raise UserError("--max-mb and --max-files must be at least 1")
    check_free(args.host, args.port)
    model = open_model(args.model)
    limits = Limits(max_bytes=args.max_mb * 1024 * 1024, max_files=args.max_files)
    if not is_loopback(args.host):
        print(f"rruffgeo serve: warning: listening on {terminal_safe(args.host)}: anyone who "
              "can reach this address can use the page, which has no login", file=sys.stderr)
    shown = f"[{args.host}]" if ":" in args.host else args.host
    print(f"rruffgeo serve: {terminal_safe(str(args.model))} at http://{shown}:{args.port}/ "
          "(Ctrl-C stops it)", flush=True)
    with one_blas_thread():  # set here, in the main thread: see rruffgeo.parallel
        uvicorn.run(create_app(model, limits), host=args.host, port=args.port,
                    log_level="warning")
    return 0
