"""The figure registry: every figure of the report is one ``@figure`` entry.

A drawing function, decorated with ``@figure(stem, group, caption)``, takes the
``FigureInputs`` (each part read once, when a figure first needs it) and the output path
without suffix, and returns the files it wrote. The makers, the HTML page and the run's output
check iterate the registry, so adding a figure is adding one decorated function.

Groups: ``dataset`` (ingest + geocode), ``evaluation`` (the network's metrics files) and
``provenance`` (one provenance CV report; drawn once per split protocol, at
``WorkDir.provenance_figure(stem, split)``).
"""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
from tqdm.auto import tqdm

from rruffgeo.config import Settings, Split
from rruffgeo.report.evaluation import load_evaluations
from rruffgeo.report.stats import load_samples
from rruffgeo.results import EvaluationResult, ProvenanceReport
from rruffgeo.workdir import FIGURES_DIR, WorkDir

log = logging.getLogger(__name__)

#: Groups of figures: drawn from the dataset, the network's results or a provenance report.
GROUPS = ("dataset", "evaluation", "provenance")


@dataclass
class FigureInputs:
    """What the figures are drawn from; each part is read once, when a figure first needs it.

    ``split`` is the protocol of the provenance figures; ``report`` its provenance CV report
    when the caller holds it already (else read from the work folder)."""

    workdir: WorkDir
    settings: Settings = field(default_factory=Settings)
    split: Split | None = None
    report: ProvenanceReport | None = None

    @functools.cached_property
    def samples(self) -> pd.DataFrame:
        return load_samples(self.workdir)

    @functools.cached_property
    def evaluations(self) -> list[EvaluationResult]:
        return list(load_evaluations(self.workdir).values())

    @functools.cached_property
    def provenance(self) -> ProvenanceReport:
        """The provenance CV report of ``split``; ValueError when there is none."""
        if self.report is not None:
            return self.report
        found = ProvenanceReport.of(self.workdir, self.split) if self.split else None
        if found is None:
            raise ValueError(f"no provenance CV split by {self.split} yet: run "
                             "`rruffgeo provenance-cv`")
        return found


Draw = Callable[[FigureInputs, Path], list[Path]]

#: Sentences a caption adds from the evaluations drawn (protocol, class prior).
Describe = Callable[[list[EvaluationResult]], str]


@dataclass(frozen=True)
class FigureSpec:
    """One figure: file stem, group, caption and the function that draws it; ``describe``
    adds what the fixed caption cannot know (the protocols drawn, a model at the prior)."""

    stem: str
    group: str
    caption: str
    draw: Draw
    describe: Describe | None = None

    @property
    def number(self) -> int:
        m = re.match(r"fig(\d+)", self.stem)
        return int(m.group(1)) if m else 1_000

    def caption_for(self, evals: list[EvaluationResult]) -> str:
        """The caption with the sentences ``describe`` gives for ``evals``."""
        extra = self.describe(evals) if self.describe and evals else ""
        return f"{self.caption} {extra}".strip()

    def base(self, workdir: WorkDir, split: Split | None = None) -> Path:
        """Where the figure is written, without suffix (a provenance figure per split)."""
        if self.group == "provenance":
            if split is None:
                raise ValueError(f"figure {self.stem}: a provenance figure needs its split")
            return workdir.provenance_figure(self.stem, split)
        return workdir.figures_dir / self.stem


#: stem -> FigureSpec, filled by ``@figure``.
FIGURES: dict[str, FigureSpec] = {}


def figure(stem: str, group: str, caption: str,
           describe: Describe | None = None) -> Callable[[Draw], Draw]:
    """Decorator: register a drawing function as a figure of ``group`` with its caption."""
    if group not in GROUPS:
        raise ValueError(f"figure {stem}: group {group!r} is not one of {GROUPS}")

    def add(draw: Draw) -> Draw:
        FIGURES[stem] = FigureSpec(stem, group, caption, draw, describe)
        return draw
    return add


def figures_of(group: str) -> list[FigureSpec]:
    """The figures of ``group`` in figure-number order (registration order among equals)."""
    return sorted((f for f in FIGURES.values() if f.group == group), key=lambda f: f.number)


@dataclass
class FigureResult:
    """Written figures (stem -> [png, svg]) and the ones skipped, with the reason."""

    written: dict[str, list[Path]] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)


def run_figures(specs: list[FigureSpec], src: FigureInputs, progress: bool,
                desc: str) -> FigureResult:
    """Draw ``specs``; one that cannot be drawn is skipped with its reason, never fatal."""
    result = FigureResult()
    src.workdir.dir(FIGURES_DIR)
    for spec in tqdm(specs, desc=desc, unit="fig", disable=not progress):
        try:
            result.written[spec.stem] = spec.draw(src, spec.base(src.workdir, src.split))
        except (ValueError, KeyError, FileNotFoundError, IndexError) as exc:
            log.warning("%s skipped: %s", spec.stem, exc)
            result.skipped[spec.stem] = str(exc)
    return result
