"""Learning curves: per epoch, the training loss and each monitored set's loss, accuracy, macro-F1.

A diagnostic a user reads to see whether a model converged (a test loss still falling, an
accuracy still at the majority rate). Curves on the test fold are never used to pick epochs or
weights; recipe choices are made from the ``val`` curves of an inner validation split carved
out of the training part (``TrainSettings.inner_val_fraction``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from sklearn.metrics import f1_score

#: Columns of ``metrics/curves_<protocol>_<split>.csv`` (val_* only with an inner split).
CURVE_COLUMNS = ["fold", "epoch", "step", "train_loss", "test_loss", "test_accuracy",
                 "test_f1_macro", "val_loss", "val_accuracy", "val_f1_macro", "epoch_s"]


@torch.no_grad()
def set_metrics(model: torch.nn.Module, X: np.ndarray, y: np.ndarray, device: torch.device,
                batch_size: int = 256) -> dict[str, float]:
    """Mean cross-entropy (no label smoothing), accuracy and macro-F1 of ``model`` on (X, y).

    The model must be in eval mode (for schedule-free: the optimizer in eval mode too).
    """
    dtype = next(model.parameters()).dtype
    logits = []
    for lo in range(0, len(X), batch_size):
        xb = torch.as_tensor(np.asarray(X[lo:lo + batch_size], dtype=np.float32))
        logits.append(model(xb.unsqueeze(1).to(device=device, dtype=dtype)).float().cpu())
    out = torch.cat(logits)
    target = torch.as_tensor(np.asarray(y, dtype=np.int64))
    pred = out.argmax(1).numpy()
    return {"loss": float(F.cross_entropy(out, target)),
            "accuracy": float((pred == target.numpy()).mean()),
            "f1_macro": float(f1_score(target.numpy(), pred, average="macro", zero_division=0))}


def epoch_metrics(model: torch.nn.Module, sets: Mapping[str, tuple[np.ndarray, np.ndarray]],
                  device: torch.device) -> dict[str, float]:
    """``{name}_loss``, ``{name}_accuracy``, ``{name}_f1_macro`` for every non-empty set."""
    row: dict[str, float] = {}
    for name, (X, y) in sets.items():
        if X is None or y is None or not len(y):
            continue
        row.update({f"{name}_{k}": v for k, v in set_metrics(model, X, y, device).items()})
    return row


def curves_table(histories: Iterable[tuple[int, list[dict[str, Any]]]]) -> pd.DataFrame:
    """One row per (fold, epoch) from fold histories; columns in ``CURVE_COLUMNS`` order.

    Columns no history has (val_* without an inner split) are dropped rather than left empty.
    """
    rows = [{"fold": fold + 1, **row} for fold, history in histories for row in history]
    df = pd.DataFrame(rows)
    if df.empty:
        return pd.DataFrame(columns=CURVE_COLUMNS[:5])
    return df[[c for c in CURVE_COLUMNS if c in df]]
