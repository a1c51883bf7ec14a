"""Figure 12: the novelty curve, what "no close match in the reference library" trades.

Reads ``metrics/open_set.json`` (``provenance-fit``): the share of spectra of species left
out of the library that the novelty score flags, against the share of spectra of species in
the library it keeps, as the threshold moves; the saved threshold and the pharmaceutical
reference compounds flagged are marked. The scores are cross-fitted (each held-out spectrum
scored by trees fitted without its split).
"""

from __future__ import annotations

from pathlib import Path

import matplotlib as mpl
from matplotlib.figure import Figure

from rruffgeo.report import style
from rruffgeo.results import NoveltyReport
from rruffgeo.workdir import WorkDir

STEM = "fig12_novelty_curve"
CAPTION = ("Figure 12: is it in the library? Share of spectra of species left out of the "
           "library that the novelty score flags (\"no close match\") against the share of "
           "spectra of known species it keeps, as the threshold moves; cross-fitted open-set "
           "splits of the whole library (a fifth of the species left out whole). Dot: the "
           "saved threshold; dotted: a score that knows nothing.")


def read_open_set(workdir: WorkDir) -> NoveltyReport:
    """The work folder's open-set report; FileNotFoundError saying which stage writes it."""
    report = NoveltyReport.read(workdir.open_set_file)
    if report is None:
        raise FileNotFoundError("no open-set report yet: run `rruffgeo provenance-fit`")
    return report


def fig_novelty_curve(workdir: WorkDir, out_base: Path) -> list[Path]:
    """Figure 12 from ``metrics/open_set.json``."""
    r = read_open_set(workdir)
    with mpl.rc_context(style.RC):
        fig = Figure(figsize=(4.6, 3.8), layout="constrained")
        ax = fig.subplots()
        ax.plot(r.curve_kept, r.curve_flagged, lw=1.5,
                label=f"{r.model} (AUROC {r.auroc:.3f})")
        ax.plot([0, 1], [1, 0], ls=":", color="grey", lw=1, label="chance")
        ax.plot([r.kept_in_library], [r.flagged_out_of_library], "o", color="black",
                label=f"threshold (p < {r.alpha:g}): kept {r.kept_in_library:.3f}, "
                      f"flagged {r.flagged_out_of_library:.3f}")
        for g in r.groups:
            ax.axhline(g.flagged, ls="--", color="#c44e52", lw=1,
                       label=f"{g.name}: {g.flagged:.3f} flagged at the threshold")
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1)
        ax.set_xlabel("spectra of known species kept (in the library)")
        ax.set_ylabel("spectra of unknown species flagged")
        fig.legend(*ax.get_legend_handles_labels(), loc="outside lower center", ncols=1,
                   fontsize=7)
        return style.save_figure(fig, out_base)
