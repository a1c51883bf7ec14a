"""Prediction throughput from files: spectra per second of ``open_model(...).predict_files``.

Three inputs, each read from disk inside the timed call: one spectrum file (repeated calls,
the median), a folder of RRUFF files (``--folder-size``, default 1,000, copied from the RRUFF
zips) and one Renishaw WDF map of ``--map-points`` spectra (default 10,000) written here in
the WDF layout ``renishaw-wdf`` reads (header, DATA, YLST, XLST blocks; the spectra are the
nCal test spectrum with a sloped baseline and noise, different at every point).

Two models: the final provenance model of a work folder (``--workdir``, where
``rruffgeo provenance-fit`` wrote ``models/final``; without it, a tiny one as the tests build)
and a network at the default architecture on a 2,048-point grid (one epoch on synthetic
spectra: its weights do not change its speed).

``--src DIR`` (repeatable) times other checkouts' ``src`` too (e.g. ``git archive main src``),
each in its own process, rounds alternating, so a change is measured side by side with what
it replaces: the largest probability difference, and how many spectra's species (top 5) or
nearest specimens (top 10) lists differ. ``--profile`` prints the top of cProfile for the map.

    python benchmarks/bench_predict.py --workdir /work/tw-speed [--preprocess auto]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import struct
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
NCAL = ROOT / "tests" / "data" / "formats" / "nCal_Qontor785_z005H12_100_1x3s"
RRUFF_ZIP = Path("/work/shared/rruff/excellent_unoriented.zip")
GOAL_RATE, GOAL_MAP_S = 1000.0, 20.0


def write_wdf_map(template: Path, out: Path, points: int, seed: int = 0) -> Path:
    """A ``points``-spectrum WDF map: ``template``'s header, x list and y list, and a DATA
    block of its spectrum scaled, on a sloped baseline, with noise and a spike now and then."""
    data = template.read_bytes()
    blocks, pos = {}, 512
    while pos < len(data):
        kind, _, size = struct.unpack_from("<IIQ", data, pos)
        blocks[kind.to_bytes(4, "little")] = data[pos:pos + size]
        pos += size
    header = bytearray(data[:512])
    npoints = struct.unpack_from("<I", header, 60)[0]
    struct.pack_into("<QQ", header, 64, points, points)  # nspectra, ncollected
    base = np.frombuffer(blocks[b"DATA"][16:16 + 4 * npoints], "<f4").astype(np.float64)
    rng = np.random.default_rng(seed)
    ramp = np.linspace(0.0, 1.0, npoints)
    spectra = (base[None] * rng.uniform(0.5, 2.0, (points, 1))
               + rng.uniform(0, 3 * base.max(), (points, 1)) * ramp[None]
               + rng.normal(0, 0.01 * base.max(), (points, npoints)))
    spikes = rng.integers(0, npoints, points)
    spectra[np.arange(points), spikes] += 5 * base.max()
    body = spectra.astype("<f4").tobytes()
    block = struct.pack("<IIQ", int.from_bytes(b"DATA", "little"), 0, 16 + len(body)) + body
    out.write_bytes(bytes(header) + block + blocks[b"YLST"] + blocks[b"XLST"])
    return out


def copy_rruff_folder(out: Path, n: int) -> Path:
    """The first ``n`` files (by name) of the RRUFF zip, as one folder."""
    out.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(RRUFF_ZIP) as zf:
        for name in sorted(zf.namelist())[:n]:
            (out / Path(name).name).write_bytes(zf.read(name))
    return out


def build_network(root: Path) -> Path:
    """A default-architecture network on a 2,048-point grid over RRUFF's window."""
    sys.path.insert(0, str(ROOT / "tests"))
    from rruffgeo.config import Settings, SpectraSettings, TrainSettings
    from rruffgeo.network import run_train
    from synthetic_learn import make_workdir

    wd = make_workdir(root, n_countries=3, specimens=6, per_specimen=2)
    settings = Settings(spectra=SpectraSettings(grid_points=2048, window_cm1=(-20.5, 5000.0)),
                        train=TrainSettings(epochs=1, batch_size=16, device="cpu",
                                            precision="fp32", jobs=1))
    run_train(wd, settings, split="specimen", progress=False)
    return root / "models" / "holdout_specimen"


