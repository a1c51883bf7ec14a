"""Reader faults of "Instrument files" parts 1 and 2: text encodings and quoting, JCAMP-DX
multi-block files and DUP bombs, the SPC y/x type rule, OPUS and OMNIC SPA files, zip members
that cannot be read, special files in input folders and library warnings. Real files are in
tests/data/formats (see its README for origin and licence)."""

import os
import random
import re
import shutil
import signal
import struct
import subprocess
import time
import uuid
import warnings
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from rruffgeo.spectra.readers import iter_inputs, read_bytes, read_spectra
from rruffgeo.spectra.readers.inputs import read_input
from rruffgeo.spectra.spectrum import Spectrum

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


def test_quoted_fields_separated_by_spaces():
    (s,) = read_bytes(b'"153.5" "100"\n"154.5" "101"\n', "q.txt")
    np.testing.assert_allclose(s.intensity, [100, 101])


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


# --- SPC: the x type / y type / experiment type rule -------------------------------------

NCAL_SPC = DATA / "nCal_Qontor785_z005H12_100_1x3s.spc"
FEXPER, FXTYPE, FYTYPE = 2, 28, 29  # byte offsets in the SPC main header (SPCHDR)
X_TYPES = {"XWAVEN": 1, "XNMETR": 3, "XRAMANS": 13, "XSECS": 4, "XPOINT": 22}
Y_TYPES = {"YARB": 0, "YIGRAM": 1, "YABSRB": 2, "YKMONK": 3, "YCOUNT": 4, "YLOGDR": 10,
           "YTRANS": 128, "YREFLEC": 129}
EXPERIMENTS = {"SPCGEN": 0, "SPCFTIR": 4, "SPCNMR": 10, "SPCRMN": 11, "SPCUV": 7}


def _spc_typed(x: str, y: str, experiment: str) -> bytes:
    """The real Renishaw SPC export with its x, y and experiment type bytes set."""
    data = bytearray(NCAL_SPC.read_bytes())
    data[FXTYPE], data[FYTYPE], data[FEXPER] = X_TYPES[x], Y_TYPES[y], EXPERIMENTS[experiment]
    return bytes(data)


@pytest.mark.parametrize("y", ["YTRANS", "YREFLEC", "YLOGDR", "YKMONK", "YIGRAM"])
@pytest.mark.parametrize("x", ["XWAVEN", "XRAMANS"])
def test_spc_transmittance_reflectance_and_the_like_are_refused(x, y):
    with pytest.raises(ValueError, match=rf"^t.spc: SPC y axis {y} \(.*\) is not a Raman"):
        read_bytes(_spc_typed(x, y, "SPCGEN"), "t.spc")


@pytest.mark.parametrize("x, experiment, match", [
    ("XSECS", "SPCGEN", "SPC x axis XSECS cannot be a Raman shift"),
    ("XPOINT", "SPCRMN", "SPC x axis XPOINT cannot be a Raman shift"),
    ("XRAMANS", "SPCNMR", r"SPC experiment type SPCNMR \(NMR spectrum\) is not a Raman"),
    ("XWAVEN", "SPCUV", r"SPC experiment type SPCUV \(UV-VIS spectrum\)"),
])
def test_spc_x_and_experiment_types_that_cannot_be_raman_are_refused(x, experiment, match):
    with pytest.raises(ValueError, match="^t.spc: " + match):
        read_bytes(_spc_typed(x, "YCOUNT", experiment), "t.spc")
    with pytest.raises(ValueError, match=r"YABSRB\) on a wavelength axis"):
        read_bytes(_spc_typed("XNMETR", "YABSRB", "SPCGEN"), "t.spc", laser_nm=785)


@pytest.mark.parametrize("x, y, experiment", [
    ("XRAMANS", "YABSRB", "SPCGEN"), ("XRAMANS", "YARB", "SPCGEN"),
    ("XWAVEN", "YCOUNT", "SPCFTIR"), ("XWAVEN", "YABSRB", "SPCRMN"),
])
def test_spc_raman_readings_without_a_warning(x, y, experiment):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        (s,) = read_bytes(_spc_typed(x, y, experiment), "r.spc")
    (ref,) = read_bytes(NCAL_SPC.read_bytes(), "ref.spc")
    np.testing.assert_allclose(s.wavenumber_cm1, ref.wavenumber_cm1)
    np.testing.assert_allclose(s.intensity, ref.intensity)


