"""Cross-validation of the provenance country models, with calibration and conformal sets.

Torch-free (the network's out-of-fold probabilities come in as arrays, see
:mod:`rruffgeo.provenance.network_oof`). For each outer fold of the project's splits
(:func:`rruffgeo.splits.cv_splits`, by spectrum or grouped by specimen):

1. inner k-fold splits (``ProvenanceSettings.inner_folds``) of the training fold, grouped by
   specimen, give out-of-fold probabilities of every model and hyper-parameter setting on the
   training fold;
2. each model family keeps the setting with the lowest inner log-loss; the combination's
   weights are fitted by EM on the same inner probabilities;
3. each model's calibration (temperature, then top-label isotonic; ``calibration.Calibrator``)
   and conformal quantiles (``ProvenanceSettings.levels``) are fitted on its inner out-of-fold
   probabilities, never on the test fold; so are those of its answer pooled over a
   specimen's spectra and the pooling rule (``pooling.fit_pool``, kept as ``params["pool"]``;
   its weighted rules read each spectrum's best similarity to the inner training library);
4. the models are refitted on the whole training fold and predict the test fold.

The network has no inner fold models; its inner probabilities are cross-fitted: the training
fold's spectra as predicted by the other folds' networks (whose test folds they were), so its
calibration, too, never sees the test fold's labels.

Each finished outer fold is cached under ``models/provenance_cv_<split>/fold_<k>.npz`` + ``.json``
(keyed by data and settings), so an interrupted run resumes at the next fold.
"""

from __future__ import annotations

import copy
import hashlib
import itertools
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from rruffgeo.config import ProvenanceSettings, Settings
from rruffgeo.parallel import side_by_side
from rruffgeo.provenance.calibration import Calibrator, log_loss_per_sample
from rruffgeo.provenance.conformal import SplitConformal
from rruffgeo.provenance.data import ProvenanceData
from rruffgeo.provenance.models import (
    ClassPrior,
    KNNCountry,
    Neighbours,
    SpeciesFrequency,
    find_neighbours,
    fit_mixture_weights,
)
from rruffgeo.provenance.pooling import fit_pool
from rruffgeo.splits import cv_splits
from rruffgeo.workdir import atomic_path, read_json, write_json_atomic

log = logging.getLogger(__name__)

FORMAT_VERSION = 5  # 2: top-label isotonic after the temperature; 3-5: pooled answers


def species_grid(ps: ProvenanceSettings) -> list[dict[str, Any]]:
    """The species-frequency settings tried on the inner folds."""
    return [{"alpha": a} for a in ps.species_alpha]


def knn_grid(ps: ProvenanceSettings) -> list[dict[str, Any]]:
    """The kNN settings tried on the inner folds: every combination of the three grids."""
    return [{"k": k, "tau": t, "lam": lam}
            for k, t, lam in itertools.product(ps.knn_k, ps.knn_tau, ps.knn_lam)]


def _no_grid(ps: ProvenanceSettings) -> list[dict[str, Any]]:
    return [{}]


#: Model families: name -> (factory, its grid of the settings, uses the mineral name).
FAMILIES: dict[str, tuple[Callable[..., Any],
                          Callable[[ProvenanceSettings], list[dict[str, Any]]], bool]] = {
    "prior": (ClassPrior, _no_grid, False),
    "species_freq": (SpeciesFrequency, species_grid, False),
    "knn_spectra": (lambda **p: KNNCountry(by_specimen=False, **p), knn_grid, False),
    "knn_specimens": (lambda **p: KNNCountry(by_specimen=True, **p), knn_grid, False),
    "species_freq+mineral": (SpeciesFrequency, species_grid, True),
}
COMBINATIONS = {
    "combination": ["species_freq", "knn_specimens", "knn_spectra", "prior", "network"],
    "combination+mineral": ["species_freq+mineral", "knn_specimens", "knn_spectra", "prior",
                            "network"],
}


@dataclass
class Candidate:
    """One model on one outer fold: inner out-of-fold and test probabilities, and its fits."""

    inner: np.ndarray
    test: np.ndarray
    params: dict[str, Any]
    inner_sim: np.ndarray  # each training spectrum's best cosine to its inner training library
    test_sim: np.ndarray  # each test spectrum's best cosine to the training fold


