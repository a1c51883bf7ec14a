"""Species and country matching across RRUFF's two instruments, and what treatment suits it.

Usage: python benchmarks/cross_instrument.py --workdir WORK [--treatments KEYS] [--md cross.md]
(after `rruffgeo ingest`, `geocode` and `spectra`)

A thin wrapper over ``rruffgeo.provenance.instruments`` (what ``rruffgeo cross-instrument``
runs), writing each treatment's report-half table as Markdown. The measurement itself is
described in that module.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from rruffgeo.provenance.instruments import LABELS, cross_instrument_table
from rruffgeo.report.stats import to_markdown
from rruffgeo.workdir import WorkDir


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workdir", type=Path, required=True)
    parser.add_argument("--k", type=int, default=10, help="reference specimens per country "
                        "vote (default 10)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the specimen split")
    parser.add_argument("--out", type=Path, help="also write the table's JSON here")
    parser.add_argument("--md", type=Path, help="Markdown tables (report half)")
    parser.add_argument("--treatments", help="comma-separated keys, the first the reference "
                        f"(default none,crop-1500; all: {', '.join(LABELS)})")
    args = parser.parse_args(argv)
    keys = args.treatments.split(",") if args.treatments else None
    try:
        table = cross_instrument_table(WorkDir(args.workdir), keys, seed=args.seed, k=args.k)
    except (FileNotFoundError, ValueError) as exc:
        print(exc, file=sys.stderr)
        return 1
    text = to_markdown(table.choose_table(), 3)
    for t in table.treatments:
        text += f"\nReport half, {t.label}:\n\n{to_markdown(table.table(t.name), 3)}"
    print(text)
    if args.md:
        args.md.write_text(text)
    if args.out:
        args.out.write_text(json.dumps(table.to_json(), indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
