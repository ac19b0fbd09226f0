"""Benchmark of balanced truncation (docs/math section 5): ``dln_git.systems`` against python-control.

In one process, for n in ``--sizes`` (default 100, 300, 1000): a random stable continuous-time
system (``dln_git.systems.random_state_space``, m = p = ``--io``), reduced to ``--order`` states by

* ``dln_git.systems.balanced_truncation(sys, order, measure_error=False)`` (numpy/scipy), and
* ``control.balred(sys, order, method="truncate")`` (python-control, SLICOT AB09AD via slycot).

Printed: the median time of each over ``--repeats`` runs and their ratio (ours / theirs; the
issue's target is at most 1.5), and the accuracy of both reduced models, computed afterwards and
outside the timing: the Gramians of each reduced model (scipy Lyapunov solves) against
``diag(s_1..s_k)`` (a balanced truncation of a continuous-time system is itself balanced), as
``max(||P - S||, ||Q - S||) / s_1``, with the off-diagonal part alone; the largest difference of the
two reduced transfer functions on 50 frequencies (relative to s_1); and our measured error against
the bound ``2 sum(discarded s_j)``. Nothing is asserted.

Usage::

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/bench_systems.py \
        [--sizes 100 300 1000] [--order 10] [--io 2] [--repeats 3] [--threads 2] [--seed 0]
"""

from __future__ import annotations

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
from _bench_env import configure_threads, import_package, steal_seconds, stolen_since


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[100, 300, 1000])
    ap.add_argument("--order", type=int, default=10)
    ap.add_argument("--io", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    configure_threads(args.threads)

    import control
    import numpy as np
    import scipy.linalg

    import_package()
    from dln_git.systems import StateSpace, balanced_truncation, gramians, random_state_space

    def median_time(fn):
        times, out = [], None
        for _ in range(args.repeats):
            t0 = time.perf_counter()
            out = fn()
            times.append(time.perf_counter() - t0)
        return float(np.median(times)), out

    def gramian_accuracy(A, B, C, s):
        P = scipy.linalg.solve_continuous_lyapunov(A, -B @ B.T)
        Q = scipy.linalg.solve_continuous_lyapunov(A.T, -C.T @ C)
        S = np.diag(s)
        off = max(np.linalg.norm(P - np.diag(np.diag(P))), np.linalg.norm(Q - np.diag(np.diag(Q))))
        return max(np.linalg.norm(P - S), np.linalg.norm(Q - S)) / s[0], off / s[0]

    rng = np.random.default_rng(args.seed)
    steal0 = steal_seconds()
    print(f"balanced truncation to order {args.order}, m = p = {args.io}, median of {args.repeats}, "
          f"{args.threads} BLAS thread(s); python-control {control.__version__}")
    header = (f"{'n':>5} {'ours [s]':>9} {'balred [s]':>10} {'ratio':>6} | {'ours: Gram':>10} {'offdiag':>8} | "
              f"{'balred: Gram':>12} {'offdiag':>8} | {'TF diff':>8} | {'error':>9} {'bound':>9}")
    print(header)
    print("-" * len(header))
    for n in args.sizes:
        s = random_state_space(n, args.io, args.io, rng)
        cs = control.ss(s.A, s.B, s.C, s.D)
        t_ours, ours = median_time(lambda: balanced_truncation(s, args.order, measure_error=False))  # noqa: B023
        t_theirs, theirs = median_time(lambda: control.balred(cs, args.order, method="truncate"))  # noqa: B023
        k = ours.order
        hsv = ours.hsv[:k]
        g_ours = gramian_accuracy(ours.system.A, ours.system.B, ours.system.C, hsv)
        tA, tB, tC = (np.asarray(M) for M in (theirs.A, theirs.B, theirs.C))
        g_theirs = gramian_accuracy(tA, tB, tC, hsv) if tA.shape[0] == k else (np.nan, np.nan)
        theirs_sys = StateSpace(tA, tB, tC, np.asarray(theirs.D))
        pts = 1j * np.logspace(-3, 3, 50)
        tf_diff = np.abs(ours.system.transfer_function(pts) - theirs_sys.transfer_function(pts)).max() / hsv[0]
        measured = balanced_truncation(s, args.order)  # error on a frequency grid (not timed)
        gramians(ours.system)  # the reduced model is stable (raises otherwise)
        print(f"{n:>5} {t_ours:>9.3f} {t_theirs:>10.3f} {t_ours / t_theirs:>6.2f} | {g_ours[0]:>10.1e} "
              f"{g_ours[1]:>8.1e} | {g_theirs[0]:>12.1e} {g_theirs[1]:>8.1e} | {tf_diff:>8.1e} | "
              f"{measured.error:>9.2e} {measured.bound:>9.2e}")
    if stolen := stolen_since(steal0):
        print(stolen)


if __name__ == "__main__":
    main()
