"""One look for every figure, and one way to save it (PNG for the page, SVG for print)."""

from __future__ import annotations

from pathlib import Path

from matplotlib.figure import Figure

from rruffgeo.workdir import atomic_path

#: Resolution of the PNG files (publication quality at the sizes used).
PNG_DPI = 200
#: Colours of the two protocols and the two models, used consistently across figures.
SPLIT_COLORS = {"spectrum": "#4c72b0", "specimen": "#dd8452"}
MODEL_COLORS = {"network": "#4c72b0", "baseline_1nn": "#8c8c8c"}
SPECTRA_COLOR = "#4c72b0"
SPECIMEN_COLOR = "#dd8452"

RC = {
    "font.size": 10,
    "axes.titlesize": 11,
    "axes.labelsize": 10,
    "xtick.labelsize": 9,
    "ytick.labelsize": 9,
    "legend.fontsize": 9,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "svg.fonttype": "none",
    "svg.hashsalt": "rruffgeo",
}


def save_figure(fig: Figure, out_base: Path) -> list[Path]:
    """Write ``out_base.png`` and ``out_base.svg`` atomically; return both paths.

    Figures are built with ``matplotlib.figure.Figure`` directly (no pyplot), so no global
    backend state is touched and nothing needs a display.
    """
    out_base = Path(out_base)
    out_base.parent.mkdir(parents=True, exist_ok=True)
    written = []
    for ext in ("png", "svg"):
        target = out_base.with_name(out_base.name + f".{ext}")
        with atomic_path(target) as tmp:
            kwargs = {"dpi": PNG_DPI} if ext == "png" else {"metadata": {"Date": None}}
            fig.savefig(tmp, format=ext, bbox_inches="tight", **kwargs)
        written.append(target)
    return written
