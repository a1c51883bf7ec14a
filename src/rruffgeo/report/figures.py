"""The paper's figures (1-9) and learning curves (10) as PNG and SVG, drawn without pyplot.

Dataset figures (1-5) need catalog.parquet and geocoded.parquet, the network diagram (6) the
settings only; evaluation figures (7-9) need the learning stage's metrics files and are drawn
for both split protocols side by side. One figure that cannot be drawn is reported with its
reason and never stops the others.

Every figure is one entry of the registry (``rruffgeo.report.registry``): its drawing
function, decorated with ``@figure(stem, group, caption)``, takes the ``FigureInputs`` (read
once, when first needed) and the output path without suffix. The makers below and the HTML page
iterate the registry, in figure-number order. Importing this module registers every figure, the
provenance ones (``rruffgeo.report.figures_provenance``) included.
"""

from __future__ import annotations

import logging
import textwrap
from collections.abc import Callable
from pathlib import Path

import matplotlib as mpl
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter

from rruffgeo.config import Evaluation, Settings
from rruffgeo.report import curves, figures_openset, figures_provenance, style
from rruffgeo.report.architecture import fig_architecture, trained_class_count
from rruffgeo.report.baselines import majority, one_class_notes, prior_sentences
from rruffgeo.report.evaluation import METRICS, MODELS
from rruffgeo.report.maps import draw_choropleth
from rruffgeo.report.registry import (
    FIGURES,
    GROUPS,
    FigureInputs,
    FigureResult,
    FigureSpec,
    figure,
    figures_of,
    run_figures,
)
from rruffgeo.report.stats import country_table, mineral_table
from rruffgeo.results import EvaluationResult, TwinBreakdown
from rruffgeo.spectra.matrix import cached_grid
from rruffgeo.spectra.resample import clean_axis, make_grid, resample_spectrum
from rruffgeo.spectra.window import GridWindow, global_window
from rruffgeo.workdir import FIG_COUNTRY_MAP, FIG_OVERALL_METRICS, WorkDir

log = logging.getLogger(__name__)

def _thousands(x: float, _pos: object = None) -> str:
    return f"{x:,.0f}"


# ---------------------------------------------------------------- dataset figures (1-5)


@figure(FIG_COUNTRY_MAP, "dataset",
        "Figure 1: natural samples (spectra) per country, log colour scale.")
def fig_country_map(src: FigureInputs, out_base: Path) -> list[Path]:
    """Figure 1: choropleth of natural spectra per country (log scale)."""
    samples = src.samples
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


@figure("fig2_top_countries", "dataset",
        "Figure 2: top-20 countries by sample count, spectra and specimens.")
def fig_top_countries(src: FigureInputs, out_base: Path) -> list[Path]:
    """Figure 2: top-20 countries, spectra and specimens side by side."""
    table = country_table(src.samples)
    if table.empty:
        raise ValueError("no natural sample has a country")
    return _ranked_bars(table, "country", f"Top {len(table)} countries by sample count",
                        out_base)


@figure("fig3_top_minerals", "dataset",
        "Figure 3: top-20 mineral species, spectra and specimens.")
def fig_top_minerals(src: FigureInputs, out_base: Path) -> list[Path]:
    """Figure 3: top-20 mineral species, spectra and specimens side by side."""
    table = mineral_table(src.samples)
    if table.empty:
        raise ValueError("no sample has a mineral name")
    return _ranked_bars(table, "mineral", f"Top {len(table)} mineral species", out_base)


