"""Feed ``rruffgeo predict`` every known kind of bad input and say, per probe, ok or defect.

Usage:
    python benchmarks/fault_sweep.py                      # trains tiny models (~15 s)
    python benchmarks/fault_sweep.py --model WORK/models/final [--model OTHER_MODEL_DIR]

Inputs are built in a temporary folder, sized to each model's window
(``tests/fault_inputs.py``). ok means: one line naming the file and the problem, the right
exit code, no traceback, nothing overwritten, the good files of the batch still predicted.
A new fault joins by adding a probe to ``PROBES`` (and its input to ``tests/fault_inputs.py``).
Exit status: 1 when any probe shows a defect.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import signal
import subprocess
import sys
import tempfile
import unicodedata
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))
sys.path.insert(0, str(REPO / "tests"))  # the fault inputs and the tiny models

from fault_inputs import (  # noqa: E402
    FINAL_DEFECTS,
    NETWORK_DEFECTS,
    SPECTRUM_PROBES,
    SpectrumProbe,
    damaged_copy,
    good_file,
)
from rruffgeo.cli import main  # noqa: E402
from rruffgeo.predict import open_model  # noqa: E402

Outcome = tuple[bool, str]


def run_cli(*argv: object) -> tuple[int, str, str]:
    """``rruffgeo ARGV`` in this process: exit code, stdout, stderr (warnings included)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err), \
            warnings.catch_warnings():
        warnings.simplefilter("always")
        try:
            rc = main([str(a) for a in argv])
        except BaseException as exc:  # noqa: BLE001 - a crash is what the sweep looks for
            rc, _ = 99, err.write(f"Traceback: {type(exc).__name__}: {exc}\n")
    return rc, out.getvalue(), err.getvalue()


def problems(err: str) -> list[str]:
    """The lines of stderr that are not warnings."""
    return [ln for ln in err.splitlines() if ln and not ln.startswith("rruffgeo: warning")]


def first(err: str) -> str:
    lines = problems(err) or err.splitlines() or ["(nothing on stderr)"]
    return lines[0][:110]


def spectrum_probe(probe: SpectrumProbe) -> Callable[[Path, Path], Outcome]:
    """A bad spectrum beside a good one: the bad one refused in one line, the good one kept."""
    def run(model: Path, tmp: Path) -> Outcome:
        grid = open_model(model).grid_cm1
        bad, good = probe.build(tmp, grid), good_file(tmp, grid)
        rc, out, err = run_cli("predict", bad, good, "--model", model, "--output",
                               tmp / "o.json")
        refused = [ln for ln in problems(err) if ln.startswith("refused:")]
        doc = json.loads((tmp / "o.json").read_text()) if (tmp / "o.json").exists() else {}
        ok = (rc == 0 and len(problems(err)) == len(refused) == 1
              and f"{bad}{probe.source_suffix}:" in refused[0] and probe.expect in refused[0]
              and str(good) in doc.get("predictions", {}))
        return ok, first(err)
    return run


def defect_probe(edit: Callable[[Path], None], expect: str) -> Callable[[Path, Path], Outcome]:
    """A damaged copy of the model folder: one line naming the file and the field, exit 1."""
    def run(model: Path, tmp: Path) -> Outcome:
        good = good_file(tmp, open_model(model).grid_cm1)
        folder = damaged_copy(model, tmp / "model", edit)
        rc, _, err = run_cli("predict", good, "--model", folder)
        lines = problems(err)
        return rc == 1 and len(lines) == 1 and expect in lines[0], first(err)
    return run


def output_is_input(model: Path, tmp: Path) -> Outcome:
    good = good_file(tmp, open_model(model).grid_cm1, "mine.csv")
    before = good.read_bytes()
    rc, _, err = run_cli("predict", good, "--model", model, "--output", good)
    return rc == 1 and good.read_bytes() == before and len(problems(err)) == 1, first(err)


