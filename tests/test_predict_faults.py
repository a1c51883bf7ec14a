"""Bad inputs to ``predict``: each refused in one line naming the file and the problem, with a
non-zero exit and no traceback, the same for a network and a final model; nothing overwritten;
one bad file never stops a batch."""

from __future__ import annotations

import json

import numpy as np
import pytest

from fault_inputs import FINAL_DEFECTS, NETWORK_DEFECTS, SPECTRUM_PROBES, damaged_copy, good_file
from rruffgeo.cli import main
from rruffgeo.predict import open_model
from synthetic_predict import tiny_final, tiny_network, tiny_workdir


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    wd = tiny_workdir(tmp_path_factory.mktemp("faults"))
    return {"final": tiny_final(wd), "network": tiny_network(wd)}


@pytest.fixture(params=["final", "network"])
def model(request, models):
    return models[request.param]


def _grid(model_dir):
    return open_model(model_dir).grid_cm1


def _one_line_error(err: str) -> str:
    assert "Traceback" not in err
    lines = [ln for ln in err.splitlines() if not ln.startswith("rruffgeo: warning:")]
    assert len(lines) == 1, err
    return lines[0]


@pytest.mark.parametrize("probe", SPECTRUM_PROBES, ids=lambda p: p.name)
def test_each_bad_spectrum_is_refused_in_one_line_by_both_models(probe, model, tmp_path,
                                                                  capsys):
    grid = _grid(model)
    bad = probe.build(tmp_path, grid)
    good = good_file(tmp_path, grid)
    out = tmp_path / "out.json"
    rc = main(["predict", str(bad), str(good), "--model", str(model), "--output", str(out)])
    err = capsys.readouterr().err
    assert rc == 0, err  # the good file is still predicted
    refused = [ln for ln in err.splitlines() if ln.startswith("refused:")]
    assert len(refused) == 1 and "Traceback" not in err, err
    assert f"{bad}{probe.source_suffix}:" in refused[0] and probe.expect in refused[0]
    doc = json.loads(out.read_text())
    predicted = set(doc["predictions"])
    assert str(good) in predicted and str(bad) not in predicted
    if probe.source_suffix:  # the usable spectrum of the same file is predicted
        assert f"{bad}#1" in predicted


def test_a_spectrum_alone_that_is_refused_exits_1(models, tmp_path, capsys):
    bad = SPECTRUM_PROBES[0].build(tmp_path, _grid(models["final"]))
    rc = main(["predict", str(bad), "--model", str(models["final"])])
    assert rc == 1
    assert str(bad) in capsys.readouterr().err


#: Each kind of model with its defects and the file the one line must name besides the folder
#: (a final model's defects name their own file: provenance.json or library.npz).
DAMAGED = [pytest.param(kind, file, *defects[name], id=f"{kind}: {name}")
           for kind, file, defects in (("final", "", FINAL_DEFECTS),
                                       ("network", "model.json", NETWORK_DEFECTS))
           for name in defects]


@pytest.mark.parametrize(("kind", "file", "edit", "expect"), DAMAGED)
def test_a_damaged_model_is_refused_naming_file_and_field(kind, file, edit, expect, models,
                                                          tmp_path, capsys):
    folder = damaged_copy(models[kind], tmp_path / kind, edit)
    good = good_file(tmp_path, _grid(models[kind]))
    rc = main(["predict", str(good), "--model", str(folder)])
    line = _one_line_error(capsys.readouterr().err)
    assert rc == 1 and str(folder) in line and file in line and expect in line, line


@pytest.mark.parametrize("output", ["same.csv", "same.json"])
def test_output_equal_to_an_input_is_refused_and_the_input_kept(output, model, tmp_path,
                                                                 capsys):
    spectrum = good_file(tmp_path, _grid(model), output)
    before = spectrum.read_bytes()
    rc = main(["predict", str(spectrum), "--model", str(model), "--output", str(spectrum)])
    line = _one_line_error(capsys.readouterr().err)
    assert rc == 1 and "is one of the input files" in line
    assert spectrum.read_bytes() == before


