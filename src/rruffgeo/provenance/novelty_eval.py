"""How well the saved novelty model says "not in the library", for the report.

Torch-free. ``provenance-fit`` fits the novelty model on open-set splits of the whole library
(``novelty_learned.fit_with_rows``): each split's held-out spectra are scored by trees fitted
without that split, so their scores are out-of-sample. From them: the AUROC, the curve of
out-of-library spectra flagged against in-library spectra kept as the threshold moves (what a
user trades), and the share flagged at the saved threshold (set on the in-library rows of the
same splits, so its kept share is near ``1 - alpha`` by construction). Groups of spectra that
are no mineral of the library at all (the pharmaceutical reference compounds, ``XD`` IDs) are
scored with the fitted model as one held-out group. ``metrics/open_set.json`` keeps it
(``results.NoveltyReport``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from rruffgeo.provenance.novelty_learned import BASELINE, LearnedNovelty, OpenSetRows
from rruffgeo.results import GroupFlagged, NoveltyReport

#: The curve's in-library shares kept: every percent.
CURVE_KEPT = np.linspace(0.0, 1.0, 101)
REFERENCE_COMPOUNDS = "pharmaceutical reference compounds (XD IDs)"


def flagged_curve(scores: np.ndarray, is_out: np.ndarray) -> np.ndarray:
    """Share of out-of-library rows flagged at each share of in-library rows kept
    (``CURVE_KEPT``): the ROC curve read at those points (a row is flagged above a cut)."""
    from sklearn.metrics import roc_curve

    is_out = np.asarray(is_out, bool)
    fpr, tpr, _ = roc_curve(is_out, scores)
    kept = 1.0 - fpr[::-1]
    flagged = tpr[::-1]
    # several cuts can keep the same share: the best of them (the most flagged) counts
    order = np.argsort(kept, kind="stable")
    kept, flagged = kept[order], flagged[order]
    best = pd.Series(flagged).groupby(kept).max()
    return np.interp(CURVE_KEPT, best.index.to_numpy(), best.to_numpy())


def group_flagged(name: str, model: LearnedNovelty, spectra: np.ndarray,
                  specimens: np.ndarray, library: np.ndarray) -> GroupFlagged:
    """Share of a group's spectra (and of its specimens, each counted once) flagged."""
    flagged = model.is_novel(model.score(spectra, library)).astype(float)
    per_specimen = pd.Series(flagged).groupby(np.asarray(specimens)).mean()
    return GroupFlagged(name, int(len(flagged)), int(len(per_specimen)),
                        float(flagged.mean()), float(per_specimen.mean()))


def novelty_report(model: LearnedNovelty, rows: OpenSetRows,
                   groups: list[GroupFlagged] | None = None, wall_s: float = 0.0
                   ) -> NoveltyReport:
    """The report of a model fitted by ``fit_with_rows`` on ``rows``."""
    is_out = np.asarray(rows.is_out, bool)
    flagged = model.is_novel(rows.held)
    return NoveltyReport(
        model=model.label, n_splits=rows.n_splits, n_in_library=int((~is_out).sum()),
        n_out_of_library=int(is_out.sum()), auroc=float(model.inner_auroc["learned"]),
        baseline_auroc=float(model.inner_auroc[BASELINE]), baseline=BASELINE,
        alpha=float(model.alpha), kept_in_library=float(1.0 - flagged[~is_out].mean()),
        flagged_out_of_library=float(flagged[is_out].mean()),
        curve_kept=[round(float(v), 4) for v in CURVE_KEPT],
        curve_flagged=[round(float(v), 4) for v in flagged_curve(rows.held, is_out)],
        groups=groups or [], wall_s=wall_s)
