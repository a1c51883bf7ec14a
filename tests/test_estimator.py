import numpy as np
import pytest
from sklearn.base import clone

from rruffgeo.network.estimator import ConvNeXt1DClassifier
from synthetic_learn import spectrum


def _data(n=24, grid=64):
    rng = np.random.default_rng(0)
    y = np.array(["ITA", "BRA", "USA"] * (n // 3))
    X = np.stack([np.interp(np.linspace(100, 1300, grid), *spectrum("IBU".index(c[0]), rng))
                  for c in y])
    return (X / X.max(axis=1, keepdims=True)).astype(np.float32), y


def _small(**kw):
    return ConvNeXt1DClassifier(depths=(1, 1), dims=(8, 16), epochs=2, batch_size=8,
                                warmup_steps=2, device="cpu", grid_step_cm1=2.0, **kw)


def test_sklearn_params_and_clone():
    est = _small(random_state=3)
    assert est.get_params()["random_state"] == 3
    c = clone(est).set_params(epochs=1)
    assert c.epochs == 1 and est.epochs == 2 and not hasattr(c, "model_")


def test_fit_predict_shapes_and_determinism():
    X, y = _data()
    a = _small(random_state=1).fit(X, y)
    assert list(a.classes_) == ["BRA", "ITA", "USA"] and a.n_features_in_ == X.shape[1]
    proba = a.predict_proba(X)
    assert proba.shape == (len(X), 3) and np.allclose(proba.sum(1), 1, atol=1e-5)
    assert set(a.predict(X)) <= set(a.classes_)
    b = _small(random_state=1).fit(X, y)
    np.testing.assert_array_equal(proba, b.predict_proba(X))
    with pytest.raises(ValueError, match="features"):
        a.predict(X[:, :32])


def test_unfitted_estimator_refuses_to_predict():
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        _small().predict(np.zeros((2, 64)))


def test_too_short_spectra_are_refused_with_a_reason():
    X, y = _data(grid=64)
    with pytest.raises(ValueError, match="needs at least 8"):
        _small().fit(X[:, :4], y)


@pytest.mark.parametrize("check", [
    "check_estimator_cloneable", "check_estimator_repr", "check_get_params_invariance",
    "check_set_params", "check_no_attributes_set_in_init",
    "check_parameters_default_constructible", "check_do_not_raise_errors_in_init_or_set_params",
    "check_estimators_unfitted",
])
def test_sklearn_api_checks(check):
    from sklearn.utils import estimator_checks

    getattr(estimator_checks, check)("ConvNeXt1DClassifier", _small())


def test_shift_augmentation_needs_the_grid_step():
    X, y = _data()
    est = ConvNeXt1DClassifier(depths=(1, 1), dims=(8, 16), epochs=1, device="cpu")
    with pytest.raises(ValueError, match="needs grid_step_cm1"):
        est.fit(X, y)
    est.set_params(aug_shift_cm1=0.0).fit(X, y)  # no shift: no unit needed
    assert est.head_pool == "flatten" and est.model_.head_pool == "flatten"
