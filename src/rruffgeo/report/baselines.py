"""The class prior beside every score: the majority-country rate of an evaluation's test folds,
and the words for a model that answers (almost) one country for everything.

A network that never leaves the class prior scores the majority rate in accuracy; shown alone,
such an accuracy reads like learning. So every accuracy in the figures, the report and the run
summary stands beside ``majority(ev)``, and a model whose test predictions are at least
``ONE_CLASS_SHARE`` one country is said to be so (``one_class_note``).

Both read the class counts each fold records (``FoldResult.test_counts`` and
``predicted_counts``). Metrics files written before those counts existed fall back to the
country shares of all evaluated spectra (the same as the test folds' for a complete CV) and
have no prediction counts, hence no one-class words.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from rruffgeo.results import (
    MODELS,
    ONE_CLASS_SHARE,
    EvaluationResult,
    FoldResult,
    one_class_words,
)


@dataclass(frozen=True)
class Majority:
    """The most common country of the test folds and its share (the always-answer-it rate)."""

    iso3: str
    rate: float
    #: False when read from all evaluated spectra (metrics files without test counts).
    from_test_folds: bool = True

    def text(self) -> str:
        return f"majority country ({self.iso3}) {self.rate:.3f}"


def _pooled(ev: EvaluationResult, counts_of: Callable[[FoldResult], list[int]]
            ) -> pd.Series | None:
    """Per-country counts summed over the folds run; None unless every fold has them."""
    rows = [counts_of(f) for f in ev.folds]
    if not rows or any(len(r) != len(ev.classes) for r in rows) or not ev.classes:
        return None
    return pd.Series(np.sum(rows, axis=0), index=ev.classes, dtype=int)


def counts_in_test(ev: EvaluationResult) -> pd.Series | None:
    """iso3 -> test spectra over the folds run, when the metrics file records them."""
    return _pooled(ev, lambda f: f.test_counts)


def prediction_counts(ev: EvaluationResult, model: str) -> pd.Series | None:
    """iso3 -> test predictions of ``model`` over the folds run, when recorded."""
    return _pooled(ev, lambda f: f.predicted_counts.get(model, []))


def majority(ev: EvaluationResult) -> Majority | None:
    """The test folds' majority country and rate; from all evaluated spectra in older files."""
    counts = counts_in_test(ev)
    if counts is not None and counts.sum() > 0:
        return Majority(str(counts.idxmax()), float(counts.max() / counts.sum()))
    per = ev.per_country
    if per is None or per.empty or "n_samples" not in per:
        return None
    n = per["n_samples"].astype(float)
    top = int(n.to_numpy().argmax())
    return Majority(str(per["country_iso3"].iloc[top]), float(n.iloc[top] / n.sum()), False)


def majority_rate(ev: EvaluationResult) -> float | None:
    """Accuracy of always answering the majority country on the test folds, when known."""
    found = majority(ev)
    return None if found is None else found.rate


def dominant_prediction(ev: EvaluationResult, model: str) -> tuple[str, float] | None:
    """The country ``model`` predicts most often on the test folds and its share."""
    counts = prediction_counts(ev, model)
    if counts is None or counts.sum() == 0:
        return None
    return str(counts.idxmax()), float(counts.max() / counts.sum())


def one_class_note(ev: EvaluationResult, model: str) -> str:
    """Words saying ``model`` answers (almost) one country for everything, else ""."""
    found = dominant_prediction(ev, model)
    if found is None or found[1] < ONE_CLASS_SHARE:
        return ""
    return one_class_words(*found)


def one_class_notes(ev: EvaluationResult) -> dict[str, str]:
    """model -> its one-class words, for the models of ``ev`` that answer one country."""
    notes = {m: one_class_note(ev, m) for m in MODELS}
    return {m: note for m, note in notes.items() if note}


def prior_sentences(ev: EvaluationResult) -> list[str]:
    """One sentence per one-class model of ``ev``, naming the model and the protocol."""
    return [f"{ev.model_label(m)} ({ev.label}) {note}." for m, note in
            one_class_notes(ev).items()]
