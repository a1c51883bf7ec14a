"""The public predict API: ``rruffgeo.open_model`` for both kinds of model folder, types
checked at the boundary, the README's quick start, the old import paths, and the writes that
must leave nothing behind (long names, SIGTERM)."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

import rruffgeo
from fault_inputs import bands, good_file
from rruffgeo.errors import UserError
from synthetic_predict import tiny_final, tiny_network, tiny_workdir

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    wd = tiny_workdir(tmp_path_factory.mktemp("api"))
    return {"final": tiny_final(wd), "network": tiny_network(wd)}


@pytest.fixture(params=["final", "network"])
def model(request, models):
    return rruffgeo.open_model(models[request.param])


def test_open_model_returns_the_kind_of_the_folder(models):
    final, network = rruffgeo.open_model(models["final"]), rruffgeo.open_model(models["network"])
    assert (final.kind, network.kind) == ("provenance", "network")
    assert final.classes == network.classes == ["BRA", "ITA", "USA"]
    with pytest.raises(UserError, match="not a model folder"):
        rruffgeo.open_model(models["final"].parent)


def test_the_documented_predictor_on_models_final_points_to_open_model(models):
    from rruffgeo.network import Predictor

    with pytest.raises(UserError, match="provenance model folder.*open_model"):
        Predictor(models["final"])


def test_both_kinds_predict_files_and_spectra_alike(model, tmp_path):
    good = good_file(tmp_path, model.grid_cm1)
    result = model.predict_files([good])
    assert result.names == [str(good)] and result.refused == []
    assert result.proba.shape == (1, 3) and np.isclose(result.proba.sum(), 1, atol=1e-4)
    table = result.table(top_k=2)
    assert table["rank"].tolist() == [1, 2] and table["file"].iloc[0] == str(good)
    x = np.linspace(model.grid_cm1[0], model.grid_cm1[-1] * 0.6, 400)
    again = model.predict_spectra([(x, bands(x))])
    assert again.names == ["spectrum 1"]


@pytest.mark.parametrize("wrong", ["x.txt", Path("x.txt")])
def test_one_path_where_a_list_belongs_is_a_type_error(model, wrong):
    with pytest.raises(TypeError, match="expected a list of files or folders, got one"):
        model.predict_files(wrong)


def test_rows_on_the_grid_are_checked_for_shape_and_nan(model):
    G = len(model.grid_cm1)
    with pytest.raises(ValueError, match=rf"expected \(n, G\) with G = {G}"):
        model.predict_spectra(np.zeros((2, G + 1)))
    rows = np.random.default_rng(0).random((3, G))
    rows[1, 4] = np.nan
    with pytest.raises(ValueError, match="rows 1 hold NaN"):
        model.predict_spectra(rows)
    rows[1, 4] = 0.5
    assert len(model.predict_spectra(rows)) == 3


def test_one_spectrum_where_a_list_belongs_is_a_type_error(model):
    import pandas as pd

    x = np.linspace(200, 900, 300)
    for one in ((x, bands(x)), pd.DataFrame({"wavenumber": x, "intensity": bands(x)})):
        with pytest.raises(TypeError, match="wrap one spectrum"):
            model.predict_spectra(one)
    with pytest.raises(TypeError, match="for files use predict_files"):
        model.predict_spectra("my_spectrum.txt")


def test_importing_rruffgeo_does_not_import_torch():
    code = ("import sys, rruffgeo, rruffgeo.predict; rruffgeo.open_model; "
            "print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env={"PYTHONPATH": str(REPO / "src")}, check=True)
    assert out.stdout.strip() == "False"


def test_old_import_paths_work_with_a_deprecation_warning():
    for old in ("rruffgeo.model.predict", "rruffgeo.model.provenance_final"):
        sys.modules.pop(old, None)
        with pytest.warns(DeprecationWarning, match="moved to"):
            module = __import__(old, fromlist=["x"])
        assert hasattr(module, "Predictor" if old.endswith("predict") else
                       "ProvenancePredictor")


def test_readme_quick_start_runs(models, tmp_path, monkeypatch):
    text = (REPO / "README.md").read_text()
    block = re.search(r"## Quick start: predict your own spectrum.*?```python\n(.*?)```",
                      text, re.S).group(1)
    assert "rruffgeo.open_model" in block and "predict_files" in block
    good_file(tmp_path, rruffgeo.open_model(models["final"]).grid_cm1, "my_spectrum.txt")
    monkeypatch.chdir(tmp_path)
    code = block.replace("rruffgeo-work/models/final", str(models["final"]))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a good spectrum: no warning either
        exec(compile(code, "README.md", "exec"), {})


def test_a_target_name_near_the_limit_gets_a_short_temporary_name(tmp_path):
    from rruffgeo.workdir import write_text_atomic

    target = tmp_path / ("t" * 250 + ".csv")[-255:]
    write_text_atomic(target, "a,b\n")
    assert target.read_text() == "a,b\n" and [p.name for p in tmp_path.iterdir()] == [
        target.name]


def test_sigterm_during_an_atomic_write_leaves_no_temporary_file(tmp_path):
    code = ("import sys, time\nfrom rruffgeo.workdir import atomic_path\n"
            f"with atomic_path({str(tmp_path / 'matrix.npy')!r}) as tmp:\n"
            "    tmp.write_bytes(b'x' * 1000)\n    print('writing', flush=True)\n"
            "    time.sleep(60)\n")
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True,
                            env={"PYTHONPATH": str(REPO / "src")})
    assert proc.stdout.readline().strip() == "writing"
    assert len(list(tmp_path.glob(".matrix.npy.*.tmp"))) == 1
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=30) == -signal.SIGTERM  # still ends as SIGTERM does
    proc.stdout.close()
    assert list(tmp_path.iterdir()) == []


def test_a_hash_in_a_file_name_is_part_of_the_file_not_a_spectrum_number(tmp_path):
    from rruffgeo.errors import UserError
    from rruffgeo.output_plan import check_not_inputs, map_names
    from rruffgeo.spectra.spectrum import file_of

    assert file_of("spec#1.csv") == "spec#1.csv" and file_of("map.txt#12") == "map.txt"
    mine = tmp_path / "spec#1.csv"
    mine.write_text("100,1\n")
    with pytest.raises(UserError, match="is one of the input files"):
        check_not_inputs([mine], [str(mine)])
    with pytest.raises(UserError, match="is one of the input files"):
        check_not_inputs([mine], [f"{mine}#2"])  # its second spectrum names the same file
    stems = {n: p.name for n, p in map_names(["run#1.txt#2", "run#1.txt#3"], tmp_path).items()}
    assert stems == {"run#1.txt#2": "run_1_2", "run#1.txt#3": "run_1_3"}
