"""Country-of-origin models built on the reference library, torch-free, scikit-learn style.

Every model has ``fit(X, y, groups=..., species=...)`` and ``predict_proba(X, species=None)``
and keeps ``classes_`` (class indices 0..n_classes-1, columns of the probabilities).
``species`` at prediction is optional evidence: a mineral name per spectrum ("" = unknown); by
default only the spectrum is used. All probabilities are strictly positive (each model is
smoothed toward the class prior), so the log-loss is finite.

- ``ClassPrior``: the training share of each country (its argmax is the majority class).
- ``SpeciesFrequency``: the species of the nearest reference spectrum (or the given mineral when
  the library has it), then the countries of that species' reference specimens, smoothed toward
  the prior with ``alpha`` pseudo-specimens. Findings section 9: a spectrum tells which
  mineral it is much better than where it is from.
- ``KNNCountry``: distance-weighted k nearest neighbours (cosine similarity, kernel weights
  ``exp((s - s_max) / tau)``), over spectra or one per specimen, mixed with the prior by ``lam``.
- ``Mixture``: a weighted average of fitted models' probabilities; weights by EM on held-out
  probabilities (``fit_mixture_weights``), i.e. maximum likelihood for the mixing proportions.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from rruffgeo.config import MAX_NEIGHBOURS
from rruffgeo.provenance.library import species_key, stable_top, unit_rows


@dataclass
class Neighbours:
    """Reference rows nearest each query, by decreasing cosine similarity."""

    index: np.ndarray  # (n_queries, K) int
    sim: np.ndarray  # (n_queries, K) float32
    _first: dict[int, np.ndarray] = field(default_factory=dict, repr=False)

    def first_of_specimen(self, group_codes: np.ndarray) -> np.ndarray:
        """Mask (n, K): True where the neighbour is the best of its specimen in that row."""
        key = id(group_codes)
        if key not in self._first:
            self._first[key] = first_occurrences(group_codes[self.index],
                                                 int(group_codes.max(initial=0)) + 1)
        return self._first[key]


def first_occurrences(codes: np.ndarray, n_codes: int, block: int = 256) -> np.ndarray:
    """Mask (n, K): True where ``codes[i, j]`` did not occur before in row ``i``. One pass
    over the columns with a seen-table per row (cheaper than a sort of every row)."""
    mask = np.zeros(codes.shape, bool)
    for lo in range(0, len(codes), block):
        part = codes[lo:lo + block]
        seen = np.zeros(len(part) * n_codes, bool)
        flat = np.ascontiguousarray((part + (np.arange(len(part)) * n_codes)[:, None]).T)
        first = np.empty(flat.shape, bool)
        for j, at in enumerate(flat):
            np.logical_not(seen[at], out=first[j])
            seen[at] = True
        mask[lo:lo + block] = first.T
    return mask


def find_neighbours(reference_unit: np.ndarray, queries: np.ndarray,
                    k: int = MAX_NEIGHBOURS, chunk: int = 512,
                    exclude_self: bool = False) -> Neighbours:
    """The ``k`` most cosine-similar reference rows of each query (reference rows unit-length)."""
    q = unit_rows(queries)
    parts = [top_neighbours(q[lo:lo + chunk] @ reference_unit.T, k)
             for lo in range(0, len(q), chunk)]
    if not parts:
        k = min(k, reference_unit.shape[0])
        return Neighbours(np.empty((0, k), np.int64), np.empty((0, k), np.float32))
    return Neighbours(np.concatenate([p.index for p in parts]),
                      np.concatenate([p.sim for p in parts]))


def top_neighbours(sims: np.ndarray, k: int = MAX_NEIGHBOURS) -> Neighbours:
    """The ``k`` most similar references of each row of ``sims`` (queries, references), by
    decreasing similarity, ties by reference (``stable_top``)."""
    index = stable_top(sims, min(k, sims.shape[1]))
    return Neighbours(index.astype(np.int64),
                      np.take_along_axis(sims, index, axis=1).astype(np.float32))


def class_prior(y: np.ndarray, n_classes: int, pseudocount: float = 0.5) -> np.ndarray:
    """Training share of each class with ``pseudocount`` added (Jeffreys), so none is 0."""
    counts = np.bincount(np.asarray(y), minlength=n_classes).astype(np.float64)
    return (counts + pseudocount) / (counts.sum() + pseudocount * n_classes)


class _NeighbourModel:
    """Shared fit: stores the unit-length reference spectra with labels, groups and species."""

    def fit(self, X: np.ndarray, y: np.ndarray, *, groups: np.ndarray, species: np.ndarray,
            n_classes: int | None = None, reference: np.ndarray | None = None
            ) -> _NeighbourModel:
        """``reference``: ``unit_rows(X)`` when the caller has it already (the CV fits every
        model of a fold on the same rows: one copy of them, not one per model)."""
        y = np.asarray(y, np.int64)
        n_classes = int(n_classes or y.max() + 1)
        self.classes_ = np.arange(n_classes)
        self.reference_ = unit_rows(X) if reference is None else reference
        self.y_ = y
        self.group_codes_ = np.unique(np.asarray(groups), return_inverse=True)[1]
        self.species_ = np.array([species_key(s) for s in species], dtype=object)
        self.prior_ = class_prior(y, n_classes)
        self._fit_tables(np.asarray(groups))
        return self

    def _fit_tables(self, groups: np.ndarray) -> None:
        """Model-specific tables from the stored reference (none by default)."""

    def neighbours(self, X: np.ndarray) -> Neighbours:
        return find_neighbours(self.reference_, X)

    def predict_proba(self, X: np.ndarray, species: np.ndarray | None = None) -> np.ndarray:
        return self.proba_from_neighbours(self.neighbours(X), species)

    def proba_from_neighbours(self, nb: Neighbours, species: np.ndarray | None = None
                              ) -> np.ndarray:
        raise NotImplementedError


class ClassPrior(_NeighbourModel):
    """Every spectrum gets the training share of each country."""

    def proba_from_neighbours(self, nb: Neighbours, species: np.ndarray | None = None
                              ) -> np.ndarray:
        return np.tile(self.prior_, (len(nb.index), 1))


class SpeciesFrequency(_NeighbourModel):
    """Species from the nearest spectrum (or the given mineral), then its country frequencies."""

    def __init__(self, alpha: float = 2.0) -> None:
        self.alpha = alpha

    def _fit_tables(self, groups: np.ndarray) -> None:
        names, codes = np.unique(self.species_.astype(str), return_inverse=True)
        self.species_names_ = names
        self.species_index_ = {s: i for i, s in enumerate(names)}
        self.species_codes_ = codes
        # One vote per specimen (an oriented series must not count a dozen times).
        table = np.zeros((len(names), len(self.classes_)))
        seen = set()
        for g, s, c in zip(self.group_codes_, codes, self.y_, strict=True):
            if (g, s) not in seen:
                seen.add((g, s))
                table[s, c] += 1
        self.counts_ = table

    def species_used(self, nb: Neighbours, species: np.ndarray | None = None
                     ) -> tuple[np.ndarray, np.ndarray]:
        """Species code per query and whether it came from the given mineral name."""
        codes = self.species_codes_[nb.index[:, 0]].copy()
        given = np.zeros(len(codes), bool)
        if species is not None:
            for i, s in enumerate(species):
                j = self.species_index_.get(species_key(s))
                if j is not None:
                    codes[i], given[i] = j, True
        return codes, given

    def proba_from_neighbours(self, nb: Neighbours, species: np.ndarray | None = None
                              ) -> np.ndarray:
        codes, _ = self.species_used(nb, species)
        counts = self.counts_[codes]
        return (counts + self.alpha * self.prior_) / (counts.sum(1, keepdims=True) + self.alpha)


class KNNCountry(_NeighbourModel):
    """Kernel-weighted votes of the ``k`` nearest spectra (or specimens), mixed with the prior."""

    def __init__(self, k: int = 20, tau: float = 0.05, lam: float = 0.3,
                 by_specimen: bool = True) -> None:
        self.k, self.tau, self.lam, self.by_specimen = k, tau, lam, by_specimen

    def proba_from_neighbours(self, nb: Neighbours, species: np.ndarray | None = None
                              ) -> np.ndarray:
        n, n_classes = len(nb.index), len(self.classes_)
        keep = (nb.first_of_specimen(self.group_codes_) if self.by_specimen
                else np.ones(nb.index.shape, bool))
        keep = keep & (np.cumsum(keep, axis=1) <= self.k)
        w = np.exp((nb.sim - nb.sim[:, :1]) / self.tau) * keep
        flat = np.arange(n)[:, None] * n_classes + self.y_[nb.index]
        votes = np.bincount(flat.ravel(), weights=w.ravel(),
                            minlength=n * n_classes).astype(np.float64)
        votes = votes.reshape(n, n_classes)
        votes /= np.maximum(votes.sum(1, keepdims=True), 1e-300)
        return (1 - self.lam) * votes + self.lam * self.prior_


class Mixture:
    """Weighted average of fitted models' probabilities (weights sum to 1)."""

    def __init__(self, models: list[_NeighbourModel], weights: np.ndarray) -> None:
        self.models = models
        self.weights = np.asarray(weights, float)
        self.classes_ = models[0].classes_

    def proba_from_neighbours(self, nb: Neighbours, species: np.ndarray | None = None
                              ) -> np.ndarray:
        return sum(w * m.proba_from_neighbours(nb, species)
                   for w, m in zip(self.weights, self.models, strict=True))

    def predict_proba(self, X: np.ndarray, species: np.ndarray | None = None) -> np.ndarray:
        return self.proba_from_neighbours(self.models[0].neighbours(X), species)


def fit_mixture_weights(probas: list[np.ndarray], y: np.ndarray, n_iter: int = 500,
                        tol: float = 1e-9) -> np.ndarray:
    """Mixing weights maximising the likelihood of ``y`` under sum_i w_i p_i (EM)."""
    like = np.stack([p[np.arange(len(y)), y] for p in probas], axis=1)  # (n, m)
    w = np.full(like.shape[1], 1.0 / like.shape[1])
    last = -np.inf
    for _ in range(n_iter):
        mix = like @ w
        ll = float(np.log(np.maximum(mix, 1e-300)).mean())
        w = (like * w / np.maximum(mix, 1e-300)[:, None]).mean(axis=0)
        w /= w.sum()
        if ll - last < tol:
            break
        last = ll
    return w
