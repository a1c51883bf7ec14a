import json
import sys
import types

import numpy as np
import pandas as pd

from rruffgeo.cli import main
from synthetic_learn import make_workdir, spectrum


def test_spectra_train_cv_predict_commands(tmp_path, capsys, monkeypatch):
    wd = tmp_path / "wd"
    make_workdir(wd)
    assert main(["spectra", "--workdir", str(wd), "--grid-points", "64"]) == 0
    assert "could not be resampled" in capsys.readouterr().out
    common = ["--workdir", str(wd), "--grid-points", "64", "--epochs", "1", "--batch-size",
              "16", "--device", "cpu", "--no-progress"]
    assert main(["cv", "--split", "specimen", "--folds", "2", *common]) == 0
    out = capsys.readouterr().out
    assert "1-NN cosine" in out and "folds [2]" in out
    assert json.loads((wd / "metrics/cv_specimen.json").read_text())["folds"][0]["fold"] == 1
    # The hold-out model uses the flatten head: it must save, reload and predict like "avg".
    assert main(["train", "--head", "flatten", *common]) == 0
    capsys.readouterr()
    meta = json.loads((wd / "models/holdout_spectrum/model.json").read_text())
    assert meta["settings"]["model"]["head_pool"] == "flatten"

    good = tmp_path / "good.csv"
    x, y = spectrum(0, np.random.default_rng(0))
    good.write_text("".join(f"{a},{b}\n" for a, b in zip(x, y, strict=True)))
    bad = tmp_path / "bad.csv"
    bad.write_text("hello\nworld\n")
    model = str(wd / "models/holdout_spectrum")
    assert main(["predict", "--model", model, str(good), str(bad)]) == 0
    captured = capsys.readouterr()
    assert "USA" in captured.out or "BRA" in captured.out
    assert "refused" in captured.err and "bad.csv" in captured.err
    out_csv = tmp_path / "pred.csv"
    assert main(["predict", "--model", model, "--top-k", "2", "--output", str(out_csv),
                 str(good)]) == 0
    assert len(pd.read_csv(out_csv)) == 2
    out_json = tmp_path / "pred.json"
    assert main(["predict", "--model", model, "--output", str(out_json), str(bad)]) == 1
    assert json.loads(out_json.read_text())["refused"][0]["file"] == str(bad)

    # --map hands every class probability to the report stage's map function.
    calls = []

    def plot_prediction_map(probabilities, title, out_base):
        calls.append((dict(probabilities), title, out_base))
        return [out_base.with_suffix(".png")]

    fake = types.ModuleType("rruffgeo.report.maps")
    fake.plot_prediction_map = plot_prediction_map
    monkeypatch.setitem(sys.modules, "rruffgeo.report.maps", fake)
    assert main(["predict", "--model", model, "--map", str(tmp_path / "maps"), str(good)]) == 0
    (probs, title, out_base), = calls
    assert set(probs) == {"USA", "BRA", "ITA"} and abs(sum(probs.values()) - 1) < 1e-4
    assert "good.csv" in title and out_base == tmp_path / "maps" / "good"