def maps_distinct(model: Path, tmp: Path) -> Outcome:
    """Two files called s.csv and a two-spectrum map file: four maps, none overwritten."""
    grid = open_model(model).grid_cm1
    for sub in ("a", "b"):
        (tmp / sub).mkdir()
        good_file(tmp / sub, grid, "s.csv")
    x = np.linspace(grid[0], grid[-1], 200)
    rows = [x, np.exp(-((x - x.mean()) / 9) ** 2) * 100 + 5, np.sin(x / 30) + 2]
    (tmp / "m.txt").write_text("\n".join("\t".join(f"{v:.4f}" for v in r) for r in rows))
    rc, out, err = run_cli("predict", tmp / "a" / "s.csv", tmp / "b" / "s.csv", tmp / "m.txt",
                           "--model", model, "--map", tmp / "maps")
    pngs = len(list((tmp / "maps").glob("*.png"))) if (tmp / "maps").exists() else 0
    return rc == 0 and pngs == 4, f"{pngs} maps for 4 spectra (2 files named s.csv, 1 map file)"


def given_twice(model: Path, tmp: Path) -> Outcome:
    good = good_file(tmp, open_model(model).grid_cm1)
    rc, out, err = run_cli("predict", good, good, "--model", model, "--output", tmp / "o.json")
    doc = json.loads((tmp / "o.json").read_text()) if rc == 0 else {"predictions": {}}
    ok = list(doc["predictions"]) == [str(good)] and out.startswith("1 predicted")
    return ok, out.split(" ->")[0] + f"; JSON lists {len(doc['predictions'])}"


def long_output_name(model: Path, tmp: Path) -> Outcome:
    good = good_file(tmp, open_model(model).grid_cm1)
    target = tmp / ("p" * 246 + ".csv")
    rc, _, err = run_cli("predict", good, "--model", model, "--output", target)
    return rc == 0 and target.exists(), first(err) if rc else "250-character name written"


def option_probe(*argv: str) -> Callable[[Path, Path], Outcome]:
    """A bad option: refused in one line before anything is predicted."""
    def run(model: Path, tmp: Path) -> Outcome:
        good = good_file(tmp, open_model(model).grid_cm1)
        rc, out, err = run_cli("predict", good, "--model", model, *argv)
        return rc == 1 and len(problems(err)) == 1 and not out, first(err)
    return run


def accented_mineral(model: Path, tmp: Path) -> Outcome:
    """A library species written with accents is matched, and the match is said."""
    m = open_model(model)
    if m.kind != "provenance":
        return True, "(network model: --mineral is ignored with a warning)"
    species = str(m.predictor.library.meta["mineral"].iloc[0])
    accented = "".join(unicodedata.normalize("NFC", c + "\u0301") if c in "aeiou" else c
                       for c in species.upper().lower())
    good = good_file(tmp, m.grid_cm1)
    rc, _, err = run_cli("predict", good, "--model", model, "--mineral", accented)
    return rc == 0 and f"taken as {species!r}" in err, first(err) or err.strip()[:110]


def empty_folder(model: Path, tmp: Path) -> Outcome:
    (tmp / "empty").mkdir()
    rc, _, err = run_cli("predict", tmp / "empty", "--model", model)
    return rc == 1 and f"{tmp / 'empty'}: no spectrum files" in err, first(err)


def control_characters(model: Path, tmp: Path) -> Outcome:
    """A file name with a newline and an ESC sequence cannot forge a line or colour it."""
    grid = open_model(model).grid_cm1
    x = np.linspace(grid[0], grid[-1], 300)
    evil = tmp / "x\nrefused: forged\x1b[31m.csv"
    evil.write_text("shift,intensity\n" + "\n".join(f"{a},0" for a in x))
    rc, out, err = run_cli("predict", evil, good_file(tmp, grid), "--model", model)
    lines = [ln for ln in err.splitlines() if ln.startswith("refused:")]
    return "\x1b" not in out + err and len(lines) == 1, repr(lines[0][:100]) if lines else err


def api_types(model: Path, tmp: Path) -> Outcome:
    """A str where a list belongs, rows of the wrong width, NaN rows: each refused."""
    m = open_model(model)
    said = []
    for call in (lambda: m.predict_files(str(tmp)),
                 lambda: m.predict_spectra(np.zeros((2, len(m.grid_cm1) + 1))),
                 lambda: m.predict_spectra(np.full((1, len(m.grid_cm1)), np.nan))):
        try:
            call()
            said.append("accepted")
        except (TypeError, ValueError) as exc:
            said.append(str(exc).split(";")[0][:34])
    return "accepted" not in said, " | ".join(said)


