"""The main job: every stage in order into one work folder, skipping what is already up to date.

ingest -> geocode -> stats -> dataset figures -> train/evaluate (every split protocol, or
cross-validate) -> provenance CV (the provenance country models per split protocol, the
network's fold models included when ``cv`` left them) -> final model (the provenance CV's
winner refitted on all data) -> evaluation figures -> report. The job is a table of ``Stage``
entries (name, inputs, settings, outputs, work) that one loop runs. Each stage leaves a stamp
(``stamps/<stage>.json``): a hash of its input files' identities (``workdir.file_key``) plus the
``result_fingerprint`` of the settings it depends on, so a setting that does not change a
result (device, threads, workers) never re-runs a stage. A stage whose stamp matches and whose
outputs all exist is skipped, so re-running after an interruption, or after changing only
training settings, redoes only what changed. A learning or drawing stage that fails is recorded
and the run goes on to the report, so finished work is never lost; ingest and geocode failures
stop the run.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from rruffgeo import __version__
from rruffgeo.config import RUN_SPLITS, Evaluation, Settings, Split, result_fingerprint
from rruffgeo.errors import UserError
from rruffgeo.workdir import (
    FIG_COUNTRY_MAP,
    FIG_OVERALL_METRICS,
    TABLES_INDEX,
    WorkDir,
    file_key,
    files_digest,
    read_json,
    write_json_atomic,
)

log = logging.getLogger(__name__)


class StageError(RuntimeError):
    """A stage the rest depends on (ingest, geocode) failed; ``result`` holds what ran."""

    def __init__(self, message: str, result: PipelineResult) -> None:
        super().__init__(message)
        self.result = result


@dataclass
class StageOutcome:
    """What one stage did: status is "ran", "skipped" (up to date) or "failed"."""

    name: str
    status: str
    seconds: float = 0.0
    detail: str = ""


@dataclass
class PipelineResult:
    """Every stage's outcome, the report's path and the headline metrics per protocol."""

    workdir: WorkDir
    stages: list[StageOutcome] = field(default_factory=list)
    report: Path | None = None
    headline: dict[str, dict[str, str | float]] = field(default_factory=dict)
    #: One line per provenance CV report: the winner beside the majority class and the prior.
    provenance: list[str] = field(default_factory=list)
    #: Which model ``models/final`` holds and how it was chosen (None when there is none).
    final_model: str | None = None

    @property
    def ok(self) -> bool:
        return all(s.status in ("ran", "skipped") for s in self.stages)

    def summary(self) -> str:
        """Plain-text summary for the terminal."""
        width = max((len(s.name) for s in self.stages), default=5)
        lines = [f"rruffgeo run: work folder {self.workdir.root}"]
        for s in self.stages:
            lines.append(f"  {s.name:<{width}}  {s.status:<11} {s.seconds:8.1f} s  {s.detail}")
        for h in self.headline.values():
            majority = h.get("majority")
            lines.append(
                f"  accuracy, {h['protocol']}: network {h['network']:.3f}, "
                f"1-NN baseline {h['baseline_1nn']:.3f}"
                + (f", majority country {majority:.3f}" if majority is not None else "")
            )
            if h.get("prior"):
                lines.append(f"    {h['prior']}")
        if self.report is not None:
            lines.append(f"  report: {self.report}")
        lines.extend(f"  {line}" for line in self.provenance)
        if self.final_model is not None:
            lines.append(f"  {self.final_model}")
        if not self.ok:
            lines.append("  some stages did not finish; see the messages above and run again")
        return "\n".join(lines)


# ---------------------------------------------------------------- stamps


def _source_files(source: str | Path) -> list[Path]:
    p = Path(source)
    if p.is_dir():
        return sorted(f for f in p.rglob("*") if f.is_file() and f.suffix.lower() in
                      (".zip", ".txt"))
    return [p] if p.is_file() else []


def input_key(files: Sequence[Path], *settings_parts: object) -> str:
    """Hash of the files' identities (path, size, mtime) and what in the settings changes the
    stage's result."""
    keys = []
    for f in files:
        try:
            keys.append(file_key(f, str(f.resolve())))
        except OSError:
            keys.append({"name": str(f), "size": "missing", "mtime_ns": ""})
    return files_digest(keys, 24) + result_fingerprint(__version__, *settings_parts)


