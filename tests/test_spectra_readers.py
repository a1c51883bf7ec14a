"""Readers on real instrument files (tests/data/formats, see its README for origin and
licence) and on hand-written variants that follow the format specifications."""

import zipfile
from pathlib import Path

import numpy as np
import pytest

from rruffgeo.spectra.readers import inputs as inputs_module
from rruffgeo.spectra.readers import iter_inputs, read_bytes, read_spectra
from rruffgeo.spectra.readers.inputs import read_input
from rruffgeo.spectra.readers.jcampdx import block_xy, decode_asdf, split_blocks

DATA = Path(__file__).parent / "data" / "formats"
NCAL = "nCal_Qontor785_z005H12_100_1x3s"


def _blocks(name):
    return split_blocks((DATA / name).read_text(encoding="latin-1"))


def test_x_plus_plus_table_is_read_as_ordinates_not_xy_pairs():
    (block,) = _blocks("pacdec1.jdx")
    x, y = block_xy(block)
    # 3301 points 4000 -> 700 cm-1; line 1 is "4000 +10160+10159+10159..." (YFACTOR 0.01)
    assert len(x) == len(y) == 3301
    assert x[0] == 4000 and x[-1] == 700 and x[1] == 3999
    np.testing.assert_allclose(y[:4], [101.60, 101.59, 101.59, 101.58])
    assert y.max() < 200  # read as pairs, 10159 would be an ordinate


def test_dif_dup_compressed_table_drops_the_y_check_values():
    (block,) = _blocks("dupinc2.jdx")
    x, y = block_xy(block)
    assert len(x) == len(y) == 3734  # ##NPOINTS
    assert y[0] == pytest.approx(44.97)  # ##FIRSTY
    assert x[0] == pytest.approx(400.172) and x[-1] == pytest.approx(3999.792)


def test_asdf_decoding_rules():
    # SQZ starts a value, DIF adds to the previous one, DUP repeats the last token.
    assert decode_asdf("1000A2J1K3") == ([1000, 12, 23, 46], True)  # J1 = +11, K3 = +23
    assert decode_asdf("100@T") == ([100, 0, 0], False)  # T: the value twice in all
    assert decode_asdf("100A0JT") == ([100, 10, 11, 12], True)  # the difference twice


def test_own_jcamp_reader_agrees_with_the_jcamp_package_where_it_reads_the_file():
    jcamp = pytest.importorskip("jcamp", reason="jcamp package not installed")
    ref = jcamp.readfile(str(DATA / "pacdec1.jdx"))
    x, y = block_xy(_blocks("pacdec1.jdx")[0])
    np.testing.assert_allclose(x, ref["x"])
    np.testing.assert_allclose(y, ref["y"])


def test_jcamp_raman_file_is_read_and_infrared_refused():
    (s,) = read_spectra(DATA / "tannic_acid.jdx")
    assert len(s.wavenumber_cm1) == 1949 and s.wavenumber_cm1[0] == pytest.approx(100.595)
    assert s.intensity[0] == pytest.approx(42.644) and s.metadata["format"] == "jcamp-dx"
    with pytest.raises(ValueError, match=r"pacdec1.jdx: ##DATA TYPE=INFRARED .* not a Raman"):
        read_spectra(DATA / "pacdec1.jdx")


def _jcamp_nm(laser_line: str = "") -> bytes:
    """A small JCAMP-DX 4.24 file written by hand: (XY..XY) in nm, 540-600 nm."""
    x = np.linspace(540, 600, 61)
    rows = "\n".join(f"{a:.1f}, {100 + 50 * np.exp(-((a - 560) / 2) ** 2):.3f}" for a in x)
    return (f"##TITLE=nm test\n##JCAMP-DX=4.24\n##DATA TYPE=RAMAN SPECTRUM\n{laser_line}"
            f"##XUNITS=NANOMETERS\n##YUNITS=COUNTS\n##XFACTOR=1\n##YFACTOR=1\n"
            f"##NPOINTS=61\n##XYDATA=(XY..XY)\n{rows}\n##END=\n").encode()


def test_jcamp_units_wavelength_converted_with_the_laser_other_units_refused():
    with pytest.raises(ValueError, match="nm.jdx: x axis is an absolute wavelength.*--laser-nm"):
        read_bytes(_jcamp_nm(), "nm.jdx")
    (s,) = read_bytes(_jcamp_nm(), "nm.jdx", laser_nm=532.0)
    assert s.wavenumber_cm1[0] == pytest.approx(1e7 / 532 - 1e7 / 540)  # 278.5 cm-1
    (t,) = read_bytes(_jcamp_nm("##$LASER WAVELENGTH=532 nm\n"), "nm.jdx")
    np.testing.assert_allclose(t.wavenumber_cm1, s.wavenumber_cm1)
    assert t.laser_nm == 532
    hz = (DATA / "tannic_acid.jdx").read_bytes().replace(b"##XUNITS=1/CM", b"##XUNITS=HZ")
    with pytest.raises(ValueError, match="'HZ' cannot be a Raman shift"):
        read_bytes(hz, "hz.jdx")


