"""Gradient-boosted trees for the learned novelty score, kept as plain JSON.

Torch-free. On inner open-set splits, boosted trees over the search and match features
flagged more out-of-library spectra at 95% of in-library kept than the logistic regression
(``benchmarks/openset_candidates.py``): the features interact (a high similarity means less
when the nearest reference is a hub, or when its peaks sit elsewhere). sklearn fits them;
``BoostedTrees`` keeps each tree's node arrays and evaluates them with numpy, so a model
folder needs no pickle and predicting needs no sklearn.

Trees cannot score beyond the most extreme leaves they were fitted with: where the open-set
splits give fewer than ``MIN_TREE_ROWS`` rows (a small library: a few species, a few dozen
held-out spectra) the strangest in-library spectrum already reaches that ceiling and nothing
can be flagged, so there the classifier is a logistic regression (``Logistic``, standardised
features, ``C`` = 0.1, the score this one replaced), which grows without bound.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

#: Fitting settings (no early stopping: it would hold out a random tenth of the rows).
PARAMS: dict[str, Any] = {"max_iter": 200, "learning_rate": 0.05, "max_leaf_nodes": 15,
                          "min_samples_leaf": 40, "l2_regularization": 1.0,
                          "early_stopping": False}
#: A leaf holds at least this share of the rows, when that is fewer than PARAMS' 40 (a small
#: library's splits give a few dozen rows, where 40 a leaf would leave one constant tree).
LEAF_SHARE = 0.02
#: Fewest open-set rows for the trees (a few times the leaves of one tree at 40 a leaf).
MIN_TREE_ROWS = 1000
REGULARISATION = 0.1
NODE_FIELDS = ("feature_idx", "num_threshold", "left", "right", "is_leaf",
               "missing_go_to_left", "value")


#: The dtype each node field is evaluated in (flags as booleans, links as indices).
NODE_DTYPES = {"num_threshold": np.float64, "value": np.float64, "is_leaf": bool,
               "missing_go_to_left": bool}


def node_arrays(nodes: Any) -> dict[str, np.ndarray]:
    """One tree's ``NODE_FIELDS`` as typed arrays, from sklearn's node records or from the
    lists ``to_json`` wrote."""
    return {f: np.asarray(nodes[f]).astype(NODE_DTYPES.get(f, np.int64))
            for f in NODE_FIELDS}


@dataclass
class BoostedTrees:
    """A binary classifier: raw score ``baseline`` plus each tree's leaf value; ``trees``
    holds per tree one array per ``NODE_FIELDS`` entry."""

    baseline: float
    trees: list[dict[str, np.ndarray]]

    def raw(self, F: np.ndarray) -> np.ndarray:
        """Log-odds of the positive class for feature rows ``F``."""
        F = np.asarray(F, np.float64)
        rows = np.arange(len(F))
        total = np.full(len(F), self.baseline)
        for t in self.trees:
            node = np.zeros(len(F), np.int64)
            while True:
                inner = ~t["is_leaf"][node]
                if not inner.any():
                    break
                x = F[rows, t["feature_idx"][node]]
                left = np.where(np.isnan(x), t["missing_go_to_left"][node],
                                x <= t["num_threshold"][node])
                node = np.where(inner, np.where(left, t["left"][node], t["right"][node]), node)
            total += t["value"][node]
        return total

    def proba(self, F: np.ndarray) -> np.ndarray:
        """Probability of the positive class."""
        return 1.0 / (1.0 + np.exp(-self.raw(F)))

    def to_json(self) -> dict[str, Any]:
        """Plain JSON: the baseline and each tree's node arrays."""
        def plain(name: str, a: np.ndarray) -> list:
            return [round(float(v), 9) for v in a] if name in ("num_threshold", "value") \
                else [int(v) for v in a]
        return {"kind": "trees", "baseline": float(self.baseline),
                "trees": [{f: plain(f, t[f]) for f in NODE_FIELDS} for t in self.trees]}

    @classmethod
    def from_json(cls, spec: dict[str, Any]) -> BoostedTrees:
        """The trees ``to_json`` wrote; ValueError when a node points outside its tree."""
        trees = []
        for t in spec["trees"]:
            tree = node_arrays(t)
            n = len(tree["value"])
            links = np.r_[tree["left"][~tree["is_leaf"]], tree["right"][~tree["is_leaf"]]]
            if n == 0 or any(len(tree[f]) != n for f in NODE_FIELDS) or \
                    ((links <= 0) | (links >= n)).any():
                raise ValueError("novelty trees: a malformed tree")
            trees.append(tree)
        return cls(float(spec["baseline"]), trees)


