"""RRUFF data: file names, headers, spectra; sources (txt, zip, mirror, download); the catalog."""