def test_output_inside_an_input_folder_named_like_a_spectrum_is_refused(models, tmp_path,
                                                                        capsys):
    folder = tmp_path / "in"
    folder.mkdir()
    spectrum = good_file(folder, _grid(models["final"]), "a.csv")
    before = spectrum.read_bytes()
    rc = main(["predict", str(folder), "--model", str(models["final"]), "--output",
               str(spectrum)])
    assert rc == 1 and "is one of the input files" in capsys.readouterr().err
    assert spectrum.read_bytes() == before


def test_maps_of_same_named_inputs_and_of_multi_spectrum_files_are_distinct(model, tmp_path,
                                                                            capsys):
    grid = _grid(model)
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    one, two = good_file(tmp_path / "a", grid, "s.csv"), good_file(tmp_path / "b", grid, "s.csv")
    x = np.linspace(grid[0], grid[-1], 200)
    rows = [x, 100 * np.exp(-((x - x.mean()) / 9) ** 2) + 5, np.sin(x / 30) + 2]
    multi = tmp_path / "m.txt"
    multi.write_text("\n".join("\t".join(f"{v:.4f}" for v in r) for r in rows) + "\n")
    maps = tmp_path / "maps"
    rc = main(["predict", str(one), str(two), str(multi), "--model", str(model), "--map",
               str(maps)])
    out = capsys.readouterr().out
    printed = [ln for ln in out.splitlines() if ln.startswith("map:")]
    assert rc == 0 and len(printed) == 4 and len(set(printed)) == 4
    assert len(list(maps.glob("*.png"))) == 4


def test_a_file_given_twice_is_predicted_and_counted_once(model, tmp_path, capsys):
    good = good_file(tmp_path, _grid(model))
    out = tmp_path / "out.json"
    with pytest.warns(UserWarning, match="good.csv: given more than once; predicted once"):
        rc = main(["predict", str(good), str(good), str(tmp_path), "--model", str(model),
                   "--output", str(out)])
    assert rc == 0
    assert list(json.loads(out.read_text())["predictions"]) == [str(good)]
    assert "1 predicted" in capsys.readouterr().out


@pytest.mark.parametrize("suffix", [".csv", ".json"])
def test_a_250_character_output_name_works(suffix, model, tmp_path, capsys):
    good = good_file(tmp_path, _grid(model))
    out = tmp_path / ("p" * (250 - len(suffix)) + suffix)
    rc = main(["predict", str(good), "--model", str(model), "--output", str(out)])
    assert rc == 0, capsys.readouterr().err
    assert out.exists() and not list(tmp_path.glob(".*.tmp"))


@pytest.mark.parametrize("argv, expect", [
    (["--preprocess", "baseline:arpls:-1"], "LAMBDA must be"),
    (["--preprocess", "baseline:foo"], "method 'foo'"),
    (["--preprocess", "smooth:-5"], "WINDOW must be"),
    (["--preprocess", "despike:nan"], "THRESHOLD must be"),
    (["--neighbours", "-3"], "--neighbours -3"),
    (["--species", "-1"], "--species -1"),
    (["--mineral", "Unobtainium"], "not a species of the reference library"),
])
def test_bad_options_are_refused_before_the_run(argv, expect, models, tmp_path, capsys):
    good = good_file(tmp_path, _grid(models["final"]))
    rc = main(["predict", str(good), "--model", str(models["final"]), *argv])
    captured = capsys.readouterr()
    line = _one_line_error(captured.err)
    assert rc == 1 and expect in line and captured.out == ""


def test_an_accented_mineral_is_matched_with_a_message(models, tmp_path, capsys):
    good = good_file(tmp_path, _grid(models["final"]))
    out = tmp_path / "p.json"
    with pytest.warns(UserWarning, match="--mineral 'QUÁRTZ' taken as 'Quartz'"):
        rc = main(["predict", str(good), "--model", str(models["final"]), "--mineral",
                   "QUÁRTZ", "--output", str(out)])
    assert rc == 0
    doc = json.loads(out.read_text())["predictions"][str(good)]
    assert doc["evidence"] == "spectrum+mineral" and doc["mineral_given"] == "Quartz"


