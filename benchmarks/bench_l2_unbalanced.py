"""Accuracy of the L2 flow's limit from starts whose layer scales differ (the open case of docs/math
section 3), against an independent dense reference, in one process.

For Gaussian weights of widths ``--widths`` (default 4,4,4,4,4,4) with hidden scalar gauges
``W_i -> (t_i / t_{i-1}) W_i``, ``t_i = 10^{k_i}`` (``t_0 = t_N = 1``; the end-to-end map is
unchanged), it prints for each start:

* ``||mu_0|| / Rmin`` and the largest ratio of neighbouring layer norms (after normalisation);
* ``balance(W, method="l2", tol=1e-10)``: time, steps, ``converged``;
* its distance to the reference limit ``max_i ||W_i - W_i^ref|| / ||W_i^ref||``, where the
  reference is ``dln_git.testing.dense_flows.dense_l2_flow`` (DOP853 at rtol 1e-13 on the dense
  orbit projection, an SVD of A_W at every evaluation) integrated to ``||mu|| <= 1e-12 Rmin``;
* the reference's own consistency: its distance to the same integration at rtol 1e-11.

Starts: exponents drawn uniformly in ``[-m, m]`` for ``m`` in ``--spreads`` (default 0.5 and 1;
seeds 0..2), and the
integer patterns ``(1, -2, 2, 0)`` and ``(5, 2, 0, -3)`` (neighbouring layer norms 1e6-1e7 apart,
where the limit is still far from the reference: the Gram normal equations square cond(A_W)).
Some starts run for minutes: seed 1 of ``|k| <= 2`` (``--spreads 2``; layer norms 2.5e6 apart) ran
590 s and stopped unconverged on 2026-12-07 (252 s and 6e-4 from the reference before the Gram
solves' energy rule), and seed 1 of ``|k| <= 3`` ran over 7 minutes. Nothing is asserted; the
table is printed as it goes.

Usage::

    python benchmarks/bench_l2_unbalanced.py [--widths 4,4,4,4,4,4] [--spreads 0.5 1 2 3]
"""

from __future__ import annotations

import argparse
import itertools
import os
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
from _bench_env import configure_threads, import_package, steal_seconds, stolen_since


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--widths", default="4,4,4,4,4,4")
    ap.add_argument("--spreads", type=float, nargs="+", default=[0.5, 1.0])
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    configure_threads(args.threads)

    import numpy as np

    dg = import_package()
    from dln_git.core.end_to_end import end_to_end
    from dln_git.core.moment_map import _moment_norm
    from dln_git.core.scaling import normalized
    from dln_git.core.svd_chart import min_regularizer
    from dln_git.testing.dense_flows import dense_l2_flow

    widths = tuple(int(a) for a in args.widths.split(","))
    steal0 = steal_seconds()
    print(f"dln_git {dg.__version__}; widths {widths}; balance(method='l2', tol=1e-10) against the dense reference")

    def distance(A, B):
        return max(float(np.linalg.norm(a - b) / np.linalg.norm(b)) for a, b in zip(A, B, strict=True))

    def run(label, seed, exponents):
        W = dg.random_weights(widths, seed)
        t = [1.0, *(10.0 ** np.asarray(exponents, dtype=float)), 1.0]
        W = tuple((t[i + 1] / t[i]) * w for i, w in enumerate(W))
        V, s = normalized(W)
        norms = [float(np.linalg.norm(v)) for v in V]
        spread = max(max(a / b, b / a) for a, b in itertools.pairwise(norms))
        rmin = min_regularizer(end_to_end(V), len(V))
        ratio = _moment_norm(V) / rmin
        T = 0.5 * np.log(ratio / 1e-12) + 2.0
        ref, loose = (dense_l2_flow(V, np.array([0.0, T]), space="orbit", method="DOP853", rtol=rt, atol=1e-2 * rt,
                                    rank_rtol=1e-15).weights[-1] for rt in (1e-13, 1e-11))
        t0 = time.perf_counter()
        res = dg.balance(W, method="l2", tol=1e-10)
        elapsed = time.perf_counter() - t0
        print(f"  {label:>22}: mu0/Rmin {ratio:8.1e}, layer norms up to {spread:8.1e} apart; "
              f"l2 {elapsed:6.2f} s, {res.iterations:5d} steps, converged={res.converged}; "
              f"distance {distance([w / s for w in res.weights], ref):8.1e} "
              f"(reference self {distance(loose, ref):.0e})", flush=True)

    for m in args.spreads:
        for seed in range(3):
            rng = np.random.default_rng(seed)
            run(f"uniform |k| <= {m:g}, seed {seed}", seed, rng.uniform(-m, m, size=len(widths) - 2))
    if len(widths) == 6:
        for pattern in ((1, -2, 2, 0), (5, 2, 0, -3)):
            run(f"k = {pattern}", 1, pattern)
    if stolen := stolen_since(steal0):
        print(stolen)


if __name__ == "__main__":
    main()
