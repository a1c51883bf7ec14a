"""Two measurements behind the folder path of ``predict`` (docs/guide.md, prediction speed).

1. The asLS baselines of a folder's spectra as prediction fits them (despiked, cropped below
   150 cm-1): CPU seconds of pybaselines one by one against ``asls.asls_one``, equal bit for
   bit, ``--passes`` alternating passes.
2. With ``--workdir``: how many of the first 512 queries of each input tie within their first
   51 whole-grid cosines to the final model's library (why the novelty's nearest 50 cannot be
   read off the country models' neighbours).

    python benchmarks/bench_folder_parts.py FOLDER [MAP.wdf ...] [--workdir W]
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np


def auto_rows(path: str) -> list[np.ndarray]:
    """The intensities ``--preprocess auto`` fits a baseline under, one per spectrum."""
    from rruffgeo.spectra.prepare import read_paths
    from rruffgeo.spectra.preprocess import AUTO_MIN_SHIFT_CM1, _clean, despike_rows

    rows = []
    for item in read_paths([path]):
        if isinstance(item, str | tuple):
            continue
        x, y = _clean(item)
        y = despike_rows(y[None])[0]
        keep = x >= AUTO_MIN_SHIFT_CM1
        rows.append(y[keep] if not keep.all() and keep.sum() >= 8 else y)
    return rows


def time_baselines(rows: list[np.ndarray], passes: int) -> None:
    from pybaselines import Baseline

    from rruffgeo.spectra.asls import asls_one

    cpu: dict[str, list[float]] = {"pybaselines": [], "asls_one": []}
    for _ in range(passes):
        t = time.process_time()
        slow = [Baseline(x_data=np.arange(len(y), dtype=float)).asls(y, lam=1e6)[0]
                for y in rows]
        cpu["pybaselines"].append(time.process_time() - t)
        t = time.process_time()
        fast = [asls_one(y, lam=1e6) for y in rows]
        cpu["asls_one"].append(time.process_time() - t)
        assert all(a.tobytes() == b.tobytes() for a, b in zip(slow, fast, strict=True))
    med = {k: float(np.median(v)) for k, v in cpu.items()}
    print(f"{len(rows)} baselines, CPU s (median of {passes}): {med}; "
          f"{med['pybaselines'] / med['asls_one']:.2f}x; equal bit for bit")


def count_ties(paths: list[str], workdir: str) -> None:
    from rruffgeo.predict import open_model
    from rruffgeo.provenance.models import top_neighbours
    from rruffgeo.spectra.prepare import prepare_all, read_paths
    from rruffgeo.spectra.preprocess import parse_steps

    model = open_model(f"{workdir}/models/final")
    for path in paths:
        prep = prepare_all(read_paths([path]), model.grid_cm1, True, parse_steps("auto"))
        sims = model.predictor.views.similarities(prep.matrix(len(model.grid_cm1))[:512])
        top = top_neighbours(sims.cosine, 51).sim
        tied = int((~(np.diff(top, axis=1) < 0).all(axis=1)).sum())
        print(f"{path}: {tied} of {len(top)} queries tie within their first 51 cosines")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("inputs", nargs="+", help="a folder of files first, then maps")
    ap.add_argument("--workdir", help="work folder with models/final (for the ties)")
    ap.add_argument("--passes", type=int, default=3)
    args = ap.parse_args()
    warnings.simplefilter("ignore")
    time_baselines(auto_rows(args.inputs[0]), args.passes)
    if args.workdir:
        count_ties(args.inputs, args.workdir)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
