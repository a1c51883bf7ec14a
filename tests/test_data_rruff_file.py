import numpy as np
import pytest

from rruffgeo.data.rruff_file import RruffFormatError, parse_rruff_bytes, read_rruff_file

OLD = (b"##NAMES=Abelsonite\r\n##RRUFFID=R070007\r\n##LOCALITY=Green River, Utah, USA\r\n"
       b"##FUTURE KEY=kept\r\n150.0, 10.5\r\n151.5, 11.0\r\n153.0, 1.2E+01\r\n##END=\r\n")


def test_reads_headers_and_arrays(tmp_path):
    p = tmp_path / "a.txt"
    p.write_bytes(OLD)
    rec = read_rruff_file(p)
    assert rec.headers["NAMES"] == "Abelsonite"
    assert rec.headers["FUTURE KEY"] == "kept"
    assert rec.headers["END"] == ""
    np.testing.assert_array_equal(rec.wavenumber_cm1, [150.0, 151.5, 153.0])
    np.testing.assert_array_equal(rec.intensity, [10.5, 11.0, 12.0])
    assert rec.defects == [] and rec.encoding_repair == ""


@pytest.mark.parametrize("sep", [b",", b", ", b"\t", b"   ", b";"])
def test_separators(sep):
    rec = parse_rruff_bytes(b"##NAMES=X\n1" + sep + b"2\n3" + sep + b"4\n##END=\n", "s.txt")
    np.testing.assert_array_equal(rec.intensity, [2, 4])


def test_latin1_bytes_are_decoded_and_recorded():
    rec = parse_rruff_bytes(b"##LOCALITY=Mazarr\xf3n, Murcia, Spain\n1,2\n2,3\n##END=\n", "l.txt")
    assert rec.headers["LOCALITY"] == "Mazarrón, Murcia, Spain"
    assert "not valid UTF-8" in rec.encoding_repair and "cp1252" in rec.encoding_repair


def test_mojibake_is_fixed_and_recorded():
    data = "##LOCALITY=Mazarr\u00c3\u00b3n, Spain\n1,2\n2,3\n##END=\n".encode()
    rec = parse_rruff_bytes(data, "m.txt")
    assert rec.headers["LOCALITY"] == "Mazarrón, Spain"
    assert "mojibake fixed in ##LOCALITY" in rec.encoding_repair


def test_valid_utf8_is_left_alone():
    rec = parse_rruff_bytes("##MEASURED CHEMISTRY=Cu_Σ=1\n1,2\n2,3\n##END=\n".encode(), "u.txt")
    assert rec.headers["MEASURED CHEMISTRY"] == "Cu_Σ=1" and rec.encoding_repair == ""


def test_axis_defects_reported_and_sorted_without_loss():
    data = b"##NAMES=X\n5, 1\n3, 2\n3, 3\n-1, nan\n7, inf\n##END=\n"
    rec = parse_rruff_bytes(data, "d.txt")
    np.testing.assert_array_equal(rec.wavenumber_cm1, [-1, 3, 3, 5, 7])
    np.testing.assert_array_equal(rec.intensity, [np.nan, 2, 3, 1, np.inf])
    text = "; ".join(rec.defects)
    assert "2 non-finite intensities" in text
    assert "1 negative wavenumbers" in text
    assert "non-monotonic" in text
    assert "1 duplicate wavenumbers" in text


def test_descending_axis():
    rec = parse_rruff_bytes(b"3 1\n2 2\n1 3\n", "desc.txt")
    np.testing.assert_array_equal(rec.wavenumber_cm1, [1, 2, 3])
    assert rec.defects == ["wavenumbers in descending order (sorted)"]


def test_repeated_header_kept():
    rec = parse_rruff_bytes(b"##NAMES=A\n##NAMES=B\n1,2\n##END=\n", "r.txt")
    assert rec.headers["NAMES"] == "A" and rec.headers["NAMES (2)"] == "B"


