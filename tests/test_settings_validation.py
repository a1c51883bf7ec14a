"""Every setting is checked where it is defined: one line naming the option, non-zero exit."""

from __future__ import annotations

import pytest

from helpers import run_cli
from rruffgeo.cli import main
from rruffgeo.config import (
    ModelSettings,
    ProvenanceSettings,
    SettingError,
    Settings,
    SpectraSettings,
    Split,
    TrainSettings,
    from_dict,
    replace,
    result_fingerprint,
    to_dict,
)

BAD_OPTIONS = [
    (["train", "--batch-size", "0"], "--batch-size 0"),
    (["train", "--batch-size", "-5"], "--batch-size -5"),
    (["train", "--epochs", "0"], "--epochs 0"),
    (["cv", "--epochs", "-1"], "--epochs -1"),
    (["train", "--lr", "nan"], "--lr nan"),
    (["train", "--lr", "-1"], "--lr -1"),
    (["spectra", "--grid-points", "3"], "--grid-points 3"),
    (["train", "--grid-points", "0"], "--grid-points 0"),
    (["train", "--grid-points", "20"], "--grid-points 20"),
    (["train", "--network-pool", "65"], "--network-pool 65"),
    (["cv", "--network-pool", "64", "--grid-points", "1024"],
     "--grid-points 1024: a network of 4 stages with --network-pool 64 needs at least 2048"),
    (["run", "--network-pool", "-1"], "--network-pool -1"),
    (["train", "--device", "tpu"], "--device tpu"),
    (["cv", "--n-folds", "1"], "--n-folds 1"),
    (["train", "--threads", "-2"], "--threads -2"),
    (["run", "--epochs", "0"], "--epochs 0"),
    (["run", "--min-samples-per-country", "0"], "--min-samples-per-country 0"),
    (["run", "--workers", "-1"], "--workers -1"),
    (["run", "--folds", "3"], "--folds 3"),
    (["predict", "--model", "m", "x.csv", "--top-k", "0"], "--top-k 0"),
    (["predict", "--model", "m", "x.csv", "--device", "tpu"], "--device tpu"),
]


@pytest.mark.parametrize(("argv", "named"), BAD_OPTIONS)
def test_bad_option_is_one_line_naming_it(argv, named, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    work = tmp_path / "work"
    if argv[0] != "predict":
        argv = [*argv, "--workdir", str(work)]
    rc = main(argv)
    err = capsys.readouterr().err.strip()
    assert rc != 0
    assert len(err.splitlines()) == 1 and named in err, err
    assert not work.exists()  # nothing started, nothing written


def test_bad_option_has_no_traceback_from_the_command():
    res = run_cli("train", "--batch-size", "0", check=False)
    assert res.returncode == 1
    assert res.stderr.strip() == "rruffgeo train: error: --batch-size 0: must be at least 1"


@pytest.mark.parametrize(("make", "named"), [
    (lambda: ModelSettings(depths=(1_000_000, 2, 3, 2)), "depths"),
    (lambda: ModelSettings(depths=(2, 2), dims=(32, 64, 128)), "depths"),
    (lambda: ModelSettings(dims=(8, 0)), "dims"),
    (lambda: ModelSettings(head_pool="max"), "--head max"),
    (lambda: ModelSettings(head_dropout=1.0), "head_dropout"),
    (lambda: TrainSettings(split="random"), "--split random"),
    (lambda: TrainSettings(test_size=1.0), "test_size"),
    (lambda: TrainSettings(seed=-1), "--seed -1"),
    (lambda: TrainSettings(batch_size=2.5), "--batch-size 2.5"),
    (lambda: SpectraSettings(window_cm1=(500.0, 100.0)), "window_cm1"),
    (lambda: ProvenanceSettings(n_folds=1), "--n-folds 1"),
    (lambda: ProvenanceSettings(seed=-1), "--seed -1"),
    (lambda: ProvenanceSettings(inner_folds=1), "inner_folds"),
    (lambda: ProvenanceSettings(knn_k=(20, 801)), "knn_k .*at most 800"),
    (lambda: ProvenanceSettings(knn_k=()), "knn_k"),
    (lambda: ProvenanceSettings(knn_tau=(0.0,)), "knn_tau"),
    (lambda: ProvenanceSettings(knn_lam=(1.5,)), "knn_lam"),
    (lambda: ProvenanceSettings(species_alpha=(-2.0,)), "species_alpha"),
    (lambda: ProvenanceSettings(levels=(0.8, 0.95)), "levels .*must hold 0.9"),
    (lambda: ProvenanceSettings(levels=(0.9, 1.0)), "levels"),
])
def test_settings_refuse_values_out_of_range(make, named):
    with pytest.raises(SettingError, match=named.replace("(", r"\(")):
        make()


def test_provenance_settings_survive_json_and_start_at_todays_values():
    s = Settings(provenance=ProvenanceSettings(knn_k=(5, 10), levels=(0.9,)))
    assert from_dict(Settings, to_dict(s)) == s
    d = ProvenanceSettings()
    assert (d.n_folds, d.seed) == (Settings().train.n_folds, Settings().train.seed)


def test_enum_fields_accept_their_names_and_survive_json():
    s = Settings(train=TrainSettings(split="specimen"), model=ModelSettings(head_pool="flatten"))
    assert s.train.split is Split.SPECIMEN and s.train.split == "specimen"
    assert to_dict(s)["train"]["split"] == "specimen"
    assert from_dict(Settings, to_dict(s)) == s


def test_result_fingerprint_ignores_where_and_how_fast():
    s = Settings()
    elsewhere = replace(s, train=replace(s.train, device="cpu", threads=1),
                        ingest=replace(s.ingest, workers=3))
    assert result_fingerprint(s) == result_fingerprint(elsewhere)
    assert result_fingerprint(s) != result_fingerprint(replace(s, train=replace(s.train,
                                                                                seed=1)))
