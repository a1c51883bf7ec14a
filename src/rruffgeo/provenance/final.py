"""The final provenance model: fitted on all the data, saved without pickle, and used to predict.

Torch-free. ``fit_final`` runs the same selection as one cross-validation fold with every
spectrum in training (inner grouped splits choose the hyper-parameters, the combination's
weights, the calibration and the conformal quantiles) and saves ``models/final/``:
``provenance.json`` (model, parameters, calibration, set thresholds, classes) and the reference
library (``library.npz`` float16 spectra + ``library.json``). ``ProvenancePredictor`` rebuilds the
models from these files; nothing is unpickled. ``choose_models`` picks what is refitted: per
evidence, the model with the lowest log-loss in the grouped provenance CV
(``metrics/provenance_cv_specimen.json``), the network excepted (it has no all-data refit here).
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from rruffgeo.config import Settings
from rruffgeo.errors import UserError
from rruffgeo.parallel import side_by_side
from rruffgeo.provenance.answer import ProvenanceResult
from rruffgeo.provenance.answer_batch import MatchParts, answers
from rruffgeo.provenance.calibration import apply_calibration
from rruffgeo.provenance.conformal import conformal_set
from rruffgeo.provenance.continents import load_continents
from rruffgeo.provenance.cv import COMBINATIONS, FAMILIES, run_fold
from rruffgeo.provenance.data import load_provenance_data
from rruffgeo.provenance.hqi import hqi_of_correlation
from rruffgeo.provenance.library import (
    MATCH_MAX_SHIFT_CM1,
    ReferenceLibrary,
    species_key,
    stable_top,
)
from rruffgeo.provenance.models import (
    MAX_NEIGHBOURS,
    Mixture,
    Neighbours,
    find_neighbours,
    top_neighbours,
)
from rruffgeo.provenance.novelty_learned import LearnedNovelty, load_novelty_model
from rruffgeo.provenance.pooling import pooled_answer
from rruffgeo.provenance.similarity import BLOCK, LibraryViews, Similarities
from rruffgeo.results import ProvenanceReport, lowest_log_loss
from rruffgeo.workdir import WorkDir, read_json, write_json_atomic

log = logging.getLogger(__name__)

SPEC = "provenance.json"
FORMAT = "rruffgeo-provenance/1"
#: The protocol whose CV chooses the final model: grouped by specimen (no leakage).
CHOOSING_SPLIT = "specimen"
#: The evidence a final model may be fitted for.
EVIDENCE = ("spectrum", "spectrum+mineral")
#: Used when no CV report exists yet.
DEFAULT_MODELS = {"spectrum": "combination", "spectrum+mineral": "combination+mineral"}
COUNTRY_COLUMNS = ["rank", "country_iso3", "country_name", "probability", "in_set"]


def _components(name: str) -> list[str]:
    return COMBINATIONS.get(name, [name])


def _model_spec(fits: dict[str, dict[str, Any]], model: str) -> dict[str, Any]:
    """What rebuilds one fitted model: its components' parameters, weights and calibration."""
    parts = [p for p in _components(model) if p in fits]
    weights = fits[model]["params"].get("weights", {model: 1.0})
    return {
        "model": model,
        "components": {p: {k: v for k, v in fits[p]["params"].items()
                           if k in ("alpha", "k", "tau", "lam")} for p in parts},
        "weights": {p: float(weights.get(p, 0.0)) for p in parts},
        "temperature": fits[model]["params"]["temperature"],
        "top_label": fits[model]["params"].get("top_label"),
        "set_thresholds": fits[model]["params"]["set_thresholds"],
        "pool": fits[model]["params"].get("pool"),
    }


def best_refittable(cv: ProvenanceReport) -> dict[str, str]:
    """Per evidence, the model with the lowest CV log-loss that can be refitted (not the
    network, which is not trained on all data here)."""
    return {evidence: lowest_log_loss(cv.models, evidence, leave_out=("network",))
            for evidence in cv.winners}


