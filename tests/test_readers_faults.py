"""Reader faults of "Instrument files" parts 1 and 2: text encodings and quoting, JCAMP-DX
multi-block files and DUP bombs, the SPC y/x type rule, OPUS and OMNIC SPA files, zip members
that cannot be read, special files in input folders and library warnings. Real files are in
tests/data/formats (see its README for origin and licence)."""

import warnings

import numpy as np
import pytest

from rruffgeo.spectra.readers import read_bytes

# --- delimited text -----------------------------------------------------------------------


def test_wavelength_in_micrometres_is_converted_as_micrometres():
    text = b"Wavelength (um);Intensity\n0.540;1\n0.550;2\n0.560;3\n"
    (s,) = read_bytes(text, "um.csv", laser_nm=532)
    np.testing.assert_allclose(s.wavenumber_cm1, 1e7 / 532 - 1e7 / np.array([540, 550, 560]))
    assert s.metadata["x_units"] == "um"


@pytest.mark.parametrize("text", [
    b'"Raman shift","Intensity"\n"153.50","100.00"\n"154.50","101.00"\n',
    b'"153.50","100.00"\n"154.50","101.00"\n',
    b'"153,50";"100,00"\n"154,50";"101,00"\n',
    b'"153,50","100,00"\n"154,50","101,00"\n',  # quoted: the comma cannot be a delimiter
])
def test_quoted_csv_fields(text):
    (s,) = read_bytes(text, "q.csv")
    np.testing.assert_allclose(s.wavenumber_cm1, [153.5, 154.5])
    np.testing.assert_allclose(s.intensity, [100.0, 101.0])


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-16-be"])
def test_utf16_text_with_or_without_byte_order_mark(encoding):
    text = "Raman shift (cm⁻¹)\tIntensity\n153.5\t100\n154.5\t101\n155.5\t99\n"
    (s,) = read_bytes(text.encode(encoding), "u16.txt")
    np.testing.assert_allclose(s.wavenumber_cm1, [153.5, 154.5, 155.5])
    np.testing.assert_allclose(s.intensity, [100, 101, 99])


@pytest.mark.parametrize("tail", [b"\x1a", b"\r\n\x1a", b"\x1a\r\n", b"\x1a" * 60])
def test_dos_end_of_file_byte_ends_the_text(tail):
    (s,) = read_bytes(b"153.5;100\r\n154.5;101\r\n" + tail, "dos.csv")
    np.testing.assert_allclose(s.intensity, [100, 101])


def test_no_warning_for_clean_text():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        read_bytes(b"153.5;100\n154.5;101\n", "ok.csv")
