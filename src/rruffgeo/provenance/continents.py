"""Continent of origin: the coarse answer, summed from the calibrated country probabilities.

Torch-free. A continent's probability is the sum of its countries' calibrated probabilities
(continents of Natural Earth's admin-0 units, the polygons the geocoder already uses),
re-calibrated (temperature and top-label isotonic, :class:`~rruffgeo.provenance.calibration.
Calibrator`) only where that lowers the log-loss on inner splits grouped by specimen, and given
a split-conformal set over continents. Both are fitted on out-of-fold
predictions of the provenance CV, never on the spectra they are checked on: ``cross_fit``
fits on the other outer folds and scores each fold. ``ContinentModel`` is what a model folder
keeps (``continents.json``): the country-to-continent table, calibration and set thresholds.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from rruffgeo.provenance.calibration import Calibrator, apply_calibration
from rruffgeo.provenance.conformal import SplitConformal, conformal_set
from rruffgeo.workdir import read_json, write_json_atomic

CONTINENTS_JSON = "continents.json"
FORMAT = "rruffgeo-continents/1"
LEVELS = (0.8, 0.9, 0.95)
#: Countries Natural Earth does not list (or codes outside it) are counted here.
UNKNOWN = "Other"


def continent_of(classes: list[str]) -> list[str]:
    """Natural Earth continent of each ISO3 code (``UNKNOWN`` where it has none)."""
    from rruffgeo.geo.countries import load_country_polygons

    table = load_country_polygons().drop_duplicates("iso3").set_index("iso3")["continent"]
    return [str(table.get(c, UNKNOWN)) for c in classes]


def membership(country_continents: list[str]) -> tuple[list[str], np.ndarray]:
    """Continent names (sorted) and the (n_countries, n_continents) 0/1 matrix."""
    names = sorted(set(country_continents))
    index = {n: i for i, n in enumerate(names)}
    M = np.zeros((len(country_continents), len(names)))
    M[np.arange(len(country_continents)), [index[c] for c in country_continents]] = 1.0
    return names, M


@dataclass
class ContinentModel:
    """Country-to-continent sums, their calibration and conformal thresholds per level."""

    countries: list[str]
    country_continents: list[str]
    calibration: dict[str, Any]
    set_thresholds: dict[str, float]

    @property
    def names(self) -> list[str]:
        """Continent names, the columns of ``proba``."""
        return membership(self.country_continents)[0]

    def summed(self, country_proba: np.ndarray) -> np.ndarray:
        """Continent probabilities before re-calibration: sums of the countries'."""
        return np.asarray(country_proba) @ membership(self.country_continents)[1]

    def proba(self, country_proba: np.ndarray) -> np.ndarray:
        """Calibrated continent probabilities (n, n_continents), columns as ``names``."""
        return apply_calibration(self.summed(country_proba), self.calibration)

    def sets(self, proba: np.ndarray, coverage: float) -> np.ndarray:
        """Conformal set mask over continents at ``coverage`` (always holds the top one)."""
        return conformal_set(proba, self.set_thresholds[str(coverage)])

    def save(self, folder: Path) -> Path:
        """Write ``continents.json`` into the model folder (atomically, plain JSON)."""
        path = Path(folder) / CONTINENTS_JSON
        write_json_atomic(path, {"format": FORMAT, "countries": self.countries,
                                 "continents": self.country_continents,
                                 "calibration": self.calibration,
                                 "set_thresholds": self.set_thresholds})
        return path


def fit_continents(country_proba: np.ndarray, y_country: np.ndarray, groups: np.ndarray,
                   classes: list[str], country_continents: list[str] | None = None
                   ) -> ContinentModel:
    """Calibration and conformal thresholds of the summed continent probabilities, fitted on
    held-out (out-of-fold) country probabilities and their true countries."""
    cc = country_continents or continent_of(classes)
    names, M = membership(cc)
    summed = np.asarray(country_proba) @ M
    y = M[np.asarray(y_country)].argmax(axis=1)
    params = choose_calibration(summed, y, np.asarray(groups))
    proba = apply_calibration(summed, params)
    thresholds = {str(lv): SplitConformal(lv).fit(proba, y, groups).threshold_
                  for lv in LEVELS}
    return ContinentModel(list(classes), cc, params, thresholds)