def test_spc_absorbance_on_a_plain_wavenumber_axis_is_read_with_one_warning():
    with pytest.warns(UserWarning, match=r"^a.spc: SPC y axis is absorbance \(YABSRB\) on a "
                      r"plain wavenumber axis \(XWAVEN\), as FT-IR files are") as record:
        (s,) = read_bytes(_spc_typed("XWAVEN", "YABSRB", "SPCFTIR"), "a.spc")
    assert len(record) == 1 and len(s.intensity) == 1021


def test_spc_files_of_other_writers():
    # specio's Raman test file (XRAMANS, YCOUNT, experiment SPCGEN), 1732 points.
    (s,) = read_spectra(DATA / "20170410EDL_L01_cell01_c1.spc")
    assert len(s.intensity) == 1732 and s.wavenumber_cm1[0] == pytest.approx(400.199, abs=1e-3)
    # Galactic's sample files: an arbitrary x axis (a krypton lamp), and 31 subfiles in nm.
    with pytest.raises(ValueError, match=r"^\S*gxy.spc: SPC x axis XARB cannot be a Raman"):
        read_spectra(DATA / "gxy.spc")
    with pytest.raises(ValueError, match=r"^\S*x-y.spc: x axis is an absolute wavelength"):
        read_spectra(DATA / "x-y.spc")
    spectra = read_spectra(DATA / "x-y.spc", laser_nm=532)
    assert len(spectra) == 31 and spectra[30].source.endswith("x-y.spc#31")


def _spc_multi(subfiles: list[np.ndarray]) -> bytes:
    """A multi-subfile SPC (new format, 0x4B) built on the real Renishaw file's header: the
    TMULTI flag (0x04) and ``fnsub`` set, no log block, then per subfile its 32-byte header
    and float32 ordinates, as the Galactic SPC specification lays them out."""
    real = NCAL_SPC.read_bytes()
    head = bytearray(real[:512])
    head[0] |= 0x04
    struct.pack_into("<i", head, 24, len(subfiles))  # fnsub
    struct.pack_into("<i", head, 248, 0)  # flogoff: no log block
    out = bytes(head)
    for i, y in enumerate(subfiles):
        sub = bytearray(real[512:544])
        struct.pack_into("<H", sub, 2, i)  # subindx
        out += bytes(sub) + np.asarray(y, "<f4").tobytes()
    return out


def test_spc_subfiles_with_no_data_are_skipped_and_a_file_of_only_those_refused():
    good, empty = np.linspace(1, 50, 1021), np.full(1021, np.nan)
    with pytest.warns(UserWarning, match="m.spc: read 1 of 3 SPC subfiles; skipped 2"):
        (s,) = read_bytes(_spc_multi([empty, good, empty]), "m.spc")
    assert s.source == "m.spc#2"
    np.testing.assert_allclose(s.intensity, good)
    with pytest.raises(ValueError, match=r"^n.spc: none of its 3 SPC subfiles holds a "
                       r"spectrum \(subfile 1: no finite points;"):
        read_bytes(_spc_multi([empty] * 3), "n.spc")


# --- zip members that cannot be read, special files ------------------------------------------

CSV = b"Raman shift;Intensity\n" + b"".join(b"%d;%d\n" % (100 + 10 * i, i) for i in range(60))


def _patch_member(archive: Path, member: str, *, method: int | None = None,
                  crc_xor: int = 0, first_byte: int | None = None) -> None:
    """Change one member's compression method (local and central headers), CRC or first
    compressed byte in place: how Windows' Deflate64 zips, bad copies and broken downloads
    look to a reader."""
    with zipfile.ZipFile(archive) as zf:
        info = zf.getinfo(member)
    data = bytearray(archive.read_bytes())
    local = info.header_offset
    central = data.rfind(member.encode()) - 46
    assert data[local:local + 4] == b"PK\x03\x04" and data[central:central + 4] == b"PK\x01\x02"
    if method is not None:
        struct.pack_into("<H", data, local + 8, method)
        struct.pack_into("<H", data, central + 10, method)
    for offset in (local + 14, central + 16):
        crc = struct.unpack_from("<I", data, offset)[0]
        struct.pack_into("<I", data, offset, crc ^ crc_xor)
    if first_byte is not None:
        name_len, extra_len = struct.unpack_from("<HH", data, local + 26)
        data[local + 30 + name_len + extra_len] = first_byte
    archive.write_bytes(bytes(data))