def build_tiny_final(root: Path) -> Path:
    sys.path.insert(0, str(ROOT / "tests"))
    from synthetic_predict import tiny_final, tiny_workdir

    return tiny_final(tiny_workdir(root))


def child(src: str, model_dir: str, inputs: dict[str, str], preprocess: str, single_repeats: int,
          save: str, profile: bool) -> dict[str, float]:
    """In its own process: open the model with ``src`` first on the path, predict each input
    once (the single file ``single_repeats`` times), save the probabilities to ``save``."""
    import warnings

    sys.path.insert(0, src)
    warnings.simplefilter("ignore")
    from rruffgeo.predict import open_model

    t = time.perf_counter()
    model = open_model(model_dir)
    out: dict[str, float] = {"load_s": time.perf_counter() - t}
    arrays = {}
    for label, path in inputs.items():
        repeats = single_repeats if label == "single" else 1
        times, cpu = [], []
        for _ in range(repeats):
            c = time.process_time()
            if profile and label == "map":
                import cProfile
                import pstats

                prof = cProfile.Profile()
                t = time.perf_counter()
                result = prof.runcall(model.predict_files, [path], preprocess=preprocess)
                times.append(time.perf_counter() - t)
                cpu.append(time.process_time() - c)
                pstats.Stats(prof, stream=sys.stderr).sort_stats("cumulative").print_stats(30)
                continue
            t = time.perf_counter()
            result = model.predict_files([path], preprocess=preprocess)
            times.append(time.perf_counter() - t)
            cpu.append(time.process_time() - c)
        out[f"{label}_s"] = statistics.median(times)
        out[f"{label}_cpu"] = statistics.median(cpu)
        out[f"{label}_n"] = len(result.names)
        out[f"{label}_refused"] = len(result.refused)
        arrays[label] = np.asarray(result.proba)
        if result.details:  # read after the timing: the tables are built when first read
            arrays[f"{label}:species"] = np.array(
                ["|".join(map(str, d.species["species"])) for d in result.details])
            arrays[f"{label}:specimens"] = np.array(
                ["|".join(map(str, d.specimens["specimen_id"])) for d in result.details])
    np.savez(save, **arrays)
    return out


