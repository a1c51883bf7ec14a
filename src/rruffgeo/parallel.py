"""Work that NumPy can do on every core: blocks run in threads side by side.

Why threads: the heavy steps of matching a block of spectra against the library (matrix
products, partial sorts, reductions) are NumPy calls that release the GIL, so threads share
one copy of the library where processes would each need their own. Each block's result
depends on its block only, so the answers never depend on the number of threads or cores.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import TypeVar

from threadpoolctl import threadpool_limits

In = TypeVar("In")
Out = TypeVar("Out")


def usable_cores() -> int:
    """The cores this process may run on (its affinity mask), at least 1."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def side_by_side(work: Callable[[In], Out], items: Iterable[In],
                 threads: int | None = None) -> list[Out]:
    """``[work(i) for i in items]``, in order, run by ``threads`` threads (default: the
    usable cores). One item, one thread, or a call from inside another ``side_by_side``'s
    work (the outer one has the cores) runs here without a pool. BLAS gets one thread in
    every case: a product split over a different number of threads rounds differently, and
    an answer must not depend on the cores it ran on; a product per thread on every core
    would also oversubscribe them (10.5 s against 8.3 s for a 10,000-spectrum map's
    matching)."""
    todo = list(items)
    workers = min(len(todo), threads or usable_cores())
    if getattr(_state, "inside", False):
        return [work(i) for i in todo]
    with one_blas_thread():
        if workers <= 1:
            return [work(i) for i in todo]
        pool = ThreadPoolExecutor(workers, initializer=_mark_inside)
        try:
            return list(pool.map(work, todo))
        finally:  # an error or Ctrl-C: what runs finishes, what waits is dropped
            pool.shutdown(wait=True, cancel_futures=True)


@contextmanager
def one_blas_thread() -> Iterator[None]:
    """BLAS on one thread until the last caller inside leaves: calls that overlap (two
    requests of `rruffgeo serve`) must not give each other's BLAS threads back early.

    OpenBLAS (0.3.31 here) ignores a thread count set from a thread other than the main one
    once the main thread has set one, so a program that predicts from other threads (a
    server) enters this once in its main thread, as `rruffgeo serve` does: its answers are
    then the command line's, bit for bit (checked on 1,000 RRUFF files)."""
    global _blas_users, _blas_limit
    with _blas_lock:
        if _blas_users == 0:
            _blas_limit = threadpool_limits(1, user_api="blas")
        _blas_users += 1
    try:
        yield
    finally:
        with _blas_lock:
            _blas_users -= 1
            if _blas_users == 0 and _blas_limit is not None:
                _blas_limit.restore_original_limits()
                _blas_limit = None


_state = threading.local()
_blas_lock = threading.Lock()
_blas_users = 0
_blas_limit: threadpool_limits | None = None


def _mark_inside() -> None:
    _state.inside = True
