"""Benchmark of the Monte Carlo correlators (docs/math section 6.4): batched draws against a loop over draws.

In one process, for each family (DLN, ReLU, Gauss-net, cos-net) and n in ``--points``: the n-point
function estimated from ``--draws`` parameter samples by

* :func:`dln_git.symmetries.correlators.correlator` (all draws sampled and evaluated as one batch,
  per-draw product tensors built by broadcasting), and
* a baseline loop that draws one parameter sample at a time and accumulates the same sums.

Printed: the median time of each over ``--repeats`` runs, their ratio (loop / batched) and the
largest difference of the two estimates in standard errors (they use different random streams,
so it is a statistical difference, O(1)). Nothing is asserted.

Usage::

    python benchmarks/bench_correlators.py [--draws 5000] [--points 2 4] [--repeats 3] [--threads 1]
"""

from __future__ import annotations

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
from _bench_env import configure_threads, import_package


def _loop(fam, x, draws, rng):
    import numpy as np

    from dln_git.symmetries.architectures import evaluate, sample_draws

    s1 = s2 = 0.0
    for _ in range(draws):
        f = evaluate(sample_draws(fam, 1, rng), x)[0]
        P = f[0]
        for k in range(1, x.shape[0]):
            P = np.multiply.outer(P, f[k])
        s1 = s1 + P
        s2 = s2 + P * P
    m = s1 / draws
    return m, np.sqrt(np.maximum(s2 / draws - m * m, 0) / (draws - 1))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--draws", type=int, default=5000)
    ap.add_argument("--points", type=int, nargs="+", default=[2, 4])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    configure_threads(args.threads)
    import_package()
    import numpy as np

    from dln_git.symmetries.architectures import network_family
    from dln_git.symmetries.correlators import correlator

    fams = [network_family("linear", (3, 8, 8, 3)), network_family("relu", (3, 16, 3), sigma_b=0.3),
            network_family("gauss", (3, 16, 3)), network_family("cos", (3, 16, 3))]
    print(f"{'family':8s} {'n':>2s} {'batched s':>10s} {'loop s':>8s} {'ratio':>7s} {'max |diff|/SE':>14s}")
    for fam in fams:
        for n in args.points:
            x = np.random.default_rng(0).standard_normal((n, 3)) / np.sqrt(3)
            tb, tl = [], []
            for r in range(args.repeats):
                t0 = time.perf_counter()
                est = correlator(fam, x, args.draws, r)
                tb.append(time.perf_counter() - t0)
                t0 = time.perf_counter()
                m, se = _loop(fam, x, args.draws, np.random.default_rng(100 + r))
                tl.append(time.perf_counter() - t0)
            diff = np.max(np.abs(est.mean - m) / np.sqrt(est.stderr**2 + se**2 + 1e-300))
            b, lo = float(np.median(tb)), float(np.median(tl))
            print(f"{fam.kind:8s} {n:2d} {b:10.4f} {lo:8.3f} {lo / b:7.1f} {diff:14.2f}")


if __name__ == "__main__":
    main()
