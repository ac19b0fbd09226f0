"""Benchmark of exact neuron balancing (docs/math section 6.1): Newton on the log-scales against ENorm.

In one process, for every depth L in ``--depths`` (default 2..6) and width d in ``--widths``
(default 16, 64, 256), two networks of widths ``(d, ..., d)`` with biases:

* ``random``: Gaussian weights of variance 1/d (about balanced already, as at initialisation);
* ``imbalanced``: the same with every layer multiplied by ``exp(U(-3, 3))`` and every row by
  ``exp(U(-3, 3))`` (neuron norms spread over ~5 decades).

Each is balanced to ``max|D| <= 1e-12 * scale`` by ``balance_neurons(method="newton")`` and by
``balance_neurons(method="enorm")`` (Equi-normalization sweeps, Stock et al. 2019). Printed:
iterations (Newton steps, ENorm sweeps) and their ratio, the median time of each over
``--repeats`` and the time ratio, the reached ``max|D| / scale`` of each, and whether Newton took
strictly fewer iterations (with one hidden layer both are the closed form: one step each). Nothing
is asserted.

Usage::

    python benchmarks/bench_gauge_fixing.py [--depths 2 3 4 5 6] [--widths 16 64 256]
        [--repeats 3] [--threads 1] [--seed 0]
"""

from __future__ import annotations

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
from _bench_env import configure_threads, import_package


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--depths", type=int, nargs="+", default=[2, 3, 4, 5, 6])
    ap.add_argument("--widths", type=int, nargs="+", default=[16, 64, 256])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--tol", type=float, default=1e-12)
    args = ap.parse_args()
    configure_threads(args.threads)

    import numpy as np

    import_package()
    from dln_git.symmetries.gauge_balance import balance_neurons
    from dln_git.symmetries.homogeneous import homogeneous_net

    rng = np.random.default_rng(args.seed)

    def make(L, d, kind):
        W = [rng.standard_normal((d, d)) / np.sqrt(d) for _ in range(L)]
        if kind == "imbalanced":
            W = [w * np.exp(rng.uniform(-3, 3)) * np.exp(rng.uniform(-3, 3, (d, 1))) for w in W]
        return homogeneous_net(W, [rng.standard_normal(d) for _ in range(L)])

    def timed(net, method):
        times, res = [], None
        for _ in range(args.repeats):
            t0 = time.perf_counter()
            res = balance_neurons(net, args.tol, method=method)
            times.append(time.perf_counter() - t0)
        return float(np.median(times)), res

    print(f"balance_neurons to max|D| <= {args.tol:g} * scale: Newton (log-scales) vs ENorm sweeps; "
          f"median of {args.repeats}, {args.threads} BLAS thread(s)")
    header = (f"{'L':>2} {'d':>4} {'net':>10} | {'Newton it':>9} {'ENorm it':>8} {'it ratio':>8} | "
              f"{'Newton [s]':>10} {'ENorm [s]':>9} {'t ratio':>7} | {'Newton |D|/s':>12} {'ENorm |D|/s':>11} | fewer")
    print(header)
    print("-" * len(header))
    fewer_all = True
    for L in args.depths:
        for d in args.widths:
            for kind in ("random", "imbalanced"):
                net = make(L, d, kind)
                tn, rn = timed(net, "newton")
                te, re = timed(net, "enorm")
                fewer = rn.iterations < re.iterations
                if L > 2:
                    fewer_all &= fewer and rn.converged and re.converged
                print(f"{L:>2} {d:>4} {kind:>10} | {rn.iterations:>9} {re.iterations:>8} "
                      f"{rn.iterations / max(re.iterations, 1):>8.3f} | {tn:>10.4f} {te:>9.4f} {tn / te:>7.2f} | "
                      f"{rn.relative_imbalance:>12.1e} {re.relative_imbalance:>11.1e} | "
                      f"{'yes' if fewer else ('tie (closed form)' if L == 2 else 'NO')}"
                      f"{'' if rn.converged and re.converged else '  (NOT CONVERGED)'}")
    print(f"Newton strictly fewer iterations than ENorm on every net with >= 2 hidden layers: {fewer_all}")


if __name__ == "__main__":
    main()
