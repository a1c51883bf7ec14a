"""rruffgeo: tell where on Earth a mineral specimen comes from by reading its Raman spectrum.

Rebuilds the pipeline of Pappone, Califano & Tafani (2024), "From Spectra to Geography:
Intelligent Mapping of RRUFF Mineral Data", with honest (specimen-grouped) evaluation.
Stages, each reading and writing files in one work folder:
data -> geo -> spectra -> model -> report.
"""

__version__ = "0.1.0"
