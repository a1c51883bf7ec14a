"""The web application: one page, one model loaded once, predictions in a thread pool.

Starlette on uvicorn. ``POST /`` takes the files of the form (multipart), copies them into a
private temp folder, reads and predicts them off the event loop (at most ``workers`` batches at
once, so many users share the CPU instead of exhausting memory) and answers the same page with
the results. Downloads are kept in memory for the last few batches under random tokens.
"""

from __future__ import annotations

import logging
import os
import secrets
import threading
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import anyio
from jinja2 import Environment, PackageLoader, select_autoescape
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from rruffgeo.errors import UserError, describe
from rruffgeo.serve import svg
from rruffgeo.serve.uploads import (
    Batch,
    LimitExceeded,
    Limits,
    copy_upload,
    display_name,
    private_folder,
    read_upload,
    safe_suffix,
    unique_names,
)
from rruffgeo.serve.view import (
    MAX_CARDS,
    SUMMARY_COLUMNS,
    Table,
    download,
    download_names,
    reference_index,
    sample_view,
    strip_name,
    summary_row,
)

log = logging.getLogger(__name__)
#: Batches whose downloads are kept (oldest dropped first).
KEPT_BATCHES = 32
#: ... and at most this many predicted spectra in all (their tables are what memory holds).
KEPT_SPECTRA = 5000
PREPROCESS_CHOICES = {"auto": "auto (despike, crop below 150 cm-1, baseline: as the library)",
                      "none": "none (already cropped and baseline-corrected)"}
MEDIA = {".json": "application/json", ".csv": "text/csv; charset=utf-8"}


def too_large(limits: Limits) -> str:
    """The message for an upload over the byte limit, with what to do instead."""
    return (f"the upload is larger than {limits.size_text}, the most this page takes at "
            "once; send fewer or smaller files, or use `rruffgeo predict`")


def too_many(limits: Limits) -> str:
    """The message for an upload of too many files, with what to do instead."""
    return (f"more than {limits.max_files} files in one upload, the most this page takes at "
            "once; zip them, send them in parts, or use `rruffgeo predict`")


class BodyLimit:
    """Refuse a request body over ``limit`` bytes: at once when its Content-Length says so,
    else as soon as the stream passes it (`LimitExceeded` inside the handler)."""

    def __init__(self, app: ASGIApp, limit: int, message: str,
                 respond: Callable[[], Response]) -> None:
        self.app, self.limit, self.message, self.respond = app, limit, message, respond

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = dict(scope["headers"]).get(b"content-length", b"0")
        if length.isdigit() and int(length) > self.limit:
            await self.respond()(scope, receive, send)
            return
        seen = 0

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.limit:
                raise LimitExceeded(self.message)
            return message

        await self.app(scope, counted, send)


