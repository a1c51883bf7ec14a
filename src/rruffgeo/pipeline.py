"""The main job: every stage in order into one work folder, skipping what is already up to date.

ingest -> geocode -> stats -> dataset figures -> train/evaluate (both split protocols, or
cross-validate) -> evaluation figures -> report. Each stage leaves a stamp
(``stamps/<stage>.json``): a hash of its input files' sizes and modification times plus the
fingerprint of the settings it depends on. A stage whose stamp matches and whose outputs all
exist is skipped, so re-running after an interruption, or after changing only training settings,
redoes only what changed. A learning or drawing stage that fails is recorded and the run goes on
to the report, so finished work is never lost; ingest and geocode failures stop the run.
"""

from __future__ import annotations

import hashlib
import logging
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from rruffgeo import __version__
from rruffgeo.config import DATA_ENV, Settings, fingerprint, to_dict
from rruffgeo.workdir import (
    CATALOG,
    FIGURES_DIR,
    GEOCODED,
    METRICS_DIR,
    REPORT,
    TABLES_DIR,
    WorkDir,
    read_json,
    write_json_atomic,
)

log = logging.getLogger(__name__)

STAMPS_DIR = "stamps"
SPLITS = ("spectrum", "specimen")


class StageError(RuntimeError):
    """A stage the rest depends on (ingest, geocode) failed; ``result`` holds what ran."""

    def __init__(self, message: str, result: PipelineResult) -> None:
        super().__init__(message)
        self.result = result


@dataclass
class StageOutcome:
    """What one stage did: status is "ran", "skipped" (up to date), "failed" or "unavailable"."""

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
    headline: dict[str, dict[str, float]] = field(default_factory=dict)

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
            lines.append(
                f"  accuracy, {h['protocol']}: network {h['network']:.3f}, "
                f"1-NN baseline {h['baseline_1nn']:.3f}"
            )
        if self.report is not None:
            lines.append(f"  report: {self.report}")
        if not self.ok:
            lines.append("  some stages did not finish; see the messages above and run again")
        return "\n".join(lines)


# ---------------------------------------------------------------- stamps


def resolve_data_source(data: str | os.PathLike[str] | None) -> str | None:
    """The data source the ingest stage will read (--data, $RRUFFGEO_DATA, ../shared/rruff,
    else the RRUFF URL), as the data stage resolves it."""
    try:
        from rruffgeo.data.catalog import resolve_source
    except ImportError:  # data stage absent: same order, without the URL fallback
        if data is not None:
            return str(data)
        env = os.environ.get(DATA_ENV)
        shared = Path.cwd().parent / "shared" / "rruff"
        return env or (str(shared) if shared.exists() else None)
    return str(resolve_source(data))


def _source_files(source: str | None) -> list[Path]:
    if source is None:
        return []
    p = Path(source)
    if p.is_dir():
        return sorted(f for f in p.rglob("*") if f.is_file() and f.suffix.lower() in
                      (".zip", ".txt"))
    return [p] if p.is_file() else []


def input_key(files: Sequence[Path], *settings_parts: object) -> str:
    """Hash of the files' names, sizes and mtimes plus the settings fingerprint."""
    h = hashlib.sha256()
    for f in files:
        try:
            st = f.stat()
            h.update(f"{f.resolve()}|{st.st_size}|{st.st_mtime_ns}\n".encode())
        except OSError:
            h.update(f"{f}|missing\n".encode())
    h.update(fingerprint(__version__, *settings_parts).encode())
    return h.hexdigest()[:24]


def _stamp_path(workdir: WorkDir, stage: str) -> Path:
    return workdir.root / STAMPS_DIR / f"{stage}.json"


def is_up_to_date(workdir: WorkDir, stage: str, key: str, outputs: Sequence[Path]) -> bool:
    if not all(Path(o).exists() for o in outputs):
        return False
    stamp = read_json(_stamp_path(workdir, stage))
    return isinstance(stamp, dict) and stamp.get("key") == key


def write_stamp(workdir: WorkDir, stage: str, key: str, outputs: Sequence[Path]) -> None:
    write_json_atomic(workdir.path(STAMPS_DIR, f"{stage}.json"),
                      {"stage": stage, "key": key, "outputs": [str(o) for o in outputs],
                       "finished": time.strftime("%Y-%m-%dT%H:%M:%S%z")})