def choose_models(workdir: WorkDir) -> tuple[dict[str, str], str]:
    """The models to refit per evidence, from the grouped CV report, and a sentence saying how
    they were chosen (the combinations when there is no report yet)."""
    path = workdir.provenance_cv_file(CHOOSING_SPLIT)
    cv = ProvenanceReport.of(workdir, CHOOSING_SPLIT)
    if cv is None:
        return dict(DEFAULT_MODELS), (f"no {path.name} yet: the combinations (run `rruffgeo "
                                      "provenance-cv` to choose by log-loss)")
    models = best_refittable(cv)
    note = f"best by log-loss in {path.name}"
    if any(w.model == "network" for w in cv.winners.values()):
        note += " (the network won; it is not refitted on all data, so the best other model)"
    return models, note


def fit_final(workdir: WorkDir, settings: Settings | None = None,
              models: dict[str, str] | None = None, chosen_by: str = "") -> Path:
    """Fit the chosen model per evidence on all data and save them with the library.

    ``models`` maps evidence ("spectrum", "spectrum+mineral") to a family or combination name
    (the CV winners); the network is not refitted here. ``chosen_by`` says how they were
    chosen; it is kept in the spec so the run can say so at its end.
    """
    models = models or dict(DEFAULT_MODELS)
    for name in models.values():
        if name not in FAMILIES and name not in COMBINATIONS:
            raise ValueError(f"model {name!r}: choose one of "
                             f"{', '.join([*FAMILIES, *COMBINATIONS])} (the network is not "
                             "refitted)")
    settings = settings or Settings()
    data = load_provenance_data(workdir, settings)
    rows = np.arange(len(data.y))
    fits = run_fold(data, rows, rows[:0], settings.provenance)
    spec = {
        "format": FORMAT,
        "models": {ev: _model_spec(fits, name) for ev, name in models.items()},
        "classes": data.classes, "class_names": data.class_names,
        "minmax": settings.spectra.minmax, "n_spectra": int(len(rows)),
        "n_specimens": int(len(np.unique(data.groups))), "chosen_by": chosen_by,
    }
    folder = workdir.final_model_dir
    folder.mkdir(parents=True, exist_ok=True)
    data.library().save(folder)
    save_answer_models(workdir, folder, data, models, settings)
    write_json_atomic(folder / SPEC, spec)
    return folder


def save_answer_models(workdir: WorkDir, folder: Path, data: Any, models: dict[str, str],
                       settings: Settings) -> None:
    """``novelty.json`` (open-set species answer, calibrated on splits leaving whole species
    out) with its report ``metrics/open_set.json``, and ``continents.json`` (from the grouped
    CV's out-of-fold predictions of the spectrum model, when that CV has been run); a stale
    file is removed when it cannot be refitted, so an answer never uses another data set's
    calibration."""
    from rruffgeo.provenance.continents import CONTINENTS_JSON, fit_from_cv
    from rruffgeo.provenance.novelty import NOVELTY_JSON

    for path in (folder / NOVELTY_JSON, folder / CONTINENTS_JSON, workdir.open_set_file):
        path.unlink(missing_ok=True)
    try:
        save_novelty(workdir, folder, data, settings)
    except ValueError as exc:  # too few species or specimens to leave some out
        log.warning("no novelty calibration: %s", exc)
    continents = fit_from_cv(workdir, models.get("spectrum", ""), CHOOSING_SPLIT)
    if continents is not None:
        continents.save(folder)


