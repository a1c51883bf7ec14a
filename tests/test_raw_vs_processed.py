"""Raw/processed twins as the raw-vs-processed benchmark pairs them (``leakage.twin_rows``):
the same technique, sample, laser line and orientation, one file of each kind."""

from __future__ import annotations

import numpy as np
import pandas as pd

from rruffgeo.network.leakage import twin_rows


def _row(kind: str, technique: str, sample: str, laser: float, angle: float = np.nan,
         rotation: str = "") -> dict:
    return {"kind": kind, "technique": technique, "sample_id": sample, "laser_line_nm": laser,
            "orientation_angle_deg": angle, "orientation_rotation": rotation}


def test_twins_share_technique_sample_laser_and_orientation():
    cat = pd.DataFrame([
        _row("raw", "Broad_Scan", "R1", 532.0),                 # 0 -> 3 (not 2: Raman)
        _row("raw", "Raman", "R2", 514.5, 45.0, "ccw"),        # 1 -> 5 (same angle)
        _row("processed", "Raman", "R1", 532.0),               # 2: no raw of its own
        _row("processed", "Broad_Scan", "R1", 532.0),          # 3
        _row("processed", "Raman", "R2", 514.5, 0.0, "ccw"),   # 4: no raw at 0 degrees
        _row("processed", "Raman", "R2", 514.5, 45.0, "ccw"),  # 5
        _row("raw", "Raman", "R3", 785.0),                     # 6: no twin
        _row("raw", "Raman", "R2", 514.5, 90.0, "ccw"),        # 7: no processed at 90
    ])
    assert twin_rows(cat).tolist() == [3, 5, -1, 0, -1, 1, -1, -1]