def clear_stamp(workdir: WorkDir, stage: str) -> None:
    _stamp_path(workdir, stage).unlink(missing_ok=True)


# ---------------------------------------------------------------- the run


class _Runner:
    def __init__(self, workdir: WorkDir, force: bool, progress: bool, n_stages: int) -> None:
        self.workdir, self.force, self.progress = workdir, force, progress
        self.result = PipelineResult(workdir)
        self.n_stages, self.i = n_stages, 0

    def stage(self, name: str, inputs: Sequence[Path], settings_parts: Sequence[object],
              outputs: Sequence[Path], work: Callable[[], str | None],
              fatal: bool = False) -> StageOutcome:
        self.i += 1
        key = input_key(inputs, name, *settings_parts)
        if not self.force and is_up_to_date(self.workdir, name, key, outputs):
            out = StageOutcome(name, "skipped", 0.0, "up to date")
            self._say(f"[{self.i}/{self.n_stages}] {name}: up to date, skipped")
            self.result.stages.append(out)
            return out
        self._say(f"[{self.i}/{self.n_stages}] {name} ...")
        clear_stamp(self.workdir, name)
        t0 = time.perf_counter()
        try:
            detail = work() or ""
        except (KeyboardInterrupt, SystemExit):
            raise
        except Exception as exc:
            # A stage whose optional dependencies are missing is "unavailable", not broken.
            missing = isinstance(exc, ImportError)
            out = StageOutcome(name, "unavailable" if missing else "failed",
                               time.perf_counter() - t0,
                               f"stage not installed: {exc}" if missing
                               else f"{type(exc).__name__}: {exc}")
            self.result.stages.append(out)
            if fatal:
                raise StageError(f"{name} {out.status}: {out.detail}", self.result) from exc
            log.log(logging.WARNING if missing else logging.ERROR, "%s %s: %s", name,
                    out.status, out.detail)
            return out
        write_stamp(self.workdir, name, key, outputs)
        out = StageOutcome(name, "ran", time.perf_counter() - t0, detail)
        self._say(f"[{self.i}/{self.n_stages}] {name}: done in {out.seconds:.1f} s {detail}")
        self.result.stages.append(out)
        return out

    def _say(self, text: str) -> None:
        if self.progress:
            print(text, flush=True)
        else:
            log.info(text)


def _geo_settings_part(settings: Settings) -> dict:
    d = to_dict(settings.geo)
    d.pop("cache_path", None)
    return d


def _learn_settings_part(settings: Settings) -> list:
    train = to_dict(settings.train)
    train.pop("device", None)
    train.pop("split", None)
    return [to_dict(settings.spectra), to_dict(settings.model), train]


