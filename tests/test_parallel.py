"""``rruffgeo.parallel``: blocks run in threads give the serial answer, in order."""

from __future__ import annotations

import threading

import numpy as np  # noqa: F401  (loads the BLAS whose threads are checked)
import pytest
from threadpoolctl import threadpool_info

from rruffgeo import parallel


def test_side_by_side_keeps_the_order_and_uses_the_threads():
    seen: set[int] = set()
    barrier = threading.Barrier(3, timeout=10)

    def work(i: int) -> int:
        seen.add(threading.get_ident())
        if i < 3:
            barrier.wait()  # only returns when three threads run at once
        return i * i

    assert parallel.side_by_side(work, range(10), threads=3) == [i * i for i in range(10)]
    assert len(seen) == 3
    assert parallel.side_by_side(work, [], threads=3) == []


def test_side_by_side_serial_and_errors():
    here = threading.get_ident()
    assert parallel.side_by_side(lambda i: (i, threading.get_ident()), [5], threads=4) == \
        [(5, here)]  # one item: no pool

    def work(i: int) -> int:
        if i == 2:
            raise ValueError(f"bad {i}")
        return i

    with pytest.raises(ValueError, match="bad 2"):
        parallel.side_by_side(work, range(4), threads=2)


def test_side_by_side_gives_blas_one_thread_and_gives_the_rest_back():
    before = [(d["user_api"], d["num_threads"]) for d in threadpool_info()]
    for threads, items in ((2, range(2)), (1, range(3)), (2, [0])):
        inside = parallel.side_by_side(
            lambda _: [d["num_threads"] for d in threadpool_info() if d["user_api"] == "blas"],
            items, threads=threads)
        assert all(counts and all(n == 1 for n in counts) for counts in inside)
    assert [(d["user_api"], d["num_threads"]) for d in threadpool_info()] == before


def test_side_by_side_inside_another_runs_serially():
    """The outer call has the cores: an inner one runs in its caller's thread."""

    def inner(i: int) -> tuple[int, list[int]]:
        return threading.get_ident(), parallel.side_by_side(
            lambda _: threading.get_ident(), range(3), threads=3)

    for caller, idents in parallel.side_by_side(inner, range(2), threads=2):
        assert idents == [caller] * 3


def test_overlapping_calls_share_one_blas_limit(monkeypatch):
    """Two requests of a server overlap and the first to come in leaves first: one limit is
    set when the first comes in and given back when the last leaves (a limit per call would
    give the first's saved threads back under the second, then leave BLAS on one thread).
    threadpoolctl's limit is recorded here: this OpenBLAS reports a limit set in one thread
    inconsistently in another, so the calls' order is what is checked."""
    calls: list[str] = []

    class Limit:
        def __init__(self, limits: int, user_api: str) -> None:
            calls.append(f"limit {limits} {user_api}")

        def restore_original_limits(self) -> None:
            calls.append("restore")

    monkeypatch.setattr(parallel, "threadpool_limits", Limit)
    first_in, second_in = threading.Event(), threading.Event()

    def first(_: int) -> None:
        first_in.set()
        second_in.wait(10)

    def second(_: int) -> list[str]:
        second_in.set()
        runner.join(10)  # the first call has left
        return list(calls)

    runner = threading.Thread(target=parallel.side_by_side, args=(first, [0]))
    runner.start()
    first_in.wait(10)
    while_second_ran = parallel.side_by_side(second, [0])[0]
    assert not runner.is_alive()
    assert while_second_ran == ["limit 1 blas"] and calls == ["limit 1 blas", "restore"]
