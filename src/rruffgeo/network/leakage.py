"""What a test spectrum has in training under a split: its twin, a sibling, its species, nothing.

Split by spectrum (the paper's protocol), a test spectrum's raw or processed twin (the same
measurement before and after RRUFF's baseline removal) or another spectrum of its specimen is
usually in training, and a lookup then finds the specimen, so its country, without learning
anything geographic. Breaking an accuracy down by this relation shows where a score comes from.
Torch-free: it needs only the learning table and the fold indices.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

#: What the test spectrum has in training, from the closest relative to none.
RELATIONS = ("twin", "same specimen", "same species", "nothing")

#: Catalog columns that identify one measurement: its raw and processed files share them.
MEASUREMENT_COLUMNS = ("sample_id", "technique", "laser_line_nm", "orientation",
                       "orientation_angle_deg", "orientation_rotation", "polarization")


def technique_of(member: pd.Series) -> pd.Series:
    """``Raman`` or ``Broad_Scan``: the third field of the RRUFF file name (the instrument)."""
    return member.astype(str).str.split("__").str[2].fillna("")


def measurement_keys(table: pd.DataFrame) -> pd.Series:
    """One key per measurement: equal for a raw file and its processed twin, else distinct."""
    cols = [c for c in MEASUREMENT_COLUMNS if c in table.columns]
    parts = table[cols].astype(str).fillna("")
    return parts.agg("|".join, axis=1)


def twin_rows(table: pd.DataFrame) -> np.ndarray:
    """Per row, the row of its twin (the other kind of the same measurement), or -1.

    A measurement with several files of one kind has no single twin; its rows get -1."""
    keys = measurement_keys(table).to_numpy()
    kinds = table["kind"].astype(str).to_numpy()
    twin = np.full(len(table), -1, dtype=np.int64)
    frame = pd.DataFrame({"key": keys, "kind": kinds, "row": np.arange(len(table))})
    for _, rows in frame.groupby("key", sort=False):
        if len(rows) == 2 and set(rows["kind"]) == {"raw", "processed"}:
            a, b = rows["row"].tolist()
            twin[a], twin[b] = b, a
    return twin


def relation_in_training(table: pd.DataFrame, twin: np.ndarray, train: np.ndarray,
                         test: np.ndarray) -> np.ndarray:
    """For each test row, its closest relative among the training rows (one of RELATIONS)."""
    in_train = np.zeros(len(table), dtype=bool)
    in_train[train] = True
    specimens = set(table["specimen_id"].to_numpy()[train])
    species = set(table["mineral"].astype(str).str.lower().to_numpy()[train])
    out = np.empty(len(test), dtype=object)
    spec = table["specimen_id"].to_numpy()
    mins = table["mineral"].astype(str).str.lower().to_numpy()
    for i, row in enumerate(test):
        if twin[row] >= 0 and in_train[twin[row]]:
            out[i] = "twin"
        elif spec[row] in specimens:
            out[i] = "same specimen"
        elif mins[row] in species:
            out[i] = "same species"
        else:
            out[i] = "nothing"
    return out


def breakdown(relation: np.ndarray, correct: dict[str, np.ndarray]) -> pd.DataFrame:
    """Test spectra, their share and each model's accuracy per relation (and over all)."""
    rows = []
    for name in (*RELATIONS, "all"):
        mask = np.ones(len(relation), bool) if name == "all" else relation == name
        row: dict[str, object] = {"relation": name, "n_test": int(mask.sum()),
                                  "share": float(mask.mean()) if len(mask) else 0.0}
        for model, hits in correct.items():
            row[f"accuracy_{model}"] = float(hits[mask].mean()) if mask.any() else float("nan")
        rows.append(row)
    return pd.DataFrame(rows)


def paired_share(raw: int, processed: int) -> float:
    """Share of a set's files that belong to a raw/processed pair, when every file of the
    smaller kind has its twin of the other kind (RRUFF publishes both files of a measurement)."""
    total = raw + processed
    return 2 * min(raw, processed) / total if total else 0.0
