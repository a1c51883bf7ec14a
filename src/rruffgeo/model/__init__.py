"""Learning: the ConvNeXt1D network, training, evaluation and prediction (paper 4-5, B)."""
