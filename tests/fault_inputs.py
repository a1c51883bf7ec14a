"""Bad spectra and bad model folders, written on demand, for the fault tests and the sweep.

Each spectrum probe writes one input file sized to the model's window (``grid``), so the same
probe means the same thing for a tiny test model and for a real one; ``expect`` is a piece
of the one-line reason the file must be refused with.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np


def bands(x: np.ndarray, centres: tuple[float, ...] = ()) -> np.ndarray:
    """A Raman-like signal on ``x``: Gaussian bands (at the given or evenly placed centres)
    on a small offset."""
    centres = centres or tuple(np.linspace(x.min(), x.max(), 5)[1:-1])
    return sum(np.exp(-0.5 * ((x - c) / 8.0) ** 2) for c in centres) * 100 + 10


def write_xy(path: Path, x: np.ndarray, y: np.ndarray, header: str | None = "shift,intensity"
             ) -> Path:
    lines = ([header] if header else []) + [f"{a:.4f},{b:.4f}" for a, b in zip(x, y,
                                                                               strict=True)]
    path.write_text("\n".join(lines) + "\n")
    return path


def good_file(folder: Path, grid: np.ndarray, name: str = "good.csv") -> Path:
    """A spectrum over 60% of the window: predicted without a warning."""
    lo, hi = grid[0], grid[0] + 0.6 * (grid[-1] - grid[0])
    x = np.linspace(lo, hi, 400)
    return write_xy(folder / name, x, bands(x))


def _share(grid: np.ndarray, share: float, points: int) -> np.ndarray:
    lo = grid[0] + 0.2 * (grid[-1] - grid[0])
    return np.linspace(lo, lo + share * (grid[-1] - grid[0]), points)


def _tiny_coverage(folder: Path, grid: np.ndarray) -> Path:
    x = _share(grid, 0.01, 43)
    return write_xy(folder / "tiny_coverage.csv", x, bands(x))


def _fragment_headerless(folder: Path, grid: np.ndarray) -> Path:
    x = _share(grid, 110 / 4250, 60)  # 110 cm-1 of the default ~0-4,250 cm-1 window
    return write_xy(folder / "fragment.txt", x, bands(x), header=None)


def _fragment_30(folder: Path, grid: np.ndarray) -> Path:
    x = np.linspace(grid[0] + 300, grid[0] + 330, 40)
    return write_xy(folder / "fragment30.csv", x, bands(x))


def _nm_axis(folder: Path, grid: np.ndarray) -> Path:
    x = np.linspace(535.0, 700.0, 400)  # light scattered from a 532 nm laser
    return write_xy(folder / "nm_axis.txt", x, bands(x), header=None)


def _zeros(folder: Path, grid: np.ndarray) -> Path:
    x = np.linspace(grid[0], grid[-1], 300)
    return write_xy(folder / "zeros.csv", x, np.zeros_like(x))


def _constant(folder: Path, grid: np.ndarray) -> Path:
    x = np.linspace(grid[0], grid[-1], 300)
    return write_xy(folder / "constant.csv", x, np.full_like(x, 7.0))


def _nonfinite(folder: Path, grid: np.ndarray) -> Path:
    x = np.linspace(grid[0], grid[-1], 300)
    y = bands(x)
    text = write_xy(folder / "nonfinite.csv", x, y).read_text().splitlines()
    text[100] = f"{x[99]:.4f},inf"
    text[101] = f"{x[100]:.4f},nan"
    (folder / "nonfinite.csv").write_text("\n".join(text) + "\n")
    return folder / "nonfinite.csv"


def _swapped(folder: Path, grid: np.ndarray) -> Path:
    x = np.linspace(grid[0], grid[-1], 300)
    counts = grid[0] + bands(x) / 110 * (grid[-1] - grid[0])  # counts as high as shifts
    return write_xy(folder / "swapped.csv", counts, x, header=None)


def _map_one_bad(folder: Path, grid: np.ndarray) -> Path:
    """A map export (spectra in rows, the axis first): the second spectrum is all zero."""
    x = np.linspace(grid[0], grid[-1], 200)
    rows = [x, bands(x), np.zeros_like(x)]
    (folder / "map.txt").write_text("\n".join("\t".join(f"{v:.4f}" for v in r)
                                              for r in rows) + "\n")
    return folder / "map.txt"


@dataclass(frozen=True)
class SpectrumProbe:
    name: str
    build: Callable[[Path, np.ndarray], Path]
    expect: str
    source_suffix: str = ""  # the spectrum's name after the file's (map exports: "#2")


SPECTRUM_PROBES = [
    SpectrumProbe("43 points over 1% of the window", _tiny_coverage, "of the model's window"),
    SpectrumProbe("headerless 110 cm-1 fragment", _fragment_headerless, "of the model's window"),
    SpectrumProbe("30 cm-1 fragment", _fragment_30, "of the model's window"),
    SpectrumProbe("headerless nm axis (535-700)", _nm_axis, "wavelength in nm"),
    SpectrumProbe("all-zero spectrum", _zeros, "all zero"),
    SpectrumProbe("constant spectrum", _constant, "constant"),
    SpectrumProbe("inf and NaN intensities", _nonfinite, "not finite"),
    SpectrumProbe("swapped columns (intensity, shift)", _swapped, "swapped"),
    SpectrumProbe("map file, 2nd spectrum all zero", _map_one_bad, "all zero", "#2"),
]


# ---- damaged model folders: each returns a copy of the folder with one defect ----

def _edit_json(folder: Path, name: str, edit: Callable[[dict], None]) -> None:
    doc = json.loads((folder / name).read_text())
    edit(doc)
    (folder / name).write_text(json.dumps(doc))


def _first_model(doc: dict) -> dict:
    return doc["models"]["spectrum"]


def _nan_library(folder: Path) -> None:
    with np.load(folder / "library.npz") as z:
        arrays = {k: z[k] for k in z.files}
    arrays["X"] = arrays["X"].copy()
    arrays["X"][3, 5] = np.nan
    np.savez_compressed(folder / "library.npz", **arrays)


def _drop_class(doc: dict) -> None:
    doc["classes"], doc["class_names"] = doc["classes"][:-1], doc["class_names"][:-1]


FINAL_DEFECTS: dict[str, tuple[Callable[[Path], None], str]] = {
    "temperature NaN": (lambda f: _edit_json(f, "provenance.json", lambda d: _first_model(d)
                                             .update(temperature=float("nan"))), "temperature"),
    "temperature 0": (lambda f: _edit_json(f, "provenance.json", lambda d: _first_model(d)
                                           .update(temperature=0)), "temperature"),
    "library spectra NaN": (_nan_library, "library.npz"),
    "no 'spectrum' model entry": (lambda f: _edit_json(
        f, "provenance.json", lambda d: d["models"].pop("spectrum")), "'spectrum'"),
    "unknown model component": (lambda f: _edit_json(
        f, "provenance.json", lambda d: _first_model(d).update(
            components={"magic": {}}, weights={"magic": 1.0})), "unknown model 'magic'"),
    "unknown evidence entry": (lambda f: _edit_json(f, "provenance.json", lambda d: d[
        "models"].update(colour=d["models"]["spectrum"])), "models.colour: unknown evidence"),
    "one class fewer": (lambda f: _edit_json(f, "provenance.json", _drop_class),
                        "not among the"),
    "unknown format version": (lambda f: _edit_json(
        f, "provenance.json", lambda d: d.update(format="rruffgeo-provenance/9")),
        "unknown format"),
}

NETWORK_DEFECTS: dict[str, tuple[Callable[[Path], None], str]] = {
    "grid start/stop swapped": (lambda f: _edit_json(f, "model.json", lambda d: d[
        "grid_cm1"].update(start=d["grid_cm1"]["stop"], stop=d["grid_cm1"]["start"])),
        "grid_cm1 must run upwards"),
    "grid start NaN": (lambda f: _edit_json(f, "model.json", lambda d: d["grid_cm1"].update(
        start=float("nan"))), "finite"),
    "unknown format version": (lambda f: _edit_json(
        f, "model.json", lambda d: d.update(format="rruffgeo-convnext1d/7")), "unknown format"),
}


def damaged_copy(folder: Path, into: Path, defect: Callable[[Path], None]) -> Path:
    """A copy of the model folder ``folder`` in ``into`` with ``defect`` applied."""
    shutil.copytree(folder, into)
    defect(into)
    return into
