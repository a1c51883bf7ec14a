"""One look for every figure, and one way to save it (PNG for the page, SVG for print)."""

from __future__ import annotations

from pathlib import Path

from matplotlib.figure import Figure

from rruffgeo.config import Split
from rruffgeo.workdir import atomic_path

#: Resolution of the PNG files (publication quality at the sizes used).
PNG_DPI = 200
#: Colours of the split protocols, in ``Split`` order, and of the two models, used consistently
#: across figures.
PALETTE = ("#4c72b0", "#dd8452", "#55a868", "#c44e52", "#8172b3", "#937860")
SPLIT_COLORS = {s.value: PALETTE[i % len(PALETTE)] for i, s in enumerate(Split)}
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
