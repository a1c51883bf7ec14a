"""The self-contained HTML report, checked as text and in headless Chromium."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

import rruffgeo.model
from report_fixtures import write_catalog_and_geocoded, write_metrics
from rruffgeo.report.figures import make_figures
from rruffgeo.report.html import HONEST_NOTE, write_report
from rruffgeo.report.stats import load_samples, write_stats

ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"


def _learning_table(workdir, settings):
    df = load_samples(workdir)
    return df[df["natural"] & df["has_country"]]


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    mp = pytest.MonkeyPatch()
    mp.setattr(rruffgeo.model, "learning_table", _learning_table, raising=False)
    wd = write_catalog_and_geocoded(tmp_path_factory.mktemp("html") / "work")
    write_metrics(wd, "cv", "spectrum", 0.9)
    write_metrics(wd, "cv", "specimen", 0.4)
    stats = write_stats(wd)
    figures = make_figures(wd, progress=False)
    path = write_report(wd, stats=stats, figures=figures)
    mp.undo()
    return path


def test_report_is_self_contained(report):
    text = report.read_text(encoding="utf-8")
    assert text.count('src="data:image/png;base64,') == 9
    # nothing fetched from anywhere: no http(s) sources, stylesheets or scripts
    assert not re.search(r'(src|href)="(https?:)?//', text)
    for heading in ("Dataset totals", "Table 1", "Table 2", "Table 3", "Figure 1:", "Figure 5:",
                    "Figure 7:", "Figure 9:", "Settings", "Software"):
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
    from rruffgeo.report.evaluation import Evaluation

    def evaluation(settings):
        return Evaluation("specimen", "cv", {"settings": settings}, None, tmp_path / "m.json")

    assert evaluation({}).model_label("network") == "ConvNeXt1D"
    paper = evaluation({"model": {"head_pool": "avg"}})
    assert paper.head == "avg" and paper.model_label("network") == "ConvNeXt1D"
    flat = evaluation({"model": {"head_pool": "flatten"}})
    assert flat.model_label("network") == "ConvNeXt1D (flatten head)"
    assert flat.model_label("baseline_1nn") == "1-NN (cosine) baseline"
