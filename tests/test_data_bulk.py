"""``parse_rruff_batch`` (the bulk reader) gives exactly what the per-file reader gives."""

import zipfile

import numpy as np
import pytest

from rruffgeo.data import rruff_file
from rruffgeo.data.rruff_file import RruffFormatError, parse_rruff_batch, parse_rruff_bytes

GOOD = (b"##NAMES=Quartz\r\n##RRUFFID=R040031\r\n##LOCALITY=Hot Springs, Arkansas, USA\r\n"
        b"100.1234, 0.0000000E+00\r\n101.5, 1.25e3\r\n103.0, 12\r\n##END=\r\n\r\n")

ODD = {
    "good.txt": GOOD,
    "lf.txt": b"##NAMES=A\n1.5,2\n2.5,3.25\n##END=\n",
    "spaces.txt": b"##NAMES=A\n  1.5 ,  2  \n2.5 , 3.25\n##END=\n",
    "no_end_line_end.txt": b"1,2\n2,3",
    "no_end.txt": b"##NAMES=A\n1,2\n2,3\n",
    "title.txt": b"##NAMES=A\nWavenumber, Intensity\n1,2\n2,3\n##END=\n",
    "blank_inside.txt": b"##NAMES=A\n1,2\n\n2,3\n##END=\n",
    "blank_crlf.txt": b"##NAMES=A\r\n1,2\r\n\r\n2,3\r\n##END=\r\n",
    "lone_cr.txt": b"##NAMES=A\r1,2\r2,3\r##END=\r",
    "mixed_cr.txt": b"##NAMES=A\r\n1,2\r2,3\r\n##END=\r\n",
    "three_cols.txt": b"##NAMES=A\n1,2\n2,3,4\n##END=\n",
    "one_col.txt": b"##NAMES=A\n1,2\n2\n##END=\n",
    "empty_field.txt": b"##NAMES=A\n1,2\n2,\n##END=\n",
    "trailing_comma.txt": b"##NAMES=A\n1,2,\n2,3,\n##END=\n",
    "bad_number.txt": b"##NAMES=A\n1,2\n2,3.4.5\n##END=\n",
    "exp_only.txt": b"##NAMES=A\n1,2\n2,e5\n##END=\n",
    "signs.txt": b"##NAMES=A\n+1,-2\n2.,.5\n3E-2,-0\n##END=\n",
    "double_sign.txt": b"##NAMES=A\n1,2\n2,--3\n##END=\n",
    "inner_space.txt": b"##NAMES=A\n1,2\n2,3 4\n##END=\n",
    "nan.txt": b"##NAMES=A\n1,nan\n2,3\n##END=\n",
    "descending.txt": b"##NAMES=A\n3,1\n2,2\n1,3\n##END=\n",
    "duplicate.txt": b"##NAMES=A\n1,1\n1,2\n2,3\n##END=\n",
    "negative.txt": b"##NAMES=A\n-1,1\n1,2\n##END=\n",
    "one_point.txt": b"##NAMES=A\n1,1\n##END=\n",
    "semicolon.txt": b"##NAMES=A\n1;2\n2;3\n##END=\n",
    "whitespace.txt": b"##NAMES=A\n1 2\n2\t3\n##END=\n",
    "comment.txt": b"##NAMES=A\n1,2 # note\n2,3\n##END=\n",
    "quoted.txt": b'##NAMES=A\n"1","2"\n2,3\n##END=\n',
    "headers_only.txt": b"##NAMES=A\n##END=\n",
    "empty.txt": b"   \n",
    "binary.txt": b"\x00\x01\x02",
    "latin1.txt": b"##LOCALITY=Mazarr\xf3n\n1,2\n2,3\n##END=\n",
    "two_runs.txt": b"##NAMES=A\n1,2\n#c\n2,3\n##END=\n",
    "wrapped.txt": b"##ORIENTATION=Laser\n Fiducial mark\n##NAMES=A\n\n##NAMES=A\n1,2\n2,3\n"
                   b"##END=\n",
    "many_digits.txt": b"1.00000000000000011102230246251565404236316680908203125,"
                       b"0.1000000000000000055511151231257827021181583404541015625\n"
                       b"2.2250738585072011e-308,1.7976931348623157e308\n"
                       b"4.9406564584124654e-324,123456789012345678901234567890\n",
}


