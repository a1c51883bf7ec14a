"""Learning-curve figure: per split protocol, loss and test accuracy / macro-F1 per epoch.

Reads ``metrics/curves_<protocol>_<split>.csv`` beside each metrics file. A diagnostic: it shows
whether a training converged (a test loss still falling, an accuracy still at the majority rate);
epochs are never picked from it.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib as mpl
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from rruffgeo.report import style
from rruffgeo.report.baselines import majority_rate
from rruffgeo.results import EvaluationResult as Evaluation
from rruffgeo.workdir import curves_of

__all__ = ["CAPTION", "STEM", "curves_path", "fig_learning_curves", "majority_rate"]

STEM = "fig10_learning_curves"
CAPTION = ("Figure 10: learning curves per fold (lines): training and test loss, test "
           "accuracy and macro-F1 per epoch, beside the majority-class rate (dotted); "
           "a diagnostic of convergence, never used to pick epochs.")


def curves_path(ev: Evaluation) -> Path:
    """``curves_<protocol>_<split>.csv`` beside the evaluation's metrics file."""
    return curves_of(ev.path)


def _draw_split(ax_loss, ax_score, ev: Evaluation, curves: pd.DataFrame) -> None:
    colour = style.SPLIT_COLORS.get(ev.split, "#4c72b0")
    for i, (_fold, c) in enumerate(curves.groupby("fold")):
        first = i == 0
        ax_loss.plot(c["epoch"], c["train_loss"], color=colour, lw=1,
                     label="training loss" if first else None)
        if "test_loss" in c:
            ax_loss.plot(c["epoch"], c["test_loss"], color=colour, lw=1, ls="--",
                         label="test loss" if first else None)
        if "val_loss" in c:
            ax_loss.plot(c["epoch"], c["val_loss"], color="#55a868", lw=1, ls="-.",
                         label="inner validation loss" if first else None)
        if "test_accuracy" in c:
            ax_score.plot(c["epoch"], c["test_accuracy"], color=colour, lw=1,
                          label="test accuracy" if first else None)
            ax_score.plot(c["epoch"], c["test_f1_macro"], color="#c44e52", lw=1, ls="--",
                          label="test macro-F1" if first else None)
    rate = majority_rate(ev)
    if rate is not None:
        ax_score.axhline(rate, color="black", lw=0.8, ls=":",
                         label=f"majority-class rate {rate:.2f}")
    ax_loss.set_ylabel("cross-entropy")
    ax_score.set_ylabel("score")
    ax_score.set_ylim(0, 1.02)
    for ax in (ax_loss, ax_score):
        ax.set_xlabel("epoch")
        ax.set_title(ev.label, fontsize=9)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)


def fig_learning_curves(evals: list[Evaluation], out_base: Path) -> list[Path]:
    """Figure 10: one row per split protocol with curves (loss | test accuracy and macro-F1)."""
    found = [(ev, pd.read_csv(curves_path(ev))) for ev in evals if curves_path(ev).exists()]
    found = [(ev, c) for ev, c in found if len(c) and "train_loss" in c]
    if not found:
        raise ValueError("no learning curves (metrics/curves_*.csv): train with this version")
    with mpl.rc_context(style.RC):
        fig = Figure(figsize=(10, 3.3 * len(found) + 0.6), layout="constrained")
        axes = np.atleast_2d(fig.subplots(len(found), 2))
        for (ev, curves), (ax_loss, ax_score) in zip(found, axes, strict=True):
            _draw_split(ax_loss, ax_score, ev, curves)
        fig.suptitle("Learning curves per fold (a diagnostic; epochs are never chosen from them)")
        return style.save_figure(fig, out_base)