def is_up_to_date(workdir: WorkDir, stage: str, key: str, outputs: Sequence[Path]) -> bool:
    if not all(Path(o).exists() for o in outputs):
        return False
    stamp = read_json(workdir.stamp(stage))
    return isinstance(stamp, dict) and stamp.get("key") == key


def write_stamp(workdir: WorkDir, stage: str, key: str, outputs: Sequence[Path]) -> None:
    write_json_atomic(workdir.stamp(stage),
                      {"stage": stage, "key": key, "outputs": [str(o) for o in outputs],
                       "finished": time.strftime("%Y-%m-%dT%H:%M:%S%z")})


def clear_stamp(workdir: WorkDir, stage: str) -> None:
    workdir.stamp(stage).unlink(missing_ok=True)


# ---------------------------------------------------------------- the stages


@dataclass
class Job:
    """What one run works on: the data source, the work folder, the settings and the options."""

    source: str | Path
    workdir: WorkDir
    settings: Settings
    evaluation: Evaluation
    splits: tuple[Split, ...]
    progress: bool
    #: What training the splits side by side left failed, once it has run (``_side_by_side``).
    side_by_side: dict[Split, BaseException] | None = None


Paths = Callable[[Job], list[Path]]


@dataclass(frozen=True)
class Stage:
    """One row of the main job: its inputs and outputs (paths, evaluated when the stage's turn
    comes), the settings parts that change its result, and the work (-> one-line detail)."""

    name: str
    inputs: Paths
    settings: Callable[[Job], list[object]]
    outputs: Paths
    work: Callable[[Job], str]
    #: When it fails, later stages cannot run: stop with StageError.
    fatal: bool = False


def _ingest(job: Job) -> str:
    from rruffgeo import data

    res = data.ingest(source=job.source, workdir=job.workdir, settings=job.settings.ingest,
                      progress=job.progress)
    n = getattr(res, "n_spectra", None)
    return f"{n:,} spectra" if isinstance(n, int) else ""


def _geocode(job: Job) -> str:
    from rruffgeo import geo

    df = geo.geocode_catalog(job.workdir, job.settings.geo, progress=job.progress)
    return f"{len(df):,} specimens"


def _stats(job: Job) -> str:
    from rruffgeo.report.stats import write_stats

    st = write_stats(job.workdir, job.settings)
    return f"{len(st.files)} files in {job.workdir.tables_dir}"


def _dataset_figures(job: Job) -> str:
    from rruffgeo.report import figures

    return _fig_detail(figures.make_dataset_figures(job.workdir, job.settings,
                                                    progress=job.progress))


def _evaluation_figures(job: Job) -> str:
    from rruffgeo.report import figures

    return _fig_detail(figures.make_evaluation_figures(job.workdir, progress=job.progress))


def _report(job: Job) -> str:
    from rruffgeo.report.html import write_report

    return str(write_report(job.workdir, job.settings))


def _learn(split: Split) -> Callable[[Job], str]:
    def work(job: Job) -> str:
        from rruffgeo import network

        failed = _side_by_side(job).get(split)
        if failed is not None:
            raise failed
        learn = network.run_cv if job.evaluation is Evaluation.CV else network.run_train
        res = learn(job.workdir, job.settings, split=split, progress=job.progress)
        return _learn_detail(res)
    return work


def _side_by_side(job: Job) -> dict[Split, BaseException]:
    """At the first learning stage: every split's unfinished trainings at once, side by side
    when the cores allow (``network.jobs``); each stage then only scores and writes. The
    failures by split, found once per job."""
    if job.side_by_side is None:
        from rruffgeo.network.jobs import train_waiting

        job.side_by_side = train_waiting(job.workdir, job.settings, job.evaluation, job.splits,
                                         progress=job.progress)
    return job.side_by_side


