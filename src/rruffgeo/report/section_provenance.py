"""The report's "Provenance predictor" section, from ``metrics/provenance_cv_<split>.json``.

Per split protocol: the models x metrics table (every accuracy beside the majority class, the
log-loss beside the class prior, each with the 95% paired bootstrap interval of the difference
over specimens; ECE; conformal coverage and mean set size at 80/90/95%), which model won and
whether it meets issue 10's goals, and the reliability, coverage and confusion figures
(``rruffgeo.report.figures_provenance``). Which model ``models/final`` holds closes the section.
"""

from __future__ import annotations

import html
import logging
from typing import Any

import pandas as pd

from rruffgeo.config import Split
from rruffgeo.workdir import PROVENANCE_FIGURES, WorkDir, read_json

log = logging.getLogger(__name__)

INTRO = (
    "The country models behind <code>rruffgeo predict --model WORKDIR/models/final</code>, "
    "cross-validated on the same folds as the network: the class prior, species frequencies "
    "(species from the spectrum's nearest references), kNN over spectra and over specimens, "
    "their combination and, when <code>rruffgeo cv</code> left fold models, the network. Every "
    "model's probabilities are calibrated (temperature scaling, then top-label isotonic "
    "recalibration) and its conformal sets fitted on inner splits "
    "of each training fold, never on the test fold. Metrics are per spectrum; the intervals "
    "(95%, paired bootstrap of the difference to the baseline) resample specimens. Rows marked "
    "+mineral use the mineral name as evidence too (<code>--mineral auto</code>)."
)
CAPTIONS = {
    "reliability": "Reliability of the winning model's top label (15 equal-width bins), "
                   "before and after calibration (temperature, then top-label isotonic).",
    "coverage": "Conformal prediction sets: achieved coverage and mean set size of every "
                "model at 80, 90 and 95%.",
    "confusion": "Confusion matrix of the winning model (most common countries; rows are the "
                 "true country and sum to 1).",
}
GOAL_TEXT = {
    "log_loss_below_prior": "log-loss below the class prior (95% interval of the difference)",
    "top1_not_below_majority": "top-1 not below the majority class (difference)",
    "top3_at_least": "top-3 at least 5 points above the top-3 countries' share",
    "ece_at_most_0.03": "top-label ECE at most 0.03",
    "coverage90_in_0.88_0.92": "coverage of the 90% sets between 0.88 and 0.92",
}


def _esc(text: object) -> str:
    return html.escape(str(text), quote=True)


def _beside(m: dict[str, float], interval: bool = True) -> str:
    """``value (baseline) [lo, hi]``: the interval is that of the difference."""
    text = f"{m['value']:.3f} ({m['baseline']:.3f})"
    return text + f" [{m['diff_lo']:+.3f}, {m['diff_hi']:+.3f}]" if interval else text


def models_table(report: dict[str, Any]) -> pd.DataFrame:
    """One row per model; the text cells keep each metric beside its baseline."""
    won: dict[str, list[str]] = {}
    for ev, w in report["winners"].items():
        won.setdefault(w["model"], []).append("winner" if ev == "spectrum"
                                              else "winner with the mineral name")
    rows = []
    for name, r in report["models"].items():
        v = r["vs_majority"]
        row = {"model": name + (f" ({', '.join(won[name])})" if name in won else ""),
               "top-1 (majority) [CI of diff]": _beside(v["top1"]),
               "top-3 (top-3 share) [CI of diff]": _beside(v["top3"]),
               "macro-F1 (majority)": _beside(v["macro_f1"], interval=False),
               "log-loss (prior) [CI of diff]": _beside(v["log_loss"]),
               "ECE": f"{r['ece']:.3f}"}
        for lv, c in r["conformal"].items():
            row[f"coverage / set size {float(lv):.0%}"] = (f"{c['coverage']:.3f} / "
                                                           f"{c['mean_size']:.1f}")
        row["note"] = r.get("one_class") or ""
        rows.append(row)
    return pd.DataFrame(rows)


