"""The "Findings" that open the report: the paper's claim, what this work folder measures
under each protocol beside the majority-country rate, and what the predictor can tell.

Every measured number is read from the metrics files of the work folder (the network's
``EvaluationResult`` and the provenance ``ProvenanceReport`` per split); a stage not run is
said in words. The one number not measured here is the paper's own claim, cited as such.
"""

from __future__ import annotations

from dataclasses import dataclass

from rruffgeo.config import RUN_SPLITS, Split
from rruffgeo.report.baselines import majority, prior_sentences
from rruffgeo.results import (
    PAPER_ACCURACY,
    CrossInstrumentTable,
    EvaluationResult,
    ProvenanceReport,
    RawTwinTable,
    Versus,
)

PAPER = "Pappone et al. (2024)"
#: A top-1 gain over the majority country smaller than this is "little beyond" it.
LITTLE_GAIN = 0.05


@dataclass(frozen=True)
class Finding:
    """One line of the findings: a short topic, its sentence and, for a stage not run, the
    command that runs it."""

    topic: str
    text: str
    command: str = ""


def _against_majority(v: Versus) -> str:
    """Words for a top-1 beside the majority country, judged by the difference's interval."""
    points = f"{100 * v.diff:+.1f} points"
    if v.diff_lo > 0:
        return f"{points} over the majority country (the 95% interval is above zero)"
    if v.diff_hi < 0:
        return f"{points}, below the majority country (the 95% interval is below zero)"
    return (f"{points}: no better than the majority country (the 95% interval of the "
            "difference holds zero)")


def network_finding(split: Split, ev: EvaluationResult | None) -> Finding:
    """The network's accuracy under ``split`` beside the 1-NN baseline and the majority."""
    topic = f"Network, {split.label}"
    if ev is None:
        return Finding(topic, "not run", f"rruffgeo cv --split {split}")
    text = f"{ev.evaluation.label(len(ev.folds))}: accuracy {ev.mean('network', 'accuracy'):.1%}"
    if "baseline_1nn" in ev.summary:
        text += f", the 1-NN baseline {ev.mean('baseline_1nn', 'accuracy'):.1%}"
    found = majority(ev)
    if found is not None:
        text += f", always answering the majority country ({found.iso3}) {found.rate:.1%}"
    if split is Split.SPECTRUM:
        text += f"; the paper reports {PAPER_ACCURACY:.0%}"
    return Finding(topic, text + ".")


def provenance_finding(split: Split, report: ProvenanceReport | None) -> Finding:
    """The provenance winner's top-1 and top-3 under ``split`` beside the majority."""
    topic = f"Provenance predictor, {split.label}"
    if report is None:
        return Finding(topic, "not run", f"rruffgeo provenance-cv --split {split}")
    v = report.scores().vs_majority
    return Finding(topic, (
        f"{report.winner()} (lowest log-loss), {report.n_folds}-fold CV: top-1 "
        f"{v.top1.value:.1%} against {v.top1.baseline:.1%} for the majority country, "
        f"{_against_majority(v.top1)}; top-3 {v.top3.value:.1%} against {v.top3.baseline:.1%}."))


def can_tell(reports: dict[Split, ProvenanceReport]) -> list[Finding]:
    """What the predictor can and cannot tell, from the grouped (honest) protocol's numbers."""
    out = [Finding("Species", "a Raman spectrum is how a mineral species is identified, and "
                   "each answer names the species of the nearest reference spectra; how often "
                   "that match is right for a new specimen is under Instruments and Raw "
                   "spectra below (specimen left out).")]
    honest = reports.get(Split.SPECIMEN)
    if honest is None:
        out.append(Finding("Country", "not measured for new specimens: the grouped provenance "
                           "cross-validation was not run", "rruffgeo provenance-cv"))
        return out
    top1 = honest.scores().vs_majority.top1
    reach = ("no more than" if top1.diff_lo <= 0 else
             "little beyond" if top1.diff < LITTLE_GAIN else "more than")
    out.append(Finding("Country", f"for a specimen it has not seen, {reach} the majority "
                       f"country: top-1 {top1.value:.1%} against {top1.baseline:.1%}."))
    return out


def one_class_findings(evals: dict[Split, EvaluationResult],
                       reports: dict[Split, ProvenanceReport]) -> list[Finding]:
    """Every model that answers one country for (almost) everything, named with its split."""
    out = [Finding("One class", s) for ev in evals.values() for s in prior_sentences(ev)]
    out += [Finding("One class", f"{name} ({split.label}) {m.one_class}.")
            for split, r in reports.items() for name, m in r.models.items() if m.one_class]
    return out


def raw_twins_finding(table: RawTwinTable | None) -> Finding:
    """How the chosen preprocessing of raw spectra matches beside their processed twins."""
    if table is None:
        return Finding("Raw spectra", "not measured", "rruffgeo raw-twins")
    s = table.choice(table.chosen).report
    return Finding("Raw spectra", (
        f"preprocessed with {table.chosen} (chosen on half of the specimens), a raw RRUFF "
        f"spectrum finds the same top-1 species as its processed twin for {s.agreement:.1%} "
        f"of the {s.n_pairs} pairs of the other half; top-1 species {s.top1_raw:.1%} raw "
        f"against {s.top1_twin:.1%} processed, mean country TVD {s.mean_tvd:.3f}"
        + _auto_words(table) + "."))


def _auto_words(table: RawTwinTable) -> str:
    """The ``auto`` rule's report-half numbers, when another choice was chosen."""
    auto = [c for c in table.choices if c.name == "auto"]
    if not auto or table.chosen == "auto":
        return ""
    s = auto[0].report
    return (f"; the auto rule (what predict uses): agreement {s.agreement:.1%}, top-1 "
            f"{s.top1_raw:.1%} raw")


def cross_instrument_finding(table: CrossInstrumentTable | None) -> Finding:
    """Species top-1 within each instrument beside across them (the chosen treatment)."""
    if table is None:
        return Finding("Instruments", "not measured", "rruffgeo cross-instrument")
    cells = {(c.test, c.library): c for c in table.treatment(table.chosen).report}
    parts = [f"{test} spectra {cells[test, test].species_top1:.1%} against their own "
             f"instrument, {cells[test, other].species_top1:.1%} against the other"
             for test, other in (("Raman", "Broad_Scan"), ("Broad_Scan", "Raman"))
             if (test, test) in cells and (test, other) in cells]
    return Finding("Instruments", "top-1 species, specimen left out: " + "; ".join(parts)
                   + ".")


def findings(evals: dict[Split, EvaluationResult], reports: dict[Split, ProvenanceReport],
             raw_twins: RawTwinTable | None = None,
             cross: CrossInstrumentTable | None = None) -> list[Finding]:
    """The findings section, in reading order (the matching measurements after what the
    predictor can tell)."""
    out = [Finding("The paper", f"{PAPER} report {PAPER_ACCURACY:.0%} country accuracy with the "
                   "test spectra split by spectrum, which leaves other spectra of each test "
                   "specimen in training.")]
    shown = [s for s in Split if s in RUN_SPLITS or s in evals or s in reports]
    out += [network_finding(s, evals.get(s)) for s in shown]
    out += [provenance_finding(s, reports.get(s)) for s in shown]
    out += can_tell(reports)
    out += [raw_twins_finding(raw_twins), cross_instrument_finding(cross)]
    return out + one_class_findings(evals, reports)