def test_one_renishaw_spectrum_as_wdf_spc_and_text_reads_the_same():
    pytest.importorskip("wdf", reason="renishaw-wdf not installed")
    pytest.importorskip("spc_io", reason="spc-io not installed")
    (wdf,) = read_spectra(DATA / f"{NCAL}.wdf")
    (spc,) = read_spectra(DATA / f"{NCAL}.spc")
    (txt,) = read_spectra(DATA / f"{NCAL}.txt")
    assert len(wdf.wavenumber_cm1) == len(spc.wavenumber_cm1) == len(txt.wavenumber_cm1) == 1021
    np.testing.assert_allclose(wdf.wavenumber_cm1, txt.wavenumber_cm1, atol=1e-5)
    np.testing.assert_allclose(wdf.intensity, txt.intensity, rtol=1e-6)
    # This SPC export keeps no x array (flags 0): WiRE resampled the spectrum onto an evenly
    # spaced axis between the same ends.
    np.testing.assert_allclose(spc.wavenumber_cm1, np.linspace(1111.108398, -154.501953, 1021))
    on_spc_axis = np.interp(spc.wavenumber_cm1, txt.wavenumber_cm1[::-1], txt.intensity[::-1])
    assert np.corrcoef(on_spc_axis, spc.intensity)[0, 1] > 0.99
    assert wdf.laser_nm == pytest.approx(785.0, abs=0.1)
    assert (wdf.metadata["format"], spc.metadata["format"]) == ("wdf", "spc")


def test_bwtek_export_decimal_commas_and_named_columns():
    (s,) = read_spectra(DATA / "PST10_iR532_Probe_100_3000msx7.txt")
    assert s.metadata["columns"] == ["Raman Shift", "Dark Subtracted #1"]
    assert s.laser_nm == pytest.approx(532.02)  # "laser_wavelength;532,02"
    ok = np.isfinite(s.wavenumber_cm1)
    assert ok.sum() == 1801  # rows with a blank Raman shift have no x
    first = np.flatnonzero(ok)[0]
    assert s.wavenumber_cm1[first] == pytest.approx(145.99)


def test_horiba_labspec_and_lightnovo_text_exports():
    (h,) = read_spectra(DATA / "PST10_iR785_OP01_8000msx8.txt")
    assert len(h.wavenumber_cm1) == 1024 and h.wavenumber_cm1[0] == pytest.approx(168.216)
    (n,) = read_spectra(DATA / "polystyrene_aritficially_worsened.tsv")
    assert n.laser_nm == 785 and n.wavenumber_cm1[0] == 100 and n.intensity[0] == 4.53


def test_labspec_headers_give_the_laser(tmp_path):
    # Hand-written in the layout LabSpec 6 exports (#Key=<tab>value, then two columns).
    f = tmp_path / "labspec.txt"
    f.write_text("#Acq. time (s)=\t10\n#Laser (nm)=\t532.04\n#Range (cm-¹)=\t100...300\n"
                 + "".join(f"{100 + i}\t{i * 2}\n" for i in range(20)), encoding="latin-1")
    (s,) = read_spectra(f)
    assert s.laser_nm == pytest.approx(532.04) and len(s.intensity) == 20


@pytest.mark.parametrize("text, x, y", [
    ("153,56;0,00\n154,10;1,5\n", [153.56, 154.10], [0.0, 1.5]),
    ("x\ty\n153,56\t0,00\n154,10\t1,5\n", [153.56, 154.10], [0.0, 1.5]),
    ("153,56 0,00\n154,10 1,5\n", [153.56, 154.10], [0.0, 1.5]),
    ("wavenumber,intensity\n153.56,0.00\n154.10,1.5\n", [153.56, 154.10], [0.0, 1.5]),
])
def test_decimal_commas_where_the_delimiter_makes_them_unambiguous(text, x, y):
    (s,) = read_bytes(text.encode(), "s.csv")
    np.testing.assert_allclose(s.wavenumber_cm1, x)
    np.testing.assert_allclose(s.intensity, y)


def test_comma_delimiter_with_possible_decimal_commas_is_refused():
    with pytest.raises(ValueError, match="s.csv: commas are both the delimiter"):
        read_bytes(b"153,56,0,00\n154,10,1,50\n", "s.csv")
    with pytest.raises(ValueError, match="line 3"):
        read_bytes(b"153,56;0,00\n154,10;1,50\n155,2,1\n", "s.csv")