def run_child(src: Path, model: Path, inputs: dict[str, Path], args: argparse.Namespace,
              save: Path) -> dict[str, float]:
    cmd = [sys.executable, __file__, "--child", json.dumps(
        [str(src), str(model), {k: str(v) for k, v in inputs.items()}, args.preprocess,
         args.single_repeats, str(save), args.profile])]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if args.profile:
        print(done.stderr[-12000:], file=sys.stderr)
    if done.returncode:
        raise RuntimeError(f"{src}: {done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def prepare(args: argparse.Namespace) -> tuple[dict[str, Path], dict[str, Path]]:
    """The inputs and the models, built under ``args.scratch`` (kept between runs)."""
    scratch = Path(args.scratch)
    scratch.mkdir(parents=True, exist_ok=True)
    inputs = {"single": scratch / "single.txt"}
    shutil.copyfile(NCAL.with_suffix(".txt"), inputs["single"])
    if args.folder_size:
        folder = scratch / f"rruff_{args.folder_size}"
        if not folder.is_dir():
            copy_rruff_folder(folder, args.folder_size)
        inputs["folder"] = folder
    if args.map_points:
        inputs["map"] = scratch / f"map_{args.map_points}.wdf"
        if not inputs["map"].is_file():
            write_wdf_map(NCAL.with_suffix(".wdf"), inputs["map"], args.map_points)
    models = {}
    if args.workdir:
        models["final (provenance)"] = Path(args.workdir) / "models" / "final"
    elif not args.no_final:
        models["final (tiny)"] = scratch / "tiny" / "models" / "final"
        if not models["final (tiny)"].is_dir():
            build_tiny_final(scratch / "tiny")
    if not args.no_network:
        models["network"] = scratch / "net" / "models" / "holdout_specimen"
        if not models["network"].is_dir():
            build_network(scratch / "net")
    return inputs, models


def report(results: dict, srcs: list[Path], inputs: dict[str, Path], scratch: Path) -> None:
    """Median seconds and spectra/s per model, input and source; ratios to the first source
    and the largest probability difference from it."""
    for model, by_src in results.items():
        print(f"\n{model}:")
        first = srcs[0]
        for src in srcs:
            runs = by_src[src]
            line = f"  {src}: load {statistics.median(r['load_s'] for r in runs):.2f} s"
            for label in inputs:
                sec = statistics.median(r[f"{label}_s"] for r in runs)
                n = runs[0][f"{label}_n"]
                cpu = statistics.median(r[f"{label}_cpu"] for r in runs)
                line += (f"; {label} {n} spectra {sec:.3f} s = {n / max(sec, 1e-9):.0f}/s "
                         f"[CPU {cpu:.2f} s]")
                if src != first:
                    base = statistics.median(r[f"{label}_s"] for r in by_src[first])
                    base_cpu = statistics.median(r[f"{label}_cpu"] for r in by_src[first])
                    line += (f" (the first source {sec / max(base, 1e-9):.2f}x as fast "
                             f"by wall, {cpu / max(base_cpu, 1e-9):.2f}x by CPU)")
            print(line)
        for src in srcs[1:]:
            a = np.load(scratch / f"{_tag(model)}_{_tag(str(first))}.npz")
            b = np.load(scratch / f"{_tag(model)}_{_tag(str(src))}.npz")
            diffs = {k: float(np.abs(a[k] - b[k]).max()) if a[k].shape == b[k].shape
                     else float("nan") for k in a.files if ":" not in k}
            print(f"  max |probability difference| {src} vs {first}: {diffs}")
            lists = {k: int((a[k] != b[k]).sum()) if a[k].shape == b[k].shape else -1
                     for k in a.files if ":" in k}
            if lists:
                print(f"  spectra whose species or nearest specimens differ: {lists}")
        runs = by_src[first]
        if "map" in inputs:
            sec = statistics.median(r["map_s"] for r in runs)
            print(f"  goal map <= {GOAL_MAP_S:.0f} s: {sec:.1f} s "
                  f"({'met' if sec <= GOAL_MAP_S else 'missed'})")
        for label in ("folder", "map"):
            if label in inputs:
                rate = runs[0][f"{label}_n"] / statistics.median(r[f"{label}_s"] for r in runs)
                print(f"  goal >= {GOAL_RATE:.0f} spectra/s ({label}): {rate:.0f}/s "
                      f"({'met' if rate >= GOAL_RATE else 'missed'})")


def _tag(text: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in text)[-60:]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workdir", help="work folder with models/final (else a tiny final model)")
    ap.add_argument("--scratch", default=str(Path(os.environ.get("TMPDIR", "/tmp"))
                                             / "rruffgeo-bench-predict"))
    ap.add_argument("--preprocess", default="auto")
    ap.add_argument("--folder-size", type=int, default=1000)
    ap.add_argument("--map-points", type=int, default=10_000)
    ap.add_argument("--single-repeats", type=int, default=5)
    ap.add_argument("--rounds", type=int, default=1, help="rounds; medians are reported")
    ap.add_argument("--src", action="append", default=[], help="another checkout's src")
    ap.add_argument("--no-network", action="store_true")
    ap.add_argument("--no-final", action="store_true")
    ap.add_argument("--profile", action="store_true", help="cProfile the map (first src)")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        print(json.dumps(child(*json.loads(args.child))))
        return 0
    from machine_info import describe

    sys.path.insert(0, str(ROOT / "src"))  # the models are built by this checkout
    inputs, models = prepare(args)
    srcs = [ROOT / "src", *(Path(s).resolve() for s in args.src)]
    results: dict = {m: {s: [] for s in srcs} for m in models}
    t0 = time.perf_counter()
    for r in range(args.rounds):
        for model, folder in models.items():
            for src in srcs if r % 2 == 0 else srcs[::-1]:
                save = Path(args.scratch) / f"{_tag(model)}_{_tag(str(src))}.npz"
                results[model][src].append(run_child(src, folder, inputs, args, save))
    print(describe())
    print(f"predict_files, --preprocess {args.preprocess}, {args.rounds} round(s), "
          f"{time.perf_counter() - t0:.0f} s; each source in its own process; the single "
          f"file is the median of {args.single_repeats} calls")
    report(results, srcs, inputs, Path(args.scratch))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
