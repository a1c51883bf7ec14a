"""The acceptance run: all of ../shared/rruff ingests with no rejects, and re-runs from cache."""

import numpy as np
import pandas as pd
import pytest

from rruffgeo.config import IngestSettings
from rruffgeo.data import ingest, load_catalog, summary
from rruffgeo.data.rruff_file import read_rruff_file
from rruffgeo.workdir import WorkDir

pytestmark = [pytest.mark.shared, pytest.mark.slow]


def test_whole_shared_folder_ingests_without_rejects(shared_rruff, shared_counts, tmp_path):
    wd = WorkDir(tmp_path / "w")
    res = ingest(shared_rruff, wd, IngestSettings(cache_dir=tmp_path / "c"), progress=False)
    assert (res.n_spectra, res.n_rejects) == (shared_counts.files, 0)
    counts = summary(wd)
    assert counts["specimens"] == len(shared_counts.specimens)
    assert counts["categories"] == shared_counts.files_per_zip
    cat = load_catalog(wd)
    assert cat["spectrum_id"].is_unique
    assert cat["specimen_id"].str.match(r"^[RX][A-Z]?\d{6}$").all()
    assert (cat["n_points"] == cat["wavenumber_cm1"].map(len)).all()
    assert all(np.all(np.diff(w) >= 0) for w in cat["wavenumber_cm1"].head(500))
    assert set(cat["specimen_id"]) == set(shared_counts.specimens)
    new = cat[cat["category"] == "excellent_oriented"]
    assert set(new["kind"]) == {"raw", "processed"}
    assert new["sample_id"].str.contains("-").any()
    angles = set(new["orientation_angle_deg"].dropna())
    assert {0.0, 45.0, 90.0} <= angles and all(0 <= a < 360 for a in angles)
    # Every oriented file has its angle, the 2019 "__0__depolarized__" names included.
    no_angle = new.loc[new["orientation_angle_deg"].isna(), "member"].tolist()
    assert no_angle == []
    assert (new["polarization"] == "depolarized").sum() == sum(
        "__depolarized__" in m for m in new["member"])
    # One laser, one line: 514 and 514.5 nm (and 632 / 632.8 nm) are not two lasers.
    assert not {514.0, 632.0} & set(cat["laser_line_nm"].dropna())
    assert (cat["laser_line_nm"] == 514.5).sum() == cat["laser_nm"].isin([514.0, 514.5]).sum()
    again = ingest(shared_rruff, wd, IngestSettings(cache_dir=tmp_path / "c"), progress=False)
    assert (again.n_units_parsed, again.n_units_cached) == (0, len(shared_counts.files_per_zip))
    pd.testing.assert_frame_equal(cat, load_catalog(wd))


def test_read_rruff_file_on_an_extracted_real_file(shared_rruff, tmp_path):
    import zipfile

    with zipfile.ZipFile(shared_rruff / "excellent_unoriented.zip") as zf:
        name = zf.namelist()[0]
        path = tmp_path / name
        path.write_bytes(zf.read(name))
    rec = read_rruff_file(path)
    assert rec.headers["RRUFFID"].startswith("R") and rec.wavenumber_cm1.size > 100
    assert rec.wavenumber_cm1.dtype == np.float64
    assert rec.intensity.shape == rec.wavenumber_cm1.shape
