"""The raw-vs-processed benchmark pairs each raw file with its own processed twin."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

import raw_vs_processed  # noqa: E402


def _row(kind: str, technique: str, sample: str, laser: float, angle: float = np.nan,
         rotation: str = "") -> dict:
    return {"kind": kind, "technique": technique, "sample_id": sample, "laser_line_nm": laser,
            "orientation_angle_deg": angle, "orientation_rotation": rotation}


def test_twins_share_technique_sample_laser_and_orientation():
    cat = pd.DataFrame([
        _row("raw", "Broad_Scan", "R1", 532.0),                 # 0 -> 3 (not 2: Raman)
        _row("raw", "Raman", "R2", 514.5, 45.0, "ccw"),        # 1 -> 5 (same angle)
        _row("processed", "Raman", "R1", 532.0),               # 2
        _row("processed", "Broad_Scan", "R1", 532.0),          # 3
        _row("processed", "Raman", "R2", 514.5, 0.0, "ccw"),   # 4
        _row("processed", "Raman", "R2", 514.5, 45.0, "ccw"),  # 5
        _row("raw", "Raman", "R3", 785.0),                     # 6: no twin
        _row("raw", "Raman", "R2", 514.5, 90.0, "ccw"),        # 7 -> 4, no same angle
    ])
    pairs, loose = raw_vs_processed.twins(cat)
    assert pairs == [(0, 3), (1, 5), (7, 4)]
    assert loose == 1
