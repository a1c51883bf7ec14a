"""Readers for the spectrum files labs export, dispatched by extension and content.

``read_spectra(path)`` returns every spectrum of one file as ``Spectrum`` objects on a Raman
shift axis (cm-1); ``iter_inputs`` expands files, folders (recursively) and zips into the
files to read. Formats: RRUFF ``.txt``; CSV/TSV/TXT (any delimiter, header lines, decimal
commas, quoted fields, UTF-16; Horiba LabSpec, B&W Tek, Renishaw and other text exports);
JCAMP-DX including the compressed ASDF forms, LINK and NTUPLES files; Galactic/Thermo SPC;
Renishaw WDF; Bruker OPUS; Thermo OMNIC SPA. docs/formats.md has the rules.
"""

from rruffgeo.spectra.readers.dispatch import SUFFIXES, read_bytes, sniff_format
from rruffgeo.spectra.readers.inputs import InputFile, iter_inputs, read_spectra
from rruffgeo.spectra.readers.units import nm_to_raman_shift, to_raman_shift

__all__ = [
    "SUFFIXES",
    "InputFile",
    "iter_inputs",
    "nm_to_raman_shift",
    "read_bytes",
    "read_spectra",
    "sniff_format",
    "to_raman_shift",
]