def choose_calibration(summed: np.ndarray, y: np.ndarray, groups: np.ndarray,
                       n_folds: int = 5) -> dict[str, Any]:
    """Re-calibrate the sums only if it lowers their log-loss on inner splits grouped by
    specimen: the sums of calibrated countries may already be calibrated, and a needless fit
    only adds noise. Returns the calibration's parameters (identity: temperature 1)."""
    from rruffgeo.provenance.calibration import log_loss_per_sample

    units = np.unique(groups)
    fold_of = dict(zip(units, np.arange(len(units)) % n_folds, strict=True))
    fold = np.array([fold_of[g] for g in groups])
    recal = np.zeros_like(summed)
    for f in range(min(n_folds, len(units))):
        fit, test = fold != f, fold == f
        if fit.any() and test.any():
            recal[test] = Calibrator().fit(summed[fit], y[fit]).transform(summed[test])
    plain_loss = log_loss_per_sample(summed, y).mean()
    if log_loss_per_sample(recal, y).mean() < plain_loss:
        return dict(Calibrator().fit(summed, y).params_)
    return {"temperature": 1.0}


def load_continents(folder: Path) -> ContinentModel | None:
    """The model folder's continent model, or None (saved before it existed, unreadable)."""
    spec = read_json(Path(folder) / CONTINENTS_JSON)
    if not isinstance(spec, dict) or spec.get("format") != FORMAT:
        return None
    try:
        return ContinentModel(list(spec["countries"]), list(spec["continents"]),
                              dict(spec["calibration"]), dict(spec["set_thresholds"]))
    except (KeyError, TypeError):
        return None


def cross_fit(country_proba: np.ndarray, y_country: np.ndarray, groups: np.ndarray,
              folds: np.ndarray, classes: list[str], coverage: float = 0.9
              ) -> dict[str, np.ndarray]:
    """Each outer fold's continent probabilities and sets from a model fitted on the other
    folds' out-of-fold predictions, with the true continents (for honest scores)."""
    cc = continent_of(classes)
    names, M = membership(cc)
    folds = np.asarray(folds)
    proba = np.zeros((len(folds), len(names)))
    sets = np.zeros((len(folds), len(names)), bool)
    recalibrated = []
    for f in np.unique(folds):
        fit, test = folds != f, folds == f
        model = fit_continents(country_proba[fit], y_country[fit], groups[fit], classes, cc)
        proba[test] = model.proba(country_proba[test])
        sets[test] = model.sets(proba[test], coverage)
        recalibrated.append("top_label" in model.calibration)
    return {"proba": proba, "sets": sets, "y": M[np.asarray(y_country)].argmax(axis=1),
            "summed": np.asarray(country_proba) @ M, "names": np.asarray(names),
            "recalibrated": np.asarray(recalibrated)}


def fit_from_cv(workdir: Any, model: str, split: str = "specimen") -> ContinentModel | None:
    """A continent model fitted on all out-of-fold predictions of ``model`` in the provenance
    CV of ``split`` (``WorkDir``), or None when that CV or model is not there."""
    import pandas as pd

    npz = workdir.provenance_cv_part(split, "oof_proba")
    table = workdir.provenance_cv_part(split, "oof")
    if not npz.exists() or not table.exists():
        return None
    with np.load(npz, allow_pickle=False) as z:
        if model not in z.files:
            return None
        proba, ids, classes = z[model].astype(np.float64), z["spectrum_id"], list(z["classes"])
    oof = pd.read_parquet(table)
    oof = oof[oof["model"] == model].set_index("spectrum_id").reindex(ids)
    if oof["true_iso3"].isna().any():
        return None
    y = np.array([classes.index(c) for c in oof["true_iso3"]])
    return fit_continents(proba, y, oof["specimen_id"].to_numpy(), classes)