def _provenance_cv(job: Job) -> str:
    """The provenance models' grouped CV per split protocol (metrics/provenance_cv_<split>.*
    and its figures), the network included when ``cv`` fold models fit the data. Every split
    is tried; one that fails fails the stage after the others are written."""
    from rruffgeo.provenance.evaluate import evaluate_provenance
    from rruffgeo.report.figures_provenance import draw_provenance_figures

    done, failed = [], []
    for split in job.splits:
        try:
            ev = evaluate_provenance(job.workdir, job.settings, split, progress=job.progress)
            draw_provenance_figures(job.workdir, ev.report)
            done.append(ev.line())
        except Exception as exc:  # one protocol's failure must not stop the other's
            failed.append(f"{split}: {type(exc).__name__}: {exc}")
    if failed:
        raise RuntimeError("; ".join(failed + done))
    return "; ".join(done)


def _provenance_inputs(job: Job) -> list[Path]:
    """The data, and the ``cv`` metrics files, which change whenever the fold models do."""
    wd = job.workdir
    return [wd.catalog, wd.geocoded,
            *(wd.metrics_file(Evaluation.CV, split) for split in job.splits)]


def _provenance_outputs(job: Job) -> list[Path]:
    from rruffgeo.report.figures import figures_of

    wd = job.workdir
    return [p for split in job.splits for p in
            (wd.provenance_cv_file(split),
             *(wd.provenance_figure(f.stem, split, ".png") for f in figures_of("provenance")))]


def _final_model_inputs(job: Job) -> list[Path]:
    """The data, and the grouped provenance CV whose winner is refitted."""
    from rruffgeo.provenance.final import CHOOSING_SPLIT

    wd = job.workdir
    return [wd.catalog, wd.geocoded, wd.provenance_cv_file(CHOOSING_SPLIT)]


def _final_model_file(job: Job) -> Path:
    from rruffgeo.provenance.final import SPEC

    return job.workdir.final_model_dir / SPEC


def _final_model(job: Job) -> str:
    """The model users predict with (``models/final``): the provenance model that won the
    grouped CV (by log-loss; the combinations when no CV report exists), refitted on all the
    data with its reference library, calibration and conformal sets; no work folder is needed
    to use it."""
    from rruffgeo.provenance.final import choose_models, fit_final

    models, note = choose_models(job.workdir)
    folder = fit_final(job.workdir, job.settings, models, note)
    return (f"{models['spectrum']} ({note}) -> {folder} (try: rruffgeo predict YOUR_SPECTRUM "
            f"--model {folder} --preprocess auto)")


def _metrics_files(job: Job) -> list[Path]:
    mdir = job.workdir.metrics_dir
    return sorted(mdir.glob("*.json")) + sorted(mdir.glob("*.csv"))


def _report_inputs(job: Job) -> list[Path]:
    wd = job.workdir
    return sorted(p for d in (wd.tables_dir, wd.figures_dir, wd.metrics_dir)
                  if d.exists() for p in d.iterdir() if p.is_file())


def _catalog_version() -> str:
    """What the catalog's columns and rules are: a new rule (a column added, an ID rule
    changed) re-runs ingest and so every stage after it, though no data file changed."""
    from rruffgeo.data.catalog import CATALOG_VERSION

    return CATALOG_VERSION


