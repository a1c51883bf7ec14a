"""Reader faults of "Instrument files" parts 1 and 2: text encodings and quoting, JCAMP-DX
multi-block files and DUP bombs, the SPC y/x type rule, OPUS and OMNIC SPA files, zip members
that cannot be read, special files in input folders and library warnings. Real files are in
tests/data/formats (see its README for origin and licence)."""

import time
import warnings
from pathlib import Path

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


# --- JCAMP-DX -------------------------------------------------------------------------------

DATA = Path(__file__).parent / "data" / "formats"


def _link(*blocks: str) -> bytes:
    """A JCAMP-DX 4.24 LINK file around ``blocks`` (each a complete ##TITLE ... ##END block)."""
    inner = "".join(b if b.endswith("\n") else b + "\n" for b in blocks)
    return (f"##TITLE=link\n##JCAMP-DX=4.24\n##DATA TYPE=LINK\n##BLOCKS={len(blocks)}\n"
            f"{inner}##END=\n").encode()


def test_link_file_reads_the_raman_block_after_an_infrared_one():
    ir = (DATA / "pacdec1.jdx").read_text(encoding="latin-1")
    raman = (DATA / "tannic_acid.jdx").read_text(encoding="latin-1")
    with pytest.warns(UserWarning, match=r"link.jdx: read 1 Raman block\(s\) of 2; skipped "
                      r"block 1: ##DATA TYPE=INFRARED SPECTRUM is not a Raman spectrum"):
        (s,) = read_bytes(_link(ir, raman), "link.jdx")
    assert s.source == "link.jdx" and len(s.intensity) == 1949
    with pytest.warns(UserWarning, match="three.jdx: read 2 Raman"):
        spectra = read_bytes(_link(raman, ir, raman), "three.jdx")
    assert [x.source for x in spectra] == ["three.jdx#1", "three.jdx#3"]


def test_link_file_with_no_raman_block_is_refused_naming_every_block():
    ir = (DATA / "pacdec1.jdx").read_text(encoding="latin-1")
    dup = (DATA / "dupinc2.jdx").read_text(encoding="latin-1")
    with pytest.raises(ValueError, match=r"^ir.jdx: none of its 2 blocks is a Raman spectrum "
                       r"\(block 1: ##DATA TYPE=INFRARED.*; block 2: ##DATA TYPE=INFRARED"):
        read_bytes(_link(ir, dup), "ir.jdx")


NTUPLES = """##TITLE=two pages
##JCAMP-DX=5.01
##DATA TYPE=RAMAN SPECTRUM
##DATA CLASS=NTUPLES
##NTUPLES=RAMAN SPECTRUM
##VAR_NAME=RAMAN SHIFT, INTENSITY, PAGE NUMBER
##SYMBOL=X, Y, M
##VAR_TYPE=INDEPENDENT, DEPENDENT, PAGE
##VAR_FORM=AFFN, ASDF, AFFN
##VAR_DIM=5, 5, 2
##UNITS=1/CM, ARBITRARY UNITS,
##FIRST=100, , 1
##LAST=500, , 2
##FACTOR=1, 0.5, 1
##PAGE=M=1
##NPOINTS=5
##DATA TABLE=(X++(Y..Y)), XYDATA
100 10 20 30 40 50
##PAGE=M=2
##NPOINTS=3
##DATA TABLE=(XY..XY), XYPOINTS
150, 8; 250, 6; 350, 4
##END NTUPLES=RAMAN SPECTRUM
##END=
"""


def test_ntuples_pages_are_each_a_spectrum():
    a, b = read_bytes(NTUPLES.encode(), "pages.jdx")
    assert (a.source, b.source) == ("pages.jdx#1", "pages.jdx#2")
    np.testing.assert_allclose(a.wavenumber_cm1, [100, 200, 300, 400, 500])
    np.testing.assert_allclose(a.intensity, [5, 10, 15, 20, 25])  # ##FACTOR 0.5 for Y
    np.testing.assert_allclose(b.wavenumber_cm1, [150, 250, 350])
    np.testing.assert_allclose(b.intensity, [4, 3, 2])
    nmr = NTUPLES.replace("RAMAN SPECTRUM", "NMR SPECTRUM").replace("1/CM", "HZ")
    with pytest.raises(ValueError, match="nmr.jdx: none of its 2 blocks .*NMR SPECTRUM"):
        read_bytes(nmr.encode(), "nmr.jdx")


def test_dup_bomb_is_refused_in_one_line_before_any_allocation():
    bomb = (b"##TITLE=bomb\n##JCAMP-DX=4.24\n##DATA TYPE=RAMAN SPECTRUM\n##XUNITS=1/CM\n"
            b"##FIRSTX=0\n##LASTX=10\n##NPOINTS=10\n##XYDATA=(X++(Y..Y))\n"
            b"0 100S999999999\n##END=\n")
    start = time.process_time()
    with pytest.raises(ValueError, match=r"^bomb.jdx: line 9: DUP count 1999999999 asks for "
                       r"more values than ##NPOINTS \(at most 10,000,000\) allows$"):
        read_bytes(bomb, "bomb.jdx")
    assert time.process_time() - start < 1.0
    no_npoints = bomb.replace(b"##NPOINTS=10\n", b"")
    with pytest.raises(ValueError, match="bomb.jdx: line 8: DUP count 1999999999 asks"):
        read_bytes(no_npoints, "bomb.jdx")
    assert time.process_time() - start < 2.0
