"""Figures of the provenance models: reliability, conformal coverage, confusion, prediction map.

The first three are ``@figure`` entries of the ``provenance`` group: drawn once per split
protocol from its ``ProvenanceReport``, shown in the report's provenance section with their
captions. The prediction map is drawn by ``rruffgeo predict``, one spectrum at a time.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from rruffgeo.config import Split
from rruffgeo.report.maps import draw_choropleth, equal_earth
from rruffgeo.report.registry import FigureInputs, FigureResult, figure, figures_of, run_figures
from rruffgeo.report.style import save_figure
from rruffgeo.results import ProvenanceReport, Reliability
from rruffgeo.workdir import WorkDir


def _bars(ax: Any, table: Reliability, label: str, color: str, offset: float) -> None:
    lower, upper = np.asarray(table.lower), np.asarray(table.upper)
    acc = np.nan_to_num(np.asarray(table.accuracy, float))
    width = (upper - lower) / 2
    ax.bar(lower + offset * width, acc, width=width, align="edge", color=color, alpha=0.8,
           edgecolor="white", label=label)


def draw_reliability(report: ProvenanceReport, model: str, out_base: Path) -> list[Path]:
    """Top-label reliability diagram of ``model`` before and after calibration."""
    r = report.models[model]
    fig = Figure(figsize=(6.4, 5.2), layout="constrained")
    ax = fig.add_subplot()
    _bars(ax, r.reliability_uncalibrated, f"uncalibrated (ECE {r.ece_uncalibrated:.3f})",
          "#9e9e9e", 0)
    _bars(ax, r.reliability, f"calibrated (ECE {r.ece:.3f})", "#d95f02", 1)
    ax.plot([0, 1], [0, 1], color="black", lw=0.8, ls="--", label="perfect calibration")
    conf = np.asarray(r.reliability.confidence, float)
    for c, n in zip(conf, r.reliability.count, strict=True):
        if n:
            ax.annotate(f"{n}", (c, 0.02), fontsize=7, ha="center", color="#555555")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_xlabel("top-label confidence (15 equal-width bins; numbers: spectra per bin)")
    ax.set_ylabel("accuracy of the top label")
    top1 = r.vs_majority.top1
    ax.set_title(f"{model}, {report.n_folds}-fold CV split by {report.split}\n"
                 f"top-1 {top1.value:.3f} vs majority class {top1.baseline:.3f}",
                 fontsize=11)
    ax.legend(loc="upper left", fontsize=8)
    return save_figure(fig, out_base)


@figure("reliability", "provenance",
        "Reliability of the winning model's top label (15 equal-width bins), before and after "
        "calibration (temperature, then top-label isotonic).")
def fig_reliability(src: FigureInputs, out_base: Path) -> list[Path]:
    return draw_reliability(src.provenance, src.provenance.winner(), out_base)


@figure("coverage", "provenance",
        "Conformal prediction sets: achieved coverage and mean set size of every model at 80, "
        "90 and 95%.")
def fig_coverage(src: FigureInputs, out_base: Path) -> list[Path]:
    """Achieved coverage and mean set size of each model's conformal sets at each level."""
    report = src.provenance
    fig = Figure(figsize=(10, 4.2), layout="constrained")
    ax_cov, ax_size = fig.subplots(1, 2)
    for name, r in report.models.items():
        levels = sorted(r.conformal, key=float)
        ax_cov.plot([float(lv) for lv in levels], [r.conformal[lv].coverage for lv in levels],
                    marker="o", label=name)
        ax_size.plot([float(lv) for lv in levels], [r.conformal[lv].mean_size for lv in levels],
                     marker="o", label=name)
    ax_cov.plot([0.78, 0.97], [0.78, 0.97], color="black", lw=0.8, ls="--", label="nominal")
    ax_cov.set_xlabel("nominal coverage")
    ax_cov.set_ylabel("share of test spectra whose set holds the true country")
    ax_size.set_xlabel("nominal coverage")
    ax_size.set_ylabel(f"mean set size (of {report.n_classes} countries)")
    ax_cov.legend(fontsize=7)
    fig.suptitle(f"Conformal prediction sets, {report.n_folds}-fold CV split by "
                 f"{report.split}", fontsize=11)
    return save_figure(fig, out_base)