def test_column_title_line_is_skipped_with_defect():
    rec = parse_rruff_bytes(b"Raman shift,Intensity\n1,2\n3,4\n", "t.txt")
    assert rec.wavenumber_cm1.tolist() == [1, 3]
    assert "column-title line" in rec.defects[0]


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "empty file"),
        (b"   \r\n", "empty file"),
        (b"##NAMES=X\n##RRUFFID=R1\n##END=\n", "no data rows"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "binary file"),
        (b"##NAMES=X\n1, 2\n3, 4\n5,\n", "malformed number '' in column 2 at line 4"),
        (b"##NAMES=X\n1, 2\n3, 4\n5\n##END=\n", "truncated or malformed row at line 4"),
        (b"##NAMES=X\n1, 2\n3, 4\n5, 6.2", "truncated file: no ##END= line"),
        (b"##NAMES=X\n1, 2\n3, 4x\n5, 6\n##END=\n", "malformed number"),
        (b"1 2 3\n4 5 6\n", "expected 2 columns"),
    ],
)
def test_unreadable_files_raise_with_file_and_reason(data, reason):
    with pytest.raises(RruffFormatError) as err:
        parse_rruff_bytes(data, "bad.txt")
    assert str(err.value).startswith("bad.txt: ")
    assert reason in str(err.value)
    assert isinstance(err.value, ValueError)


def test_missing_file_is_a_format_error(tmp_path):
    with pytest.raises(RruffFormatError, match="cannot read"):
        read_rruff_file(tmp_path / "nope.txt")


# Newer RRUFF files wrap long header values and can write part of the header block again after
# a blank line before the data (issue 11).
WRAPPED = (b"##NAMES=Baryte\r\n##RRUFFID=R050342\r\n##PIN_ID=L00875\r\n"
           b"##ORIENTATION=Laser parallel to c* (0 0 1).\r\n"
           b" Fiducial mark perpendicular to laser is parallel to b [0 1 0]\r\n"
           b"##DIFFRACTION SAMPLE DESCRIPTION=Single crystal,\r\n"
           b"mounted on a glass fibre\r\n"
           b"##FILETYPE=Raman Processed\r\n"
           b"\r\n"
           b"##NAMES=Baryte\r\n##RRUFFID=R050342\r\n"
           b"##ORIENTATION=Laser parallel to c* (0 0 1).\r\n"
           b" Fiducial mark perpendicular to laser is parallel to b [0 1 0]\r\n"
           b"##RAMAN WAVELENGTH=514\r\n"
           b"100.5, 1\r\n101.5, 2\r\n103, 4\r\n##END=\r\n")


def test_wrapped_header_values_and_a_repeated_header_block():
    rec = parse_rruff_bytes(WRAPPED, "wrapped.txt")
    assert rec.headers["ORIENTATION"] == ("Laser parallel to c* (0 0 1). Fiducial mark "
                                          "perpendicular to laser is parallel to b [0 1 0]")
    assert rec.headers["DIFFRACTION SAMPLE DESCRIPTION"] == (
        "Single crystal, mounted on a glass fibre")
    assert rec.headers["PIN_ID"] == "L00875" and rec.headers["RAMAN WAVELENGTH"] == "514"
    # The repeated block adds nothing new: each header once, and the repeat noted.
    assert "NAMES (2)" not in rec.headers and "ORIENTATION (2)" not in rec.headers
    assert rec.defects == ["3 header line(s) repeated with the same value (kept once)"]
    assert rec.wavenumber_cm1.tolist() == [100.5, 101.5, 103.0]
    assert rec.intensity.tolist() == [1.0, 2.0, 4.0]


def test_an_indented_continuation_right_before_the_data():
    rec = parse_rruff_bytes(b"##ORIENTATION=Laser parallel to a\n  and to the mark\n1,2\n2,3\n"
                            b"##END=\n", "w.txt")
    assert rec.headers["ORIENTATION"] == "Laser parallel to a and to the mark"
    assert rec.wavenumber_cm1.tolist() == [1, 2] and rec.defects == []


def test_a_title_line_is_still_a_title_and_text_after_data_still_an_error():
    rec = parse_rruff_bytes(b"##NAMES=A\nWavenumber, Intensity\n1,2\n2,3\n##END=\n", "t.txt")
    assert rec.headers == {"NAMES": "A", "END": ""} and "column-title line" in rec.defects[0]
    with pytest.raises(RruffFormatError, match="malformed row at line 3"):
        parse_rruff_bytes(b"##NAMES=A\n1,2\nFiducial mark\n2,3\n##END=\n", "bad.txt")
    # A header repeated with another value is kept.
    rec = parse_rruff_bytes(b"##NAMES=A\n\n##NAMES=B\n1,2\n2,3\n##END=\n", "r.txt")
    assert rec.headers["NAMES (2)"] == "B" and rec.defects == []
