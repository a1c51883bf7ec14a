"""Read the learning stage's results (``results.EvaluationResult``) for the figures and report.

Per split protocol the cross-validation result (``cv_<split>``) is preferred; the 80/20 hold-out
(``train_<split>``) stands in when no cross-validation was run.
"""

from __future__ import annotations

import logging
from pathlib import Path

from rruffgeo.config import Evaluation, Split
from rruffgeo.results import METRICS, MODEL_LABELS, MODELS, EvaluationResult
from rruffgeo.workdir import WorkDir

log = logging.getLogger(__name__)

__all__ = ["METRICS", "MODELS", "MODEL_LABELS", "load_evaluation", "load_evaluations"]


def load_evaluation(path: Path) -> EvaluationResult:
    """Read one metrics JSON (and its ``_per_country.csv`` when present); clear error if bad."""
    return EvaluationResult.read(path)


def load_evaluations(workdir: WorkDir) -> dict[Split, EvaluationResult]:
    """split -> its result for each split that has results (CV preferred over hold-out)."""
    out: dict[Split, EvaluationResult] = {}
    for split in Split:
        for evaluation in (Evaluation.CV, Evaluation.HOLDOUT):
            path = workdir.metrics_file(evaluation, split)
            if not path.exists():
                continue
            try:
                out[split] = load_evaluation(path)
                break
            except ValueError as exc:
                log.warning("skipping %s", exc)
    return out
