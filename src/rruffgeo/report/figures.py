"""The paper's figures (1-9) as PNG and SVG, drawn with matplotlib without pyplot.

Dataset figures (1-5) need catalog.parquet and geocoded.parquet, the network diagram (6) the
settings only; evaluation figures (7-9) need the learning stage's metrics files and are drawn
for both split protocols side by side. One figure that cannot be drawn is reported with its
reason and never stops the others.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import matplotlib as mpl
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter
from tqdm.auto import tqdm

from rruffgeo.config import Settings
from rruffgeo.report import style
from rruffgeo.report.architecture import fig_architecture, trained_class_count
from rruffgeo.report.evaluation import (
    METRICS,
    MODELS,
    SPLIT_LABELS,
    Evaluation,
    load_evaluations,
)
from rruffgeo.report.maps import draw_choropleth
from rruffgeo.report.stats import country_table, load_samples, mineral_table
from rruffgeo.spectra.resample import clean_axis, make_grid, resample_spectrum
from rruffgeo.spectra.window import GridWindow, global_window
from rruffgeo.workdir import CATALOG, FIGURES_DIR, WorkDir

log = logging.getLogger(__name__)

#: Figure file stems and captions, in report order.
CAPTIONS = {
    "fig1_country_map": "Figure 1: natural samples (spectra) per country, log colour scale.",
    "fig2_top_countries": "Figure 2: top-20 countries by sample count, spectra and specimens.",
    "fig3_top_minerals": "Figure 3: top-20 mineral species, spectra and specimens.",
    "fig4_example_spectra": "Figure 4: a pair of example spectra from the dataset.",
    "fig5_resampling": "Figure 5: one spectrum raw (left) and resampled onto the global grid "
                       "with zero padding outside its measured range (right).",
    "fig6_architecture": "Figure 6: ConvNeXt1D as configured for this run (every box read from "
                         "the network the settings build) and its block.",
    "fig7_f1_by_country": "Figure 7: mean F1 per country across folds (bars: fold spread, 1 sd).",
    "fig8_precision_by_country": "Figure 8: mean precision per country across folds "
                                 "(bars: fold spread, 1 sd).",
    "fig9_overall_metrics": "Figure 9: overall test metrics per fold (dots) and mean +- sd "
                            "(bars), ConvNeXt1D vs the 1-NN baseline.",
}


@dataclass
class FigureResult:
    """Written figures (stem -> [png, svg]) and the ones skipped, with the reason."""

    written: dict[str, list[Path]] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)


def _thousands(x: float, _pos: object = None) -> str:
    return f"{x:,.0f}"


# ---------------------------------------------------------------- dataset figures (1-5)


def fig_country_map(samples: pd.DataFrame, out_base: Path) -> list[Path]:
    """Figure 1: choropleth of natural spectra per country (log scale)."""
    sub = samples[samples["natural"] & samples["has_country"]]
    counts = sub.groupby("country_iso3").size()
    if counts.empty:
        raise ValueError("no natural sample has a country")
    with mpl.rc_context(style.RC):
        fig = Figure(figsize=(10, 5.8), layout="constrained")
        ax = fig.add_subplot()
        draw_choropleth(ax, counts.astype(float).to_dict(), cmap="viridis", log=True,
                        vmin=1.0, vmax=float(max(counts.max(), 10)),
                        colorbar_label="natural spectra per country (log scale); grey: none",
                        fig=fig)
        ax.set_title(f"Sample density by country: {len(sub):,} natural spectra of "
                     f"{sub['specimen_id'].nunique():,} specimens in {len(counts)} countries")
        return style.save_figure(fig, out_base)


def _ranked_bars(table: pd.DataFrame, label_col: str, title: str, out_base: Path) -> list[Path]:
    n = len(table)
    with mpl.rc_context(style.RC):
        fig = Figure(figsize=(8, max(3.0, 0.32 * n + 1.2)), layout="constrained")
        ax = fig.add_subplot()
        y = np.arange(n)
        h = 0.4
        ax.barh(y - h / 2, table["spectra"], height=h, color=style.SPECTRA_COLOR, label="spectra")
        ax.barh(y + h / 2, table["specimens"], height=h, color=style.SPECIMEN_COLOR,
                label="specimens")
        for yi, (a, b) in enumerate(zip(table["spectra"], table["specimens"], strict=True)):
            ax.text(a, yi - h / 2, f" {a:,}", va="center", fontsize=7)
            ax.text(b, yi + h / 2, f" {b:,}", va="center", fontsize=7)
        ax.set_yticks(y, table[label_col].astype(str))
        ax.set_ylim(n - 0.4, -0.6)  # rank 1 on top, no empty margins
        ax.set_xlabel("count")
        ax.xaxis.set_major_formatter(FuncFormatter(_thousands))
        ax.set_xlim(0, float(table["spectra"].max()) * 1.12 or 1)
        ax.set_title(title)
        ax.legend(loc="lower right")
        return style.save_figure(fig, out_base)


def fig_top_countries(samples: pd.DataFrame, out_base: Path) -> list[Path]:
    """Figure 2: top-20 countries, spectra and specimens side by side."""
    table = country_table(samples)
    if table.empty:
        raise ValueError("no natural sample has a country")
    return _ranked_bars(table, "country", f"Top {len(table)} countries by sample count",
                        out_base)


def fig_top_minerals(samples: pd.DataFrame, out_base: Path) -> list[Path]:
    """Figure 3: top-20 mineral species, spectra and specimens side by side."""
    table = mineral_table(samples)
    if table.empty:
        raise ValueError("no sample has a mineral name")
    return _ranked_bars(table, "mineral", f"Top {len(table)} mineral species", out_base)


def read_spectra(
    workdir: WorkDir, spectrum_ids: list[str]
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Wavenumber and intensity arrays of a few spectra, read from catalog.parquet."""
    df = pd.read_parquet(workdir.root / CATALOG,
                         columns=["spectrum_id", "wavenumber_cm1", "intensity"],
                         filters=[("spectrum_id", "in", list(spectrum_ids))])
    return {r.spectrum_id: (np.asarray(r.wavenumber_cm1, dtype=float),
                            np.asarray(r.intensity, dtype=float))
            for r in df.itertuples(index=False)}


