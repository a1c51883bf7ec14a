"""The network's out-of-fold probabilities from the fold models of ``rruffgeo cv``.

``rruffgeo cv --split S`` leaves one finished model per fold in ``models/cv_<S>/fold_<k>/``
(``model.safetensors``, ``model.json``, ``result.json``). When every fold is there and was
trained on the same rows and classes as the provenance data (same class list, same training
and test sizes), each fold's model predicts its own test fold and the network joins the
provenance comparison. Imports torch only when called.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from rruffgeo.config import Evaluation
from rruffgeo.provenance.data import ProvenanceData
from rruffgeo.workdir import FOLD_RESULT, MODEL_META, WorkDir, read_json

log = logging.getLogger(__name__)


def fold_model_dirs(workdir: WorkDir, split: str, n_folds: int) -> list[Path]:
    return [workdir.model_dir(Evaluation.CV, split, k) for k in range(n_folds)]


def missing_reason(folder: Path, data: ProvenanceData, tr: np.ndarray, te: np.ndarray
                   ) -> str | None:
    """Why a fold folder cannot be used (None when it can)."""
    meta, result = read_json(folder / MODEL_META), read_json(folder / FOLD_RESULT)
    if not isinstance(meta, dict) or not isinstance(result, dict):
        return f"{folder}: no finished fold model (run `rruffgeo cv`)"
    if meta.get("classes") != data.classes:
        return f"{folder}: trained on other countries than the provenance data"
    points = (meta.get("grid_cm1") or {}).get("points")
    if points != len(data.grid_cm1):
        return f"{folder}: trained on a {points}-point grid, the data has {len(data.grid_cm1)}"
    if (result.get("n_train"), result.get("n_test")) != (len(tr), len(te)):
        return f"{folder}: trained on other folds ({result.get('n_train')}/{result.get('n_test')})"
    return None


def network_oof(workdir: WorkDir, data: ProvenanceData,
                splits: list[tuple[np.ndarray, np.ndarray]], split: str,
                device: str = "cpu") -> tuple[dict[int, np.ndarray] | None, str]:
    """Each fold model's probabilities on its test fold, or None and the reason."""
    dirs = fold_model_dirs(workdir, split, len(splits))
    for folder, (tr, te) in zip(dirs, splits, strict=True):
        reason = missing_reason(folder, data, tr, te)
        if reason is not None:
            return None, reason
    from rruffgeo.network.modelio import load_model
    from rruffgeo.network.runtime import predict_proba, select_device

    dev = select_device(device)
    out = {}
    for k, (folder, (_, te)) in enumerate(zip(dirs, splits, strict=True)):
        bundle = load_model(folder, dev)
        out[k] = np.asarray(predict_proba(bundle.model, data.X[te], dev), np.float64)
        out[k] = np.maximum(out[k], 1e-12)
        out[k] /= out[k].sum(axis=1, keepdims=True)
    return out, f"network: fold models from {dirs[0].parent}"