def save_novelty(workdir: WorkDir, folder: Path, data: Any, settings: Settings) -> None:
    """Fit the novelty model on the library, save it into ``folder`` and its report (the
    open-set splits' cross-fitted curve, the reference compounds flagged) into metrics."""
    from rruffgeo.dataset import reference_compound_spectra
    from rruffgeo.provenance.novelty_eval import (
        REFERENCE_COMPOUNDS,
        group_flagged,
        novelty_report,
    )
    from rruffgeo.provenance.novelty_learned import fit_with_rows

    t0 = time.perf_counter()
    model, rows = fit_with_rows(data.X, data.species, data.groups, data.grid_cm1,
                                settings.provenance.seed)
    model.save(folder)
    X, specimens = reference_compound_spectra(workdir, settings)
    groups = [group_flagged(REFERENCE_COMPOUNDS, model, X, specimens, data.X)] if len(X) else []
    report = novelty_report(model, rows, groups, time.perf_counter() - t0)
    workdir.metrics_dir.mkdir(parents=True, exist_ok=True)
    write_json_atomic(workdir.open_set_file, report.to_json())


def is_provenance_model(folder: Path) -> bool:
    return (Path(folder) / SPEC).exists()


def final_summary(workdir: WorkDir) -> str | None:
    """One sentence on the saved final model (which model per evidence, how chosen, where),
    or None when there is none or its spec cannot be read."""
    folder = workdir.final_model_dir
    spec = read_json(folder / SPEC)
    if not isinstance(spec, dict) or not isinstance(spec.get("models"), dict):
        return None
    names = ", ".join(f"{m.get('model', '?')} ({ev})" for ev, m in spec["models"].items()
                      if isinstance(m, dict))
    how = f"; {spec['chosen_by']}" if spec.get("chosen_by") else ""
    return (f"final model: {names} refitted on all {spec.get('n_spectra', '?')} spectra{how}; "
            f"saved in {folder}")


def read_spec(path: Path) -> dict[str, Any]:
    """provenance.json, checked: format, classes, and every model entry complete and in
    range; `UserError` naming the file and the field otherwise."""
    try:
        spec = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise UserError(f"{path}: not valid JSON ({exc})") from None
    if not isinstance(spec, dict) or spec.get("format") != FORMAT:
        found = spec.get("format") if isinstance(spec, dict) else type(spec).__name__
        raise UserError(f"{path}: unknown format {found!r} (this version reads {FORMAT})")
    classes, names = spec.get("classes"), spec.get("class_names")
    if not isinstance(classes, list) or not classes or not isinstance(names, list) \
            or len(names) != len(classes):
        raise UserError(f"{path}: classes and class_names must be lists of the same length")
    models = spec.get("models")
    if not isinstance(models, dict) or "spectrum" not in models:
        raise UserError(f"{path}: models must hold a 'spectrum' entry")
    unknown = sorted(set(models) - set(EVIDENCE))
    if unknown:
        raise UserError(f"{path}: models.{unknown[0]}: unknown evidence (known: "
                        f"{', '.join(EVIDENCE)})")
    for evidence, entry in models.items():
        problem = _entry_problem(entry)
        if problem:
            raise UserError(f"{path}: models.{evidence}.{problem}")
    return spec


def _entry_problem(entry: Any) -> str | None:
    """What is wrong with one saved model entry (field, problem), or None."""
    if not isinstance(entry, dict):
        return "model: not an object"
    parts = entry.get("components")
    if not isinstance(parts, dict) or not parts:
        return "components: missing or empty"
    unknown = [p for p in parts if p not in FAMILIES]
    if unknown:
        return f"components: unknown model {unknown[0]!r} (known: {', '.join(FAMILIES)})"
    weights = entry.get("weights")
    if not isinstance(weights, dict) or set(weights) != set(parts) or not all(
            isinstance(w, int | float) and np.isfinite(w) and w >= 0 for w in weights.values()):
        return "weights: one finite, non-negative weight per component needed"
    t = entry.get("temperature")
    if not isinstance(t, int | float) or not np.isfinite(t) or t <= 0:
        return f"temperature: must be a finite number above 0, got {t!r}"
    levels = entry.get("set_thresholds")
    if not isinstance(levels, dict) or not levels or not all(
            isinstance(v, int | float) and 0 <= v <= 1 for v in levels.values()):
        return "set_thresholds: one threshold in [0, 1] per coverage needed"
    return None