def _describe(row: pd.Series) -> str:
    where = row["country_name"] or ("synthetic" if row["synthetic"] else
                                    "extraterrestrial" if row.get("extraterrestrial", False)
                                    else "no country")
    laser = f", {row['laser_nm']:.0f} nm" if np.isfinite(row["laser_nm"]) else ""
    return f"{row['mineral']} {row['specimen_id']} ({where}; {row['kind']}{laser})"


def pick_example_pair(samples: pd.DataFrame) -> pd.DataFrame:
    """Two processed natural spectra of the most common mineral from different specimens
    (different countries when possible); falls back to any two spectra."""
    pool = samples[samples["natural"] & samples["has_country"]]
    pool = pool[pool["kind"] == "processed"] if (pool["kind"] == "processed").sum() >= 2 else pool
    for mineral in mineral_table(pool, top=None)["mineral"]:
        sub = pool[pool["mineral"] == mineral].sort_values("spectrum_id")
        sub = sub.drop_duplicates("specimen_id")
        if len(sub) >= 2:
            other = sub[sub["country_iso3"] != sub.iloc[0]["country_iso3"]]
            second = other.iloc[0] if len(other) else sub.iloc[1]
            return pd.DataFrame([sub.iloc[0], second])
    sub = samples.sort_values("spectrum_id").head(2)
    if len(sub) < 2:
        raise ValueError("fewer than two spectra in the catalog")
    return sub


def fig_example_spectra(workdir: WorkDir, samples: pd.DataFrame, out_base: Path) -> list[Path]:
    """Figure 4: a pair of example spectra, as measured."""
    pair = pick_example_pair(samples)
    arrays = read_spectra(workdir, pair["spectrum_id"].tolist())
    with mpl.rc_context(style.RC):
        fig = Figure(figsize=(9, 5.5), layout="constrained")
        axes = fig.subplots(2, 1, sharex=True)
        for ax, (_, row), color in zip(axes, pair.iterrows(), ("#4c72b0", "#c44e52"),
                                       strict=True):
            x, y = clean_axis(*arrays[row["spectrum_id"]])
            ax.plot(x, y, color=color, lw=0.8)
            ax.set_title(_describe(row), loc="left")
            ax.set_ylabel("intensity (counts)")
        axes[-1].set_xlabel("Raman shift (cm$^{-1}$)")
        return style.save_figure(fig, out_base)


def grid_window(samples: pd.DataFrame, settings: Settings) -> tuple[GridWindow, pd.DataFrame]:
    """The model's grid window and the spectra inside it.

    The window comes from ``rruffgeo.spectra.window.global_window``, the function the matrix
    builder uses, over the spectra it can resample (at least 4 points); spectra it leaves out
    (implausible Raman-shift range) are dropped from the returned samples too.
    """
    usable = samples[samples["n_points"] >= 4]
    window = global_window(usable["wavenumber_min_cm1"].to_numpy(float),
                           usable["wavenumber_max_cm1"].to_numpy(float),
                           settings.spectra.window_cm1)
    return window, usable[[r is None for r in window.outliers]]