def _read_all(paths) -> tuple[dict[str, int], dict[str, str]]:
    """Spectra read per input and the refusal of each other, as predict reads a batch."""
    read, refused = {}, {}
    for item in iter_inputs(paths):
        try:
            read[Path(item.name).name] = len(read_input(item))
        except ValueError as exc:
            refused[Path(item.name).name] = str(exc)
    return read, refused


def test_bad_zip_members_are_refused_one_by_one_and_good_ones_read(tmp_path):
    archive = tmp_path / "batch.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        for name in ("a_good.csv", "crc.csv", "deflate.csv", "d64.csv", "z_good.csv"):
            zf.writestr(name, CSV)
    _patch_member(archive, "crc.csv", crc_xor=0xFFFF)
    _patch_member(archive, "deflate.csv", first_byte=0xFF)  # BTYPE 11: invalid block type
    _patch_member(archive, "d64.csv", method=9)
    read, refused = _read_all([archive])
    assert read == {"a_good.csv": 1, "z_good.csv": 1}
    assert refused["crc.csv"] == f"{archive}/crc.csv: corrupt zip member: Bad CRC-32 for " \
                                 "file 'crc.csv'"
    assert refused["deflate.csv"].startswith(f"{archive}/deflate.csv: corrupt zip member: "
                                             "Error -3 while decompressing data")
    assert refused["d64.csv"] == (f"{archive}/d64.csv: compression method 9 (Deflate64) is "
                                  "not supported; re-zip with ordinary Deflate")
    assert all("\n" not in r for r in refused.values())


@pytest.fixture
def encrypted_zip(tmp_path) -> Path:
    """A zip with one password-protected member, written by Info-ZIP's ``zip -P``."""
    tool = shutil.which("zip")
    if tool is None:
        pytest.skip("Info-ZIP zip not installed (apt-get install zip): it writes the "
                    "encrypted member; Python's zipfile cannot")
    (tmp_path / "secret.csv").write_bytes(CSV)
    (tmp_path / "open.csv").write_bytes(CSV)
    archive = tmp_path / "enc.zip"
    subprocess.run([tool, "-q", "-P", "pw", archive.name, "secret.csv"], cwd=tmp_path,
                   check=True)
    subprocess.run([tool, "-q", archive.name, "open.csv"], cwd=tmp_path, check=True)
    return archive


def test_encrypted_zip_member_is_refused_and_the_others_read(encrypted_zip):
    read, refused = _read_all([encrypted_zip])
    assert read == {"open.csv": 1}
    assert refused == {"secret.csv": f"{encrypted_zip}/secret.csv: encrypted member "
                       "(password-protected): cannot be read; unzip it first"}


def test_ingest_rejects_encrypted_and_deflate64_members(tmp_path, encrypted_zip):
    from rruffgeo.data import ingest, load_rejects
    from rruffgeo.workdir import WorkDir
    from test_data_catalog import OLD_NAME, RAW_NAME, rruff_text, settings, write_zip

    folder = tmp_path / "rruff"
    folder.mkdir()
    (tmp_path / "d64").mkdir()
    (folder / OLD_NAME).write_bytes(rruff_text())
    (folder / RAW_NAME).write_bytes(rruff_text(n=30))
    archive = tmp_path / "excellent_unoriented.zip"
    subprocess.run([shutil.which("zip"), "-q", "-j", "-P", "pw", str(archive),
                    str(folder / OLD_NAME)], check=True)
    subprocess.run([shutil.which("zip"), "-q", "-j", str(archive), str(folder / RAW_NAME)],
                   check=True)
    res = ingest(archive, WorkDir(tmp_path / "w"), settings(tmp_path), progress=False)
    rejects = load_rejects(tmp_path / "w")
    assert res.n_spectra == 1
    assert rejects["file"].tolist() == [f"{archive}/{OLD_NAME}"]
    assert rejects["reason"].tolist() == ["encrypted member (password-protected): cannot be "
                                          "read; unzip it first"]
    d64 = write_zip(tmp_path / "d64" / "excellent_unoriented.zip",
                    {OLD_NAME: rruff_text(), RAW_NAME: rruff_text(n=30)})
    _patch_member(d64, RAW_NAME, method=9)
    res = ingest(d64, WorkDir(tmp_path / "w2"), settings(tmp_path), progress=False)
    rejects = load_rejects(tmp_path / "w2")
    assert res.n_spectra == 1 and rejects["file"].tolist() == [f"{d64}/{RAW_NAME}"]
    assert rejects["reason"].tolist() == ["compression method 9 (Deflate64) is not "
                                          "supported; re-zip with ordinary Deflate"]