def goals_table(report: dict[str, Any], evidence: str = "spectrum") -> pd.DataFrame:
    """The winner's goals (issue 10): each with its measured value and whether it is met."""
    rows = []
    for goal, g in report["winners"][evidence]["goals"].items():
        value = g["value"]
        text = (f"[{value[0]:+.3f}, {value[1]:+.3f}]" if isinstance(value, list)
                else f"{value:.3f}")
        if "goal" in g:
            text += f" (goal {g['goal']:.3f})"
        rows.append({"goal": GOAL_TEXT.get(goal, goal), "measured": text,
                     "met": "yes" if g["met"] else "no"})
    return pd.DataFrame(rows)


def _winners_html(report: dict[str, Any]) -> str:
    w = report["winners"]
    parts = [f"best by log-loss, spectrum only: <b>{_esc(w['spectrum']['model'])}</b>"]
    if "spectrum+mineral" in w:
        parts.append(f"with the mineral name: <b>{_esc(w['spectrum+mineral']['model'])}</b>")
    return "<p>" + "; ".join(parts) + ".</p>"


def _figures_html(workdir: WorkDir, split: str) -> str:
    from rruffgeo.report.html import figure_html

    out = []
    for kind in PROVENANCE_FIGURES:
        png = workdir.provenance_figure(kind, split, ".png")
        if png.exists():
            out.append(figure_html(png, f"{CAPTIONS[kind]} Split by {split}."))
        else:
            out.append(f"<p class='muted'>{_esc(CAPTIONS[kind])} Not drawn (run "
                       "<code>rruffgeo provenance-cv</code>).</p>")
    return "\n".join(out)


def protocol_html(workdir: WorkDir, split: Split, report: dict[str, Any]) -> str:
    """One protocol's facts, table, winner, goals and figures."""
    from rruffgeo.report.html import table_html

    facts = (f"{report['n_spectra']:,} spectra, {report['n_specimens']:,} specimens, "
             f"{report['n_classes']} countries, {report['n_folds']} folds; share of the three "
             f"most common countries {report['top3_share']:.3f}. "
             f"{report.get('network_note', '')}")
    return "\n".join([
        f"<h3>{_esc(split.label)}</h3>", f"<p class='muted'>{_esc(facts)}</p>",
        table_html(models_table(report)), _winners_html(report),
        "<p>Goals of the winner (spectrum only):</p>", table_html(goals_table(report)),
        _figures_html(workdir, split.value)])


def _final_html(workdir: WorkDir) -> str:
    from rruffgeo.provenance.final import final_summary

    line = final_summary(workdir)
    if line is None:
        return ("<p class='muted'>No final model yet (<code>rruffgeo run</code> or "
                "<code>rruffgeo provenance-fit</code> saves one in models/final).</p>")
    return f"<p>{_esc(line[0].upper() + line[1:])}.</p>"


def provenance_section(workdir: WorkDir) -> str:
    """The section's HTML: every protocol with a provenance CV report, then the final model."""
    parts = []
    for split in Split:
        report = read_json(workdir.provenance_cv_file(split))
        if not isinstance(report, dict) or "models" not in report:
            continue
        try:
            parts.append(protocol_html(workdir, split, report))
        except (KeyError, TypeError, ValueError) as exc:
            log.warning("skipping %s: %s", workdir.provenance_cv_file(split), exc)
            parts.append(f"<p class='muted'>{_esc(workdir.provenance_cv_file(split).name)} "
                         f"could not be read ({_esc(exc)}).</p>")
    if not parts:
        return ("<p class='muted'>No provenance evaluation yet: run <code>rruffgeo run</code> "
                "or <code>rruffgeo provenance-cv</code> to add it.</p>")
    return "\n".join([f"<p>{INTRO}</p>", *parts, _final_html(workdir)])
