"""``rruffgeo raw-twins | cross-instrument``: how well spectra match, measured on the work
folder (leave-specimen-out nearest neighbours, no model), for the report's tables."""

from __future__ import annotations

import argparse

from rruffgeo.cli.common import add_workdir, workdir_of


def _add_common(p: argparse.ArgumentParser) -> None:
    add_workdir(p)
    p.add_argument("--seed", type=int, default=0, help="seed of the choose/report split of "
                   "the specimens (default 0)")
    p.add_argument("--k", type=int, default=10, help="reference specimens per country vote "
                   "(default 10)")
    p.add_argument("--force", action="store_true", help="recompute even when cached")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("raw-twins", help="raw RRUFF spectra, preprocessed, matched beside "
                       "their processed twins (species agreement, top-1, country TVD) per "
                       "preprocessing choice, into metrics/raw_twins.json")
    _add_common(p)
    p.add_argument("--all-choices", action="store_true", help="every choice the `auto` rule "
                   "was chosen from (slower: some refit the whole library), not only the "
                   "short list")
    p.set_defaults(func=cmd_raw_twins)

    p = sub.add_parser("cross-instrument", help="species and country matching within and "
                       "across RRUFF's two instruments, into metrics/cross_instrument.json")
    _add_common(p)
    p.add_argument("--treatments", default=None, metavar="KEYS",
                   help="comma-separated treatments, the first the reference (default "
                   "none,crop-1500; also smooth-raman-2|4|8, smooth-all-2|4)")
    p.set_defaults(func=cmd_cross_instrument)


def _k(args: argparse.Namespace) -> int:
    if args.k < 1:
        raise ValueError(f"--k {args.k}: must be at least 1")
    return args.k


def cmd_raw_twins(args: argparse.Namespace) -> int:
    from rruffgeo.provenance.rawtwins import all_choices, default_choices, raw_twin_table

    wd = workdir_of(args)
    choices = all_choices() if args.all_choices else default_choices()
    result = raw_twin_table(wd, choices, seed=args.seed, k=_k(args),
                            progress=not args.no_progress, force=args.force)
    print(result.table().to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    print(f"{result.n_pairs} pairs from {result.n_specimens} specimens; chosen on the choose "
          f"half: {result.chosen}; the table is the report half.")
    print(f"-> {wd.raw_twins_file}")
    return 0


def cmd_cross_instrument(args: argparse.Namespace) -> int:
    from rruffgeo.provenance.instruments import cross_instrument_table

    wd = workdir_of(args)
    keys = [k.strip() for k in args.treatments.split(",") if k.strip()] \
        if args.treatments else None
    result = cross_instrument_table(wd, keys, seed=args.seed, k=_k(args),
                                    progress=not args.no_progress, force=args.force)
    fmt = {"float_format": lambda v: f"{v:.3f}", "index": False}
    print(result.choose_table().to_string(**fmt))  # type: ignore[arg-type]
    for t in result.treatments:
        print(f"\nReport half, {t.label}:")
        print(result.table(t.name).to_string(**fmt))  # type: ignore[arg-type]
    print(f"-> {wd.cross_instrument_file}")
    return 0
