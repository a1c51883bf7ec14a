"""Learning: the ConvNeXt1D network, training, evaluation and prediction (paper 4-5, B)."""

from rruffgeo.dataset import learning_table
from rruffgeo.model.evaluate import load_dataset, run_cv, run_train
from rruffgeo.model.modelio import load_model, save_model
from rruffgeo.model.predict import Predictor, predict_files

__all__ = [
    "Predictor",
    "learning_table",
    "load_dataset",
    "load_model",
    "predict_files",
    "run_cv",
    "run_train",
    "save_model",
]
