"""provenance-fit saves the novelty and continent models; predict shows their answers."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from rruffgeo.cli import main
from rruffgeo.workdir import CATALOG, GEOCODED
from synthetic_learn import make_workdir, spectrum

MINERALS = ["Quartz", "Beryl", "Calcite"]


@pytest.fixture(scope="module")
def final(tmp_path_factory):
    """Three countries, a mineral per country and every fourth specimen Albite; CV then fit."""
    wd = make_workdir(tmp_path_factory.mktemp("openset"), n_countries=3, specimens=8,
                      per_specimen=2)
    geo, cat = pd.read_parquet(wd.root / GEOCODED), pd.read_parquet(wd.root / CATALOG)
    country = {f"R{c}{s:04d}": c for c in range(3) for s in range(8)}
    mineral = {sid: ("Albite" if int(sid[-1]) % 4 == 3 else MINERALS[c])
               for sid, c in country.items()}
    for df in (geo, cat):
        df["mineral"] = df["specimen_id"].map(mineral).fillna("Quartz")
    geo.to_parquet(wd.root / GEOCODED, index=False)
    cat.to_parquet(wd.root / CATALOG, index=False)
    assert main(["provenance-cv", "--workdir", str(wd.root), "--network", "off",
                 "--no-figures"]) == 0
    assert main(["provenance-fit", "--workdir", str(wd.root)]) == 0
    return wd.root / "models" / "final"


def _file(tmp_path, name: str, x: np.ndarray, y: np.ndarray):
    f = tmp_path / name
    body = "\n".join(f"{a:.2f}, {b:.4f}" for a, b in zip(x, y, strict=True))
    f.write_text(f"##NAMES=Unknown\n##RRUFFID=R999999\n{body}\n##END=\n")
    return f


def _foreign(tmp_path):
    """Narrow bands where no reference has any, on a steep background."""
    x = np.linspace(100, 1300, 300)
    y = sum(np.exp(-0.5 * ((x - c) / 4) ** 2) for c in (180, 420, 610, 1040, 1260)) * 80
    return _file(tmp_path, "foreign.txt", x, y + 0.05 * x)


def test_fit_saves_novelty_and_continents(final):
    novelty = json.loads((final / "novelty.json").read_text())
    assert novelty["format"] == "rruffgeo-novelty/3"  # the learned score
    assert len(novelty["calibration"]) > 0 and len(novelty["codes"]) == 48
    continents = json.loads((final / "continents.json").read_text())
    assert set(continents["set_thresholds"]) == {"0.8", "0.9", "0.95"}


def test_predict_reports_match_hqi_and_continents(final, tmp_path, capsys):
    x, y = spectrum(1, np.random.default_rng(3))
    known = _file(tmp_path, "known.txt", x, y)
    foreign = _foreign(tmp_path)
    out = tmp_path / "pred.csv"
    assert main(["predict", str(known), str(foreign), "--model", str(final),
                 "--output", str(out)]) == 0
    table = pd.read_csv(out, keep_default_na=False)
    first = table.groupby("file").first()
    assert first.loc[str(known), "library_match"] == "in the reference library"
    assert first.loc[str(known), "country_basis"] == "model"
    assert first.loc[str(foreign), "library_match"] == "no close match in the reference library"
    assert first.loc[str(foreign), "country_basis"].startswith("prior")
    assert first.loc[str(foreign), "novelty_score"] > first.loc[str(known), "novelty_score"]
    assert 0 <= first.loc[str(known), "species_hqi"] <= 100
    assert first.loc[str(known), "continent"] in {"South America", "Europe", "North America",
                                                  "Asia", "Africa", "Oceania"}
    cont = pd.read_csv(tmp_path / "pred.continents.csv")
    assert np.allclose(cont.groupby("file")["probability"].sum(), 1.0)
    species = pd.read_csv(tmp_path / "pred.species.csv")
    assert "hqi" in species.columns
    assert main(["predict", str(foreign), "--model", str(final)]) == 0
    text = capsys.readouterr().out
    assert "library match: no close match in the reference library" in text
    assert "no answer from the spectrum; the prior" in text and "continent set" in text


def test_predict_json_carries_the_verdict(final, tmp_path):
    foreign = _foreign(tmp_path)
    out = tmp_path / "p.json"
    assert main(["predict", str(foreign), "--model", str(final), "--output", str(out)]) == 0
    doc = json.loads(out.read_text())["predictions"][str(foreign)]
    assert doc["library_match"]["novel"] is True and 0 < doc["library_match"]["p_value"] < 0.05
    assert doc["country_basis"].startswith("prior")
    assert abs(sum(c["probability"] for c in doc["continents"]) - 1.0) < 1e-6
    assert "hqi" in doc["species"][0]


def test_fit_writes_the_open_set_report_and_the_report_shows_it(final, tmp_path):
    """``metrics/open_set.json``: the cross-fitted evaluation of the saved novelty model (its
    AUROC is the one kept in novelty.json), a curve that flags more as it keeps fewer; the
    page shows it and Figure 12 draws it. No reference compounds here: no group row."""
    from rruffgeo.report.figures_openset import fig_novelty_curve
    from rruffgeo.report.section_provenance import provenance_section
    from rruffgeo.results import NoveltyReport
    from rruffgeo.workdir import WorkDir

    wd = WorkDir(final.parent.parent)
    report = NoveltyReport.read(wd.open_set_file)
    novelty = json.loads((final / "novelty.json").read_text())
    assert report.auroc == pytest.approx(novelty["inner_auroc"]["learned"])
    assert report.n_in_library == len(novelty["calibration"]) and report.n_out_of_library > 0
    assert report.groups == []
    flagged = np.asarray(report.curve_flagged)
    assert report.curve_kept[0] == 0.0 and report.curve_kept[-1] == 1.0
    assert flagged[0] == pytest.approx(1.0) and (np.diff(flagged) <= 1e-9).all()
    assert 0.0 <= report.flagged_out_of_library <= 1.0 and report.kept_in_library >= 0.9
    html = provenance_section(wd)
    assert "Is it in the library? The novelty score" in html
    assert f"{report.auroc:.3f}" in html
    written = fig_novelty_curve(wd, tmp_path / "fig12")
    assert {p.suffix for p in written} == {".png", ".svg"}


def test_reference_compound_spectra_are_the_flagged_catalog_rows(final, tmp_path):
    """The rows of the catalog marked as reference compounds, read off the spectra matrix."""
    import shutil

    from rruffgeo.config import Settings
    from rruffgeo.dataset import reference_compound_spectra
    from rruffgeo.workdir import WorkDir

    wd = WorkDir(final.parent.parent)
    X, specimens = reference_compound_spectra(wd, Settings())
    assert len(X) == 0 and len(specimens) == 0  # none in this catalog
    copy = tmp_path / "wd"
    shutil.copytree(wd.root, copy)
    cat = pd.read_parquet(copy / CATALOG)
    marked = cat["specimen_id"] == cat["specimen_id"].iloc[0]
    cat["is_reference_compound"] = marked
    cat.to_parquet(copy / CATALOG, index=False)
    X, specimens = reference_compound_spectra(WorkDir(copy), Settings())
    assert len(X) == marked.sum() and set(specimens) == {cat["specimen_id"].iloc[0]}
    assert X.dtype == np.float32 and X.shape[1] == 2048 and np.isfinite(X).all()