def pick_resampling_example(samples: pd.DataFrame) -> pd.Series:
    """A processed natural spectrum from Mexico as in the paper, else from the top country."""
    pool = samples[samples["natural"] & samples["has_country"]]
    if pool.empty:
        pool = samples
    proc = pool[pool["kind"] == "processed"]
    pool = proc if len(proc) else pool
    mex = pool[pool["country_iso3"] == "MEX"]
    if len(mex):
        pool = mex
    elif pool["has_country"].any():
        top = pool[pool["has_country"]]["country_iso3"].value_counts().index[0]
        pool = pool[pool["country_iso3"] == top]
    return pool.sort_values("spectrum_id").iloc[0]


def fig_resampling(workdir: WorkDir, samples: pd.DataFrame, settings: Settings,
                   out_base: Path) -> list[Path]:
    """Figure 5: one spectrum raw and resampled onto the global grid, padding shaded."""
    window, inside = grid_window(samples, settings)
    lo, hi = window.bounds
    row = pick_resampling_example(inside)
    x, y = read_spectra(workdir, [row["spectrum_id"]])[row["spectrum_id"]]
    x, y = clean_axis(x, y)
    grid = make_grid(lo, hi, settings.spectra.grid_points)
    res = resample_spectrum(x, y, grid, minmax=settings.spectra.minmax)
    with mpl.rc_context(style.RC):
        fig = Figure(figsize=(11, 3.8), layout="constrained")
        ax1, ax2 = fig.subplots(1, 2)
        ax1.plot(x, y, color="#4c72b0", lw=0.8)
        ax1.set_title(f"raw: {len(x):,} points, {x[0]:.0f}-{x[-1]:.0f} cm$^{{-1}}$", loc="left")
        ax1.set_xlabel("Raman shift (cm$^{-1}$)")
        ax1.set_ylabel("intensity (counts)")
        ax2.plot(grid, res, color="#c44e52", lw=0.8)
        for a, b in ((lo, max(lo, x[0])), (min(hi, x[-1]), hi)):
            if b > a:
                ax2.axvspan(a, b, color="#bbbbbb", alpha=0.35, lw=0)
        ax2.set_xlim(lo, hi)
        ax2.set_title(f"resampled: {len(grid):,} points over {lo:.0f}-{hi:.0f} cm$^{{-1}}$ "
                      "(grey: zero padding)", loc="left")
        ax2.set_xlabel("Raman shift (cm$^{-1}$)")
        ax2.set_ylabel("min-max normalised intensity" if settings.spectra.minmax else "intensity")
        fig.suptitle(_describe(row))
        return style.save_figure(fig, out_base)


# ---------------------------------------------------------------- evaluation figures (7-9)


def _country_order(evals: list[Evaluation]) -> pd.DataFrame:
    frames = [e.per_country[["country_iso3", "country_name", "n_samples"]] for e in evals]
    allc = pd.concat(frames).drop_duplicates("country_iso3")
    return allc.sort_values(["n_samples", "country_name"], ascending=[False, True])


def fig_metric_by_country(evals: list[Evaluation], metric: str, out_base: Path) -> list[Path]:
    """Figures 7/8: mean ``metric`` (f1 | precision) per country, one panel per protocol."""
    evals = [e for e in evals if e.per_country is not None and len(e.per_country)]
    if not evals:
        raise ValueError("no per-country metrics (metrics/*_per_country.csv) found")
    order = _country_order(evals)
    n = len(order)
    labels = [f"{name} ({int(k):,})" for name, k in zip(order["country_name"],
                                                           order["n_samples"], strict=True)]
    with mpl.rc_context(style.RC):
        fig = Figure(figsize=(4.2 * len(evals) + 2.5, max(3.5, 0.17 * n + 1.5)),
                     layout="constrained")
        axes = np.atleast_1d(fig.subplots(1, len(evals), sharey=True))
        y = np.arange(n)
        for ax, ev in zip(axes, evals, strict=True):
            per = order[["country_iso3"]].merge(ev.per_country, on="country_iso3", how="left")
            mean = per[f"{metric}_mean"].to_numpy(dtype=float)
            std = np.nan_to_num(per[f"{metric}_std"].to_numpy(dtype=float))
            ax.barh(y, np.nan_to_num(mean), xerr=std, height=0.75,
                    color=style.SPLIT_COLORS.get(ev.split, "#4c72b0"),
                    error_kw={"elinewidth": 0.6, "capsize": 1.5, "ecolor": "#333333"})
            ax.set_xlim(0, 1.05)
            ax.set_xlabel(f"mean {metric.replace('f1', 'F1')}")
            ax.set_title(ev.label, fontsize=9)
            ax.grid(axis="x", alpha=0.3)
        axes[0].set_yticks(y, labels, fontsize=7 if n > 40 else 8)
        axes[0].invert_yaxis()
        axes[0].set_ylim(n - 0.5, -0.5)
        fig.suptitle(f"Mean {metric.replace('f1', 'F1')} per country "
                     "(in brackets: the country's spectra)")
        return style.save_figure(fig, out_base)