@dataclass
class Server:
    """The model and everything requests share."""

    model: Any
    limits: Limits
    workers: int
    env: Environment = field(init=False)
    kept: OrderedDict[str, tuple[Callable[[str, Path], bytes], int]] = field(
        default_factory=OrderedDict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self.env = Environment(loader=PackageLoader("rruffgeo.serve", "templates"),
                               autoescape=select_autoescape(default=True, default_for_string=True))
        self.limiter = anyio.CapacityLimiter(self.workers)
        self.references = reference_index(self.model)

    def coverages(self) -> list[str]:
        """The set coverages the model offers (none for a network)."""
        return list(getattr(self.model, "coverages", []))

    def page(self, status: int = 200, **context: Any) -> HTMLResponse:
        """The page, empty or with the results of a batch or a message."""
        html = self.env.get_template("page.html").render(
            model=self.model, limits=self.limits, coverages=self.coverages(),
            preprocess_choices=PREPROCESS_CHOICES, map_defs=svg.map_definitions(),
            legend=svg.legend_svg(), **context)
        return HTMLResponse(html, status_code=status)

    def keep(self, write: Callable[[str, Path], bytes], spectra: int) -> str:
        """A random token for a batch's downloads, written only when one is asked for; the
        oldest batches are dropped past `KEPT_BATCHES` or `KEPT_SPECTRA`."""
        token = secrets.token_urlsafe(16)
        with self.lock:
            self.kept[token] = (write, spectra)
            while len(self.kept) > 1 and (len(self.kept) > KEPT_BATCHES or sum(
                    n for _, n in self.kept.values()) > KEPT_SPECTRA):
                self.kept.popitem(last=False)
        return token

    def options(self, form: dict[str, str]) -> dict[str, Any]:
        """The form's choices checked (a wrong one is a `UserError`, shown on the page)."""
        preprocess = form.get("preprocess") or "auto"
        if preprocess not in PREPROCESS_CHOICES:
            raise UserError(f"preprocessing {preprocess!r}: choose none or auto")
        out: dict[str, Any] = {"preprocess": None if preprocess == "none" else preprocess,
                               "laser_nm": laser_option(form.get("laser_nm", ""))}
        if self.model.kind == "provenance":
            out["coverage"] = form.get("coverage") or "0.9"
        return out

    def run(self, uploads: list[UploadFile], form: dict[str, str]) -> dict[str, Any]:
        """Read and predict one batch (in a worker thread): the page's context."""
        options = self.options(form)
        with private_folder() as folder:
            batch, budget = Batch(), self.limits.max_bytes
            for i, upload in enumerate(uploads, 1):
                shown = display_name(upload.filename, i)
                path = folder / f"{i:04d}{safe_suffix(shown)}"
                try:
                    budget -= copy_upload(upload.file, path, budget)
                except LimitExceeded:
                    raise LimitExceeded(too_large(self.limits)) from None
                read_upload(path, shown, self.limits, batch, options["laser_nm"])
            context = self.predict(batch, options)
        context["chosen"] = form
        return context

    def predict(self, batch: Batch, options: dict[str, Any]) -> dict[str, Any]:
        """Predict the spectra read and lay out what the page shows of each."""
        from rruffgeo.spectra.preprocess import parse_steps

        spectra = unique_names(batch.spectra)
        chosen = {k: v for k, v in options.items() if k != "laser_nm"}
        result = self.model.predict_spectra(spectra, **chosen)
        refused = [*batch.refused, *result.refused]
        coverage = float(options.get("coverage", 0.9))
        steps = parse_steps(options["preprocess"])
        by_name = {s.source: s for s in spectra}
        details = result.details or [None] * len(result.names)
        samples = [sample_view(k, by_name[n], result.proba[k], result, details[k], coverage,
                               self.model, steps, self.references)
                   for k, n in enumerate(result.names[:MAX_CARDS])]
        rest = Table(SUMMARY_COLUMNS, [summary_row(n, result.proba[k], result, details[k])
                                       for k, n in enumerate(result.names) if k >= MAX_CARDS])
        for note in result.warnings:
            for s in samples:
                if note.startswith(s.name + ": "):
                    s.warnings.append(strip_name(s.name, note))
        token = self.keep(partial(download, self.model, result, coverage, refused),
                          len(result.names))
        return {"samples": samples, "rest": rest, "token": token,
                "refused": [(n, strip_name(n, r)) for n, r in refused],
                "files": download_names(self.model)}

    def download(self, token: str, name: str) -> bytes | None:
        """A kept batch's file, written now in a private folder; None when it is not kept."""
        with self.lock:
            write, _ = self.kept.get(token, (None, 0))
        if write is None or name not in download_names(self.model):
            return None
        with private_folder() as folder:
            return write(name, folder)


def laser_option(text: str) -> float | None:
    """The laser wavelength field: blank, or nm within the readers' range (`UserError`)."""
    from rruffgeo.spectra.readers.units import check_laser

    if not text.strip():
        return None
    try:
        return check_laser(float(text), "laser wavelength")
    except ValueError as exc:
        reason = str(exc) if "outside" in str(exc) else "not a number"
        raise UserError(f"laser wavelength {text.strip()[:20]!r}: {reason}") from None


def _file_fields(form: Any) -> tuple[list[UploadFile], dict[str, str]]:
    """The uploads that carry a file (an empty picker sends one nameless, empty part) and the
    text fields."""
    uploads = [f for f in form.getlist("files")
               if isinstance(f, UploadFile) and (f.filename or f.size)]
    fields = {k: v for k, v in form.items() if isinstance(v, str)}
    return uploads, fields


def create_app(model: Any, limits: Limits | None = None, workers: int | None = None) -> ASGIApp:
    """The ASGI application serving ``model`` (from `rruffgeo.open_model`)."""
    limits = limits or Limits()
    server = Server(model, limits, workers or max(2, min(4, os.cpu_count() or 2)))

    async def index(request: Request) -> Response:
        """The empty page."""
        return await run_in_threadpool(server.page)

    async def predict(request: Request) -> Response:
        """A batch of files in, the page with its results (or one message) out."""
        try:
            async with request.form(max_files=limits.max_files, max_fields=50) as form:
                uploads, fields = _file_fields(form)
                if not uploads:
                    return server.page(400, error="choose at least one spectrum file")
                context = await anyio.to_thread.run_sync(server.run, uploads, fields,
                                                         limiter=server.limiter)
        except LimitExceeded as exc:
            return server.page(413, error=str(exc))
        except HTTPException as exc:  # a malformed form, or too many files for the parser
            message = too_many(limits) if "Too many files" in str(exc.detail) else \
                f"the upload could not be read as a form ({exc.detail})"
            return server.page(413 if "Too many" in str(exc.detail) else 400, error=message)
        except UserError as exc:
            return server.page(400, error=str(exc))
        except Exception as exc:  # a bug or the machine: a message, no traceback
            log.exception("batch failed")
            return server.page(500, error=describe(exc) or "the server could not finish this "
                               "batch (an internal error; its log has the details)")
        return await run_in_threadpool(lambda: server.page(**context))

    async def download(request: Request) -> Response:
        """One file of a kept batch, as an attachment."""
        token, name = request.path_params["token"], request.path_params["name"]
        data = await run_in_threadpool(server.download, token, name)
        if data is None:
            return PlainTextResponse("these results are no longer kept (the server keeps the "
                                     "last batches only); upload the files again",
                                     status_code=404)
        return Response(data, media_type=MEDIA[Path(name).suffix],
                        headers={"Content-Disposition": f'attachment; filename="{name}"'})

    routes = [Route("/", index, methods=["GET"]), Route("/", predict, methods=["POST"]),
              Route("/download/{token}/{name}", download, methods=["GET"])]
    app = Starlette(routes=routes, lifespan=_warm_up)
    app.state.server = server
    return BodyLimit(app, limits.max_bytes + 1024 * 1024, too_large(limits),
                     lambda: server.page(413, error=too_large(limits)))


@asynccontextmanager
async def _warm_up(app: Starlette) -> AsyncIterator[None]:
    """Project the world map before the first request (a few seconds, once)."""
    await anyio.to_thread.run_sync(svg.map_definitions)
    yield
