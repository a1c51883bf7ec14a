"""``rruffgeo.parallel``: blocks run in threads give the serial answer, in order."""

from __future__ import annotations

import threading

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
        assert all(n == 1 for counts in inside for n in counts)
    assert [(d["user_api"], d["num_threads"]) for d in threadpool_info()] == before


def test_side_by_side_inside_another_runs_serially():
    """The outer call has the cores: an inner one runs in its caller's thread."""

    def inner(i: int) -> tuple[int, list[int]]:
        return threading.get_ident(), parallel.side_by_side(
            lambda _: threading.get_ident(), range(3), threads=3)

    for caller, idents in parallel.side_by_side(inner, range(2), threads=2):
        assert idents == [caller] * 3
