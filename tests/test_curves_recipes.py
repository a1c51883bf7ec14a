"""Curves in fold results and metrics/curves_*.csv, the inner validation split, recipes."""

import json

import numpy as np
import pandas as pd
import pytest

from rruffgeo.config import Settings, replace
from rruffgeo.network import run_cv
from rruffgeo.network.modelio import build_network
from rruffgeo.network.train import make_optimizer
from rruffgeo.recipes import PAPER, departures, recipe_settings
from rruffgeo.splits import cv_splits, inner_split
from synthetic_learn import make_workdir, tiny_settings


def test_cv_records_curves_per_epoch_in_results_and_csv(tmp_path):
    wd = make_workdir(tmp_path / "w")
    s = tiny_settings(epochs=3)
    run_cv(wd, s, split="specimen", progress=False)
    result = json.loads((tmp_path / "w/models/cv_specimen/fold_1/result.json").read_text())
    history = result["history"]
    assert [h["epoch"] for h in history] == [1, 2, 3]
    for key in ("train_loss", "test_loss", "test_accuracy", "test_f1_macro", "step"):
        assert all(key in h for h in history), key
    assert history[-1]["test_accuracy"] == pytest.approx(result["network"]["accuracy"])
    curves = pd.read_csv(tmp_path / "w/metrics/curves_cv_specimen.csv")
    assert list(curves.columns) == ["fold", "epoch", "step", "train_loss", "test_loss",
                                    "test_accuracy", "test_f1_macro", "epoch_s"]
    assert len(curves) == 3 * 3 and sorted(curves["fold"].unique()) == [1, 2, 3]


def test_inner_validation_is_grouped_and_inside_the_training_part(tmp_path):
    wd = make_workdir(tmp_path / "w", specimens=8)
    s = tiny_settings(epochs=2)
    s = replace(s, train=replace(s.train, inner_val_fraction=0.25))
    run_cv(wd, s, split="specimen", progress=False)
    result = json.loads((tmp_path / "w/models/cv_specimen/fold_0/result.json").read_text())
    assert result["n_inner_val"] > 0
    assert all("val_accuracy" in h and "val_loss" in h for h in result["history"])
    curves = pd.read_csv(tmp_path / "w/metrics/curves_cv_specimen.csv")
    assert {"val_loss", "val_accuracy", "val_f1_macro"} <= set(curves.columns)


def test_inner_split_keeps_specimens_together():
    y = np.repeat(np.arange(3), 20)
    groups = np.repeat(np.arange(30), 2)
    tr, _te = cv_splits(y, groups, "specimen", 3, 0)[0]
    fit, val = inner_split(y[tr], groups[tr], "specimen", 0.25, 0)
    assert len(val) and not set(groups[tr][fit]) & set(groups[tr][val])
    with pytest.raises(ValueError, match="inner_val_fraction"):
        inner_split(y, groups, "specimen", 1.5, 0)


def test_paper_recipe_is_what_the_paper_states_and_default_lists_its_departures():
    paper = recipe_settings("paper")
    assert departures(paper) == {}
    assert paper.train.weight_decay_groups == "all" and paper.train.warmup_steps == 0
    assert paper.model.head_pool == "avg" and paper.model.layer_scale_init == 1e-6
    assert set(departures(Settings())) == {"train.weight_decay_groups", "train.warmup_steps",
                                           "model.layer_scale_init", "model.head_pool",
                                           "train.aug_shift_cm1", "train.aug_scale",
                                           "train.aug_noise"}
    assert departures(recipe_settings("default+avg+no-augment")).keys() == {
        "train.weight_decay_groups", "train.warmup_steps", "model.layer_scale_init"}
    assert departures(recipe_settings("paper+augment"))["train.aug_scale"]["used"] == 0.15
    assert ("train", "weight_decay") in PAPER
    with pytest.raises(ValueError, match="unknown variant"):
        recipe_settings("paper+nonsense")
    with pytest.raises(ValueError, match="starts with one of"):
        recipe_settings("fast")


def test_weight_decay_groups_all_decays_gamma_and_norms():
    s = recipe_settings("paper")
    model = build_network(3, replace(s.model, depths=(1,), dims=(8,)), 64)
    groups = make_optimizer(model, s.train).param_groups
    assert sum(len(g["params"]) for g in groups if g["weight_decay"] > 0) == len(
        list(model.parameters()))
    matrices = make_optimizer(model, replace(s.train, weight_decay_groups="matrices"))
    undecayed = [p for g in matrices.param_groups if g["weight_decay"] == 0 for p in g["params"]]
    assert any(p is model.stages[0][0].gamma for p in undecayed)
    with pytest.raises(ValueError, match="weight_decay_groups"):
        make_optimizer(model, replace(s.train, weight_decay_groups="some"))


def test_cli_recipe_and_inner_val():
    import argparse

    from rruffgeo.cli.common import settings_from_args

    args = argparse.Namespace(recipe="paper+label-smoothing", inner_val=0.2, lr=2e-3)
    s = settings_from_args(args)
    assert s.train.label_smoothing == 0.1 and s.train.inner_val_fraction == 0.2
    assert s.train.lr == 2e-3 and s.train.weight_decay_groups == "all"
    with pytest.raises(ValueError, match="--inner-val"):
        settings_from_args(argparse.Namespace(inner_val=1.0))
