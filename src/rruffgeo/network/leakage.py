"""What a test spectrum has in training under a split: its twin, a sibling, its species, nothing.

Split by spectrum (the paper's protocol), a test spectrum's raw or processed twin (the same
measurement before and after RRUFF's baseline removal) or another spectrum of its specimen is
usually in training, and a lookup then finds the specimen, so its country, without learning
anything geographic. Breaking an accuracy down by this relation shows where a score comes from.
Torch-free: it needs only the learning table and the fold indices.
"""

from __future__ import annotations

import hashlib
import json
import logging
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from rruffgeo.results import RelationScores, TwinBreakdown, cached_record
from rruffgeo.workdir import FOLD_PREDICTIONS

if TYPE_CHECKING:
    from rruffgeo.config import Settings
    from rruffgeo.network.evaluate import Dataset
    from rruffgeo.workdir import WorkDir

log = logging.getLogger(__name__)

#: What the test spectrum has in training, from the closest relative to none.
RELATIONS = ("twin", "same specimen", "same species", "nothing")

#: The official RRUFF Raman set's raw and processed files (the shared data's README, 2025):
#: what the share of the paper's spectra with a twin is estimated from.
OFFICIAL_RAW, OFFICIAL_PROCESSED = 20_674, 17_382
#: Catalog columns that identify one measurement: its raw and processed files share them.
MEASUREMENT_COLUMNS = ("sample_id", "technique", "laser_line_nm", "orientation",
                       "orientation_angle_deg", "orientation_rotation", "polarization")


def measurement_keys(table: pd.DataFrame) -> pd.Series:
    """One key per measurement: equal for a raw file and its processed twin, else distinct."""
    cols = [c for c in MEASUREMENT_COLUMNS if c in table.columns]
    values = table[cols].astype(object)  # "" for a missing value, whatever the column's dtype
    parts = values.where(values.notna(), "").astype(str)
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


def _learning_rows(workdir: WorkDir, settings: Settings) -> tuple[Dataset, pd.DataFrame]:
    """The learning dataset and its table with the columns that identify a measurement."""
    from rruffgeo.data.columns import read_catalog_columns
    from rruffgeo.network.evaluate import load_dataset

    ds = load_dataset(workdir, settings)
    catalog = read_catalog_columns(workdir.catalog, ["spectrum_id"], MEASUREMENT_COLUMNS)
    wanted = list(catalog.columns[1:])
    table = ds.table.drop(columns=[c for c in wanted if c in ds.table.columns])
    return ds, table.merge(catalog, on="spectrum_id", how="left", validate="one_to_one")


def _score_folds(ds: Dataset, table: pd.DataFrame, twin: np.ndarray, folds: list,
                 progress: bool) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Relation and per-model hits of every test spectrum, fold by fold (1-NN and majority)."""
    from tqdm.auto import tqdm

    from rruffgeo.network.baseline import majority_scores, nn1_cosine_scores

    relation, hits = [], {"1nn": [], "majority": []}
    for tr, te in tqdm(folds, desc="twin breakdown", unit="fold", disable=not progress):
        nn = nn1_cosine_scores(ds.X[tr], ds.y[tr], ds.X[te], len(ds.classes))
        majority = majority_scores(ds.y[tr], len(te), len(ds.classes))
        hits["1nn"].append(nn.argmax(1) == ds.y[te])
        hits["majority"].append(majority.argmax(1) == ds.y[te])
        relation.append(relation_in_training(table, twin, tr, te))
    return np.concatenate(relation), {m: np.concatenate(h) for m, h in hits.items()}


def _breakdown_key(ds: Dataset, n_folds: int, seed: int,
                   network: np.ndarray | None) -> str:
    """What the cached breakdown must match: the data, the folds, the official counts its
    estimate scales by, and the network's predictions (none, or those of the CV finished
    since)."""
    digest = hashlib.sha256(json.dumps([ds.key, n_folds, seed, list(MEASUREMENT_COLUMNS),
                                        OFFICIAL_RAW, OFFICIAL_PROCESSED]).encode())
    if network is not None:
        digest.update(np.ascontiguousarray(network).tobytes())
    return digest.hexdigest()[:16]


def _network_predictions(workdir: WorkDir, settings: Settings, folds: list
                         ) -> np.ndarray | None:
    """The network's predicted class of every test spectrum, from ``rruffgeo cv --split
    spectrum`` run with the same settings; None (said in the log) until that CV is done."""
    from rruffgeo.network.evaluate import fold_predictions

    saved = fold_predictions(workdir, settings, "spectrum", folds)
    if saved is None or "network" not in saved:
        log.info("no finished network CV split by spectrum with these settings (each fold's "
                 "%s): the breakdown shows the 1-NN only; run `rruffgeo cv --split spectrum` "
                 "with the same options to add the network", FOLD_PREDICTIONS)
        return None
    return saved["network"]


def twin_breakdown(workdir: WorkDir, settings: Settings, progress: bool = True,
                   force: bool = False) -> TwinBreakdown:
    """The 1-NN's (and, once ``rruffgeo cv --split spectrum`` has run with the same
    settings, the network's) accuracy split by spectrum on the CV folds, by relation in
    training; cached in ``metrics/twins_spectrum.json`` and
    recomputed only when the data, the folds or the seed change (or ``force``)."""
    from rruffgeo.splits import cv_splits

    ds, table = _learning_rows(workdir, settings)
    n_folds, seed = settings.train.n_folds, settings.train.seed
    folds = cv_splits(ds.y, None, "spectrum", n_folds, seed)
    network = _network_predictions(workdir, settings, folds)
    key = _breakdown_key(ds, n_folds, seed, network)

    def compute() -> TwinBreakdown:
        twin = twin_rows(table)
        relation, hits = _score_folds(ds, table, twin, folds, progress)
        if network is not None:
            tested = np.concatenate([te for _, te in folds])
            hits = {"network": network == ds.y[tested], **hits}
        return _as_result(key, n_folds, seed, twin, relation, hits)

    return cached_record(workdir.twins_file, TwinBreakdown.read, key, compute, force)


def _as_result(key: str, n_folds: int, seed: int, twin: np.ndarray,
               relation: np.ndarray, hits: dict[str, np.ndarray]) -> TwinBreakdown:
    """The typed breakdown, with the estimate of the paper's share of twins in training:
    the official set's paired share times the chance a twin lands in training here."""
    frame = breakdown(relation, hits)
    rows = [RelationScores(r["relation"], int(r["n_test"]), float(r["share"]),
                           {m: float(r[f"accuracy_{m}"]) for m in hits})
            for r in frame.to_dict("records")]
    in_train = float((relation == "twin").sum() / max(1, int((twin >= 0).sum())))
    return TwinBreakdown(key=key, split="spectrum", n_folds=n_folds, seed=seed, rows=rows,
                         share_with_twin=float((twin >= 0).mean()),
                         twin_in_training_given_twin=in_train,
                         official_share_paired=paired_share(OFFICIAL_RAW, OFFICIAL_PROCESSED),
                         models=list(hits))