def test_named_pipe_in_an_input_folder_is_skipped_not_waited_on(tmp_path):
    if not hasattr(os, "mkfifo"):
        pytest.skip("no named pipes on this system")
    (tmp_path / "a.csv").write_bytes(CSV)
    os.mkfifo(tmp_path / "pipe.csv")
    os.mkfifo(tmp_path / "pipe.zip")
    signal.signal(signal.SIGALRM, lambda *_: pytest.fail("reading a named pipe hung"))
    signal.alarm(20)
    try:
        read, refused = _read_all([tmp_path, tmp_path / "pipe.csv"])
        with pytest.raises(ValueError, match="pipe.csv: a named pipe"):
            read_spectra(tmp_path / "pipe.csv")
    finally:
        signal.alarm(0)
    assert read == {"a.csv": 1}
    assert refused["pipe.csv"] == f"{tmp_path / 'pipe.csv'}: a named pipe (FIFO), not a " \
                                  "regular file: skipped"
    assert refused["pipe.zip"].endswith("pipe.zip: a named pipe (FIFO), not a regular file: "
                                        "skipped")


# --- library warnings ----------------------------------------------------------------------


def test_pybaselines_warning_becomes_one_line_of_ours_per_file():
    from rruffgeo.spectra.preprocess import baseline

    x = np.linspace(100, 1500, 1000)
    step = np.where(x > 800, 1000.0, 0.0)  # pybaselines' arPLS stops early on a step
    tag = uuid.uuid4().hex[:8]  # notes are once per process: names no other test uses
    series = [Spectrum(x, step * i, {"source": f"series{tag}.txt#{i}"}) for i in range(1, 6)]
    other = Spectrum(x, step, {"source": f"other{tag}.csv"})
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        corrected = [baseline(s) for s in [*series, other]]
    messages = [str(w.message) for w in caught]
    assert messages == [
        f"{name}: baseline (arpls) fit stopped early: it already lies on or below almost every "
        "point (flat stretches, zero padding or a step in the spectrum); that fit is subtracted"
        for name in (f"series{tag}.txt", f"other{tag}.csv")]
    assert all(np.isfinite(c.intensity).all() for c in corrected)
    np.testing.assert_allclose(corrected[0].intensity, baseline(series[0]).intensity)


# --- Bruker OPUS and Thermo OMNIC SPA -----------------------------------------------------

OPUS_FILES = {  # file: (instrument, the data blocks it holds)
    "test.0000": ("VERTEX 80V", "Absorbance, Reference Interferogram, Reference Spectrum, "
                  "Sample Interferogram, Sample Phase, Sample Spectrum"),
    "test_spectra.0": ("TENSOR II", "Reference Spectrum, Reflectance, Reflectance Unknown 5 "
                       "6, Sample Spectrum"),
    "BF_lo_01_soil_cal.1": ("Alpha", "Absorbance, Reference Spectrum, Sample Spectrum"),
}


@pytest.mark.parametrize("name", sorted(OPUS_FILES))
def test_opus_ftir_files_are_refused_naming_their_blocks(name):
    pytest.importorskip("brukeropus", reason="brukeropus not installed (pip install "
                        "'rruffgeo[opus]')")
    with pytest.raises(ValueError, match=re.escape(
            f"{name}: no Raman block in this OPUS file (it holds {OPUS_FILES[name][1]}); "
            "an FT-IR measurement is not a Raman spectrum")):
        read_spectra(DATA / name)


def _opus_sample_as_raman(data: bytes) -> bytes:
    """The OPUS file with its sample spectrum block, and that block's data status block,
    typed Raman (type field 3 = 10) in the directory: what an FT-Raman file holds."""
    out = bytearray(data)
    start, _, count = struct.unpack_from("<3i", out, 12)
    for pos in range(start, start + 12 * count, 12):
        kind = struct.unpack_from("<i", out, pos)[0]
        if (kind >> 10) & 0x7F == 1 and (kind >> 2) & 0x3 == 1 and (kind >> 4) & 0x3F < 2:
            struct.pack_into("<i", out, pos, (kind & ~(0x7F << 10)) | (10 << 10))
    return bytes(out)


