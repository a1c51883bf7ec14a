"""Does a raw RRUFF spectrum, preprocessed, match like its processed twin? (every choice)

Usage: python benchmarks/raw_vs_processed.py --workdir WORK [--out raw.json]
(after `rruffgeo ingest`, `geocode` and `spectra` on the RRUFF data, e.g. ../shared/rruff)

A thin wrapper over ``rruffgeo.provenance.rawtwins`` (what ``rruffgeo raw-twins
--all-choices`` runs): every choice the ``auto`` rule was chosen from, the choice made on the
choose half of the specimens, the Markdown table of the report half printed. The measurement
itself, and what each column means, is described in that module.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from rruffgeo.provenance.rawtwins import all_choices, raw_twin_table
from rruffgeo.report.stats import to_markdown
from rruffgeo.workdir import WorkDir


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workdir", type=Path, required=True)
    parser.add_argument("--k", type=int, default=10, help="reference specimens per country "
                        "distribution (default 10)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the specimen split")
    parser.add_argument("--out", type=Path, help="also write the table's JSON here")
    args = parser.parse_args(argv)
    wd = WorkDir(args.workdir)
    try:
        table = raw_twin_table(wd, all_choices(), seed=args.seed, k=args.k)
    except (FileNotFoundError, ValueError) as exc:
        print(exc, file=sys.stderr)
        return 1
    print(f"{table.n_pairs} pairs, {table.n_specimens} specimens; chosen on the choose half: "
          f"{table.chosen}; report half by technique: {table.report_pairs_by_technique}")
    print(to_markdown(table.table("report"), 3))
    if args.out:
        args.out.write_text(json.dumps(table.to_json(), indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
