"""The report's "Provenance predictor" section, from ``metrics/provenance_cv_<split>.json``.

Per split protocol (``ProtocolView``): the models x metrics table (every accuracy beside the
majority class, the log-loss beside the class prior, each with the 95% paired bootstrap
interval of the difference over specimens; ECE; conformal coverage and mean set size at
80/90/95%), which model won and whether it meets its goals, and the provenance figures of the
registry. Which model ``models/final`` holds closes the section. The HTML is
``templates/provenance.html.j2``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from rruffgeo.config import Split
from rruffgeo.errors import UserError
from rruffgeo.report.figures import figures_of
from rruffgeo.report.render import FigureView, render
from rruffgeo.results import NoveltyReport, ProvenanceReport
from rruffgeo.workdir import WorkDir

log = logging.getLogger(__name__)

GOAL_TEXT = {
    "log_loss_below_prior": "log-loss below the class prior (95% interval of the difference)",
    "top1_not_below_majority": "top-1 not below the majority class (difference)",
    "top3_at_least": "top-3 at least 5 points above the top-3 countries' share",
    "ece_at_most_0.03": "top-label ECE at most 0.03",
    "coverage90_in_0.88_0.92": "coverage of the 90% sets between 0.88 and 0.92",
}
EVIDENCE_WORDS = {"spectrum": "winner", "spectrum+mineral": "winner with the mineral name"}
NOT_DRAWN = "not drawn (run `rruffgeo provenance-cv`)"


@dataclass
class ProtocolView:
    """One split protocol's report (or why it could not be read) and its figures."""

    split: Split
    report: ProvenanceReport | None = None
    error: str = ""
    figures: list[FigureView] = field(default_factory=list)

    def won(self, model: str) -> str:
        """`` (winner, ...)`` after a model that won for some evidence, else ""."""
        if self.report is None:
            return ""
        won = [EVIDENCE_WORDS.get(ev, ev) for ev, w in self.report.winners.items()
               if w.model == model]
        return f" ({', '.join(won)})" if won else ""

    def levels(self) -> list[str]:
        """The conformal levels of the report's models, in increasing order."""
        first = next(iter(self.report.models.values())) if self.report else None
        return sorted(first.conformal, key=float) if first else []


def figure_views(workdir: WorkDir, split: Split) -> list[FigureView]:
    """Every registered provenance figure of ``split``: drawn, or why not."""
    return [FigureView.of(spec.base(workdir, split).with_suffix(".png"),
                          f"{spec.caption} Split by {split}.", absent=NOT_DRAWN)
            for spec in figures_of("provenance")]


def protocol_view(workdir: WorkDir, split: Split) -> ProtocolView | None:
    """The view of ``split``'s report; None when the stage has not written one."""
    try:
        report = ProvenanceReport.of(workdir, split)
    except UserError as exc:
        log.warning("skipping %s", exc)
        return ProtocolView(split, error=str(exc))
    if report is None:
        return None
    return ProtocolView(split, report, figures=figure_views(workdir, split))


def protocol_views(workdir: WorkDir) -> list[ProtocolView]:
    """Every split protocol with a provenance report (or a damaged one), in ``Split`` order."""
    return [v for split in Split if (v := protocol_view(workdir, split)) is not None]


def reports_of(views: list[ProtocolView]) -> dict[Split, ProvenanceReport]:
    """split -> its report, for the protocols whose report could be read."""
    return {v.split: v.report for v in views if v.report is not None}


def final_sentence(workdir: WorkDir) -> str:
    """The sentence on the saved final model, "" when there is none."""
    from rruffgeo.provenance.final import final_summary

    line = final_summary(workdir)
    return line[0].upper() + line[1:] if line else ""


def provenance_context(workdir: WorkDir, views: list[ProtocolView]) -> dict[str, object]:
    """What ``provenance.html.j2`` shows: the protocols' views, goal words, the final model
    and its novelty score's evaluation (or why it could not be read)."""
    open_set, error = None, ""
    try:
        open_set = NoveltyReport.read(workdir.open_set_file)
    except UserError as exc:
        log.warning("skipping %s", exc)
        error = str(exc)
    return {"provenance": views, "goal_text": GOAL_TEXT, "final": final_sentence(workdir),
            "open_set": open_set, "open_set_error": error}


def provenance_section(workdir: WorkDir) -> str:
    """The section's HTML on its own (the page renders the same template inside it)."""
    return render("provenance.html.j2", **provenance_context(workdir, protocol_views(workdir)))
