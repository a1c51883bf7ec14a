"""Does comparing spectra only over the shifts both measured help a raw spectrum match like
its processed twin?

Usage: python benchmarks/overlap_cosine.py --workdir WORK [--betas 1,0,0.5,2]
(after `rruffgeo ingest`, `geocode` and `spectra` on the RRUFF data, e.g. ../shared/rruff)

The raw-twin measurement of ``rruffgeo raw-twins`` (``rruffgeo.provenance.rawtwins``, the
``auto`` rule, the same pairs and halves) with the cosine replaced by an *overlap cosine*:
``q.l / (|q on l's range| |l on q's range|)``, times ``(kept share of both norms) ** beta``.
``beta`` 1 is the plain cosine (a check: its row must equal ``rruffgeo raw-twins``' ``auto``
row); 0 ignores what either spectrum has outside the other's measured range. A raw broad scan
starts near 86 cm-1 where its processed twin starts anywhere from 106 to 534 cm-1, so the
plain cosine counts a stretch against the library that its twin never had. Choices are read
on the choose half; the report half is printed beside them.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from rruffgeo.provenance import rawtwins
from rruffgeo.provenance.knn_eval import country_votes, split_specimens
from rruffgeo.provenance.library import stable_top
from rruffgeo.workdir import WorkDir

BLOCK = 128


def extents(X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """First and one-past-last non-zero column of each row (its measured range on the grid)."""
    nonzero = X != 0
    first = nonzero.argmax(1)
    stop = X.shape[1] - nonzero[:, ::-1].argmax(1)
    return np.where(nonzero.any(1), first, 0), np.where(nonzero.any(1), stop, 0)


def cumulative_energy(X: np.ndarray) -> np.ndarray:
    """Per row, the sum of squares up to each column (a leading 0): range sums by lookup."""
    return np.concatenate([np.zeros((len(X), 1)), np.cumsum(X.astype(np.float64) ** 2, 1)], 1)


def overlap_cosine(Q: np.ndarray, L: np.ndarray, beta: float,
                   library_energy: np.ndarray | None = None) -> np.ndarray:
    """The overlap cosine of every query row against every library row (see the module);
    ``library_energy``: ``cumulative_energy(L)``, made once when many blocks are scored."""
    (fq, sq), (fl, sl) = extents(Q), extents(L)
    lo = np.maximum(fq[:, None], fl[None, :])
    hi = np.maximum(np.minimum(sq[:, None], sl[None, :]), lo)
    cq = cumulative_energy(Q)
    cl = cumulative_energy(L) if library_energy is None else library_energy
    rows, cols = np.arange(len(Q))[:, None], np.arange(len(L))[None, :]
    q_in, l_in = cq[rows, hi] - cq[rows, lo], cl[cols, hi] - cl[cols, lo]
    q_all, l_all = cq[:, -1][:, None], cl[:, -1][None, :]
    both = q_in * l_in
    kept = np.sqrt(both / np.maximum(q_all * l_all, 1e-300))
    sims = (Q @ L.T) / np.sqrt(np.maximum(both, 1e-300)) * kept ** beta
    return np.where(both > 0, sims, 0.0)


class OverlapMatcher(rawtwins.Matcher):
    """The measurement's matcher, nearest rows by the overlap cosine."""

    beta = 1.0

    def match(self, Q: np.ndarray, L: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        depth = min(400, len(L))
        order = np.full((len(Q), depth), -1, dtype=np.int64)
        energy = cumulative_energy(L)
        for lo in range(0, len(Q), BLOCK):
            sims = overlap_cosine(Q[lo:lo + BLOCK], L, self.beta, energy)
            own = self.query_specimens[lo:lo + BLOCK, None] == self.lib_specimens[None, :]
            sims[own] = -np.inf
            top = stable_top(sims, depth)
            found = np.isfinite(np.take_along_axis(sims, top, 1))
            order[lo:lo + BLOCK] = np.where(found, top, -1)
        votes = country_votes(order, self.lib_specimens, self.d.countries, self.classes,
                              self.k)
        return np.where(order[:, 0] >= 0, self.lib_species[order[:, 0]], ""), votes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workdir", type=Path, required=True)
    parser.add_argument("--betas", default="1,0,0.5,2",
                        help="comma-separated exponents of the kept share (1 = plain cosine)")
    args = parser.parse_args(argv)
    try:
        betas = [float(b) for b in args.betas.split(",")]
        d = rawtwins.load_twins(WorkDir(args.workdir))
    except (FileNotFoundError, ValueError) as exc:
        print(f"overlap_cosine: {exc}", file=sys.stderr)
        return 1
    m = OverlapMatcher(d, 10, rawtwins.MATCH_MAX_SHIFT_CM1, None)
    choose = split_specimens(m.query_specimens, 0)
    prep = rawtwins.Prepared(d.raw)
    print("| beta | half | top-1 raw | top-1 twin | agreement with twin | mean TVD |")
    print("|---:|---|---:|---:|---:|---:|")
    for beta in betas:
        m.beta = beta
        m._twin.clear()
        r = rawtwins.run_choice(rawtwins.auto_choice(), prep, m, choose)
        for half, s in (("choose", r.choose), ("report", r.report)):
            print(f"| {beta:g} | {half} | {s.top1_raw:.3f} | {s.top1_twin:.3f} | "
                  f"{s.agreement:.3f} | {s.mean_tvd:.3f} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