def _fit_family(name: str, data: ProvenanceData, rows: np.ndarray, n_classes: int,
                ps: ProvenanceSettings, reference: np.ndarray) -> Any:
    """Family ``name`` fitted on ``rows``, whose unit spectra ``reference`` it shares."""
    factory, grid, _ = FAMILIES[name]
    return factory(**grid(ps)[0]).fit(reference, data.y[rows], groups=data.groups[rows],
                                      species=data.species[rows], n_classes=n_classes,
                                      reference=reference)


def _variant(model: Any, params: dict[str, Any]) -> Any:
    """The fitted ``model`` with other prediction-time parameters (no refit needed)."""
    out = copy.copy(model)
    for k, v in params.items():
        setattr(out, k, v)
    return out


def _family_probas(data: ProvenanceData, rows: np.ndarray, queries: np.ndarray,
                   nb: Neighbours, n_classes: int, ps: ProvenanceSettings,
                   reference: np.ndarray) -> dict[str, list[np.ndarray]]:
    """Probabilities of every family and grid point for ``queries``, fitted on ``rows``
    (their unit spectra ``reference``)."""
    out: dict[str, list[np.ndarray]] = {}
    fitted: dict[Any, Any] = {}
    for name, (factory, grid, mineral) in FAMILIES.items():
        base_key = factory if name not in ("knn_spectra", "knn_specimens") else name
        if base_key not in fitted:
            fitted[base_key] = _fit_family(name, data, rows, n_classes, ps, reference)
        given = data.species[queries] if mineral else None
        out[name] = [_variant(fitted[base_key], p).proba_from_neighbours(nb, given)
                     for p in grid(ps)]
    return out


def _inner_oof(data: ProvenanceData, tr: np.ndarray, ps: ProvenanceSettings, n_classes: int
               ) -> tuple[dict[str, list[np.ndarray]], np.ndarray]:
    """Out-of-fold probabilities on the training fold from inner splits grouped by specimen,
    and each training spectrum's best cosine similarity to its inner training library."""
    inner = cv_splits(data.y[tr], data.groups[tr], "specimen", ps.inner_folds, ps.seed)

    def fold(split: tuple[np.ndarray, np.ndarray]
             ) -> tuple[np.ndarray, dict[str, list[np.ndarray]]]:
        rows, queries = tr[split[0]], tr[split[1]]
        model = ClassPrior().fit(data.X[rows], data.y[rows], groups=data.groups[rows],
                                 species=data.species[rows], n_classes=n_classes)
        nb = find_neighbours(model.reference_, data.X[queries])
        return nb.sim[:, 0], _family_probas(data, rows, queries, nb, n_classes, ps,
                                            model.reference_)

    oof: dict[str, list[np.ndarray]] = {}
    best_sim = np.zeros(len(tr))
    for (_, iva), (sim, probas) in zip(inner, side_by_side(fold, inner), strict=True):
        best_sim[iva] = sim
        for name, family in probas.items():
            slots = oof.setdefault(name, [np.zeros((len(tr), n_classes)) for _ in family])
            for slot, p in zip(slots, family, strict=True):
                slot[iva] = p
    return oof, best_sim


def _select(data: ProvenanceData, tr: np.ndarray, te: np.ndarray, ps: ProvenanceSettings,
            network: tuple[np.ndarray, np.ndarray] | None) -> dict[str, Candidate]:
    """Each family at its best inner setting, the network, and the combinations."""
    n_classes = len(data.classes)
    y_tr = data.y[tr]
    oof, sim = _inner_oof(data, tr, ps, n_classes)
    ref = ClassPrior().fit(data.X[tr], y_tr, groups=data.groups[tr], species=data.species[tr],
                           n_classes=n_classes)
    nb = find_neighbours(ref.reference_, data.X[te])
    test = _family_probas(data, tr, te, nb, n_classes, ps, ref.reference_)
    sims = (sim, nb.sim[:, 0].astype(np.float64))
    out = {}
    for name, (_, grid, _) in FAMILIES.items():
        losses = [float(log_loss_per_sample(p, y_tr).mean()) for p in oof[name]]
        best = int(np.argmin(losses))
        out[name] = Candidate(oof[name][best], test[name][best],
                              {**grid(ps)[best], "inner_log_loss": losses[best]}, *sims)
    if network is not None:
        out["network"] = Candidate(network[0], network[1], {}, *sims)
    for combo, parts in COMBINATIONS.items():
        parts = [p for p in parts if p in out]
        w = fit_mixture_weights([out[p].inner for p in parts], y_tr)
        out[combo] = Candidate(sum(wi * out[p].inner for wi, p in zip(w, parts, strict=True)),
                               sum(wi * out[p].test for wi, p in zip(w, parts, strict=True)),
                               {"weights": dict(zip(parts, map(float, w), strict=True))},
                               *sims)
    return out