def tree_params(n_rows: int) -> dict[str, Any]:
    """``PARAMS`` with the leaf size ``LEAF_SHARE`` allows for ``n_rows`` rows."""
    leaf = min(PARAMS["min_samples_leaf"], max(2, int(LEAF_SHARE * n_rows)))
    return {**PARAMS, "min_samples_leaf": leaf}


def fit_trees(F: np.ndarray, is_out: np.ndarray, seed: int) -> BoostedTrees:
    """Boosted trees for "out of library" fitted on feature rows ``F``."""
    from sklearn.ensemble import HistGradientBoostingClassifier

    if is_out.all() or not is_out.any():
        raise ValueError("the novelty classifier needs in-library and out-of-library spectra")
    clf = HistGradientBoostingClassifier(random_state=seed, **tree_params(len(F)))
    clf.fit(F, is_out)
    trees = [node_arrays(p.nodes) for (p,) in clf._predictors]
    return BoostedTrees(float(np.ravel(clf._baseline_prediction)[0]), trees)


@dataclass
class Logistic:
    """A logistic regression on standardised features (``mean``, ``scale``)."""

    mean: np.ndarray
    scale: np.ndarray
    coef: np.ndarray
    intercept: float

    def proba(self, F: np.ndarray) -> np.ndarray:
        """Probability of the positive class."""
        z = ((np.asarray(F, np.float64) - self.mean) / self.scale) @ self.coef + self.intercept
        return 1.0 / (1.0 + np.exp(-z))

    def to_json(self) -> dict[str, Any]:
        """Plain JSON: standardisation, coefficients and intercept."""
        return {"kind": "logistic", "mean": [float(v) for v in self.mean],
                "scale": [float(v) for v in self.scale], "coef": [float(v) for v in self.coef],
                "intercept": float(self.intercept)}

    @classmethod
    def from_json(cls, spec: dict[str, Any]) -> Logistic:
        """The regression ``to_json`` wrote; ValueError when its arrays differ in length."""
        m = cls(*(np.asarray(spec[k], np.float64) for k in ("mean", "scale", "coef")),
                float(spec["intercept"]))
        if not len(m.mean) == len(m.scale) == len(m.coef) or (m.scale <= 0).any():
            raise ValueError("novelty regression: a malformed standardisation")
        return m


def fit_logistic(F: np.ndarray, is_out: np.ndarray) -> Logistic:
    """The regression (``REGULARISATION``) on standardised ``F``."""
    from sklearn.linear_model import LogisticRegression

    mean, scale = F.mean(axis=0), F.std(axis=0)
    scale = np.where(scale > 0, scale, 1.0)
    reg = LogisticRegression(C=REGULARISATION, max_iter=5000).fit((F - mean) / scale, is_out)
    return Logistic(mean, scale, reg.coef_[0], float(reg.intercept_[0]))


Classifier = BoostedTrees | Logistic


def fit_classifier(F: np.ndarray, is_out: np.ndarray, seed: int) -> Classifier:
    """Trees where the rows are enough (``MIN_TREE_ROWS``), the regression below."""
    if is_out.all() or not is_out.any():
        raise ValueError("the novelty classifier needs in-library and out-of-library spectra")
    return fit_trees(F, is_out, seed) if len(F) >= MIN_TREE_ROWS else fit_logistic(F, is_out)


def classifier_from_json(spec: dict[str, Any]) -> Classifier:
    """The classifier ``to_json`` wrote, by its ``kind``."""
    kind = spec.get("kind")
    if kind == "trees":
        return BoostedTrees.from_json(spec)
    if kind == "logistic":
        return Logistic.from_json(spec)
    raise ValueError(f"unknown novelty classifier {kind!r}")