def test_wavelength_column_is_converted_with_the_laser():
    text = b"Wavelength (nm);Intensity\n540;1\n550;2\n560;3\n"
    with pytest.raises(ValueError, match="--laser-nm"):
        read_bytes(text, "w.csv")
    (s,) = read_bytes(text, "w.csv", laser_nm=532)
    np.testing.assert_allclose(s.wavenumber_cm1[0], 1e7 / 532 - 1e7 / 540)
    with pytest.raises(ValueError, match="--laser-nm: laser wavelength 5 nm"):
        read_bytes(text, "w.csv", laser_nm=5)


def test_binary_and_unknown_files_are_refused_by_name():
    with pytest.raises(ValueError, match="junk.dat: binary file of no supported format"):
        read_bytes(b"\x00\x01\x02garbage" * 10, "junk.dat")
    with pytest.raises(ValueError, match="bad.spc: not a readable SPC file"):
        read_bytes(b"garbage" * 100, "bad.spc")


def test_inputs_walk_folders_and_zips_and_check_members(tmp_path, monkeypatch):
    sub = tmp_path / "d" / "deeper"
    sub.mkdir(parents=True)
    (sub / "a.csv").write_text("100;1\n200;2\n")
    (tmp_path / "d" / "notes.docx").write_bytes(b"PK\x03\x04 not a spectrum")
    archive = tmp_path / "d" / "in.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("ok/b.csv", "100;1\n200;2\n")
        zf.writestr("../evil.csv", "100;1\n")
        zf.writestr("big.csv", "1;2\n" * 100)
        zf.writestr("image.png", b"\x89PNG")
    monkeypatch.setattr(inputs_module, "MAX_FILE_BYTES", 200)
    items = list(iter_inputs([tmp_path / "d", tmp_path / "missing"]))
    refused = {Path(i.name).name: i.refused for i in items if i.refused}
    readable = sorted(i.name for i in items if not i.refused)
    assert readable == [str(sub / "a.csv"), f"{archive}/ok/b.csv"]
    assert "'..' escapes" in refused["evil.csv"]
    assert "too large" in refused["big.csv"] and "not a supported" in refused["image.png"]
    assert "not a supported" in refused["notes.docx"]
    assert "no such file" in refused["missing"]
    (s,) = read_input(next(i for i in items if i.name.endswith("b.csv")))
    assert s.source == f"{archive}/ok/b.csv"


def test_linked_jcamp_with_a_peak_table_reads_the_continuous_spectrum():
    # Hand-written LINK file (JCAMP-DX 4.24): a peak table block and a spectrum block.
    spectrum_block = (DATA / "tannic_acid.jdx").read_text()
    peaks = ("##TITLE=peaks\n##JCAMP-DX=4.24\n##DATA TYPE=RAMAN PEAK TABLE\n"
             "##PEAK TABLE=(XY..XY)\n100.0, 5\n200.0, 7\n##END=\n")
    text = f"##TITLE=link\n##JCAMP-DX=4.24\n##DATA TYPE=LINK\n##BLOCKS=2\n{peaks}" \
           f"{spectrum_block}##END=\n"
    (s,) = read_bytes(text.encode(), "link.jdx")
    assert len(s.wavenumber_cm1) == 1949
    with pytest.raises(ValueError, match="peaks.jdx: ##PEAKTABLE"):
        read_bytes(peaks.encode(), "peaks.jdx")


def test_labspec_map_export_gives_one_spectrum_per_row(tmp_path):
    # Hand-written in LabSpec's map layout: the first row is the axis after two empty
    # coordinate cells; every other row is X, Y, then the intensities.
    axis = np.linspace(100, 400, 40)
    lines = ["\t\t" + "\t".join(f"{a:.2f}" for a in axis)]
    for i, (px, py) in enumerate([(0.0, 0.0), (0.5, 0.0), (0.0, 0.5)]):
        lines.append(f"{px}\t{py}\t" + "\t".join(str(i + j) for j in range(40)))
    f = tmp_path / "map.txt"
    f.write_text("\n".join(lines) + "\n")
    spectra = read_spectra(f)
    assert [s.source for s in spectra] == [f"{f}#1", f"{f}#2", f"{f}#3"]
    np.testing.assert_allclose(spectra[1].wavenumber_cm1, np.round(axis, 2))
    assert spectra[1].intensity[0] == 1 and spectra[1].metadata["coordinates"] == [0.5, 0.0]
    # Two columns of numbers stay one spectrum (x, y), however many rows.
    (one,) = read_bytes("\n".join(f"{100 + i};{i}" for i in range(40)).encode(), "two.csv")
    assert len(one.intensity) == 40