def stage_table(job: Job) -> list[Stage]:
    """The main job, in order: one entry per stage (one learning stage per split protocol)."""
    wd, s = job.workdir, job.settings
    catalog, geocoded = wd.catalog, wd.geocoded
    learn = [Stage(f"{job.evaluation.file_stem}-{split}", lambda j: [catalog, geocoded],
                   lambda j: [s.spectra, s.network, s.train],
                   lambda j, split=split: [wd.metrics_file(j.evaluation, split)], _learn(split))
             for split in job.splits]
    return [
        Stage("ingest", lambda j: _source_files(j.source),
              lambda j: [str(j.source), s.ingest, _catalog_version()], lambda j: [catalog],
              _ingest, fatal=True),
        Stage("geocode", lambda j: [catalog], lambda j: [s.geo], lambda j: [geocoded],
              _geocode, fatal=True),
        Stage("stats", lambda j: [catalog, geocoded], lambda j: [s.train.min_samples_per_country],
              lambda j: [wd.tables_dir / TABLES_INDEX], _stats),
        Stage("figures", lambda j: [catalog, geocoded], lambda j: [s.spectra, s.network],
              lambda j: [wd.figure(FIG_COUNTRY_MAP, ".png")], _dataset_figures),
        *learn,
        Stage("provenance-cv", _provenance_inputs,
              lambda j: [s.spectra, s.train.min_samples_per_country, s.provenance,
                         [str(split) for split in j.splits]],
              _provenance_outputs, _provenance_cv),
        Stage("final-model", _final_model_inputs,
              lambda j: [s.spectra, s.train.min_samples_per_country, s.provenance],
              lambda j: [_final_model_file(j)], _final_model),
        Stage("evaluation-figures", _metrics_files, lambda j: [],
              lambda j: [wd.figure(FIG_OVERALL_METRICS, ".png")] if _metrics_files(j)
              else [], _evaluation_figures),
        Stage("report", _report_inputs, lambda j: [s], lambda j: [wd.report], _report),
    ]


# ---------------------------------------------------------------- the loop


def run_stage(job: Job, stage: Stage, force: bool) -> StageOutcome:
    """Run one stage unless it is up to date; a failure is an outcome, not an exception."""
    wd = job.workdir
    key = input_key(stage.inputs(job), stage.name, *stage.settings(job))
    outputs = stage.outputs(job)
    if not force and is_up_to_date(wd, stage.name, key, outputs):
        return StageOutcome(stage.name, "skipped", 0.0, "up to date")
    clear_stamp(wd, stage.name)
    t0 = time.perf_counter()
    try:
        detail = stage.work(job) or ""
    except (KeyboardInterrupt, SystemExit):
        raise
    except Exception as exc:
        out = StageOutcome(stage.name, "failed", time.perf_counter() - t0,
                           f"{type(exc).__name__}: {exc}")
        if not stage.fatal:
            log.error("%s failed: %s", stage.name, out.detail)
        log.debug("%s failed; traceback (shown with --debug):", stage.name, exc_info=True)
        return out
    write_stamp(wd, stage.name, key, stage.outputs(job))
    return StageOutcome(stage.name, "ran", time.perf_counter() - t0, detail)


def run_job(job: Job, force: bool = False) -> PipelineResult:
    """Every stage of ``stage_table(job)`` in order, each announced and timed."""
    result = PipelineResult(job.workdir)
    table = stage_table(job)
    for i, stage in enumerate(table, 1):
        _say(job.progress, f"[{i}/{len(table)}] {stage.name} ...")
        out = run_stage(job, stage, force)
        result.stages.append(out)
        if out.status == "failed" and stage.fatal:
            raise StageError(f"{stage.name} failed: {out.detail}", result)
        if out.status == "skipped":
            _say(job.progress, f"[{i}/{len(table)}] {stage.name}: up to date, skipped")
        elif out.status == "ran":
            _say(job.progress, f"[{i}/{len(table)}] {stage.name}: done in {out.seconds:.1f} s "
                 f"{out.detail}")
    report = job.workdir.report
    result.report = report if report.exists() else None
    result.headline = headline_metrics(job.workdir)
    result.provenance = provenance_headline(job.workdir, job.splits)
    result.final_model = _final_summary(job.workdir)
    return result


def _say(progress: bool, text: str) -> None:
    if progress:
        print(text, flush=True)
    else:
        log.info(text)


