"""A scikit-learn estimator around ConvNeXt1D, for tools such as raman-bench.

``X`` holds spectra already on one common grid (n_samples, n_points), e.g. rows of the
spectrum matrix; ``y`` any hashable labels.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.preprocessing import LabelEncoder
from sklearn.utils.validation import check_is_fitted, validate_data

from rruffgeo.config import ModelSettings, Settings, TrainSettings
from rruffgeo.network.runtime import predict_proba, select_device
from rruffgeo.network.train import fit_network


class ConvNeXt1DClassifier(ClassifierMixin, BaseEstimator):
    """The paper's ConvNeXt1D trained with schedule-free AdamW, with the project's defaults.

    Parameters
    ----------
    depths, dims, drop_path_rate, head_dropout, head_pool, layer_scale_init, input_pool :
        architecture (see ``ModelSettings``; ``head_pool="avg"``, ``layer_scale_init=1e-6`` is
        the paper's; ``input_pool=4`` learns on ``X`` averaged 4:1).
    epochs, batch_size, lr, weight_decay, grad_clip_norm, warmup_steps : training
        (see ``TrainSettings``).
    aug_shift_cm1, aug_scale, aug_noise : augmentation (see ``TrainSettings``; all 0 = off).
    grid_step_cm1 : spacing of ``X``'s columns in cm-1. The shift augmentation is set in cm-1,
        so it needs the spacing; without it ``fit`` refuses ``aug_shift_cm1 > 0`` rather than
        guess the unit.
    device : "auto", "cpu" or "cuda".
    random_state : seed of initialisation, shuffling and dropout (int).
    verbose : show a progress bar while fitting.
    """

    def __init__(self, depths: Sequence[int] = (2, 2, 3, 2),
                 dims: Sequence[int] = (32, 64, 128, 256), drop_path_rate: float = 0.1,
                 head_dropout: float = 0.1, head_pool: str = "flatten",
                 layer_scale_init: float = 0.1, input_pool: int = 1,
                 epochs: int = 20, batch_size: int = 64,
                 lr: float = 1e-3, weight_decay: float = 0.35, grad_clip_norm: float = 1.0,
                 warmup_steps: int = 100, aug_shift_cm1: float = 4.0, aug_scale: float = 0.15,
                 aug_noise: float = 0.01, grid_step_cm1: float | None = None,
                 device: str = "auto", random_state: int | None = 0,
                 verbose: bool = False) -> None:
        self.depths = depths
        self.dims = dims
        self.drop_path_rate = drop_path_rate
        self.head_dropout = head_dropout
        self.head_pool = head_pool
        self.layer_scale_init = layer_scale_init
        self.input_pool = input_pool
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.weight_decay = weight_decay
        self.grad_clip_norm = grad_clip_norm
        self.warmup_steps = warmup_steps
        self.aug_shift_cm1 = aug_shift_cm1
        self.aug_scale = aug_scale
        self.aug_noise = aug_noise
        self.grid_step_cm1 = grid_step_cm1
        self.device = device
        self.random_state = random_state
        self.verbose = verbose

    def _settings(self) -> Settings:
        seed = 0 if self.random_state is None else int(self.random_state)
        return Settings(
            model=ModelSettings(depths=tuple(self.depths), dims=tuple(self.dims),
                                drop_path_rate=self.drop_path_rate,
                                head_dropout=self.head_dropout, head_pool=self.head_pool,
                                layer_scale_init=self.layer_scale_init,
                                input_pool=self.input_pool),
            train=TrainSettings(lr=self.lr, weight_decay=self.weight_decay,
                                warmup_steps=self.warmup_steps, epochs=self.epochs,
                                batch_size=self.batch_size, grad_clip_norm=self.grad_clip_norm,
                                aug_shift_cm1=self.aug_shift_cm1, aug_scale=self.aug_scale,
                                aug_noise=self.aug_noise, seed=seed, device=self.device),
        )

    def fit(self, X, y) -> ConvNeXt1DClassifier:
        """Train on spectra ``X`` (n_samples, n_points) and labels ``y``; returns self."""
        X, y = validate_data(self, X, y, dtype=np.float32)
        min_points = ModelSettings(dims=tuple(self.dims), depths=tuple(self.depths),
                                   input_pool=self.input_pool).min_input_length
        if X.shape[1] < min_points:
            raise ValueError(f"spectra have {X.shape[1]} points; this network needs at least "
                             f"{min_points} (resample them onto a longer grid)")
        self._encoder = LabelEncoder().fit(y)
        self.classes_ = self._encoder.classes_
        self._device = select_device(self.device)
        self.model_, self.history_ = fit_network(
            X, self._encoder.transform(y), len(self.classes_), self._settings(),
            progress=self.verbose, desc="ConvNeXt1D", device=self._device,
            grid_step_cm1=self.grid_step_cm1)
        return self

    def predict_proba(self, X) -> np.ndarray:
        """Class probabilities (n_samples, n_classes), columns in ``classes_`` order."""
        check_is_fitted(self, "model_")
        X = validate_data(self, X, dtype=np.float32, reset=False)
        return predict_proba(self.model_, X, self._device)

    def predict(self, X) -> np.ndarray:
        """Most probable label per sample."""
        check_is_fitted(self, "model_")
        return self.classes_[self.predict_proba(X).argmax(axis=1)]
