"""Benchmark of ``balance(method="moment")`` at scale (issue 17): ratios against baselines in one process.

For widths ``(d,)*5`` (N = 4), d in ``--widths`` (default 16 24 32), Gaussian weights
(``dln_git.core.random_weights`` with seeds ``--seed .. --seed + --instances - 1``), balance to
``tol = --tol`` (default 1e-10):

1. time of ``balance(W, method="moment")`` (the Rosenbrock–Munthe-Kaas integrator,
   :mod:`dln_git.flows.rosenbrock`) against ``balance(W, method="newton")`` on the same W: median
   over ``--repeats`` runs of each, then the ratio; the issue's target is at most 100;
2. its accepted steps against those of the explicit RKMK-DP5(4) integrator that
   ``balance(method="moment")`` used before (the same run as before: ``run_moment(...,
   method="group")`` at ``rtol = min(1e-10, max(0.1 tol, 1e-13))``, ``t_final = 1e6``), run once
   per instance (``--no-explicit`` skips it: tens of seconds at d = 32); the target is a step
   count at least 20 times smaller;
3. the relative distance between the two limits (both stop at ``||mu|| <= tol R``).

One BLAS thread by default (``--threads``). Nothing is asserted; the table is printed.

Usage::

    python benchmarks/bench_moment_scale.py [--widths 16 24 32] [--instances 3] [--repeats 3] \
        [--tol 1e-10] [--no-explicit]
"""

from __future__ import annotations

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
from _bench_env import configure_threads, import_package, median_time, steal_seconds, stolen_since


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--widths", type=int, nargs="+", default=[16, 24, 32])
    ap.add_argument("--instances", type=int, default=3)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--tol", type=float, default=1e-10)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--no-explicit", action="store_true")
    args = ap.parse_args()
    configure_threads(args.threads)

    import numpy as np

    dln_git = import_package()
    from dln_git.core import end_to_end, random_weights
    from dln_git.core.scaling import normalized
    from dln_git.core.svd_chart import min_regularizer
    from dln_git.flows import balance
    from dln_git.flows.balance import FLOW_STEPS, _flow_options, _Forecast
    from dln_git.flows.moment import run_moment

    def explicit_steps(W, tol):
        """``balance(method="moment")`` before issue 17: the explicit group integrator."""
        V, s = normalized(W)
        target = tol * min_regularizer(end_to_end(V), len(V))
        rtol = min(1e-10, max(0.1 * tol, 1e-13))
        t0 = time.perf_counter()
        res = run_moment(_flow_options(V, 1e6, FLOW_STEPS * 100, rtol, target), method="group",
                         budget=_Forecast(target, FLOW_STEPS * 100))
        return res.steps, time.perf_counter() - t0, tuple(w * s for w in res.weights), res.converged

    steal0 = steal_seconds()
    print(f"dln_git from {os.path.dirname(dln_git.__file__)}")
    print(f"balance to tol = {args.tol:g}, Gaussian weights, widths (d,)*5, {args.threads} BLAS thread(s), "
          f"medians of {args.repeats} runs; {args.instances} instances per width")
    header = (f"{'d':>3} {'seed':>4} {'cond X':>9} {'newton s':>9} {'moment s':>9} {'ratio':>7} {'steps':>6} "
              f"{'explicit':>8} {'step ratio':>10} {'expl. s':>8} {'limit dist':>10}")
    print(header)
    summary = []
    for d in args.widths:
        rows = []
        for k in range(args.instances):
            seed = args.seed + k
            W = random_weights((d,) * 5, rng=seed)
            sv = np.linalg.svd(end_to_end(W), compute_uv=False)
            t_newton, rn = median_time(lambda W=W: balance(W, method="newton", tol=args.tol), args.repeats)
            t_moment, rm = median_time(lambda W=W: balance(W, method="moment", tol=args.tol), args.repeats)
            if not (rn.converged and rm.converged):
                print(f"  (not converged: newton {rn.converged}, moment {rm.converged}: {rm.message[:120]})")
            line = (f"{d:>3} {seed:>4} {sv[0] / sv[-1]:>9.2e} {t_newton:>9.4f} {t_moment:>9.3f} "
                    f"{t_moment / t_newton:>7.0f} {rm.iterations:>6}")
            ex = None
            if not args.no_explicit:
                ex_steps, ex_time, ex_weights, ex_conv = explicit_steps(W, args.tol)
                dist = (np.sqrt(sum(np.linalg.norm(a - b) ** 2 for a, b in zip(rm.weights, ex_weights, strict=True)))
                        / np.sqrt(sum(np.linalg.norm(a) ** 2 for a in ex_weights)))
                ex = ex_steps
                line += f" {ex_steps:>8} {ex_steps / rm.iterations:>10.1f} {ex_time:>8.1f} {dist:>10.1e}"
                if not ex_conv:
                    line += " (explicit: not converged)"
            print(line, flush=True)
            rows.append((t_moment / t_newton, rm.iterations, ex))
        ratios = np.array([r[0] for r in rows])
        steps = np.array([r[1] for r in rows])
        text = f"d = {d}: time ratio moment/newton median {np.median(ratios):.0f} (target <= 100); steps median " \
               f"{np.median(steps):.0f}"
        if not args.no_explicit:
            ex = np.array([r[2] for r in rows])
            text += f"; explicit steps median {np.median(ex):.0f}, {np.median(ex / steps):.1f}x fewer (target >= 20)"
        summary.append(text)
    print()
    for line in summary:
        print(line)
    if stolen := stolen_since(steal0):
        print(stolen)


if __name__ == "__main__":
    main()