def draw_confusion(confusion: pd.DataFrame, title: str, out_base: Path) -> list[Path]:
    """Row-normalised confusion matrix (true rows, predicted columns) with counts."""
    counts = confusion.to_numpy(float)
    shares = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1)
    fig = Figure(figsize=(7.5, 6.5), layout="constrained")
    ax = fig.add_subplot()
    im = ax.imshow(shares, cmap="Blues", vmin=0, vmax=1)
    labels = list(confusion.columns)
    ax.set_xticks(range(len(labels)), labels, rotation=60)
    ax.set_yticks(range(len(confusion.index)), list(confusion.index))
    for i in range(counts.shape[0]):
        for j in range(counts.shape[1]):
            if counts[i, j]:
                ax.text(j, i, f"{int(counts[i, j])}", ha="center", va="center", fontsize=7,
                        color="white" if shares[i, j] > 0.5 else "black")
    ax.set_xlabel("predicted country")
    ax.set_ylabel("true country (rows sum to 1; numbers: spectra)")
    ax.set_title(title, fontsize=11)
    fig.colorbar(im, ax=ax, shrink=0.7, label="share of the true country's spectra")
    return save_figure(fig, out_base)


@figure("confusion", "provenance",
        "Confusion matrix of the winning model (most common countries; rows are the true "
        "country and sum to 1).")
def fig_confusion(src: FigureInputs, out_base: Path) -> list[Path]:
    report = src.provenance
    conf = pd.read_csv(src.workdir.provenance_cv_part(report.split, "confusion"), index_col=0,
                       keep_default_na=False)
    return draw_confusion(conf, f"{report.winner()}, split by {report.split}: {len(conf) - 1} "
                          "most common countries", out_base)


def make_provenance_figures(workdir: WorkDir, split: Split | str,
                            report: ProvenanceReport | None = None,
                            progress: bool = False) -> FigureResult:
    """Every provenance figure of one split protocol (its report read when not given)."""
    src = FigureInputs(workdir, split=Split(split), report=report)
    return run_figures(figures_of("provenance"), src, progress, f"provenance figures {split}")


def draw_provenance_figures(workdir: WorkDir, report: ProvenanceReport) -> list[Path]:
    """The provenance figures of ``report`` at ``WorkDir.provenance_figure``; returns the PNGs
    written. A figure that cannot be drawn is an error here: the stage promised it."""
    result = make_provenance_figures(workdir, report.split, report)
    if result.skipped:
        raise ValueError("provenance figures not drawn: " + "; ".join(
            f"{stem}: {why}" for stem, why in result.skipped.items()))
    return [p for paths in result.written.values() for p in paths if p.suffix == ".png"]


def fig_provenance_map(probabilities: dict[str, float], specimens: pd.DataFrame, title: str,
                       out_base: Path) -> list[Path]:
    """Calibrated country probabilities as a choropleth, nearest specimens as numbered points."""
    fig = Figure(figsize=(10, 6.4), layout="constrained")
    ax = fig.add_subplot()
    draw_choropleth(ax, probabilities, cmap="YlOrRd", vmin=0.0,
                    vmax=max(probabilities.values(), default=1.0) or 1.0, fig=fig,
                    colorbar_label="calibrated probability of the country of origin")
    located = specimens.dropna(subset=["lat", "lon"])
    x, y = equal_earth(located["lon"].to_numpy(), located["lat"].to_numpy())
    ax.scatter(x, y, s=28, c="#1f78b4", edgecolors="white", linewidths=0.6, zorder=5,
               label="nearest reference specimens (rank)")
    for xi, yi, rank in zip(x, y, located["rank"], strict=True):
        ax.annotate(str(rank), (xi, yi), xytext=(3, 3), textcoords="offset points", fontsize=7,
                    zorder=6)
    lines = [f"{r.rank}. {r.specimen_id} {r.mineral}: {str(r.locality)[:48]} "
             f"(sim {r.similarity:.3f})" for r in specimens.head(5).itertuples()]
    ax.text(0.01, 0.02, "\n".join(lines), transform=ax.transAxes, fontsize=7, va="bottom",
            bbox={"boxstyle": "round", "facecolor": "white", "alpha": 0.85, "lw": 0.5})
    ax.legend(loc="upper right", fontsize=8)
    ax.set_title(title, fontsize=12)
    return save_figure(fig, out_base)