def run(
    data: str | os.PathLike[str] | None = None,
    workdir: WorkDir | str | os.PathLike[str] | None = None,
    settings: Settings | None = None,
    cv: bool = False,
    progress: bool = True,
    splits: Sequence[str] = SPLITS,
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
        Split protocols to evaluate; both by default, since the comparison is the point.
    force
        Re-run every stage even when its stamp says it is up to date.
    """
    from rruffgeo.report.figures import make_dataset_figures, make_evaluation_figures
    from rruffgeo.report.html import save_run_settings, write_report
    from rruffgeo.report.stats import write_stats

    settings = settings or Settings()
    if workdir is None:
        wd = WorkDir()
    else:
        wd = workdir if isinstance(workdir, WorkDir) else WorkDir(workdir)
    wd.dir()
    bad = [s for s in splits if s not in SPLITS]
    if bad:
        raise ValueError(f"unknown split protocol(s) {bad}; choose from {list(SPLITS)}")
    save_run_settings(wd, settings)
    protocol = "cv" if cv else "train"
    r = _Runner(wd, force, progress, n_stages=6 + len(splits))
    catalog, geocoded = wd.root / CATALOG, wd.root / GEOCODED
    source = resolve_data_source(data)

    def do_ingest() -> str:
        from rruffgeo.data import ingest

        res = ingest(source=data, workdir=wd, settings=settings.ingest, progress=progress)
        return _describe(res)

    r.stage("ingest", _source_files(source),
            [source, list(settings.ingest.categories)], [catalog], do_ingest, fatal=True)

    def do_geocode() -> str:
        from rruffgeo.geo import geocode_catalog

        df = geocode_catalog(wd, settings.geo, progress=progress)
        return f"{len(df):,} specimens"

    r.stage("geocode", [catalog], [_geo_settings_part(settings)], [geocoded], do_geocode,
            fatal=True)

    tables_dir = wd.root / TABLES_DIR

    def do_stats() -> str:
        st = write_stats(wd, settings)
        return f"{len(st.files)} files in {tables_dir}"

    # Table 3 needs the learning stage: redo the tables once it is installed.
    has_learning = _has_learning_table()
    r.stage("stats", [catalog, geocoded], [settings.train.min_samples_per_country, has_learning],
            [tables_dir / "tables.md"], do_stats)

    fig_dir = wd.root / FIGURES_DIR

    def do_figures() -> str:
        res = make_dataset_figures(wd, settings, progress=progress)
        return _fig_detail(res)

    r.stage("figures", [catalog, geocoded], [to_dict(settings.spectra), to_dict(settings.model)],
            [fig_dir / "fig1_country_map.png"], do_figures)

    for split in splits:
        mfile = wd.root / METRICS_DIR / f"{protocol}_{split}.json"

        def do_learn(split: str = split) -> str:
            from rruffgeo import model

            name = "run_cv" if cv else "run_train"
            fn = getattr(model, name, None)
            if fn is None:
                raise ImportError(f"rruffgeo.model.{name} is not available")
            res = fn(wd, settings, split=split, progress=progress)
            return _learn_detail(res)

        r.stage(f"{protocol}-{split}", [catalog, geocoded], _learn_settings_part(settings),
                [mfile], do_learn)

    metrics_dir = wd.root / METRICS_DIR
    metric_inputs = sorted(metrics_dir.glob("*.json")) + sorted(metrics_dir.glob("*.csv"))

    def do_eval_figures() -> str:
        res = make_evaluation_figures(wd, progress=progress)
        return _fig_detail(res)

    eval_outputs = [fig_dir / "fig9_overall_metrics.png"] if metric_inputs else []
    r.stage("evaluation-figures", metric_inputs, [], eval_outputs, do_eval_figures)

    report = wd.root / REPORT

    def do_report() -> str:
        write_report(wd, settings)
        return str(report)

    report_inputs = sorted(p for d in (tables_dir, fig_dir, metrics_dir)
                           if d.exists() for p in d.iterdir() if p.is_file())
    r.stage("report", report_inputs, [to_dict(settings)], [report], do_report)
    result = r.result
    result.report = report if report.exists() else None
    result.headline = headline_metrics(wd)
    return result


def _has_learning_table() -> bool:
    try:
        from rruffgeo.model import learning_table  # noqa: F401
    except ImportError:
        return False
    return True


def headline_metrics(workdir: WorkDir) -> dict[str, dict]:
    """Mean accuracy of network and 1-NN baseline per split protocol, from the metrics files."""
    from rruffgeo.report.evaluation import load_evaluations

    out = {}
    for split, ev in load_evaluations(workdir).items():
        try:
            out[split] = {"protocol": ev.label,
                          "network": ev.mean("network", "accuracy"),
                          "baseline_1nn": ev.mean("baseline_1nn", "accuracy")}
        except KeyError:
            continue
    return out


def _describe(res: object) -> str:
    for attr in ("n_spectra", "n_rows", "n_ok"):
        if hasattr(res, attr):
            return f"{getattr(res, attr):,} spectra"
    return ""


def _fig_detail(res) -> str:
    text = f"{len(res.written)} figures"
    if res.skipped:
        text += f", skipped: {', '.join(res.skipped)}"
    return text


def _learn_detail(res: object) -> str:
    try:
        acc = res["summary"]["network"]["accuracy"]["mean"]  # type: ignore[index]
        base = res["summary"]["baseline_1nn"]["accuracy"]["mean"]  # type: ignore[index]
        return f"accuracy {acc:.3f} (1-NN {base:.3f})"
    except (KeyError, TypeError):
        return ""
