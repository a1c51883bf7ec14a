"""Time the novelty score as the predict path runs it: blocks of 1,024 queries against the
whole library, with the cosine and correlation similarities handed over (the predictor has
them from its one similarity pass; their product is not timed here).

Queries: ``--n`` rows of the learning table drawn with seed 0, plus Gaussian noise of 0.01
(a map of known minerals over the whole grid). The first block's time includes what the
model builds once per library (views, peaks); "steady" is the rest, scaled to 10,000.
Only ``load_novelty_model`` and ``score`` are used, so an older checkout's model can be
timed by the same script (``PYTHONPATH`` at that checkout's ``src``).

    python benchmarks/novelty_speed.py --workdir W --model W/models/final [--n 10000]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from rruffgeo.config import Settings
from rruffgeo.provenance.data import load_provenance_data
from rruffgeo.provenance.novelty import features
from rruffgeo.provenance.novelty_learned import load_novelty_model
from rruffgeo.workdir import WorkDir

BLOCK = 1024


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workdir", type=Path, required=True)
    ap.add_argument("--model", type=Path, required=True, help="folder with novelty.json")
    ap.add_argument("--n", type=int, default=10_000)
    args = ap.parse_args()
    data = load_provenance_data(WorkDir(args.workdir), Settings())
    model = load_novelty_model(args.model)
    if model is None:
        raise SystemExit(f"{args.model}: no readable novelty.json")
    rng = np.random.default_rng(0)
    rows = rng.choice(len(data.X), size=args.n, replace=args.n > len(data.X))
    Q = data.X[rows] + rng.normal(0, 0.01, (args.n, data.X.shape[1])).astype(np.float32)
    refs = {k: features(data.X, k) for k in ("cosine", "correlation")}
    times, scores = [], []
    for s in range(0, args.n, BLOCK):
        q = Q[s:s + BLOCK]
        given = {k: features(q, k) @ refs[k].T for k in refs}
        t0 = time.perf_counter()
        scores.append(model.score(q, data.X, given=given))
        times.append(time.perf_counter() - t0)
    steady = sum(times[1:]) / max(args.n - BLOCK, 1) * 10_000
    print(f"{model.label}: first block of {min(BLOCK, args.n)} {times[0]:.2f} s (with what "
          f"is built once), then {steady:.2f} s per 10,000 spectra; "
          f"flagged {model.is_novel(np.concatenate(scores)).mean():.3f}")


if __name__ == "__main__":
    main()
