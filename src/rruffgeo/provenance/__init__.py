"""Where a specimen comes from: the reference library, the provenance models, their
cross-validation, calibration and conformal sets, and the final model that ``predict`` uses.

Torch-free except for the network's out-of-fold probabilities, imported only when used."""