def _calibrate(c: Candidate, y_tr: np.ndarray, groups_tr: np.ndarray,
               levels: tuple[float, ...]) -> tuple[np.ndarray, dict[str, Any]]:
    """Calibration and conformal quantiles from the inner probabilities, for single spectra
    and for answers pooled over a specimen's spectra (``pool``); test calibrated."""
    cal = Calibrator().fit(c.inner, y_tr)
    inner_cal = cal.transform(c.inner)
    thresholds = {str(lv): SplitConformal(lv).fit(inner_cal, y_tr, groups_tr).threshold_
                  for lv in levels}
    pool = fit_pool(c.inner, y_tr, groups_tr, levels, c.inner_sim)
    return cal.transform(c.test), {**c.params, **cal.params_, "set_thresholds": thresholds,
                                   "pool": pool}


def run_fold(data: ProvenanceData, tr: np.ndarray, te: np.ndarray, ps: ProvenanceSettings,
             network: tuple[np.ndarray, np.ndarray] | None = None
             ) -> dict[str, dict[str, Any]]:
    """Raw and calibrated test probabilities of every model on one outer fold, with its fits
    and each test spectrum's best similarity to the training fold (for pooled answers)."""
    chosen = _select(data, tr, te, ps, network)
    y_tr, groups_tr = data.y[tr], data.groups[tr]
    fits = side_by_side(lambda c: _calibrate(c, y_tr, groups_tr, ps.levels),
                        chosen.values())  # each model's calibration on its own
    return {name: {"raw": c.test.astype(np.float32), "calibrated": cal.astype(np.float32),
                   "best_sim": c.test_sim.astype(np.float32), "params": params}
            for (name, c), (cal, params) in zip(chosen.items(), fits, strict=True)}


def cv_key(data: ProvenanceData, settings: Settings, split: str, with_network: bool) -> str:
    """Cache key of a provenance CV: its rows and labels, folds, grids and the network flag."""
    h = hashlib.sha256()
    h.update("\n".join(data.table["spectrum_id"] + "\t" + data.table["country_iso3"]
                       + "\t" + data.species.astype(str)).encode())
    ps = settings.provenance
    h.update(repr((FORMAT_VERSION, split, ps.n_folds, ps.seed, len(data.grid_cm1),
                   species_grid(ps), knn_grid(ps), ps.inner_folds, ps.levels,
                   with_network)).encode())
    return h.hexdigest()[:16]


def save_fold(folder: Path, k: int, key: str, result: dict[str, dict[str, Any]]) -> None:
    arrays = {f"{name}/{kind}": r[kind] for name, r in result.items()
              for kind in ("raw", "calibrated", "best_sim")}
    with atomic_path(folder / f"fold_{k}.npz") as tmp, open(tmp, "wb") as fh:
        np.savez_compressed(fh, **arrays)
    write_json_atomic(folder / f"fold_{k}.json",
                      {"key": key, "params": {n: r["params"] for n, r in result.items()}})


def load_fold(folder: Path, k: int, key: str) -> dict[str, dict[str, Any]] | None:
    """A cached fold made with ``key``, else None (missing, stale or unreadable)."""
    meta = read_json(folder / f"fold_{k}.json")
    npz = folder / f"fold_{k}.npz"
    if not isinstance(meta, dict) or meta.get("key") != key or not npz.exists():
        return None
    with np.load(npz, allow_pickle=False) as z:
        return {n: {"raw": z[f"{n}/raw"], "calibrated": z[f"{n}/calibrated"],
                    "best_sim": z[f"{n}/best_sim"], "params": p}
                for n, p in meta["params"].items()}


def network_inner(network_oof: dict[int, np.ndarray] | None,
                  splits: list[tuple[np.ndarray, np.ndarray]], k: int
                  ) -> tuple[np.ndarray, np.ndarray] | None:
    """The network's cross-fitted probabilities on fold ``k``'s training rows, and its test."""
    if network_oof is None:
        return None
    n = sum(len(te) for _, te in splits)
    full = np.zeros((n, network_oof[0].shape[1]))
    for j, (_, te) in enumerate(splits):
        full[te] = network_oof[j]
    tr, te = splits[k]
    return full[tr], full[te]
