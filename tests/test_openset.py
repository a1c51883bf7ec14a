"""Open-set species answer (novelty), HQI and continent probabilities, on synthetic spectra."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from reference_answers import species_hqi
from rruffgeo.provenance.continents import (
    ContinentModel,
    continent_of,
    cross_fit,
    fit_continents,
    load_continents,
    membership,
)
from rruffgeo.provenance.hqi import hqi
from rruffgeo.provenance.library import ReferenceLibrary
from rruffgeo.provenance.novelty import (
    NoveltyModel,
    auroc,
    features,
    fit_novelty,
    hub_offsets,
    hub_offsets_of,
    load_novelty,
    open_set_folds,
    scores_from_top,
    top_similarities,
    view_name,
)

GRID = np.linspace(100, 1500, 256)


def _peaks(centres: list[float], rng: np.random.Generator, noise: float = 0.02) -> np.ndarray:
    y = sum(np.exp(-0.5 * ((GRID - c) / 8.0) ** 2) for c in centres)
    y = y + 0.3 * (GRID - GRID[0]) / (GRID[-1] - GRID[0]) + rng.normal(0, noise, len(GRID))
    return (y - y.min()) / (y.max() - y.min())


def _library(n_species: int = 30, per: int = 3, seed: int = 0
             ) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[list[float]]]:
    rng = np.random.default_rng(seed)
    centres = [list(rng.uniform(200, 1400, 3)) for _ in range(n_species)]
    X, sp, gr = [], [], []
    for s, cs in enumerate(centres):
        for j in range(per):
            X.append(_peaks([c + rng.normal(0, 2) for c in cs], rng))
            sp.append(f"sp{s}")
            gr.append(f"R{s:03d}{j}")
    return np.array(X, np.float32), np.array(sp), np.array(gr), centres


def test_open_set_folds_hold_out_whole_species_and_label_them() -> None:
    _, sp, gr, _ = _library()
    folds = open_set_folds(sp, gr, 5, seed=1)
    assert sum(len(q) for _, q, _ in folds) >= len(sp)
    for lib, query, out in folds:
        assert not set(lib) & set(query)
        assert not set(gr[lib]) & set(gr[query])  # a specimen is never on both sides
        lib_species = set(sp[lib])
        assert list(out) == [s not in lib_species for s in sp[query]]
        assert out.any() and (~out).any()


def test_auroc_matches_the_rank_definition() -> None:
    rng = np.random.default_rng(3)
    s, lab = rng.normal(size=200), rng.random(200) < 0.3
    s[lab] += 1.0
    pairs = (s[lab][:, None] > s[~lab][None, :]).mean() + 0.5 * (
        s[lab][:, None] == s[~lab][None, :]).mean()
    assert auroc(s, lab) == pytest.approx(pairs)
    assert np.isnan(auroc(s, np.zeros(200, bool)))


def test_top_similarities_are_the_k_largest_in_order() -> None:
    rng = np.random.default_rng(4)
    q, r = features(rng.random((7, 50)), "cosine"), features(rng.random((40, 50)), "cosine")
    top = top_similarities(q, r, 3)
    assert np.allclose(top, -np.sort(-(q @ r.T), axis=1)[:, :3], atol=1e-6)


def test_novelty_flags_unknown_and_flat_spectra_and_keeps_known_ones() -> None:
    X, sp, gr, centres = _library()
    model = fit_novelty(X, sp, gr, seed=0)
    chosen = view_name(model.kind, model.k, model.hub_weight)
    assert model.inner_auroc[chosen] == max(model.inner_auroc.values())  # the best inner view
    assert set(model.inner_auroc) == {view_name(k, n, w) for k in ("cosine", "correlation",
                                                                  "derivative")
                                      for n in (1, 5) for w in (0.0, 0.5)}
    rng = np.random.default_rng(9)
    known = np.array([_peaks(centres[i], rng) for i in range(10)])
    unknown = np.array([_peaks(list(rng.uniform(200, 1400, 3)), rng) for _ in range(10)])
    flat = np.zeros((1, len(GRID)), np.float32)
    s_known, s_unknown = model.score(known, X), model.score(unknown, X)
    assert model.is_novel(s_known).mean() <= 0.2
    assert model.is_novel(s_unknown).mean() >= 0.8
    assert model.is_novel(model.score(flat, X)).all()
    assert np.median(model.p_values(s_known)) > np.median(model.p_values(s_unknown))


def test_threshold_agrees_with_p_values_and_survives_a_round_trip(tmp_path) -> None:
    rng = np.random.default_rng(5)
    model = NoveltyModel("cosine", 1, rng.random(97), alpha=0.05)
    probe = np.linspace(-0.1, 1.1, 2001)
    assert np.array_equal(model.is_novel(probe), probe > model.threshold)
    assert model.is_novel(model.calibration).mean() == pytest.approx(0.05, abs=0.02)
    model.save(tmp_path)
    again = load_novelty(tmp_path)
    assert again is not None and again.kind == "cosine" and again.k == 1
    assert again.offsets is None and again.hub_weight == 0.0
    assert np.allclose(again.calibration, model.calibration, atol=1e-6)
    (tmp_path / "novelty.json").write_text("{}")
    assert load_novelty(tmp_path) is None


def test_hqi_is_squared_positive_correlation_on_a_0_100_scale() -> None:
    rng = np.random.default_rng(6)
    a, b = rng.random(300), rng.random(300)
    assert hqi(a, 3 * a + 2)[0, 0] == pytest.approx(100.0, abs=1e-3)
    assert hqi(a, -a)[0, 0] == 0.0
    r = np.corrcoef(a, a + b)[0, 1]
    assert hqi(a, a + b)[0, 0] == pytest.approx(100 * r * r, rel=1e-4)


def test_species_hqi_column_is_the_best_over_the_species_references() -> None:
    X, sp, gr, _ = _library(n_species=4, per=2)
    meta = pd.DataFrame({"spectrum_id": gr, "specimen_id": gr, "mineral": sp, "locality": "",
                         "country_iso3": "USA", "country_name": "United States",
                         "lat": np.nan, "lon": np.nan})
    lib = ReferenceLibrary(X, meta, GRID)
    q = X[:1] + 0.01
    tables = species_hqi(lib, q, lib.species_match(lib.similarities(q), 3))
    t = tables[0]
    assert list(t.columns[:4]) == ["rank", "species", "similarity", "hqi"]
    expected = hqi(q, X)[0][sp == t["species"].iloc[0]].max()
    assert t["hqi"].iloc[0] == pytest.approx(expected)
    assert t["hqi"].iloc[0] > 99.0


def test_continents_of_natural_earth_codes() -> None:
    assert continent_of(["USA", "FRA", "BRA", "ZZZ"]) == ["North America", "Europe",
                                                          "South America", "Other"]
    names, M = membership(["Europe", "Asia", "Europe"])
    assert names == ["Asia", "Europe"] and M.sum(axis=0).tolist() == [1.0, 2.0]


def _country_oof(n: int = 600, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray,
                                                         list[str]]:
    classes = ["USA", "CAN", "FRA", "DEU", "CHN", "BRA"]
    rng = np.random.default_rng(seed)
    y = rng.choice(len(classes), size=n, p=[0.4, 0.1, 0.15, 0.15, 0.1, 0.1])
    logits = rng.normal(0, 1, (n, len(classes)))
    logits[np.arange(n), y] += 1.5
    p = np.exp(logits)
    return p / p.sum(axis=1, keepdims=True), y, np.arange(n) // 2, classes


def test_continent_model_sums_calibrates_and_sets(tmp_path) -> None:
    p, y, groups, classes = _country_oof()
    model = fit_continents(p, y, groups, classes)
    assert model.names == ["Asia", "Europe", "North America", "South America"]
    summed = model.summed(p)
    assert np.allclose(summed.sum(axis=1), 1.0)
    assert np.allclose(summed[:, 2], p[:, 0] + p[:, 1])
    proba = model.proba(p)
    assert np.allclose(proba.sum(axis=1), 1.0)
    sets = model.sets(proba, 0.9)
    y_cont = np.array([model.names.index(c) for c in np.array(model.country_continents)[y]])
    assert sets[np.arange(len(y)), y_cont].mean() >= 0.88
    model.save(tmp_path)
    again = load_continents(tmp_path)
    assert isinstance(again, ContinentModel)
    assert np.allclose(again.proba(p), proba)


def test_cross_fit_scores_each_fold_with_a_model_fitted_elsewhere() -> None:
    p, y, groups, classes = _country_oof(seed=1)
    folds = groups % 3
    out = cross_fit(p, y, groups, folds, classes)
    assert out["proba"].shape == (len(y), 4) and out["sets"].any(axis=1).all()
    fitted = fit_continents(p[folds != 0], y[folds != 0], groups[folds != 0], classes)
    assert np.allclose(out["proba"][folds == 0], fitted.proba(p[folds == 0]))


def test_hub_penalty_lowers_references_that_resemble_everything() -> None:
    rng = np.random.default_rng(7)
    X = rng.random((30, 40)).astype(np.float32)
    X[0] = X[1:].mean(axis=0)  # a reference close to all the others: a hub
    F = features(X, "cosine")
    groups = np.arange(30).astype(str)
    offsets = hub_offsets(F, groups, 0.5)
    assert offsets.argmax() == 0 and abs(offsets.mean()) < 1e-6
    assert np.allclose(hub_offsets(F, groups, 0.0), 0.0)
    top = top_similarities(F[:2], F, 1, offsets)
    assert np.allclose(top[:, 0], np.max(F[:2] @ F.T - offsets[None, :], axis=1), atol=1e-6)


def _hubs_one_by_one(F: np.ndarray, groups: np.ndarray, weight: float) -> np.ndarray:
    """The hub offsets written out row by row: the mean of the 10 best similarities to
    spectra of other specimens (NaN, then the mean, where fewer than 10), centred."""
    if len(F) < 2:
        return np.zeros(len(F))
    k = min(10, len(F) - 1)
    hub = np.full(len(F), np.nan)
    for i in range(len(F)):
        other = np.sort((F[groups != groups[i]] @ F[i]).astype(np.float64))[::-1]
        if len(other) >= k:
            hub[i] = other[:k].mean()
    hub = np.where(np.isnan(hub), np.nanmean(hub) if np.isfinite(hub).any() else 0.0, hub)
    return weight * (hub - hub.mean())


def test_hub_offsets_of_several_libraries_are_each_library_alone(monkeypatch) -> None:
    rng = np.random.default_rng(8)
    F = features(rng.random((2500, 30)).astype(np.float32), "cosine")  # blocks of 1,024
    groups = rng.integers(0, 300, len(F))
    groups[:40] = 5  # one large specimen: its spectra find fewer others in a small library
    libraries = [np.sort(rng.choice(len(F), n, replace=False)) for n in (2400, 1300, 12)]
    libraries += [np.arange(len(F)), np.array([7]), np.array([0, 3])]
    from rruffgeo import parallel

    monkeypatch.setattr(parallel, "usable_cores", lambda: 3)  # the 3 blocks side by side
    got = hub_offsets_of(F, groups, libraries, 0.5)
    for lib, hubs in zip(libraries, got, strict=True):
        assert hubs.dtype == np.float32 and hubs.shape == lib.shape
        np.testing.assert_allclose(hubs, _hubs_one_by_one(F[lib], groups[lib], 0.5),
                                   atol=2e-6)
    assert all(np.all(h == 0) for h in hub_offsets_of(F, groups, libraries[:2], 0.0))
    monkeypatch.setattr(parallel, "usable_cores", lambda: 1)  # the blocks one at a time
    for alone, together in zip(hub_offsets_of(F, groups, libraries, 0.5), got, strict=True):
        np.testing.assert_array_equal(alone, together)


def test_a_model_with_hub_penalty_round_trips_and_checks_its_library(tmp_path) -> None:
    X, sp, gr, _ = _library(n_species=12, per=3, seed=4)
    F = features(X, "derivative")
    model = NoveltyModel("derivative", 1, np.linspace(0, 1, 50), 0.05, {}, 0.5,
                         hub_offsets(F, gr, 0.5))
    model.save(tmp_path)
    again = load_novelty(tmp_path)
    assert again.hub_weight == 0.5
    assert np.allclose(again.score(X[:3], X), model.score(X[:3], X), atol=1e-5)
    with pytest.raises(ValueError, match="fitted on 36 reference spectra"):
        model.score(X[:3], X[:10])


def test_an_empty_library_makes_every_spectrum_novel_and_tiny_data_is_refused() -> None:
    assert np.array_equal(scores_from_top(np.zeros((3, 0), np.float32), 1), np.ones(3))
    X, sp, gr, _ = _library(n_species=1, per=1)
    with pytest.raises(ValueError, match="empty library"):
        fit_novelty(X, sp, gr, seed=0)