@pytest.mark.parametrize("name", sorted(OPUS_FILES))
def test_opus_raman_block_is_read_like_brukeropus_reads_it(name):
    brukeropus = pytest.importorskip("brukeropus", reason="brukeropus not installed")
    ref = brukeropus.read_opus(str(DATA / name)).sm  # the same block as a sample spectrum
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        (s,) = read_bytes(_opus_sample_as_raman((DATA / name).read_bytes()), "ft.0")
    np.testing.assert_allclose(s.wavenumber_cm1, ref.x)
    np.testing.assert_allclose(s.intensity, ref.y, rtol=1e-6)
    assert s.metadata["format"] == "opus" and s.metadata["note"].startswith(
        "other blocks passed over: ")


def test_opus_point_count_beyond_the_block_and_false_opus_names_are_refused():
    pytest.importorskip("brukeropus", reason="brukeropus not installed")
    data = bytearray(_opus_sample_as_raman((DATA / "BF_lo_01_soil_cal.1").read_bytes()))
    npt = data.find(b"NPT\x00")  # first data status block's point count (int32 at +8)
    while npt >= 0:
        struct.pack_into("<i", data, npt + 8, 2_000_000_000)
        npt = data.find(b"NPT\x00", npt + 1)
    with pytest.raises(ValueError, match=r"^bomb.0: its Raman block has no data status block "
                       r"that fits it \(point count larger than the data, or missing\)$"):
        read_bytes(bytes(data), "bomb.0")
    with pytest.raises(ValueError, match="^notes.1: not a Bruker OPUS file"):
        read_bytes(b"some text\n" * 100, "notes.1")


def test_opus_and_spa_files_are_found_in_folders_and_zips(tmp_path):
    for name in ("BF_lo_01_soil_cal.1", "spectre.SPA"):
        (tmp_path / name).write_bytes((DATA / name).read_bytes())
    with zipfile.ZipFile(tmp_path / "in.zip", "w") as zf:
        zf.writestr("run/sample.0001", (DATA / "test.0000").read_bytes())
    names = sorted(Path(i.name).name for i in iter_inputs([tmp_path]) if not i.refused)
    assert names == ["BF_lo_01_soil_cal.1", "sample.0001", "spectre.SPA"]


SPA = DATA / "7_CZ0-100_Pd_101.SPA"


def test_spa_files_read_or_refused_by_their_units():
    with pytest.warns(UserWarning, match=r"7_CZ0-100_Pd_101.SPA: SPA y unit is absorbance on "
                      "a plain wavenumber axis"):
        (s,) = read_spectra(SPA)
    assert len(s.intensity) == 5549 and s.metadata["title"] == "7_CZ0-100 Pd_101"
    assert s.wavenumber_cm1[0] == pytest.approx(5999.713) \
        and s.wavenumber_cm1[-1] == pytest.approx(649.921)
    with pytest.raises(ValueError, match="spectre.SPA: SPA y unit is single beam, not a Raman"):
        read_spectra(DATA / "spectre.SPA")
    with pytest.raises(ValueError, match=r"interfero.SPA: SPA x unit code 2 \(data points\)"):
        read_spectra(DATA / "interfero.SPA")


def test_spa_raman_units_read_without_a_warning_and_bad_counts_refused():
    data = bytearray(SPA.read_bytes())
    header = struct.unpack_from("<I", data, 304 + 2)[0]  # directory entry 1: key 2, header
    data[header + 8], data[header + 12] = 32, 31  # x Raman shift, y Raman intensity
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        (s,) = read_bytes(bytes(data), "raman.spa")
    with pytest.warns(UserWarning):
        (ref,) = read_spectra(SPA)
    np.testing.assert_allclose(s.intensity, ref.intensity)
    struct.pack_into("<I", data, header + 4, 4_000_000_000)
    with pytest.raises(ValueError, match="^big.spa: SPA header declares 4000000000 points, "
                       "the intensity block holds 5549"):
        read_bytes(bytes(data), "big.spa")


# --- damaged files ----------------------------------------------------------------------------


def test_damaged_copies_of_every_real_file_are_refused_in_one_line_or_read():
    """Bytes changed, cut or inserted at random (seeded) in each real file: every reader
    must answer with a spectrum or a ValueError naming the file, quickly; never another
    exception, which would stop a batch."""
    rng = random.Random(20261207)
    files = sorted(p for p in DATA.iterdir() if p.suffix != ".md")
    for round_ in range(12):
        for path in files:
            data = bytearray(path.read_bytes())
            for _ in range(rng.choice([1, 3, 20])):
                i = rng.randrange(max(len(data), 1))
                action = rng.random()
                if action < 0.6:
                    data[i:i + 4] = bytes(rng.choice([0, 0x7F, 0x80, 0xFF, rng.randrange(256)])
                                          for _ in range(4))
                elif action < 0.8:
                    del data[i:]
                else:
                    data[i:i] = rng.randbytes(8)
            start = time.process_time()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                try:
                    read_bytes(bytes(data), path.name, laser_nm=532)
                except ValueError as exc:
                    assert str(exc).startswith(path.name) or "--laser-nm" in str(exc), exc
            assert time.process_time() - start < 3, (path.name, round_)