def run(
    data: str | os.PathLike[str] | None = None,
    workdir: WorkDir | str | os.PathLike[str] | None = None,
    settings: Settings | None = None,
    cv: bool = False,
    progress: bool = True,
    splits: Sequence[str] = RUN_SPLITS,
    force: bool = False,
) -> PipelineResult:
    """Run the whole pipeline into ``workdir``; return what each stage did.

    Parameters
    ----------
    data
        RRUFF source (folder, zip, txt or URL); None resolves like ``rruffgeo ingest``.
    workdir
        The work folder (created); ``./rruffgeo-work`` when None.
    settings
        Every stage's settings; the paper's defaults when None.
    cv
        Cross-validate (``n_folds``) instead of one 80/20 train/test split.
    progress
        Show progress bars and stage lines.
    splits
        Split protocols to evaluate; all by default, since the comparison is the point.
    force
        Re-run every stage even when its stamp says it is up to date.
    """
    from rruffgeo.data.catalog import resolve_source
    from rruffgeo.data.sources import is_url

    bad = [s for s in splits if s not in list(Split)]
    if bad:
        raise ValueError(f"unknown split protocol(s) {bad}; choose from "
                         f"{[s.value for s in Split]}")
    source = resolve_source(data)
    if not is_url(source) and not Path(source).exists():
        raise UserError(f"--data {data or source}: no such file or folder")
    wd = workdir if isinstance(workdir, WorkDir) else WorkDir(workdir or WorkDir().root)
    wd.dir()
    settings = settings or Settings()
    wd.save_run_settings(settings)
    job = Job(source, wd, settings, Evaluation.CV if cv else Evaluation.HOLDOUT,
              tuple(Split(s) for s in splits), progress)
    return run_job(job, force)


def headline_metrics(workdir: WorkDir) -> dict[str, dict[str, str | float]]:
    """Mean accuracy of network and 1-NN baseline per split protocol, from the metrics files,
    beside the majority rate and the words for a model that learned only the class prior."""
    from rruffgeo.report.baselines import majority_rate, prior_sentences
    from rruffgeo.report.evaluation import load_evaluations

    out: dict[str, dict[str, str | float]] = {}
    for split, ev in load_evaluations(workdir).items():
        try:
            out[split.value] = {"protocol": ev.label,
                                "network": ev.mean("network", "accuracy"),
                                "baseline_1nn": ev.mean("baseline_1nn", "accuracy"),
                                "majority": majority_rate(ev),
                                "prior": " ".join(prior_sentences(ev))}
        except KeyError:
            continue
    return out


def provenance_headline(workdir: WorkDir, splits: Sequence[Split]) -> list[str]:
    """Per split with a provenance CV report: its winner's top-1 and top-3 beside the majority
    class and its log-loss beside the class prior (a damaged report says so)."""
    from rruffgeo.results import ProvenanceReport

    out = []
    for split in splits:
        try:
            report = ProvenanceReport.of(workdir, split)
        except UserError as exc:
            out.append(f"provenance, {Split(split).label}: {exc}")
            continue
        if report is None:
            continue
        v = report.scores().vs_majority
        out.append(f"provenance, {Split(split).label}: {report.winner()} top-1 "
                   f"{v.top1.value:.3f} (majority country {v.top1.baseline:.3f}), top-3 "
                   f"{v.top3.value:.3f} ({v.top3.baseline:.3f}), log-loss "
                   f"{v.log_loss.value:.3f} (class prior {v.log_loss.baseline:.3f})")
    return out


def _final_summary(workdir: WorkDir) -> str | None:
    from rruffgeo.provenance.final import final_summary

    return final_summary(workdir)


def _fig_detail(res) -> str:  # noqa: ANN001 - a report.figures.FigureResult
    text = f"{len(res.written)} figures"
    if res.skipped:
        text += f", skipped: {', '.join(res.skipped)}"
    return text


def _learn_detail(res: object) -> str:
    try:
        acc = res.mean("network", "accuracy")  # type: ignore[attr-defined]
        base = res.mean("baseline_1nn", "accuracy")  # type: ignore[attr-defined]
        return f"accuracy {acc:.3f} (1-NN {base:.3f})"
    except (AttributeError, KeyError, TypeError):
        return ""
