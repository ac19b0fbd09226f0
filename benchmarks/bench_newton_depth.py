"""Benchmark of Newton balancing versus depth (docs/math section 3; issue 17): cost exponents in N.

In one process, for N in ``--depths`` (default 2, 3, 4, 6, 8, 12, 16, 24, 32) at width
``--width`` (default 32), random Gaussian weights ``W_i = G_i / sqrt(d)``, on ``--instances``
random networks per depth (default 3; seeds ``--seed + 1000 k + N``):

* ``balance(W, method="newton", tol=1e-10)``: median time of ``--repeats`` runs, its Newton
  iterations, and the PCG iterations of its Newton solves (from one extra
  ``dln_git.flows.newton.newton_balance`` run, outside the timing), with the depth and the
  Newton iterations of the coarsest merged network where the merged start
  (:mod:`dln_git.flows.newton_start`) applied; times are geometric means over the instances,
  iteration counts arithmetic means;
* the baseline in the same process: the same ``balance`` call with Newton started from scalar
  pre-balancing and two geometric-mean sweeps only (``newton_balance(..., merged=False)``, the
  start before the merged one; at N = 32, 7 or 8 Newton and 37 or 42 PCG iterations): its
  time, iterations, and the speed-up of the merged start over it;
* the *SVD floor*: building a balanced point of the same fiber directly,
  ``balanced_from_end_to_end(end_to_end(W))`` (the N - 1 products of X, one SVD of X and N
  products: the SVD chart of docs/math section 2), the floor that ``benchmarks/bench_flows.py``
  case 3 compares with and whose exponent the issue quotes (N^0.4); for reference also the
  SVDs of the N layers (what a method touching every layer with one decomposition costs).

Printed: the times, the ratio Newton / floor per depth, and the least-squares slopes of
log(time) against log(N) over all depths (the issue's acceptance: Newton's at most 1.0), with
the slopes of Newton's time per Newton iteration and per Gram application (Newton iterations
plus PCG iterations) to separate the work per iteration from the growth of the iteration counts.

Times are CPU seconds of this process (``time.process_time``; one BLAS thread by default, so
equal to wall time on an idle machine, and not inflated when other processes share the cores);
``--clock wall`` uses ``time.perf_counter`` instead. Nothing is asserted.

Usage::

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/bench_newton_depth.py \
        [--depths 2 3 4 6 8 12 16 24 32] [--width 32] [--repeats 7] [--instances 3] [--threads 1] \
        [--seed 0] [--clock cpu|wall]
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
from _bench_env import configure_threads, import_package, steal_seconds


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--depths", type=int, nargs="+", default=[2, 3, 4, 6, 8, 12, 16, 24, 32])
    ap.add_argument("--width", type=int, default=32)
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--instances", type=int, default=3)
    ap.add_argument("--tol", type=float, default=1e-10)
    ap.add_argument("--clock", choices=("cpu", "wall"), default="cpu")
    args = ap.parse_args()
    configure_threads(args.threads)

    import numpy as np

    import_package()
    from dln_git.core import balanced_from_end_to_end, end_to_end
    from dln_git.flows import balance
    from dln_git.flows.newton import newton_balance

    balance_module = importlib.import_module("dln_git.flows.balance")  # the package attribute is the function

    def sweeps_only(W, **kwargs):
        return newton_balance(W, merged=False, **kwargs)

    def balance_sweeps_only(W, tol):
        balance_module.newton_balance = sweeps_only
        try:
            return balance(W, method="newton", tol=tol)
        finally:
            balance_module.newton_balance = newton_balance

    clock = time.process_time if args.clock == "cpu" else time.perf_counter

    def median_time(fn):
        times, out = [], None
        for _ in range(args.repeats):
            t0 = clock()
            out = fn()
            times.append(clock() - t0)
        return float(np.median(times)), out

    def slope(xs, ys):
        return float(np.polyfit(np.log(xs), np.log(ys), 1)[0])

    d = args.width
    print(f"threads {args.threads}; clock {args.clock}; d = {d}; tol = {args.tol:.0e}; median of {args.repeats}; "
          f"OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE')}; steal at start {steal_seconds()} s")
    print(f"{'N':>3} {'newton ms':>10} {'floor ms':>9} {'ratio':>7} {'layer SVDs ms':>14} {'Newton it':>9} "
          f"{'PCG it':>7} {'coarse N/it':>11} {'converged':>9} | {'sweeps ms':>9} {'it':>4} {'PCG':>5} {'speed-up':>8}")
    rows = []
    for N in args.depths:
        widths = (d,) * (N + 1)
        per_instance = []
        for k in range(args.instances):
            rng = np.random.default_rng(args.seed + 1000 * k + N)
            W = tuple(rng.standard_normal((d, d)) / np.sqrt(d) for _ in range(N))
            t_newton, res = median_time(lambda W=W: balance(W, method="newton", tol=args.tol))
            t_floor, _ = median_time(lambda W=W, widths=widths: balanced_from_end_to_end(end_to_end(W), widths))
            t_svd, _ = median_time(lambda W=W: [np.linalg.svd(w) for w in W])
            run = newton_balance(W, tol=args.tol)
            coarse = (len(run.coarse.weights), run.coarse.iterations) if run.coarse is not None else (0, 0)
            t_base, _ = median_time(lambda W=W: balance_sweeps_only(W, args.tol))
            base = sweeps_only(W, tol=args.tol)
            per_instance.append((t_newton, t_floor, t_svd, t_base, res.iterations, sum(run.inner_iterations), *coarse,
                                 base.iterations, sum(base.inner_iterations), res.converged and base.converged))
        t_newton, t_floor, t_svd, t_base = (float(np.exp(np.mean(np.log([p[j] for p in per_instance]))))
                                            for j in range(4))
        its, pcg_its, c_depth, c_its, b_its, b_pcg = (float(np.mean([p[j] for p in per_instance]))
                                                      for j in range(4, 10))
        converged = all(p[10] for p in per_instance)
        rows.append((N, t_newton, t_floor, t_svd, its, pcg_its, t_base, b_its, b_pcg))
        coarse = f"{c_depth:.0f}/{c_its:.1f}" if c_depth else "-"
        print(f"{N:>3} {t_newton * 1e3:>10.2f} {t_floor * 1e3:>9.3f} {t_newton / t_floor:>7.1f} {t_svd * 1e3:>14.3f} "
              f"{its:>9.1f} {pcg_its:>7.1f} {coarse:>11} {converged!s:>9} | {t_base * 1e3:>9.2f} {b_its:>4.1f} "
              f"{b_pcg:>5.1f} {t_base / t_newton:>8.1f}", flush=True)
    Ns = [r[0] for r in rows]
    e_newton = slope(Ns, [r[1] for r in rows])
    e_floor = slope(Ns, [r[2] for r in rows])
    e_svd = slope(Ns, [r[3] for r in rows])
    e_base = slope(Ns, [r[6] for r in rows])
    print(f"\ncost exponent in N (d = {d}, N = {min(Ns)}..{max(Ns)}): Newton {e_newton:.2f} (sweeps' start only: "
          f"{e_base:.2f}), SVD floor (SVD chart of X) {e_floor:.2f}, N layer SVDs {e_svd:.2f}")
    print(f"target Newton exponent <= 1.0: {'met' if e_newton <= 1.0 else 'NOT met'}")
    if len(Ns) > 2:
        tail, Nt = rows[1:], Ns[1:]
        print(f"sweeps' start only, over N = {Nt[0]}..{max(Nt)}: {slope(Nt, [r[6] for r in tail]):.2f}; Newton "
              f"iterations {slope(Nt, [r[7] for r in tail]):.2f}, PCG {slope(Nt, [max(r[8], 1) for r in tail]):.2f}")
    if len(Ns) > 2:
        print(f"merged start, over N = {Nt[0]}..{max(Nt)}: {slope(Nt, [r[1] for r in tail]):.2f}")
    print(f"ratio Newton / floor: {rows[0][1] / rows[0][2]:.1f} at N = {Ns[0]}, {rows[-1][1] / rows[-1][2]:.1f} at "
          f"N = {Ns[-1]}")
    print(f"steal at end {steal_seconds()} s")


if __name__ == "__main__":
    main()