# --- a whole batch through the command line ---------------------------------------------------


def _labspec_series(rows: int = 6) -> str:
    """LabSpec's "spectra in rows" layout: an axis row, then one spectrum per row; each a
    step, on which pybaselines' arPLS stops early and warns."""
    axis = np.linspace(100, 1500, 200)
    lines = ["\t".join(f"{a:.2f}" for a in axis)]
    lines += ["\t".join(f"{v:.1f}" for v in np.where(axis > 800, 1000.0 * i, 0.0))
              for i in range(1, rows + 1)]
    return "\n".join(lines) + "\n"


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    from rruffgeo.network import run_train
    from synthetic_learn import make_workdir, tiny_settings

    root = tmp_path_factory.mktemp("wd")
    run_train(make_workdir(root), tiny_settings(epochs=1), split="specimen", progress=False)
    return root / "models" / "holdout_specimen"


def test_cli_batch_of_bad_inputs_gives_one_line_each_and_predicts_the_good(model_dir, tmp_path,
                                                                           capsys):
    from rruffgeo.cli import main
    from synthetic_learn import spectrum

    folder = tmp_path / "batch"
    folder.mkdir()
    x, y = spectrum(1, np.random.default_rng(0))
    good = "Raman shift;Intensity\n" + "".join(f"{a:.3f};{b:.3f}\n" for a, b in zip(x, y,
                                                                                  strict=True))
    (folder / "good.csv").write_text(good)
    (folder / "u16.txt").write_bytes(good.replace(";", "\t").encode("utf-16"))
    with zipfile.ZipFile(folder / "batch.zip", "w", zipfile.ZIP_DEFLATED) as zf:
        for name in ("in_zip.csv", "crc.csv", "d64.csv"):
            zf.writestr(name, good)
    _patch_member(folder / "batch.zip", "crc.csv", crc_xor=1)
    _patch_member(folder / "batch.zip", "d64.csv", method=9)
    os.mkfifo(folder / "pipe.csv")
    (folder / "ytrans.spc").write_bytes(_spc_typed("XWAVEN", "YTRANS", "SPCGEN"))
    (folder / "interfero.spa").write_bytes((DATA / "interfero.SPA").read_bytes())
    (folder / "bomb.jdx").write_bytes(b"##TITLE=b\n##JCAMP-DX=4.24\n##DATA TYPE=RAMAN SPECTRUM"
                                      b"\n##FIRSTX=0\n##LASTX=9\n##NPOINTS=10\n"
                                      b"##XYDATA=(X++(Y..Y))\n0 100S999999999\n##END=\n")
    (folder / "series.txt").write_text(_labspec_series())
    out = tmp_path / "pred.csv"
    signal.signal(signal.SIGALRM, lambda *_: pytest.fail("the batch hung"))
    signal.alarm(120)
    with warnings.catch_warnings(record=True) as caught:  # what the CLI prints on a line each
        warnings.simplefilter("always")
        try:
            rc = main(["predict", str(folder), "--model", str(model_dir), "--output", str(out),
                       "--preprocess", "auto"])
        finally:
            signal.alarm(0)
    err = capsys.readouterr().err
    lines = err.splitlines()
    assert rc == 0 and "Traceback" not in err
    for bad in ("crc.csv", "d64.csv", "pipe.csv", "ytrans.spc", "interfero.spa", "bomb.jdx"):
        assert sum(f"{bad}:" in line for line in lines) == 1, (bad, err)
    noted = [str(w.message) for w in caught]
    # auto's baseline (asLS) gives no note on this series; a note, if any, comes once a series
    assert sum("series.txt: baseline" in m for m in noted) <= 1
    assert not any("tol" in m for m in noted)  # pybaselines' own text never shows
    predicted = set(pd.read_csv(out)["file"])
    assert {Path(f).name for f in predicted} >= {"good.csv", "u16.txt", "in_zip.csv"}