def import_without_torch(model: Path, tmp: Path) -> Outcome:
    code = "import sys, rruffgeo; rruffgeo.open_model; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env={"PYTHONPATH": str(REPO / "src")})
    return out.stdout.strip() == "False", f"torch imported: {out.stdout.strip()}"


def sigterm_temp_file(model: Path, tmp: Path) -> Outcome:
    """SIGTERM in the middle of an atomic write (as in `rruffgeo spectra`) leaves no .tmp."""
    code = ("import time\nfrom rruffgeo.workdir import atomic_path\n"
            f"with atomic_path({str(tmp / 'matrix.npy')!r}) as t:\n"
            "    t.write_bytes(b'x'); print('go', flush=True); time.sleep(60)\n")
    with subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True,
                          env={"PYTHONPATH": str(REPO / "src")}) as proc:
        proc.stdout.readline()
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
    left = [p.name for p in tmp.glob(".matrix.npy.*.tmp")]
    return not left, f"left behind: {left}" if left else "no temporary file left"


def probes(kind: str) -> dict[str, Callable[[Path, Path], Outcome]]:
    """Every probe that applies to a model of ``kind``."""
    out: dict[str, Callable[[Path, Path], Outcome]] = {
        f"spectrum: {p.name}": spectrum_probe(p) for p in SPECTRUM_PROBES}
    defects = FINAL_DEFECTS if kind == "provenance" else NETWORK_DEFECTS
    out.update({f"model folder: {n}": defect_probe(*d) for n, d in defects.items()})
    out.update({"output = an input file": output_is_input, "maps: same base names, map file":
                maps_distinct, "a file given twice": given_twice,
                "250-character --output name": long_output_name,
                "--mineral accented": accented_mineral, "empty folder": empty_folder,
                "newline/ESC in a file name": control_characters,
                "API: str for list, wrong shape, NaN": api_types})
    for argv in (("--preprocess", "baseline:arpls:-1"), ("--preprocess", "baseline:foo"),
                 ("--preprocess", "smooth:-5"), ("--preprocess", "despike:nan"),
                 ("--neighbours", "-3"), ("--species", "-1")):
        out[f"option {' '.join(argv)}"] = option_probe(*argv)
    if kind == "provenance":
        out["option --mineral Unobtainium"] = option_probe("--mineral", "Unobtainium")
    return out


GLOBAL_PROBES = {"import rruffgeo without torch": import_without_torch,
                 "SIGTERM during an atomic write": sigterm_temp_file}


def tiny_models(root: Path) -> list[Path]:
    from synthetic_predict import tiny_final, tiny_network, tiny_workdir

    wd = tiny_workdir(root)
    return [tiny_final(wd), tiny_network(wd)]


def sweep(models: list[Path], root: Path) -> list[tuple[str, str, bool, str]]:
    """(probe, model kind, ok, what it said) of every probe, each in its own folder."""
    rows = []
    for model in models:
        kind = open_model(model).kind
        for name, probe in probes(kind).items():
            tmp = Path(tempfile.mkdtemp(dir=root))
            rows.append((name, kind, *probe(model, tmp)))
    for name, probe in GLOBAL_PROBES.items():
        rows.append((name, "-", *probe(models[0], Path(tempfile.mkdtemp(dir=root)))))
    return rows


def main_sweep() -> int:
    """Run the sweep and print the table; 1 when a probe shows a defect."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", type=Path, action="append", default=None,
                        help="model folder to probe (repeatable; default: tiny models "
                        "trained here)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as root:
        models = args.model or tiny_models(Path(root) / "work")
        rows = sweep(models, Path(root))
    width = max(len(r[0]) for r in rows)
    print(f"{'probe':<{width}}  {'model':<10}  result  what it said")
    for name, kind, ok, detail in rows:
        print(f"{name:<{width}}  {kind:<10}  {'ok' if ok else 'DEFECT':<6}  {detail}")
    defects = sum(not r[2] for r in rows)
    print(f"{len(rows)} probes, {defects} defects")
    return 1 if defects else 0


if __name__ == "__main__":
    sys.exit(main_sweep())
