"""The raw-twin and cross-instrument measurements (``rruffgeo raw-twins`` /
``cross-instrument``) on tiny work folders whose answers can be worked out by hand."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from helpers import run_cli
from rruffgeo.errors import UserError
from rruffgeo.provenance import instruments, rawtwins
from rruffgeo.provenance.knn_eval import first_best, nearest, split_specimens
from rruffgeo.provenance.rawtwins import Choice, auto_choice
from rruffgeo.results import CrossInstrumentTable, RawTwinTable
from synthetic_twins import COUNTRIES, SPECIES, make_twin_workdir


@pytest.fixture(scope="module")
def twin_wd(tmp_path_factory):
    return make_twin_workdir(tmp_path_factory.mktemp("twins") / "work")


def test_a_raw_spectrum_equal_to_its_twin_matches_exactly_like_it(twin_wd):
    table = rawtwins.raw_twin_table(twin_wd, [Choice("none"), auto_choice()], progress=False,
                                    force=True)
    auto = table.choice("auto")
    for half in (auto.choose, auto.report):
        # after the library's own rule the raw spectrum is its twin's matrix row: the same
        # neighbours, so the same species and the same country votes
        assert half.agreement == 1.0 and half.mean_tvd == 0.0
        assert half.top1_raw == half.top1_twin == 1.0  # three well-separated species
    assert auto.library == "as built" and auto.baseline_subtracted == 1.0
    n_specimens = len(SPECIES) * len(COUNTRIES)
    assert table.n_pairs == table.n_specimens == n_specimens  # one broad scan each
    assert auto.choose.n_pairs + auto.report.n_pairs == n_specimens
    assert table.report_pairs_by_technique == {"Broad_Scan": auto.report.n_pairs}
    assert table.chosen == "none"  # a tie on the choose half keeps the simpler choice


def test_a_raw_spectrum_on_a_background_needs_the_rule(tmp_path):
    wd = make_twin_workdir(tmp_path / "work", raw_like_twin=False)
    table = rawtwins.raw_twin_table(wd, [Choice("none"), auto_choice()], progress=False)
    none, auto = table.choice("none"), table.choice("auto")
    assert none.baseline_subtracted == 0.0
    # the laser line below 150 cm-1 sets the min-max scale of the untreated raw spectrum
    assert none.report.mean_tvd > auto.report.mean_tvd


def test_the_choice_needs_a_margin_and_the_halves_split_specimens():
    assert first_best([0.5, 0.504, 0.52, 0.523]) == 2
    assert first_best([0.5, 0.505]) == 0
    specimens = np.array(["a", "a", "b", "c", "c", "d"])
    choose = split_specimens(specimens, seed=3)
    assert choose.tolist() == split_specimens(specimens, seed=3).tolist()
    assert len(set(specimens[choose])) == 2 and not set(specimens[choose]) & set(
        specimens[~choose])


def test_nearest_leaves_the_query_specimen_out_and_pads():
    L = np.eye(3, dtype=np.float32)
    Q = L[[0]]
    order = nearest(Q, L, np.array(["a", "b", "c"]), np.array(["a"]),
                    libmask=np.array([True, True, False]))
    assert order.tolist() == [[1, -1, -1]]


def test_the_raw_twin_table_is_cached_and_force_recomputes(twin_wd, monkeypatch):
    first = rawtwins.raw_twin_table(twin_wd, progress=False, force=True)
    same = json.dumps(first.to_json())
    assert json.dumps(RawTwinTable.read(twin_wd.raw_twins_file).to_json()) == same

    def fail(*args, **kwargs):
        raise AssertionError("recomputed although cached")

    monkeypatch.setattr(rawtwins, "measure", fail)
    assert json.dumps(rawtwins.raw_twin_table(twin_wd, progress=False).to_json()) == same
    with pytest.raises(AssertionError, match="recomputed"):
        rawtwins.raw_twin_table(twin_wd, progress=False, seed=1)  # another split
    with pytest.raises(AssertionError, match="recomputed"):
        rawtwins.raw_twin_table(twin_wd, progress=False, force=True)


def test_the_cross_instrument_cells_count_the_report_half(twin_wd, monkeypatch):
    table = instruments.cross_instrument_table(twin_wd, progress=False, force=True)
    assert [t.name for t in table.treatments] == ["none", "crop-1500"]
    assert table.chosen == "none"  # all tie: the reference stays
    geo = pd.read_parquet(twin_wd.geocoded).set_index("specimen_id")["country_iso3"]
    specimens = sorted(geo.index)
    report = [s for s, c in zip(specimens, split_specimens(np.array(specimens), 0),
                                strict=True) if not c]
    usa = np.mean([geo[s] == "USA" for s in report])
    frame = table.table().set_index(["test spectra", "library"])
    assert set(frame["n"]) == {len(report)}  # each specimen: one spectrum per instrument
    assert (frame["species top-1"] == 1.0).all()
    assert np.allclose(frame["majority top-1"], usa)  # USA is every library's majority
    assert (frame["majority top-3"] == 1.0).all()  # three countries in all

    monkeypatch.setattr(instruments, "run_treatment", lambda *a, **k: 1 / 0)
    again = instruments.cross_instrument_table(twin_wd, progress=False)
    assert again.to_json() == table.to_json()
    with pytest.raises(ZeroDivisionError):
        instruments.cross_instrument_table(twin_wd, progress=False, force=True)


def test_damaged_tables_name_the_file_and_field(tmp_path):
    path = tmp_path / "raw_twins.json"
    path.write_text('{"key": "k", "seed": 0, "k": "ten"}')
    with pytest.raises(UserError, match=r"raw_twins.json: not a raw-twin table: field k"):
        RawTwinTable.read(path)
    path = tmp_path / "cross_instrument.json"
    path.write_text('{"key": "k", "seed": 0, "k": 10, "min_gain": 0.005, "chosen": "none", '
                    '"treatments": [{"name": "none"}]}')
    with pytest.raises(UserError, match=r"cross_instrument.json: .*treatments\[0\]\.label"):
        CrossInstrumentTable.read(path)
    assert RawTwinTable.read(tmp_path / "absent.json") is None
    assert CrossInstrumentTable.read(tmp_path / "absent.json") is None


def test_a_work_folder_without_the_matrix_is_one_clear_error(tmp_path):
    wd = make_twin_workdir(tmp_path / "work")
    (wd.spectra_dir / "matrix.npy").unlink()
    for command in ("raw-twins", "cross-instrument"):
        out = run_cli(command, "--workdir", str(wd.root), check=False)
        assert out.returncode == 1
        assert out.stderr.strip().splitlines() == [
            f"rruffgeo {command}: error: {wd.spectra_dir / 'matrix.npy'} not found: run "
            f"`rruffgeo spectra --workdir {wd.root}` first"]
