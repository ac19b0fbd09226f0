"""The L2 balancing flow at scale: ``balance(method="l2")`` against Newton in one process (issue 17).

For each width pattern of ``--sizes`` (default (16,)*5, (32,)*5 and (64,)*9) and each seed of
``--seeds``, on ``W = dln_git.random_weights(widths, seed)`` (Gaussian weights), it runs

* ``balance(W, method="newton", tol=--tol)`` (the baseline; median of ``--repeats`` runs), and
* ``balance(W, method="l2", tol=--tol)`` (median of ``--l2-repeats`` runs),

and prints the median times, their ratio (the issue's targets: at most 10 at (16,)*5, at most
20 at (32,)*5 and (64,)*9), the integrator steps and vector-field evaluations of the L2 run, the
preconditioned-CG iterations of all its Gram solves (counted by wrapping
``GramOperator.solve``, the measurement does not depend on the result's fields), whether both
converged, the relative X drift of the L2 result and ``||W_l2 - W_newton||`` modulo nothing (the
two limits differ by a unitary gauge in general, so only R is compared: ``|R_l2/R_newton - 1|``).
Nothing is asserted.

Times are ``time.perf_counter`` medians; the machine is shared, so the speed of one 256 x 256
product and the CPU time stolen by the hypervisor are printed too. Threads: ``--threads``
(default 1) is exported before numpy is imported (``_bench_env.configure_threads``).

Usage::

    python benchmarks/bench_l2_scale.py [--sizes 16x5 32x5 64x9] [--seeds 0 1 2] [--repeats 5]
                                        [--l2-repeats 1] [--tol 1e-10] [--threads 1]
"""

from __future__ import annotations

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
from _bench_env import configure_threads, import_package, machine_speed, steal_seconds, stolen_since


def parse_size(text: str) -> tuple[int, ...]:
    """``"16x5"`` -> ``(16,) * 6`` (width 16, depth 5: five layers)."""
    try:
        d, n = (int(x) for x in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"size must look like 16x5 (width x depth), got {text!r}") from None
    return (d,) * (n + 1)


class IterationCounter:
    """Counts the PCG iterations of every ``GramOperator.solve`` call while active."""

    def __init__(self):
        from dln_git.core.gram.operator import GramOperator

        self.cls = GramOperator
        self.original = GramOperator.solve
        self.iterations = 0
        self.solves = 0
        self.depth = 0

    def __enter__(self):
        counter, original = self, self.original

        def solve(op, *args, **kwargs):  # only the outermost call (a solve may delegate to its frames)
            counter.depth += 1
            try:
                sol = original(op, *args, **kwargs)
            finally:
                counter.depth -= 1
            if counter.depth == 0:
                counter.iterations += sol.iterations
                counter.solves += 1
            return sol

        self.cls.solve = solve
        return self

    def __exit__(self, *exc):
        self.cls.solve = self.original


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=parse_size, nargs="+", default=[parse_size(s) for s in ("16x5", "32x5", "64x9")])
    ap.add_argument("--seeds", type=int, nargs="+", default=[0])
    ap.add_argument("--repeats", type=int, default=5, help="Newton runs per instance (median)")
    ap.add_argument("--l2-repeats", type=int, default=1, help="L2 runs per instance (median)")
    ap.add_argument("--tol", type=float, default=1e-10)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args(argv)
    configure_threads(args.threads)
    import numpy as np

    dg = import_package()
    from dln_git.flows import balance

    steal0 = steal_seconds()
    print(f"threads {args.threads}; one 256 x 256 product: {machine_speed() * 1e3:.2f} ms; tol {args.tol:.0e}")
    header = (f"{'widths':>10s} {'seed':>4s} {'newton s':>9s} {'l2 s':>9s} {'ratio':>8s} {'steps':>6s} "
              f"{'evals':>6s} {'solves':>6s} {'PCG its':>8s} {'its/solve':>9s} {'conv':>9s} {'X drift':>8s} "
              f"{'|dR|/R':>8s}")
    print(header)
    print("-" * len(header))
    for widths in args.sizes:
        label = f"{widths[0]}x{len(widths) - 1}"
        for seed in args.seeds:
            W = dg.random_weights(widths, seed)
            newton_times = []
            for _ in range(args.repeats):
                t = time.perf_counter()
                rn = balance(W, method="newton", tol=args.tol)
                newton_times.append(time.perf_counter() - t)
            l2_times = []
            for _ in range(args.l2_repeats):
                with IterationCounter() as count:
                    t = time.perf_counter()
                    rl = balance(W, method="l2", tol=args.tol)
                    l2_times.append(time.perf_counter() - t)
            tn, tl = float(np.median(newton_times)), float(np.median(l2_times))
            dR = abs(dg.regularizer(rl.weights) / dg.regularizer(rn.weights) - 1)
            evals = getattr(rl, "evaluations", None)
            print(f"{label:>10s} {seed:4d} {tn:9.4f} {tl:9.3f} {tl / tn:8.1f} {rl.iterations:6d} "
                  f"{'-' if evals is None else evals:>6} {count.solves:6d} {count.iterations:8d} "
                  f"{count.iterations / max(count.solves, 1):9.1f} {rn.converged!s:>4s}/{rl.converged!s:<4s} "
                  f"{rl.x_drift:8.1e} {dR:8.1e}", flush=True)
    if stolen := stolen_since(steal0):
        print(f"\n{stolen}; one 256 x 256 product now: {machine_speed() * 1e3:.2f} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