def test_an_empty_folder_is_one_line_naming_it(model, tmp_path, capsys):
    empty = tmp_path / "empty"
    empty.mkdir()
    rc = main(["predict", str(empty), "--model", str(model)])
    err = capsys.readouterr().err
    assert rc == 1 and err.count("\n") == 1 and f"{empty}: no spectrum files" in err


def test_control_characters_in_names_are_escaped(models, tmp_path, capsys):
    grid = _grid(models["final"])
    bad = SPECTRUM_PROBES[4].build(tmp_path, grid)  # all zero
    evil = bad.rename(tmp_path / "x\nrefused: forged\x1b[31m.csv")
    rc = main(["predict", str(evil), str(good_file(tmp_path, grid)), "--model",
               str(models["final"])])
    captured = capsys.readouterr()
    assert rc == 0 and "\x1b" not in captured.err + captured.out
    assert "forged" in captured.err and captured.err.count("refused:") == 2
    assert len([ln for ln in captured.err.splitlines() if ln.startswith("refused:")]) == 1
    assert "\\n" in captured.err and "\\x1b" in captured.err


def test_ctrl_c_during_predict_says_what_was_kept(models, tmp_path, capsys, monkeypatch):
    import rruffgeo.predict as api

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt
        yield  # a generator, like read_paths

    monkeypatch.setattr(api, "read_paths", interrupted)
    good = good_file(tmp_path, _grid(models["final"]))
    rc = main(["predict", str(good), "--model", str(models["final"]), "--output",
               str(tmp_path / "p.csv")])
    err = capsys.readouterr().err
    assert rc == 130 and "nothing was written" in err and "finished work is kept" not in err
    assert not (tmp_path / "p.csv").exists()


def test_stitched_windows_pass_and_an_axis_in_no_order_is_refused(models, tmp_path):
    from rruffgeo.spectra.checks import check_spectrum
    from rruffgeo.spectra.spectrum import Spectrum

    grid = _grid(models["final"])
    x1, x2 = np.linspace(grid[0], grid[0] + 500, 200), np.linspace(grid[0] + 450, grid[-1], 300)
    x = np.concatenate([x1, x2])  # two windows, overlapping by 50 cm-1
    y = np.concatenate([np.sin(x1 / 20) + 2, np.sin(x2 / 20) + 2])
    assert check_spectrum(Spectrum(x, y, {"source": "s"}), grid).refusal is None
    shuffled = np.random.default_rng(0).permutation(x)
    verdict = check_spectrum(Spectrum(shuffled, y, {"source": "s"}), grid)
    assert "changes direction" in verdict.refusal


def test_arrays_given_in_python_are_not_taken_for_nm(models):
    from rruffgeo.spectra.checks import check_spectrum
    from rruffgeo.spectra.spectrum import Spectrum

    x = np.linspace(535.0, 700.0, 300)
    y = np.sin(x / 10) + 2
    grid = _grid(models["final"])
    assert check_spectrum(Spectrum(x, y, {"source": "s"}), grid).refusal is None
    read = Spectrum(x, y, {"source": "s", "x_units": "cm-1 (assumed)"})
    assert "wavelength in nm" in check_spectrum(read, grid).refusal


def test_mineral_auto_says_when_a_files_names_give_no_evidence(models, tmp_path):
    x = np.linspace(100, 900, 300)
    body = "\n".join(f"{a:.2f}, {b:.4f}" for a, b in zip(x, np.sin(x / 20) + 2, strict=True))
    f = tmp_path / "odd.txt"
    f.write_text(f"##NAMES=Unobtainium\n##RRUFFID=R999999\n{body}\n##END=\n")
    with pytest.warns(UserWarning, match="odd.txt: --mineral auto: ##NAMES 'Unobtainium' is "
                      "not a species"):
        result = open_model(models["final"]).predict_files([f], mineral="auto")
    assert result.details[0].evidence == "spectrum"
