"""The self-contained HTML report, checked as text and in headless Chromium."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from report_fixtures import write_catalog_and_geocoded, write_metrics
from rruffgeo.report.figures import make_figures
from rruffgeo.report.html import HONEST_NOTE, write_report
from rruffgeo.report.stats import write_stats
from rruffgeo.workdir import WorkDir

ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    wd = write_catalog_and_geocoded(tmp_path_factory.mktemp("html") / "work")
    write_metrics(wd, "cv", "spectrum", 0.9)
    write_metrics(wd, "cv", "specimen", 0.4)
    stats = write_stats(wd)
    figures = make_figures(wd, progress=False)
    path = write_report(wd, stats=stats, figures=figures)
    return path


def test_report_is_self_contained(report):
    text = report.read_text(encoding="utf-8")
    assert text.count('src="data:image/png;base64,') == 9
    # nothing fetched from anywhere: no http(s) sources, stylesheets or scripts
    assert not re.search(r'(src|href)="(https?:)?//', text)
    for heading in ("Dataset totals", "per technique (instrument and scan type)",
                    "per source set (zip)", "Table 1", "Table 2", "Table 3", "Figure 1:",
                    "Figure 5:", "Figure 7:", "Figure 9:", "Settings", "Software"):
        assert heading in text, heading


def test_report_compares_protocols_with_baseline(report):
    text = report.read_text(encoding="utf-8")
    assert HONEST_NOTE[:60] in text
    assert "spectrum: ConvNeXt1D" in text and "specimen: 1-NN (cosine) baseline" in text
    assert re.search(r"<b>\d+\.\d%</b> split by spectrum", text)
    assert "matplotlib" in text and "schedulefree" in text


def test_report_without_metrics_says_how_to_get_them(tmp_path):
    wd = write_catalog_and_geocoded(tmp_path / "work")
    (wd.root / "rejects.csv").write_text("file,reason\nx.zip/bad.txt,no data rows\n")
    text = write_report(wd).read_text(encoding="utf-8")
    assert "1 files rejected at ingest" in text and "no data rows" in text
    assert "left out of the geographic analyses" in text
    assert "No evaluation results yet" in text
    assert "Not available" in text  # figures not drawn yet are named, not silently missing


def _chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


def test_report_renders_in_headless_chromium(report, tmp_path):
    exe = _chromium()
    if exe is None:
        pytest.skip("chromium not installed (scripts/test-setup.sh installs it as root)")
    common = [exe, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
              "--disable-dev-shm-usage", f"--user-data-dir={tmp_path / 'profile'}",
              "--virtual-time-budget=10000"]
    url = report.resolve().as_uri()
    dom = subprocess.run([*common, "--dump-dom", url], capture_output=True, text=True,
                         timeout=90, check=True).stdout
    body = re.search(r"<body[^>]*>", dom)
    assert body, dom[:500]
    assert 'data-figures-loaded="all"' in body.group(0), body.group(0)
    assert 'data-figures-total="9"' in body.group(0)
    assert dom.count("<table") >= 6  # totals, tables 1-3, evaluation facts and metrics
    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / "report.png"
    subprocess.run([*common, "--hide-scrollbars", "--window-size=1280,3000",
                    f"--screenshot={shot}", url], capture_output=True, timeout=90, check=True)
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_chromium_check_flags_a_broken_figure(tmp_path):
    exe = _chromium()
    if exe is None:
        pytest.skip("chromium not installed (scripts/test-setup.sh installs it as root)")
    from rruffgeo.report.html import SCRIPT

    page = tmp_path / "broken.html"
    page.write_text("<html><body><img src='data:image/png;base64,AAAA'>"
                    f"<script>{SCRIPT}</script></body></html>")
    dom = subprocess.run([exe, "--headless", "--no-sandbox", "--disable-gpu",
                          f"--user-data-dir={tmp_path / 'profile'}",
                          "--virtual-time-budget=5000", "--dump-dom", page.as_uri()],
                         capture_output=True, text=True, timeout=90, check=True).stdout
    assert 'data-figures-loaded="missing"' in dom


def test_the_network_is_labelled_with_its_head_when_not_the_papers(tmp_path):
    from rruffgeo.config import Evaluation, Split
    from rruffgeo.results import EvaluationResult

    def evaluation(settings):
        return EvaluationResult(Evaluation.CV, Split.SPECIMEN, [], {}, settings=settings)

    assert evaluation({}).model_label("network") == "ConvNeXt1D"
    paper = evaluation({"model": {"head_pool": "avg"}})
    assert paper.head == "avg" and paper.model_label("network") == "ConvNeXt1D"
    flat = evaluation({"model": {"head_pool": "flatten"}})
    assert flat.model_label("network") == "ConvNeXt1D (flatten head)"
    assert flat.model_label("baseline_1nn") == "1-NN (cosine) baseline"


@pytest.fixture(scope="module")
def full_page(tmp_path_factory):
    """A page of every input: dataset, both protocols, a provenance CV with its figures, and
    a rejected file whose name and reason are markup."""
    from report_fixtures import write_every_input
    from rruffgeo.report.figures_provenance import make_provenance_figures

    wd = write_every_input(tmp_path_factory.mktemp("full") / "work")
    figures = make_figures(wd, progress=False)
    make_provenance_figures(wd, "specimen")
    (wd.root / "rejects.csv").write_text('file,reason\n"<b>x.txt</b>","no <script>alert(1)'
                                         '</script> rows"\n')
    return wd, write_report(wd, figures=figures).read_text(encoding="utf-8")


def test_findings_open_the_report_and_the_provenance_section_shows_its_figures(full_page):
    wd, text = full_page
    h2 = re.findall(r'<h2 id="([a-z]+)"', text)
    assert h2[0] == "findings" and "provenance" in h2
    assert "Pappone et al. (2024) report 93% country accuracy" in text
    for kind in ("reliability", "coverage", "confusion"):
        assert f'<figure id="provenance_{kind}_specimen">' in text
    assert text.count('src="data:image/png;base64,') == 15  # 12 figures, 3 provenance
    assert "combination (winner)" in text and "coverage / set size 95%" in text
    assert "Is it in the library? The novelty score" in text
    assert "pharmaceutical reference compounds (XD IDs)" in text
    # a CV report written before the continents were scored says how to add them
    assert "run <code>rruffgeo provenance-cv --split specimen</code> again" in text
    assert "top-3 at least 5 points above the top-3 countries&#39; share" in text


def test_text_from_the_work_folder_is_escaped_and_the_style_inlined(full_page):
    from rruffgeo.report.render import CSS_FILE, asset

    _, text = full_page
    assert "<script>alert(1)" not in text and "&lt;script&gt;alert(1)" in text
    assert "&lt;b&gt;x.txt&lt;/b&gt;" in text
    assert asset(CSS_FILE).strip() in text and "<link" not in text
    assert text.count("<script>") == 1  # the figure check, nothing else


def test_a_damaged_provenance_report_is_named_and_the_page_still_renders(tmp_path):
    from report_fixtures import write_provenance

    wd = write_catalog_and_geocoded(tmp_path / "work")
    write_provenance(wd, "spectrum")
    path = wd.provenance_cv_file("spectrum")
    path.write_text(path.read_text().replace('"n_folds": 5', '"n_folds": "five"'))
    text = write_report(wd).read_text(encoding="utf-8")
    assert f"Could not be read: {path}: not a provenance CV report: field n_folds" in text
    assert "Software" in text


def test_the_twin_breakdown_is_shown_when_measured_and_its_command_named_otherwise(tmp_path):
    from report_fixtures import write_twins

    wd = write_catalog_and_geocoded(tmp_path / "work")
    write_metrics(wd, "cv", "spectrum", 0.9)
    stats = write_stats(wd)
    text = write_report(wd, stats=stats).read_text(encoding="utf-8")
    assert "run <code>rruffgeo twins</code>" in text
    write_twins(wd)
    text = write_report(wd, stats=stats).read_text(encoding="utf-8")
    assert "about 72.8% of its test spectra had their twin in training" in text
    assert "same specimen" in text and "rruffgeo twins</code>" not in text
    assert "the 1-NN (the network's joins once" in text
    write_twins(wd, network=True)
    text = write_report(wd, stats=stats).read_text(encoding="utf-8")
    assert "of the network and the 1-NN by the closest relative" in text
    assert "accuracy_network" in text
    wd.twins_file.write_text("{broken")
    text = write_report(wd, stats=stats).read_text(encoding="utf-8")
    assert "twins_spectrum.json: not valid JSON" in text


def test_the_twin_figure_draws_a_bar_per_model_and_relation(tmp_path):
    from report_fixtures import write_twins
    from rruffgeo.report.figures import FigureInputs, fig_twin_breakdown

    wd = WorkDir(tmp_path / "work")
    patches, texts = [], []
    for network in (False, True):
        write_twins(wd, network=network)
        svg = next(p for p in fig_twin_breakdown(FigureInputs(wd), tmp_path / f"f{network}")
                   if p.suffix == ".svg").read_text()
        patches.append(svg.count('<g id="patch_'))
        texts.append(svg)
    # the network adds one bar per relation (4 and "all") and one legend swatch
    assert patches[1] - patches[0] == 5 + 1
    assert "network (ConvNeXt1D)" in texts[1] and "network (ConvNeXt1D)" not in texts[0]


def test_the_matching_tables_are_shown_when_measured_and_their_commands_named_otherwise(
        tmp_path):
    from report_fixtures import write_cross_instrument, write_raw_twins

    wd = write_catalog_and_geocoded(tmp_path / "work")
    stats = write_stats(wd)
    text = write_report(wd, stats=stats).read_text(encoding="utf-8")
    assert "run <code>rruffgeo raw-twins</code>" in text
    assert "run <code>rruffgeo cross-instrument</code>" in text
    write_raw_twins(wd)
    write_cross_instrument(wd)
    text = write_report(wd, stats=stats).read_text(encoding="utf-8")
    assert "rruffgeo raw-twins</code>" not in text
    assert "rruffgeo cross-instrument</code>" not in text
    # the numbers come from the files: the chosen row and the report half's counts
    assert "(1610 pairs from 1047 specimens)" in text
    assert "(820 pairs from 410 specimens: 760 Broad_Scan, 60 Raman)" in text
    assert "<b>auto</b>. The table is the <b>report half</b>" in text
    row = re.search(r"<tr><td>auto</td>.*?</tr>", text).group(0)
    assert re.findall(r'"num">([^<]*)<', row) == ["1", "1", "0.297", "0.301", "0.876",
                                                 "0.077", "820", "410", "0.300"]
    assert "for 87.6% of the 820 pairs of the other half" in text  # the finding
    assert "the auto rule (what predict uses)" not in text  # auto itself was chosen
    assert "Raman spectra 57.1% against their own instrument, 29.4% against the other" in text
    assert "The <b>report half</b>, up to 1500 cm-1:" in text
    assert text.count("<td>Broad_Scan</td><td>both</td>") == 1
    wd.raw_twins_file.write_text('{"key": "k"}')
    wd.cross_instrument_file.write_text("{broken")
    text = write_report(wd, stats=stats).read_text(encoding="utf-8")
    assert "raw_twins.json: not a raw-twin table: field seed: missing" in text
    assert "cross_instrument.json: not valid JSON" in text