def read_spectra(
    workdir: WorkDir, spectrum_ids: list[str]
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Wavenumber and intensity arrays of a few spectra, read from catalog.parquet."""
    df = pd.read_parquet(workdir.catalog,
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


@figure("fig4_example_spectra", "dataset",
        "Figure 4: a pair of example spectra from the dataset.")
def fig_example_spectra(src: FigureInputs, out_base: Path) -> list[Path]:
    """Figure 4: a pair of example spectra, as measured."""
    pair = pick_example_pair(src.samples)
    arrays = read_spectra(src.workdir, pair["spectrum_id"].tolist())
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


def model_grid(src: FigureInputs) -> tuple[np.ndarray, pd.DataFrame]:
    """The grid the network sees and the spectra inside its window: the spectrum matrix's grid
    when it is built and up to date, else the same rule (``spectra.window.global_window``)."""
    window, inside = grid_window(src.samples, src.settings)
    grid = cached_grid(src.workdir, src.settings.spectra)
    if grid is None:
        lo, hi = window.bounds
        grid = make_grid(lo, hi, src.settings.spectra.grid_points)
    return grid, inside


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


@figure("fig5_resampling", "dataset",
        "Figure 5: one spectrum raw (left) and resampled onto the global grid with zero padding "
        "outside its measured range (right).")
def fig_resampling(src: FigureInputs, out_base: Path) -> list[Path]:
    """Figure 5: one spectrum raw and resampled onto the model's grid, padding shaded."""
    settings = src.settings
    grid, inside = model_grid(src)
    row = pick_resampling_example(inside)
    x, y = read_spectra(src.workdir, [row["spectrum_id"]])[row["spectrum_id"]]
    x, y = clean_axis(x, y)
    lo, hi = float(grid[0]), float(grid[-1])
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


@figure("fig6_architecture", "dataset",
        "Figure 6: ConvNeXt1D as configured for this run (every box read from the network the "
        "settings build) and its block.")
def fig_network_diagram(src: FigureInputs, out_base: Path) -> list[Path]:
    """Figure 6: the network diagram, from the settings and the trained class count."""
    return fig_architecture(src.settings, out_base,
                            trained_class_count(src.workdir, src.settings))


# ---------------------------------------------------------------- evaluation figures (7-9)

#: Score of the majority baseline (always the majority country, rate r) in that country; it
#: scores 0 in every other country with test spectra.
MAJORITY_SCORE: dict[str, Callable[[float], float]] = {
    "f1": lambda r: 2 * r / (1 + r), "precision": lambda r: r}
NO_TEST = "n/a: no test spectra"


def protocol_words(ev: EvaluationResult) -> str:
    """How ``ev`` was scored, in a caption's words."""
    k = len(ev.folds)
    if ev.evaluation is Evaluation.CV:
        return f"{ev.split.label}, {k}-fold CV (mean ± sd over the {k} test folds)"
    return f"{ev.split.label}, one 80/20 hold-out (a single test set, no spread)"


def evaluation_caption(evals: list[EvaluationResult]) -> str:
    """Caption sentences of figures 7-9: the protocols, the class prior, one-class models."""
    parts = [f"Protocols: {'; '.join(protocol_words(ev) for ev in evals)}."]
    prior = [f"{found.text()} ({ev.split.label})" for ev in evals
             if (found := majority(ev)) is not None]
    if prior:
        parts.append(f"Class prior of the test spectra: {'; '.join(prior)}.")
    parts += [s for ev in evals for s in prior_sentences(ev)]
    return " ".join(parts)


def panel_title(ev: EvaluationResult) -> str:
    """A panel's title: its protocol, the majority rate and any model at the class prior."""
    lines = [ev.label]
    found = majority(ev)
    if found is not None:
        lines.append(found.text())
    lines += [textwrap.fill(f"{ev.model_label(m)} {note}", 58)
              for m, note in one_class_notes(ev).items()]
    return "\n".join(lines)


def _country_order(evals: list[EvaluationResult]) -> pd.DataFrame:
    frames = [e.per_country[["country_iso3", "country_name", "n_samples"]] for e in evals]
    allc = pd.concat(frames).drop_duplicates("country_iso3")
    return allc.sort_values(["n_samples", "country_name"], ascending=[False, True])


def country_scores(ev: EvaluationResult, order: pd.DataFrame, metric: str, model: str
                   ) -> tuple[np.ndarray, np.ndarray] | None:
    """Mean and sd of ``model``'s ``metric`` per country of ``order``: NaN where the country
    had no test spectra (not a score of 0); None when ``ev`` has no such column."""
    col = metric if model == "network" else f"{metric}_{model}"
    if ev.per_country is None or f"{col}_mean" not in ev.per_country:
        return None
    per = order[["country_iso3"]].merge(ev.per_country, on="country_iso3", how="left")
    return per[f"{col}_mean"].to_numpy(dtype=float), per[f"{col}_std"].to_numpy(dtype=float)


def _majority_marker(ax, ev: EvaluationResult, order: pd.DataFrame,  # noqa: ANN001 - Axes
                     metric: str) -> None:
    """The majority baseline's score in its own country (it scores 0 everywhere else)."""
    found = majority(ev)
    rows = np.flatnonzero(order["country_iso3"].to_numpy() == (found.iso3 if found else None))
    if found is None or not len(rows) or metric not in MAJORITY_SCORE:
        return
    ax.scatter([MAJORITY_SCORE[metric](found.rate)], rows[:1], marker="D", s=20, zorder=4,
               color="black", label=f"majority baseline (always {found.iso3}; 0 elsewhere)")


def country_panel(ax, ev: EvaluationResult, order: pd.DataFrame,  # noqa: ANN001 - Axes
                   metric: str) -> None:
    """One protocol's bars per country: the network beside the baselines it was scored with."""
    y = np.arange(len(order))
    drawn = [(m, got) for m in MODELS if (got := country_scores(ev, order, metric, m))]
    h = 0.8 / max(len(drawn), 1)
    for i, (model, (mean, std)) in enumerate(drawn):
        ok = ~np.isnan(mean)
        ax.barh(y[ok] + (i - (len(drawn) - 1) / 2) * h, mean[ok],
                xerr=np.nan_to_num(std[ok]), height=h * 0.95, label=ev.model_label(model),
                color=style.MODEL_COLORS.get(model, "#8c8c8c"),
                error_kw={"elinewidth": 0.6, "capsize": 1.5, "ecolor": "#333333"})
    if drawn:
        for yi in np.flatnonzero(np.isnan(drawn[0][1][0])):
            ax.text(0.01, yi, NO_TEST, va="center", fontsize=6, color="#777777",
                    style="italic")
    _majority_marker(ax, ev, order, metric)
    ax.set_xlim(0, 1.05)
    ax.set_xlabel(f"mean {metric.replace('f1', 'F1')}")
    ax.set_title(panel_title(ev), fontsize=8)
    ax.grid(axis="x", alpha=0.3)


def _figure_legend(fig: Figure, axes: np.ndarray) -> None:
    """One legend below the panels with every entry of any panel, each once."""
    seen: dict[str, object] = {}
    for ax in axes:
        for handle, label in zip(*ax.get_legend_handles_labels(), strict=True):
            seen.setdefault(label, handle)
    fig.legend(list(seen.values()), list(seen), loc="outside lower center",
               ncols=min(len(seen), 3), fontsize=8)


def fig_metric_by_country(evals: list[EvaluationResult], metric: str, out_base: Path) -> list[Path]:
    """Figures 7/8: mean ``metric`` (f1 | precision) per country, one panel per protocol,
    the network beside its baselines; countries without test spectra say so."""
    evals = [e for e in evals if e.per_country is not None and len(e.per_country)]
    if not evals:
        raise ValueError("no per-country metrics (metrics/*_per_country.csv) found")
    order = _country_order(evals)
    n = len(order)
    labels = [f"{name} ({int(k):,})" for name, k in zip(order["country_name"],
                                                           order["n_samples"], strict=True)]
    with mpl.rc_context(style.RC):
        fig = Figure(figsize=(4.6 * len(evals) + 2.5, max(4.0, 0.22 * n + 2.2)),
                     layout="constrained")
        axes = np.atleast_1d(fig.subplots(1, len(evals), sharey=True))
        for ax, ev in zip(axes, evals, strict=True):
            country_panel(ax, ev, order, metric)
        axes[0].set_yticks(np.arange(n), labels, fontsize=7 if n > 40 else 8)
        axes[0].set_ylim(n - 0.5, -0.5)
        _figure_legend(fig, axes)
        fig.suptitle(f"Mean {metric.replace('f1', 'F1')} per country on the test spectra "
                     "(in brackets: the country's spectra)")
        return style.save_figure(fig, out_base)


@figure("fig7_f1_by_country", "evaluation",
        "Figure 7: F1 per country on the test spectra, ConvNeXt1D beside the 1-NN baseline "
        "and the majority baseline (diamond); countries without test spectra are marked "
        "n/a, not drawn as 0.", evaluation_caption)
def fig_f1_by_country(src: FigureInputs, out_base: Path) -> list[Path]:
    return fig_metric_by_country(src.evaluations, "f1", out_base)


@figure("fig8_precision_by_country", "evaluation",
        "Figure 8: precision per country on the test spectra, ConvNeXt1D beside the 1-NN "
        "baseline and the majority baseline (diamond); countries without test spectra are "
        "marked n/a, not drawn as 0.", evaluation_caption)
def fig_precision_by_country(src: FigureInputs, out_base: Path) -> list[Path]:
    return fig_metric_by_country(src.evaluations, "precision", out_base)


def _majority_line(ax, ev: EvaluationResult, metrics: list[str]) -> None:  # noqa: ANN001
    """Dashed reference over the accuracy bars: the rate of always answering the majority."""
    found = majority(ev)
    if found is None or "accuracy" not in metrics:
        return
    x = metrics.index("accuracy")
    ax.hlines(found.rate, x - 0.45, x + 0.45, colors="black", linestyles="--", lw=1.2,
              zorder=4)
    ax.annotate(found.text(), (x - 0.45, found.rate), xytext=(0, 3), zorder=5,
                textcoords="offset points", fontsize=7,
                bbox={"fc": "white", "ec": "none", "alpha": 0.8, "pad": 0.5})


def _overall_panel(ax, ev: EvaluationResult, metrics: list[str]) -> None:  # noqa: ANN001
    x = np.arange(len(metrics))
    w = 0.38
    for i, model in enumerate(MODELS):
        if model not in ev.summary:
            continue
        off = (i - 0.5) * w
        means = [ev.mean(model, m) for m in metrics]
        stds = [ev.std(model, m) for m in metrics]
        ax.bar(x + off, means, w * 0.95, yerr=stds, capsize=2,
               color=style.MODEL_COLORS[model], label=ev.model_label(model), alpha=0.85)
        for fold in ev.folds:
            vals = [fold.scores(model).get(m, np.nan) for m in metrics]
            ax.scatter(x + off, vals, s=9, color="black", zorder=3, lw=0)
    _majority_line(ax, ev, metrics)
    ax.set_xticks(x, [m.replace("_", " ") for m in metrics], rotation=30, ha="right")
    ax.set_ylim(0, 1.05)
    ax.set_title(panel_title(ev), fontsize=8)
    ax.grid(axis="y", alpha=0.3)


@figure(FIG_OVERALL_METRICS, "evaluation",
        "Figure 9: overall test metrics per fold (dots) and mean ± sd (bars), ConvNeXt1D vs "
        "the 1-NN baseline; dashed: the accuracy of always answering the majority country.",
        evaluation_caption)
def fig_overall_metrics(src: FigureInputs, out_base: Path) -> list[Path]:
    """Figure 9: each metric per fold and mean +- sd, network vs 1-NN beside the majority
    rate, one panel per protocol."""
    evals = src.evaluations
    if not evals:
        raise ValueError("no metrics files (metrics/cv_*.json or train_*.json) found")
    metrics = [m for m in METRICS if m in evals[0].summary["network"]]
    with mpl.rc_context(style.RC):
        fig = Figure(figsize=(6.5 * len(evals), 4.8), layout="constrained")
        axes = np.atleast_1d(fig.subplots(1, len(evals), sharey=True))
        for ax, ev in zip(axes, evals, strict=True):
            _overall_panel(ax, ev, metrics)
        axes[0].set_ylabel("score")
        handles, labels = axes[0].get_legend_handles_labels()
        fig.legend(handles, labels, loc="outside lower center", ncols=2)
        fig.suptitle("Overall test metrics across folds (dots: single folds)")
        return style.save_figure(fig, out_base)


#: How the twin breakdown's models are named in its legend.
TWIN_MODELS = {"network": "network (ConvNeXt1D)", "1nn": "1-NN (cosine)",
               "majority": "majority country"}


@figure("fig11_twin_breakdown", "evaluation",
        "Figure 11: the paper's regime explained. Split by spectrum, the country accuracy of "
        "the 1-NN (and of the network, once its CV split by spectrum has run) by what each "
        "test spectrum has in training: its raw/processed twin (the same measurement), "
        "another spectrum of its specimen, its species only, or nothing; "
        "bar labels give the share of test spectra. Dashed: the paper's reported accuracy.")
def fig_twin_breakdown(src: FigureInputs, out_base: Path) -> list[Path]:
    """Figure 11: accuracy per relation in training (``rruffgeo twins``), beside the
    majority country and the paper's 93%."""
    twins = TwinBreakdown.read(src.workdir.twins_file)
    if twins is None:
        raise FileNotFoundError("no twin breakdown yet: run `rruffgeo twins`")
    table = twins.table()
    y = np.arange(len(table))
    with mpl.rc_context(style.RC):
        fig = Figure(figsize=(6.5, 3.4), layout="constrained")
        ax = fig.subplots()
        height = 0.76 / len(twins.models)
        for i, model in enumerate(twins.models):
            vals = table[f"accuracy_{model}"].fillna(0).to_numpy()
            offset = (i - (len(twins.models) - 1) / 2) * height
            ax.barh(y + offset, vals, height=height * 0.95, label=TWIN_MODELS.get(model, model))
        for yi, share in zip(y, table["share"], strict=True):
            ax.text(1.01, yi, f"{share:.0%}", va="center", fontsize=7,
                    transform=ax.get_yaxis_transform())
        ax.axvline(twins.paper_accuracy, ls="--", color="grey", lw=1,
                   label=f"paper ({twins.paper_accuracy:.0%})")
        ax.set_yticks(y, table["relation"])
        ax.set_ylim(len(table) - 0.5, -0.5)
        ax.set_xlim(0, 1)
        ax.set_xlabel(f"country accuracy ({twins.n_folds}-fold CV split by spectrum)")
        fig.legend(*ax.get_legend_handles_labels(), loc="outside lower center",
                   ncols=len(twins.models) + 1, fontsize=7)  # below: no bar is hidden
        return style.save_figure(fig, out_base)


# ---------------------------------------------------------------- drivers


def make_dataset_figures(workdir: WorkDir, settings: Settings | None = None,
                         progress: bool = True) -> FigureResult:
    """The dataset figures (1-6) under ``figures/``."""
    src = FigureInputs(workdir, settings or Settings())
    src.samples  # noqa: B018 - read now: a missing catalog is an error, not five skips
    return run_figures(figures_of("dataset"), src, progress, "dataset figures")


def make_evaluation_figures(workdir: WorkDir, progress: bool = True) -> FigureResult:
    """The evaluation figures (7-9) under ``figures/`` for every protocol that has metrics."""
    src = FigureInputs(workdir)
    specs = figures_of("evaluation")
    if not src.evaluations:
        return FigureResult(skipped={
            f.stem: "no metrics yet: run `rruffgeo train` or `rruffgeo cv` first" for f in specs})
    return run_figures(specs, src, progress, "evaluation figures")


def make_figures(workdir: WorkDir, settings: Settings | None = None,
                 progress: bool = True) -> FigureResult:
    """Every figure: dataset and network (1-6) and evaluation (7-9, where metrics exist)."""
    a = make_dataset_figures(workdir, settings, progress)
    b = make_evaluation_figures(workdir, progress)
    return FigureResult({**a.written, **b.written}, {**a.skipped, **b.skipped})


__all__ = ["FIGURES", "GROUPS", "FigureInputs", "FigureResult", "FigureSpec", "figure",
           "figures_of", "figures_provenance", "make_dataset_figures", "make_evaluation_figures",
           "make_figures"]


@figure(curves.STEM, "evaluation", curves.CAPTION)
def fig_learning_curves(src: FigureInputs, out_base: Path) -> list[Path]:
    """Figure 10: learning curves per split protocol (a convergence diagnostic)."""
    return curves.fig_learning_curves(src.evaluations, out_base)


@figure(figures_openset.STEM, "evaluation", figures_openset.CAPTION)
def fig_novelty_curve(src: FigureInputs, out_base: Path) -> list[Path]:
    """Figure 12: the novelty curve (``metrics/open_set.json``)."""
    return figures_openset.fig_novelty_curve(src.workdir, out_base)
