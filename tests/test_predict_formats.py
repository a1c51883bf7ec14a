"""``predict`` on every supported format, folders and zips, the Python API's inputs, and the
model-window coverage rule. The Renishaw WDF/SPC/TXT files are real (tests/data/formats); the
CSV, JCAMP-DX and RRUFF copies of the same spectrum are written here by hand."""

import warnings
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from rruffgeo import open_model
from rruffgeo.cli import main
from rruffgeo.network import Predictor, run_train
from rruffgeo.network.predict import MIN_COVERAGE, WARN_COVERAGE
from rruffgeo.spectra.readers import read_spectra
from rruffgeo.spectra.spectrum import Spectrum
from synthetic_learn import make_workdir, spectrum, tiny_settings

DATA = Path(__file__).parent / "data" / "formats"
NCAL = "nCal_Qontor785_z005H12_100_1x3s"


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("wd")
    run_train(make_workdir(root), tiny_settings(epochs=1), split="specimen", progress=False)
    return root / "models" / "holdout_specimen"


def _jcamp_equidistant(x: np.ndarray, y: np.ndarray) -> str:
    """(X++(Y..Y)) in AFFN with YFACTOR, 8 ordinates a line, as JCAMP-DX 4.24 describes."""
    ints = np.round(y / 1e-4).astype(np.int64)
    step = (x[-1] - x[0]) / (len(x) - 1)
    lines = [f"{x[i]:.4f} " + " ".join(str(v) for v in ints[i:i + 8])
             for i in range(0, len(x), 8)]
    head = (f"##TITLE=nCal\n##JCAMP-DX=4.24\n##DATA TYPE=RAMAN SPECTRUM\n##XUNITS=1/CM\n"
            f"##YUNITS=COUNTS\n##FIRSTX={x[0]}\n##LASTX={x[-1]}\n##DELTAX={step}\n"
            f"##XFACTOR=1\n##YFACTOR=0.0001\n##NPOINTS={len(x)}\n##XYDATA=(X++(Y..Y))\n")
    return head + "\n".join(lines) + "\n##END=\n"


@pytest.fixture(scope="module")
def format_folder(tmp_path_factory):
    """One spectrum in each format; the zip holds the decimal-comma CSV."""
    folder = tmp_path_factory.mktemp("formats")
    for suffix in (".wdf", ".spc", ".txt"):
        (folder / f"ncal{suffix}").write_bytes((DATA / f"{NCAL}{suffix}").read_bytes())
    (spc,) = read_spectra(DATA / f"{NCAL}.spc")  # evenly spaced: fits (X++(Y..Y))
    x, y = spc.wavenumber_cm1, spc.intensity
    csv = "\n".join(f"{a:.6f};{b:.4f}".replace(".", ",") for a, b in zip(x, y, strict=True))
    (folder / "ncal_spc.csv").write_text("Raman shift;Intensity\n" + csv + "\n")
    (folder / "ncal_spc.jdx").write_text(_jcamp_equidistant(x, y))
    (txt,) = read_spectra(DATA / f"{NCAL}.txt")
    body = "\n".join(f"{a}, {b}" for a, b in zip(txt.wavenumber_cm1, txt.intensity,
                                                   strict=True))
    (folder / "sub").mkdir()
    (folder / "sub" / "Calcite__R000001__Raman__785__0__unoriented__Raman_Data_Processed__1.txt"
     ).write_text(f"##NAMES=nCal\n##RRUFFID=R000001\n##LOCALITY=Italy\n{body}\n##END=\n")
    with zipfile.ZipFile(folder / "more.zip", "w") as zf:
        zf.writestr("inner/ncal_spc.csv", (folder / "ncal_spc.csv").read_text())
        zf.writestr("inner/photo.spc", b"\x00\x01binary junk" * 60)
    return folder


def test_one_spectrum_in_every_format_predicts_like_its_csv(model_dir, format_folder):
    result = open_model(model_dir).predict_files([format_folder], preprocess="none")
    names, proba, refused = result.names, result.proba, result.refused
    by_name = {Path(n).name: p for n, p in zip(names, proba, strict=True)}
    assert set(by_name) == {"ncal.wdf", "ncal.spc", "ncal.txt", "ncal_spc.csv", "ncal_spc.jdx",
                            "Calcite__R000001__Raman__785__0__unoriented__Raman_Data_"
                            "Processed__1.txt"}
    assert len(names) == 7  # the zipped CSV too
    # Same arrays, same prediction: WDF = WiRE text export = RRUFF file.
    for name in ("ncal.wdf", "Calcite__R000001__Raman__785__0__unoriented__Raman_Data_"
                 "Processed__1.txt"):
        np.testing.assert_allclose(by_name[name], by_name["ncal.txt"], atol=1e-6)
    # SPC = JCAMP-DX (X++(Y..Y)) = decimal-comma CSV = the CSV inside the zip.
    zipped = proba[[i for i, n in enumerate(names) if n.endswith("more.zip/inner/ncal_spc.csv")]]
    for p in (by_name["ncal.spc"], by_name["ncal_spc.jdx"], zipped[0]):
        np.testing.assert_allclose(p, by_name["ncal_spc.csv"], atol=1e-5)
    assert [Path(f).name for f, _ in refused] == ["photo.spc"]


