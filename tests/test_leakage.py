"""What a test spectrum has in training: twin, sibling, species or nothing."""

import json

import numpy as np
import pandas as pd
import pytest

from rruffgeo.network.leakage import (
    breakdown,
    measurement_keys,
    paired_share,
    relation_in_training,
    twin_rows,
)


def _table() -> pd.DataFrame:
    # rows 0/1: raw + processed of one measurement; 2: another laser of the same specimen;
    # 3: the same species, another specimen; 4: a lone species; 5/6: two raw files of one
    # measurement (no single twin).
    return pd.DataFrame({
        "specimen_id": ["R1", "R1", "R1", "R2", "R3", "R4", "R4"],
        "sample_id": ["R1", "R1", "R1", "R2", "R3", "R4", "R4"],
        "mineral": ["Quartz", "Quartz", "Quartz", "quartz", "Calcite", "Gypsum", "Gypsum"],
        "kind": ["raw", "processed", "processed", "processed", "processed", "raw", "raw"],
        "technique": ["Raman"] * 7,
        "laser_line_nm": [532.0, 532.0, 785.0, 532.0, 532.0, 532.0, 532.0],
    })


def test_twins_pair_raw_and_processed_of_one_measurement_only():
    twin = twin_rows(_table())
    assert twin.tolist() == [1, 0, -1, -1, -1, -1, -1]
    keys = measurement_keys(_table())
    assert keys[0] == keys[1] != keys[2]


@pytest.mark.parametrize(("train", "expected"), [
    ([1, 2, 3, 4], "twin"),
    ([2, 3, 4], "same specimen"),
    ([3, 4], "same species"),
    ([4], "nothing"),
])
def test_relation_is_the_closest_relative_in_training(train, expected):
    table = _table()
    rel = relation_in_training(table, twin_rows(table), np.array(train), np.array([0]))
    assert rel.tolist() == [expected]


def test_breakdown_counts_and_accuracies():
    rel = np.array(["twin", "twin", "nothing", "same specimen"], dtype=object)
    out = breakdown(rel, {"1nn": np.array([True, False, False, True])}).set_index("relation")
    assert out.loc["twin", "n_test"] == 2 and out.loc["twin", "accuracy_1nn"] == 0.5
    assert out.loc["all", "share"] == 1.0 and out.loc["all", "accuracy_1nn"] == 0.5
    assert np.isnan(out.loc["same species", "accuracy_1nn"])


def test_paired_share():
    assert paired_share(10, 6) == pytest.approx(12 / 16)
    assert paired_share(0, 0) == 0.0


def test_twin_breakdown_is_written_cached_and_counts_every_test_spectrum(tmp_path,
                                                                        monkeypatch):
    import rruffgeo.network.leakage as leakage
    from rruffgeo.results import TwinBreakdown
    from synthetic_learn import make_workdir, tiny_settings

    wd = make_workdir(tmp_path, n_countries=3, specimens=6, per_specimen=3)
    settings = tiny_settings(folds=3)
    first = leakage.twin_breakdown(wd, settings, progress=False)
    table = first.table().set_index("relation")
    from rruffgeo.dataset import learning_table

    # every learning spectrum is tested once over the folds, under exactly one relation
    assert table.loc["all", "n_test"] == len(learning_table(wd, settings))
    assert table.loc["all", "n_test"] == sum(table.loc[list(leakage.RELATIONS), "n_test"])
    assert first.models == ["1nn", "majority"] and first.n_folds == 3
    same = json.dumps(first.to_json())  # NaN marks a relation without test spectra
    assert json.dumps(TwinBreakdown.read(wd.twins_file).to_json()) == same

    def fail(*args, **kwargs):
        raise AssertionError("recomputed although cached")

    monkeypatch.setattr(leakage, "_score_folds", fail)
    assert json.dumps(leakage.twin_breakdown(wd, settings, progress=False).to_json()) == same
    with pytest.raises(AssertionError, match="recomputed"):
        leakage.twin_breakdown(wd, settings, progress=False, force=True)


def test_damaged_twin_breakdown_names_the_file_and_field(tmp_path):
    from rruffgeo.errors import UserError
    from rruffgeo.results import TwinBreakdown

    path = tmp_path / "twins.json"
    path.write_text('{"key": "k", "split": "spectrum"}')
    with pytest.raises(UserError, match=r"twins.json.*n_folds.*missing"):
        TwinBreakdown.read(path)
    assert TwinBreakdown.read(tmp_path / "absent.json") is None


def test_the_breakdown_adds_the_network_once_its_cv_split_by_spectrum_is_done(tmp_path):
    import rruffgeo.network.leakage as leakage
    from rruffgeo.network import run_cv
    from rruffgeo.workdir import FOLD_PREDICTIONS
    from synthetic_learn import make_workdir, tiny_settings

    wd = make_workdir(tmp_path, n_countries=3, specimens=6, per_specimen=3)
    settings = tiny_settings(folds=3)
    assert leakage.twin_breakdown(wd, settings, progress=False).models == ["1nn", "majority"]
    cv = run_cv(wd, settings, "spectrum", progress=False)
    both = leakage.twin_breakdown(wd, settings, progress=False)  # not the cached 1-NN-only one
    assert both.models == ["network", "1nn", "majority"]
    overall = both.table().set_index("relation").loc["all"]
    n = sum(f.n_test for f in cv.folds)
    for model, scores in (("network", "network"), ("1nn", "baseline_1nn")):
        correct = sum(f.scores(scores)["accuracy"] * f.n_test for f in cv.folds)
        assert overall[f"accuracy_{model}"] == pytest.approx(correct / n)
    # a fold without its predictions (finished by an older version) leaves the network out
    (wd.model_dir("cv", "spectrum", 1) / FOLD_PREDICTIONS).unlink()
    assert leakage.twin_breakdown(wd, settings, progress=False).models == ["1nn", "majority"]
