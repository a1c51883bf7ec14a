"""The paper's regime explained with twins: the same as ``rruffgeo twins`` (1-NN accuracy
split by spectrum, by what each test spectrum has in training), printed with its timing.

    python benchmarks/twin_breakdown.py --workdir rruffgeo-work
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from rruffgeo.config import Settings
from rruffgeo.network.leakage import twin_breakdown
from rruffgeo.workdir import WorkDir


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workdir", type=Path, default=Path("rruffgeo-work"))
    args = ap.parse_args()
    t0 = time.perf_counter()
    result = twin_breakdown(WorkDir(args.workdir), Settings(), progress=False, force=True)
    print(result.table().to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    for name in ("share_with_twin", "twin_in_training_given_twin", "official_share_paired",
                 "paper_share_with_twin_in_training", "paper_accuracy"):
        print(f"{name}: {getattr(result, name):.3f}")
    print(f"{time.perf_counter() - t0:.1f} s")


if __name__ == "__main__":
    main()