def test_cli_predicts_a_folder_into_parquet_and_prints_no_binary(model_dir, format_folder,
                                                                  tmp_path, capsys):
    out = tmp_path / "pred.parquet"
    rc = main(["predict", str(format_folder), "--model", str(model_dir), "--output", str(out),
               "--top-k", "2", "--preprocess", "auto"])
    captured = capsys.readouterr()
    assert rc == 0
    table = pd.read_parquet(out)
    assert table["file"].nunique() == 7 and set(table["rank"]) == {1, 2}
    assert "photo.spc: not a readable SPC file" in captured.err
    assert all(ch.isprintable() or ch in "\n\t" for ch in captured.out + captured.err)


def test_cli_refuses_bad_options_in_one_line(model_dir, format_folder, capsys):
    rc = main(["predict", str(format_folder), "--model", str(model_dir), "--preprocess",
               "wavelet"])
    err = capsys.readouterr().err
    assert rc == 1 and "--preprocess step 'wavelet'" in err and "Traceback" not in err
    rc = main(["predict", str(format_folder), "--model", str(model_dir), "--output", "x.xlsx"])
    assert rc == 1 and ".parquet" in capsys.readouterr().err
    rc = main(["predict", str(format_folder), "--model", str(model_dir), "--laser-nm", "5"])
    err = capsys.readouterr().err
    assert rc == 1 and err.count("\n") == 1 and "--laser-nm: laser wavelength 5 nm" in err


def test_little_coverage_of_the_window_warns_then_refuses(model_dir):
    predictor = Predictor(model_dir)
    grid = predictor.grid_cm1
    span = grid[-1] - grid[0]
    rng = np.random.default_rng(0)

    def covering(share):
        return spectrum(1, rng, lo=grid[0], hi=grid[0] + share * span, points=200)

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        predictor.prepare(*covering(0.9), "full.csv")
    with pytest.warns(UserWarning, match="part.csv: covers only"):
        predictor.prepare(*covering((WARN_COVERAGE + MIN_COVERAGE) / 2), "part.csv")
    with pytest.raises(ValueError, match=r"tiny.csv: covers \d+% of the model's window"):
        predictor.prepare(*covering(MIN_COVERAGE / 2), "tiny.csv")


def test_python_api_takes_arrays_dataframes_and_spectrum_objects(model_dir):
    x, y = spectrum(2, np.random.default_rng(1))
    inputs = [(x, y), np.stack([x, y], axis=1),
              pd.DataFrame({"wavenumber": x, "intensity": y}),
              Spectrum(x, y, {"source": "mine"}), "not a spectrum"]
    result = open_model(model_dir).predict_spectra(inputs, preprocess="none")
    names, proba, refused = result.names, result.proba, result.refused
    assert len(proba) == 4
    for p in proba[1:]:
        np.testing.assert_allclose(p, proba[0], atol=1e-6)
    assert names[3] == "mine" and refused[0][0] == "spectrum 5"


def test_python_api_takes_a_ramanspy_spectrum(model_dir):
    rp = pytest.importorskip("ramanspy", reason="RamanSPy not installed (optional)")
    x, y = spectrum(2, np.random.default_rng(1))
    result = open_model(model_dir).predict_spectra([rp.Spectrum(y, x), (x, y)],
                                                   preprocess="none")
    assert result.refused == [] and len(result.proba) == 2
    np.testing.assert_allclose(result.proba[0], result.proba[1], atol=1e-6)


def test_python_api_takes_a_ramanchada2_spectrum(model_dir):
    rc2 = pytest.importorskip("ramanchada2.spectrum",
                              reason="ramanchada2 not installed (optional; it pins pandas 2)")
    x, y = spectrum(2, np.random.default_rng(1))
    result = open_model(model_dir).predict_spectra([rc2.Spectrum(x=x, y=y), (x, y)],
                                                   preprocess="none")
    assert result.refused == [] and len(result.proba) == 2
    np.testing.assert_allclose(result.proba[0], result.proba[1], atol=1e-6)