def fig_overall_metrics(evals: list[Evaluation], out_base: Path) -> list[Path]:
    """Figure 9: each metric per fold and mean +- sd, network vs 1-NN, one panel per protocol."""
    if not evals:
        raise ValueError("no metrics files (metrics/cv_*.json or train_*.json) found")
    metrics = [m for m in METRICS if m in evals[0].doc["summary"]["network"]]
    with mpl.rc_context(style.RC):
        fig = Figure(figsize=(6.5 * len(evals), 4.4), layout="constrained")
        axes = np.atleast_1d(fig.subplots(1, len(evals), sharey=True))
        x = np.arange(len(metrics))
        w = 0.38
        for ax, ev in zip(axes, evals, strict=True):
            for i, model in enumerate(MODELS):
                if model not in ev.doc["summary"]:
                    continue
                off = (i - 0.5) * w
                means = [ev.mean(model, m) for m in metrics]
                stds = [ev.std(model, m) for m in metrics]
                ax.bar(x + off, means, w * 0.95, yerr=stds, capsize=2,
                       color=style.MODEL_COLORS[model], label=ev.model_label(model), alpha=0.85)
                for fold in ev.doc.get("folds", []):
                    vals = [fold.get(model, {}).get(m, np.nan) for m in metrics]
                    ax.scatter(x + off, vals, s=9, color="black", zorder=3, lw=0)
            ax.set_xticks(x, [m.replace("_", " ") for m in metrics], rotation=30, ha="right")
            ax.set_ylim(0, 1.05)
            ax.set_title(ev.label, fontsize=9)
            ax.grid(axis="y", alpha=0.3)
        axes[0].set_ylabel("score")
        handles, labels = axes[0].get_legend_handles_labels()
        fig.legend(handles, labels, loc="outside lower center", ncols=2)
        fig.suptitle("Overall test metrics across folds (dots: single folds)")
        return style.save_figure(fig, out_base)


# ---------------------------------------------------------------- drivers


def _run_all(tasks: list[tuple[str, Callable[[Path], list[Path]]]], out_dir: Path,
             progress: bool, desc: str) -> FigureResult:
    result = FigureResult()
    for stem, draw in tqdm(tasks, desc=desc, unit="fig", disable=not progress):
        try:
            result.written[stem] = draw(out_dir / stem)
        except (ValueError, KeyError, FileNotFoundError, IndexError) as exc:
            log.warning("%s skipped: %s", stem, exc)
            result.skipped[stem] = str(exc)
    return result


def make_dataset_figures(workdir: WorkDir, settings: Settings | None = None,
                         progress: bool = True) -> FigureResult:
    """Figures 1-6 under ``figures/``."""
    settings = settings or Settings()
    samples = load_samples(workdir)
    tasks = [
        ("fig1_country_map", lambda p: fig_country_map(samples, p)),
        ("fig2_top_countries", lambda p: fig_top_countries(samples, p)),
        ("fig3_top_minerals", lambda p: fig_top_minerals(samples, p)),
        ("fig4_example_spectra", lambda p: fig_example_spectra(workdir, samples, p)),
        ("fig5_resampling", lambda p: fig_resampling(workdir, samples, settings, p)),
        ("fig6_architecture", lambda p: fig_architecture(
            settings, p, trained_class_count(workdir, settings))),
    ]
    return _run_all(tasks, workdir.dir(FIGURES_DIR), progress, "dataset figures")


def make_evaluation_figures(workdir: WorkDir, progress: bool = True) -> FigureResult:
    """Figures 7-9 under ``figures/`` for every split protocol that has metrics."""
    evals = list(load_evaluations(workdir).values())
    if not evals:
        return FigureResult(skipped={
            s: "no metrics yet: run `rruffgeo train` or `rruffgeo cv` first"
            for s in ("fig7_f1_by_country", "fig8_precision_by_country", "fig9_overall_metrics")})
    tasks = [
        ("fig7_f1_by_country", lambda p: fig_metric_by_country(evals, "f1", p)),
        ("fig8_precision_by_country", lambda p: fig_metric_by_country(evals, "precision", p)),
        ("fig9_overall_metrics", lambda p: fig_overall_metrics(evals, p)),
    ]
    return _run_all(tasks, workdir.dir(FIGURES_DIR), progress, "evaluation figures")


def make_figures(workdir: WorkDir, settings: Settings | None = None,
                 progress: bool = True) -> FigureResult:
    """Every figure: dataset and network (1-6) and evaluation (7-9, where metrics exist)."""
    a = make_dataset_figures(workdir, settings, progress)
    b = make_evaluation_figures(workdir, progress)
    return FigureResult({**a.written, **b.written}, {**a.skipped, **b.skipped})


__all__ = ["CAPTIONS", "SPLIT_LABELS", "FigureResult", "make_dataset_figures",
           "make_evaluation_figures", "make_figures"]
