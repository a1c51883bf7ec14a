import json

import numpy as np
import pytest
import torch

from rruffgeo.config import replace
from rruffgeo.network import learning_table, run_cv, run_train
from rruffgeo.network.runtime import predict_proba
from rruffgeo.network.train import fit_network
from synthetic_learn import make_workdir, tiny_settings


def test_network_overfits_a_tiny_batch():
    rng = np.random.default_rng(0)
    X = rng.random((16, 64)).astype(np.float32)
    y = np.arange(16) % 4
    s = tiny_settings(epochs=60, grid=64, augment=False)  # memorising needs no noise
    s = replace(s, model=replace(s.model, dims=(16, 32), drop_path_rate=0.0, head_dropout=0.0),
                train=replace(s.train, batch_size=16, weight_decay=0.0, lr=1e-2))
    model, history = fit_network(X, y, 4, s, progress=False, device=torch.device("cpu"))
    assert history[-1]["train_loss"] < 0.1 < history[0]["train_loss"]
    assert (predict_proba(model, X, torch.device("cpu")).argmax(1) == y).all()


def _scores(report):
    """Everything but timings."""
    return [(f.fold, f.n_train, f.network, f.baseline_1nn) for f in report.folds]


def test_learning_table_keeps_natural_geolocated_frequent_countries(tmp_path):
    wd = make_workdir(tmp_path, n_countries=3)
    t = learning_table(wd, tiny_settings())
    assert set(t["country_iso3"]) == {"USA", "BRA", "ITA"}
    assert not t["specimen_id"].isin(["RSYN01", "RNOC01"]).any()
    assert {"spectrum_id", "specimen_id", "mineral", "country_iso3", "country_name"} <= set(t)


def test_cv_writes_metrics_in_contract_format_and_is_deterministic(tmp_path):
    wd_a = make_workdir(tmp_path / "a")
    wd_b = make_workdir(tmp_path / "b")
    s = tiny_settings()
    a = run_cv(wd_a, s, split="specimen", progress=False)
    b = run_cv(wd_b, s, split="specimen", progress=False)
    assert _scores(a) == _scores(b) and a.summary == b.summary
    on_disk = json.loads((tmp_path / "a/metrics/cv_specimen.json").read_text())
    assert on_disk["protocol"] == "cv" and on_disk["split"] == "specimen"
    assert on_disk["n_classes"] == 3 and len(on_disk["folds"]) == 3
    assert set(on_disk["summary"]) == {"network", "baseline_1nn"}
    for row in on_disk["folds"]:  # the class prior of each test fold, for the report
        assert len(row["test_counts"]) == 3 and sum(row["test_counts"]) == row["n_test"]
        assert {m: sum(c) for m, c in row["predicted_counts"].items()} == {
            "network": row["n_test"], "baseline_1nn": row["n_test"]}
    import pandas as pd

    pc = pd.read_csv(tmp_path / "a/metrics/cv_specimen_per_country.csv")
    assert list(pc.columns) == ["country_iso3", "country_name", "n_samples", "f1_mean", "f1_std",
                                "precision_mean", "precision_std", "recall_mean", "recall_std",
                                "f1_baseline_1nn_mean", "f1_baseline_1nn_std",
                                "precision_baseline_1nn_mean", "precision_baseline_1nn_std"]
    assert (tmp_path / "a/models/cv_specimen/fold_0/model.safetensors").exists()


def test_interrupted_cv_resumes_to_the_same_result(tmp_path, monkeypatch):
    s = tiny_settings(epochs=3)
    full = run_cv(make_workdir(tmp_path / "full"), s, progress=False)

    wd = make_workdir(tmp_path / "cut")
    import rruffgeo.network.evaluate as ev

    real_fit = ev.fit_network
    calls = {"n": 0}

    def interrupted_fit(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 2:  # second fold: stop after its second epoch
            def stop(epoch):
                if epoch == 2:
                    raise KeyboardInterrupt
            kwargs["on_epoch"] = stop
        return real_fit(*args, **kwargs)

    monkeypatch.setattr(ev, "fit_network", interrupted_fit)
    with pytest.raises(KeyboardInterrupt):
        run_cv(wd, s, progress=False)
    ckpt = tmp_path / "cut/models/cv_spectrum/fold_1/checkpoint.pt"
    assert ckpt.exists()
    assert torch.load(ckpt, weights_only=True)["epoch"] == 2
    monkeypatch.setattr(ev, "fit_network", real_fit)
    resumed = run_cv(wd, s, progress=False)
    assert resumed.summary == full.summary
    assert _scores(resumed) == _scores(full)


def test_holdout_train_and_fold_subset(tmp_path):
    wd = make_workdir(tmp_path)
    s = tiny_settings(epochs=1)
    r = run_train(wd, s, split="specimen", progress=False)
    assert r.evaluation.file_stem == "train" and len(r.folds) == 1
    assert (tmp_path / "models/holdout_specimen/model.json").exists()
    assert (tmp_path / "metrics/train_specimen_per_country.csv").exists()
    part = run_cv(wd, s, progress=False, folds=[1])
    assert part.folds_run == [1]
    with pytest.raises(ValueError, match="out of range"):
        run_cv(wd, s, progress=False, folds=[7])
