"""The Findings that open the report: every number from the work folder's metrics files."""

from __future__ import annotations

import pytest

from report_fixtures import write_catalog_and_geocoded, write_every_input, write_provenance
from rruffgeo.config import RUN_SPLITS, Split
from rruffgeo.report.baselines import majority
from rruffgeo.report.evaluation import load_evaluations
from rruffgeo.report.findings import PAPER_ACCURACY, findings
from rruffgeo.results import ProvenanceReport
from rruffgeo.workdir import WorkDir


def _findings(wd: WorkDir) -> list:
    reports = {s: r for s in Split if (r := ProvenanceReport.of(wd, s)) is not None}
    return findings(load_evaluations(wd), reports)


def _by_topic(wd: WorkDir) -> dict[str, str]:
    out: dict[str, str] = {}
    for f in _findings(wd):
        out[f.topic] = (out[f.topic] + " " + f.text) if f.topic in out else f.text
    return out


@pytest.fixture(scope="module")
def everything(tmp_path_factory):
    return write_every_input(tmp_path_factory.mktemp("findings") / "work")


def test_findings_set_each_measured_accuracy_beside_the_majority(everything):
    said = _by_topic(everything)
    assert f"{PAPER_ACCURACY:.0%} country accuracy" in said["The paper"]
    for split, ev in load_evaluations(everything).items():
        text = said[f"Network, {split.label}"]
        found = majority(ev)
        assert f"accuracy {ev.mean('network', 'accuracy'):.1%}" in text
        assert f"1-NN baseline {ev.mean('baseline_1nn', 'accuracy'):.1%}" in text
        assert f"majority country ({found.iso3}) {found.rate:.1%}" in text
    top1 = ProvenanceReport.of(everything, Split.SPECIMEN).scores().vs_majority.top1
    honest = said[f"Provenance predictor, {Split.SPECIMEN.label}"]
    assert f"top-1 {top1.value:.1%} against {top1.baseline:.1%}" in honest
    assert "no better than the majority country" in honest  # its interval holds zero
    assert said["Country"].startswith("for a specimen it has not seen, no more than")


def test_findings_name_every_model_that_answers_one_class(everything):
    one_class = _by_topic(everything)["One class"]
    assert "ConvNeXt1D (split by spectrum" in one_class  # predicted [4, 0, 0] on every fold
    assert "prior (grouped by specimen" in one_class and "answers USA for 100%" in one_class
    assert "knn_spectra" not in one_class


def test_findings_say_which_stage_was_not_run(tmp_path):
    wd = write_catalog_and_geocoded(tmp_path / "work")
    said = _by_topic(wd)
    commands = {f.topic: f.command for f in _findings(wd)}
    assert not any(Split.LOCALITY.label in t for t in said)  # asked for by name only
    for split in RUN_SPLITS:
        assert said[f"Network, {split.label}"] == "not run"
        assert commands[f"Network, {split.label}"] == f"rruffgeo cv --split {split}"
        assert said[f"Provenance predictor, {split.label}"] == "not run"
        assert commands[f"Provenance predictor, {split.label}"].startswith("rruffgeo provenance")
    assert "not measured" in said["Country"] and "One class" not in said
    assert not any(ch.isdigit() for t, text in said.items() if t != "The paper" for ch in text)


def test_the_words_follow_the_numbers(tmp_path):
    wd = write_catalog_and_geocoded(tmp_path / "work")
    top1 = write_provenance(wd, "specimen", winner_top1=0.9).scores().vs_majority.top1
    said = _by_topic(wd)
    assert f"{100 * top1.diff:+.1f} points over the majority country" in said[
        f"Provenance predictor, {Split.SPECIMEN.label}"]
    assert said["Country"].startswith("for a specimen it has not seen, more than")


def test_the_raw_twin_finding_names_auto_when_another_choice_was_chosen(tmp_path):
    import json

    from report_fixtures import write_raw_twins
    from rruffgeo.report.findings import raw_twins_finding
    from rruffgeo.results import RawTwinTable
    from rruffgeo.workdir import WorkDir

    wd = WorkDir(tmp_path)
    write_raw_twins(wd)
    doc = json.loads(wd.raw_twins_file.read_text())
    doc["chosen"] = "none"
    text = raw_twins_finding(RawTwinTable.from_json(doc)).text
    assert "preprocessed with none" in text and "for 39.7% of the 820 pairs" in text
    assert text.endswith("the auto rule (what predict uses): agreement 87.6%, top-1 29.7% raw.")
    assert raw_twins_finding(None).command == "rruffgeo raw-twins"
