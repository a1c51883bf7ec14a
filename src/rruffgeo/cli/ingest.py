"""``rruffgeo ingest`` and ``rruffgeo summary``: read RRUFF into the catalog, and count it."""

from __future__ import annotations

import argparse
import json

from rruffgeo.cli.common import add_data, add_workdir, data_of, with_options, workdir_of
from rruffgeo.config import RRUFF_CATEGORIES, IngestSettings, replace


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "ingest",
        help="read RRUFF spectra into catalog.parquet (+ rejects.csv)",
        description="Read every RRUFF Raman file of the source into catalog.parquet, one row per "
        "spectrum with its headers and arrays, and list the files that could not be read in "
        "rejects.csv. Re-running re-parses only what changed.",
    )
    add_data(p)
    add_workdir(p)
    p.add_argument("--categories", nargs="+", metavar="NAME", default=None,
                   help="RRUFF categories to download / read from a mirror folder "
                   f"(default: all: {' '.join(RRUFF_CATEGORIES)})")
    p.add_argument("--workers", type=int, default=None,
                   help="parser processes (default: one per CPU core)")
    p.add_argument("--worker-memory-mb", type=int, default=None, metavar="MIB",
                   help="memory each parser process may use (default 512; files too large to "
                   "parse within it are rejected)")
    p.add_argument("--no-progress", action="store_true", help="hide progress bars")
    p.set_defaults(func=run_ingest)

    s = sub.add_parser("summary", help="count the catalog: spectra, specimens, minerals, ...",
                       description="Print counts of the catalog written by `rruffgeo ingest`.")
    add_workdir(s)
    s.add_argument("--json", action="store_true", help="print the counts as JSON")
    s.set_defaults(func=run_summary)


def run_ingest(args: argparse.Namespace) -> int:
    from rruffgeo.data import ingest

    settings = IngestSettings()
    if args.categories:
        unknown = [c for c in args.categories if c not in RRUFF_CATEGORIES]
        if unknown:
            raise ValueError(f"unknown categories {unknown}; known: {list(RRUFF_CATEGORIES)}")
        settings = replace(settings, categories=tuple(args.categories))
    settings = with_options(settings, args)
    res = ingest(data_of(args), workdir_of(args), settings, progress=not args.no_progress)
    print(f"source:   {res.source}")
    print(f"spectra:  {res.n_spectra} -> {res.catalog_path}")
    print(f"rejects:  {res.n_rejects} -> {res.rejects_path}")
    print(f"units:    {res.n_units_parsed} parsed, {res.n_units_cached} re-used from cache "
          f"({res.elapsed_s:.1f} s)")
    return 0


def run_summary(args: argparse.Namespace) -> int:
    from rruffgeo.data import summary

    counts = summary(workdir_of(args))
    if args.json:
        print(json.dumps(counts, indent=2))
        return 0
    for key, value in counts.items():
        if isinstance(value, dict):
            print(f"{key}:")
            for k, v in value.items():
                print(f"  {k:<24} {v}")
        else:
            print(f"{key:<26} {value}")
    return 0
