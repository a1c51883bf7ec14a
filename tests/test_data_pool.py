"""The ingest pool: this process runs queued tasks too, each task exactly once."""

import threading
from concurrent.futures import ThreadPoolExecutor

from rruffgeo.data import catalog, parse
from rruffgeo.data.parse import ChunkResult


def test_main_process_takes_queued_tasks_and_each_runs_once(monkeypatch):
    ran: list[tuple[str, str]] = []
    release = threading.Event()

    def fake_run_task(task, spool_dir=None):
        where = "pool" if spool_dir else "main"
        if where == "pool" and task[1] == "t0":
            release.wait(10)  # the only worker is busy with the first task
        ran.append((task[1], where))
        out = ChunkResult(n_files=1, cpu_s=1.0)
        return out

    monkeypatch.setattr(parse, "run_task", fake_run_task)
    flat = [(0, j, ("files", f"t{j}", [], [])) for j in range(5)]
    with ThreadPoolExecutor(1) as pool:
        futures = {pool.submit(parse.run_task, t, "spool"): (i, j) for i, j, t in flat}
        got = []
        for i, j, res in catalog._run_pool(futures, flat):
            got.append((i, j, res.cpu_s))
            if len(got) == 4:
                release.set()
    assert sorted(j for _, j, _ in got) == [0, 1, 2, 3, 4]
    assert sorted(name for name, _ in ran) == [f"t{j}" for j in range(5)]  # each once
    by_task = dict(ran)
    assert by_task["t0"] == "pool"
    assert {by_task[f"t{j}"] for j in range(1, 5)} == {"main"}
    # CPU of tasks run here is in this process's CPU time already: not counted twice.
    assert {c for _, j, c in got if j} == {0.0}