def _same(a, b) -> bool:
    if isinstance(a, Exception) or isinstance(b, Exception):
        return type(a) is type(b) and str(a) == str(b)
    return (a.headers == b.headers and a.defects == b.defects
            and a.encoding_repair == b.encoding_repair and a.name == b.name
            and a.wavenumber_cm1.dtype == b.wavenumber_cm1.dtype == np.float64
            and np.array_equal(a.wavenumber_cm1.view(np.uint64), b.wavenumber_cm1.view(np.uint64))
            and np.array_equal(a.intensity.view(np.uint64), b.intensity.view(np.uint64)))


def _one(data: bytes, name: str):
    try:
        return parse_rruff_bytes(data, name)
    except RruffFormatError as exc:
        return exc


@pytest.mark.parametrize("name", sorted(ODD))
def test_batch_equals_per_file_reader_alone_and_among_good_files(name):
    ref = _one(ODD[name], name)
    assert _same(parse_rruff_batch([(ODD[name], name)])[0], ref)
    # Among clean files: one odd file must not change the others' results.
    items = [(GOOD, "a.txt"), (ODD[name], name), (GOOD, "b.txt")]
    got = parse_rruff_batch(items)
    assert all(_same(g, _one(d, n)) for g, (d, n) in zip(got, items, strict=True))


def test_all_odd_files_in_one_batch():
    items = [(d, n) for n, d in sorted(ODD.items())]
    got = parse_rruff_batch(items)
    assert len(got) == len(items)
    assert all(_same(g, _one(d, n)) for g, (d, n) in zip(got, items, strict=True))


def test_clean_files_take_the_bulk_path(monkeypatch):
    calls = []
    real = rruff_file._record_from_prepared
    monkeypatch.setattr(rruff_file, "_record_from_prepared",
                        lambda prep, name: calls.append(name) or real(prep, name))
    got = parse_rruff_batch([(GOOD, "a.txt"), (ODD["descending.txt"], "d.txt"),
                             (ODD["whitespace.txt"], "w.txt")])
    assert calls == ["w.txt"]  # whitespace-separated: the per-file reader
    np.testing.assert_array_equal(got[1].wavenumber_cm1, [1, 2, 3])
    assert got[1].defects == ["wavenumbers in descending order (sorted)"]
    np.testing.assert_array_equal(got[0].intensity, [0.0, 1250.0, 12.0])


def test_a_malformed_row_is_named_with_its_line():
    got = parse_rruff_batch([(GOOD, "a.txt"), (ODD["three_cols.txt"], "t.txt")])
    assert isinstance(got[1], RruffFormatError) and "line 3" in str(got[1])
    assert str(got[1]).startswith("t.txt: ")
    assert not isinstance(got[0], Exception)


def test_empty_batch():
    assert parse_rruff_batch([]) == []


@pytest.mark.shared
def test_real_files_bit_identical_to_per_file_reader(shared_rruff):
    """A sample of the real files (the whole folder is checked by the same code in
    ``benchmarks/check_bulk_parse.py``)."""
    with zipfile.ZipFile(shared_rruff / "excellent_unoriented.zip") as zf:
        names = [n for n in zf.namelist() if n.endswith(".txt")][::25]
        items = [(zf.read(n), n) for n in names]
    got = parse_rruff_batch(items)
    assert len(got) == len(items) > 150
    assert all(_same(g, _one(d, n)) for g, (d, n) in zip(got, items, strict=True))


def test_zip_members_inflate_in_one_call_with_checks(tmp_path):
    from rruffgeo.data import parse

    z = tmp_path / "x.zip"
    with zipfile.ZipFile(z, "w") as zf:
        zf.writestr("deflated.txt", GOOD * 50, compress_type=zipfile.ZIP_DEFLATED)
        zf.writestr("stored.txt", GOOD, compress_type=zipfile.ZIP_STORED)
    zf, raw = parse._zip(str(z))
    info = zf.getinfo("deflated.txt")
    assert parse._inflate_member(raw, info) == GOOD * 50
    assert parse._inflate_member(raw, zf.getinfo("stored.txt")) is None  # zipfile reads it
    assert parse._read_member(zf, raw, zf.getinfo("stored.txt")) == GOOD
    # A directory entry that understates the size: the bounded inflate refuses it.
    info.file_size -= 1
    assert parse._inflate_member(raw, info) is None
    info.file_size += 1
    info.CRC ^= 1
    assert parse._inflate_member(raw, info) is None
