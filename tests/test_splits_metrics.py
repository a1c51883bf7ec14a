import numpy as np
import pytest
from sklearn.neighbors import KNeighborsClassifier

from rruffgeo.network.baseline import nn1_cosine_scores
from rruffgeo.network.metrics import METRICS, fold_metrics, per_class_metrics, top_k_accuracy
from rruffgeo.splits import cv_splits, holdout_split


def _labels(seed=0):
    rng = np.random.default_rng(seed)
    groups = np.repeat(np.arange(60), rng.integers(1, 4, 60))
    y = groups % 4  # country is a property of the specimen
    return y, groups


def test_specimen_split_has_no_specimen_on_both_sides():
    y, groups = _labels()
    for tr, te in cv_splits(y, groups, "specimen", 5, seed=3):
        assert not set(groups[tr]) & set(groups[te])
    tr, te = holdout_split(y, groups, "specimen", 0.2, seed=3)
    assert not set(groups[tr]) & set(groups[te])


def test_spectrum_split_is_stratified_and_covers_everything():
    y, groups = _labels()
    folds = cv_splits(y, groups, "spectrum", 5, seed=0)
    test_all = np.concatenate([te for _, te in folds])
    assert sorted(test_all) == list(range(len(y)))
    share = np.bincount(y) / len(y)
    for _, te in folds:
        assert np.abs(np.bincount(y[te], minlength=4) / len(te) - share).max() < 0.1


def test_splits_are_deterministic_and_seed_dependent():
    y, groups = _labels()
    a = cv_splits(y, groups, "specimen", 5, seed=1)
    b = cv_splits(y, groups, "specimen", 5, seed=1)
    c = cv_splits(y, groups, "specimen", 5, seed=2)
    assert all(np.array_equal(x[1], z[1]) for x, z in zip(a, b, strict=True))
    assert not all(np.array_equal(x[1], z[1]) for x, z in zip(a, c, strict=True))


def test_rare_classes_go_to_as_many_folds_as_they_have_samples():
    y = np.array([0] * 20 + [1] * 20 + [2, 2])
    folds = cv_splits(y, np.arange(len(y)), "spectrum", 5, seed=0)
    assert sum(2 in y[te] for _, te in folds) == 2


def test_unknown_split_is_refused():
    with pytest.raises(ValueError, match="unknown split"):
        cv_splits(np.zeros(10), np.arange(10), "mineral", 5, 0)


def test_metrics_values():
    y = np.array([0, 0, 1, 2])
    scores = np.array([[.9, .1, 0], [.2, .7, .1], [.1, .8, .1], [.5, .3, .2]])
    m = fold_metrics(y, scores)
    assert set(m) == set(METRICS)
    assert m["accuracy"] == pytest.approx(0.5)
    assert m["top3_accuracy"] == 1.0
    assert top_k_accuracy(y, scores, 1) == pytest.approx(0.5)
    pc = per_class_metrics(y, scores, 4)
    assert pc["f1"][3] is None and pc["recall"][0] == pytest.approx(0.5)


def test_nn1_cosine_agrees_with_scikit_learn():
    rng = np.random.default_rng(0)
    X, y = rng.random((50, 20)), rng.integers(0, 5, 50)
    Xt = rng.random((17, 20))
    scores = nn1_cosine_scores(X, y, Xt, n_classes=6, chunk=5)
    ref = KNeighborsClassifier(1, metric="cosine", algorithm="brute").fit(X, y).predict(Xt)
    np.testing.assert_array_equal(scores.argmax(1), ref)
    assert np.isneginf(scores[:, 5]).all()