def check_library(folder: Path, library: ReferenceLibrary, classes: list[str]) -> None:
    """The reference spectra must be finite, on an increasing grid, and every country of the
    library one of the model's classes."""
    grid = np.asarray(library.grid_cm1, float)
    if len(grid) < 2 or not np.isfinite(grid).all() or not (np.diff(grid) > 0).all():
        raise UserError(f"{folder / 'library.npz'}: grid_cm1 is not finite and increasing")
    bad = np.flatnonzero(~np.isfinite(library.X).all(axis=1))
    if len(bad):
        raise UserError(f"{folder / 'library.npz'}: X: {len(bad)} reference spectra hold NaN "
                        f"or infinite values (first row {bad[0]})")
    missing = sorted(set(library.meta["country_iso3"]) - set(classes))
    if missing:
        raise UserError(f"{folder / 'library.json'}: countries {', '.join(missing[:5])} are "
                        f"not among the {len(classes)} classes of {SPEC}")


class ProvenancePredictor:
    """A saved provenance model, loaded once (library + parameters)."""

    def __init__(self, folder: str | Path) -> None:
        folder = Path(folder)
        if not is_provenance_model(folder):
            raise FileNotFoundError(f"{folder / SPEC} not found: not a provenance model folder")
        self.folder = folder
        self.spec = read_spec(folder / SPEC)
        self.library = ReferenceLibrary.load(folder)
        check_library(folder, self.library, self.spec["classes"])
        self.classes = list(self.spec["classes"])
        self.class_names = list(self.spec["class_names"])
        self.grid_cm1 = self.library.grid_cm1
        self.models = {ev: self._build(m) for ev, m in self.spec["models"].items()}
        self._species = set(self.library.species)
        self.novelty = load_novelty_model(folder)
        self.continents = load_continents(folder)
        self.views = LibraryViews(self.library.X,
                                  np.asarray(self.grid_cm1) <= MATCH_MAX_SHIFT_CM1)

    def _build(self, spec: dict[str, Any]) -> Mixture:
        meta = self.library.meta
        index = {c: i for i, c in enumerate(self.classes)}
        y = meta["country_iso3"].map(index).to_numpy(np.int64)
        models = []
        for name, params in spec["components"].items():
            factory = FAMILIES[name][0]
            try:
                model = factory(**params)
            except (TypeError, ValueError) as exc:
                raise UserError(f"{self.folder / SPEC}: components.{name}: parameters "
                                f"{params!r} do not fit ({exc})") from None
            models.append(model.fit(
                self.library.X, y, groups=meta["specimen_id"].to_numpy(),
                species=meta["mineral"].to_numpy(), n_classes=len(self.classes)))
        return Mixture(models, np.array([spec["weights"][n] for n in spec["components"]]))

    def prepare(self, wavenumber: np.ndarray, intensity: np.ndarray, source: str) -> np.ndarray:
        """One spectrum checked and put on the model's grid (the checks every prediction
        passes); ValueError naming ``source`` when refused."""
        from rruffgeo.spectra.prepare import prepare_row
        from rruffgeo.spectra.spectrum import Spectrum

        row, _ = prepare_row(Spectrum(wavenumber, intensity, {"source": source}),
                             self.grid_cm1, bool(self.spec.get("minmax", True)))
        return row

    def evidence(self, minerals: list[str] | None, n: int) -> list[str]:
        """Per spectrum: "spectrum+mineral" when its mineral is a species of the library."""
        minerals = minerals or [""] * n
        with_mineral = "spectrum+mineral" in self.models
        return ["spectrum+mineral" if with_mineral and m and species_key(m) in self._species
                else "spectrum" for m in minerals]

    def raw_proba(self, spectra: np.ndarray, minerals: list[str] | None = None,
                  evidence: list[str] | None = None, neighbours: Neighbours | None = None
                  ) -> tuple[np.ndarray, list[str]]:
        """Uncalibrated country probabilities of spectra on ``grid_cm1`` and the evidence each
        used (``evidence`` forces it, e.g. one evidence for every spectrum of a sample;
        ``neighbours``: the spectra's, when already found)."""
        spectra = np.asarray(spectra, np.float32)
        evidence = evidence or self.evidence(minerals, len(spectra))
        ref = next(iter(self.models.values())).models[0].reference_
        nb = find_neighbours(ref, spectra, MAX_NEIGHBOURS) if neighbours is None \
            else neighbours
        given = np.asarray(minerals if minerals else [""] * len(spectra), dtype=object)
        raw = np.zeros((len(spectra), len(self.classes)))
        for ev in set(evidence):
            rows = np.array([e == ev for e in evidence])
            raw[rows] = self.models[ev].proba_from_neighbours(
                nb, given if ev != "spectrum" else None)[rows]
        return raw, evidence

    def predict_proba(self, spectra: np.ndarray, minerals: list[str] | None = None
                      ) -> tuple[np.ndarray, list[str]]:
        """Calibrated country probabilities (n, n_classes) of spectra on ``grid_cm1``, and the
        evidence each used."""
        raw, evidence = self.raw_proba(spectra, minerals)
        return self._calibrated(raw, evidence), evidence

    def _calibrated(self, raw: np.ndarray, evidence: list[str]) -> np.ndarray:
        """Each row calibrated by its evidence's model."""
        proba = np.zeros_like(raw)
        for ev in set(evidence):
            rows = np.array([e == ev for e in evidence])
            proba[rows] = apply_calibration(raw[rows], self.spec["models"][ev])
        return proba

    def predict_pooled(self, spectra: np.ndarray, minerals: list[str] | None = None,
                       coverage: float = 0.9, n_species: int = 5, n_specimens: int = 10
                       ) -> ProvenanceResult:
        """One answer for the spectra of one sample: their pooled, calibrated countries with
        the pooled ``coverage`` set, and species and specimens by mean similarity. The
        mineral is used only when every spectrum has it (one evidence for the whole pool)."""
        spectra = np.asarray(spectra, np.float32)
        each = self.evidence(minerals, len(spectra))
        ev = "spectrum+mineral" if all(e == "spectrum+mineral" for e in each) else "spectrum"
        pool = self.spec["models"][ev].get("pool")
        if not isinstance(pool, dict) or str(coverage) not in pool.get("set_thresholds", {}):
            raise UserError(f"{self.folder / SPEC}: no pooled calibration at coverage "
                            f"{coverage} (a model saved before pooling); refit it with "
                            "`rruffgeo provenance-fit`")
        sims, nb = self._pool_pass(spectra)
        raw, _ = self.raw_proba(spectra, minerals, [ev] * len(spectra), neighbours=nb)
        p = pooled_answer(raw, pool, nb.sim[:, 0])
        mineral = minerals[0] if minerals and ev != "spectrum" else ""
        countries = self._countries(p, pool["set_thresholds"][str(coverage)])
        return ProvenanceResult(countries, self.library.species_match(sims, n_species)[0],
                                self.library.nearest_specimens(sims, n_specimens)[0], ev,
                                mineral, int(countries["in_set"].sum()))

    def _pool_pass(self, spectra: np.ndarray) -> tuple[np.ndarray, Neighbours]:
        """(1, references) mean window cosine of a pool and each spectrum's country
        neighbours, from one similarity pass block by block (a map's pool never holds all
        its similarities at once)."""
        total = np.zeros(len(self.library), np.float64)
        parts = []
        for start in range(0, len(spectra), BLOCK):
            sims = self.views.similarities(spectra[start:start + BLOCK])
            total += sims.window.sum(axis=0)
            parts.append(top_neighbours(sims.cosine, MAX_NEIGHBOURS))
        mean = (total / max(len(spectra), 1)).astype(np.float32)[None, :]
        return mean, Neighbours(np.concatenate([b.index for b in parts]),
                                np.concatenate([b.sim for b in parts]))

    def _countries(self, p: np.ndarray, threshold: float) -> pd.DataFrame:
        """COUNTRY_COLUMNS of one answer, most probable first, with its set."""
        order = np.argsort(-p, kind="stable")
        in_set = conformal_set(p, threshold)[0][order]
        return pd.DataFrame({
            "rank": np.arange(1, len(order) + 1),
            "country_iso3": np.asarray(self.classes)[order],
            "country_name": np.asarray(self.class_names)[order],
            "probability": p[order], "in_set": in_set})

    def predict(self, spectra: np.ndarray, minerals: list[str] | None = None,
                coverage: float = 0.9, n_species: int = 5, n_specimens: int = 10
                ) -> list[ProvenanceResult]:
        """Per spectrum: calibrated countries with the ``coverage`` set, species, specimens."""
        return self.predict_with_proba(spectra, minerals, coverage, n_species, n_specimens)[0]

    def predict_with_proba(self, spectra: np.ndarray, minerals: list[str] | None = None,
                           coverage: float = 0.9, n_species: int = 5, n_specimens: int = 10
                           ) -> tuple[list[ProvenanceResult], np.ndarray]:
        """``predict``'s results and the country probabilities they give (n, classes), in
        class order: what a caller wanting the numbers reads without building a table."""
        levels = self.spec["models"]["spectrum"]["set_thresholds"]
        if str(coverage) not in levels:
            raise ValueError(f"--coverage {coverage}: the model has sets for "
                             f"{', '.join(levels)} only")
        spectra = np.asarray(spectra, np.float32)
        if not len(spectra):
            return [], np.zeros((0, len(self.classes)))
        blocks = side_by_side(
            lambda lo: self._answer_block(spectra[lo:lo + BLOCK],
                                          minerals[lo:lo + BLOCK] if minerals else None,
                                          n_species, n_specimens),
            range(0, len(spectra), BLOCK))
        proba = np.concatenate([b[1] for b in blocks])
        evidence = [e for b in blocks for e in b[2]]
        return answers(self, proba, evidence, minerals,
                       MatchParts.concat([b[0] for b in blocks]), coverage)

    def _answer_block(self, spectra: np.ndarray, minerals: list[str] | None, n_species: int,
                      n_specimens: int) -> tuple[MatchParts, np.ndarray, list[str]]:
        """One block's matches, calibrated probabilities and evidence (every row's answer
        depends on its row only, so blocks run side by side)."""
        parts, nb = self._match_block(spectra, n_species, n_specimens)
        raw, evidence = self.raw_proba(spectra, minerals, neighbours=nb)
        return parts, self._calibrated(raw, evidence), evidence

    def _match_block(self, spectra: np.ndarray, n_species: int, n_specimens: int
                     ) -> tuple[MatchParts, Neighbours]:
        """One block of queries against the library: species, specimens, novelty score and
        the country models' neighbours, all from one pass of similarities."""
        sims = self.views.similarities(spectra)
        nb = top_neighbours(sims.cosine, MAX_NEIGHBOURS)
        best = self.library.species_best(sims.window)
        top = stable_top(best, min(n_species, best.shape[1]))
        r = self.library.species_best_of(sims.correlation, top)
        picks = self.library.nearest_specimen_rows(sims.window, n_specimens)
        parts = MatchParts(top, np.take_along_axis(best, top, axis=1),
                           hqi_of_correlation(r), picks,
                           np.take_along_axis(sims.window, picks, axis=1),
                           self._novelty_scores(spectra, sims))
        return parts, nb

    def _novelty_scores(self, spectra: np.ndarray, sims: Similarities) -> np.ndarray | None:
        """The novelty model's scores, from the similarities already computed where its
        views are among them (cosine or correlation over the grid)."""
        model = self.novelty
        if model is None:
            return None
        if isinstance(model, LearnedNovelty):
            return model.score(spectra, self.library.X,
                               given={"cosine": sims.cosine, "correlation": sims.correlation})
        view = {"cosine": sims.cosine, "correlation": sims.correlation}.get(model.kind)
        if view is None:
            return model.score(spectra, self.library.X)
        return model.score_similarities(view)
