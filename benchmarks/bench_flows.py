"""Benchmark of balancing (docs/math section 3): ratios against baselines run in the same process.

1. N = 4, all widths 16: reaching ``||mu|| <= 1e-10 ||mu(0)||`` with ``dln_git.flows.balance``
   (Newton) against ``scipy.integrate.solve_ivp`` (RK45, rtol 1e-10) on the flattened L2 flow
   with a dense projection (``dln_git.testing.dense_flows.dense_l2_flow``, integrated to
   ``t = log(1e10)/2``). Target: at least 100x faster.
2. N = 8, all widths 256, X with condition number 1e3, ``W = g.W_bal`` with a random gauge
   element g: ``balance`` to 1e-12 against one SVD-chart construction of the same X
   (``end_to_end`` + ``balanced_from_end_to_end``: one SVD and N products, the floor).
   Target: ratio at most 50.
3. Cost of ``balance`` versus width (``--widths``, N = 4) and depth (``--depths``, d = 32):
   fitted exponents of the median time (and of the SVD-chart floor, for comparison).

Every instance is X = U diag(logspace(0, -log10 cond, d)) V^T with Haar U, V, balanced by the
SVD chart and moved by ``g_i = expm(0.7 G_i / sqrt(d))`` (G Gaussian): a random point of the
fiber in the closed-orbit regime. Times are medians of ``--repeats`` runs; nothing is asserted.

Usage::

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/bench_flows.py \
        [--repeats 3] [--threads 2] [--skip 1 2 3] [--widths 64 128 256 512] [--depths 2 4 8 16 32]
"""

from __future__ import annotations

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(__file__))
from _bench_env import configure_threads, import_package, median_time, steal_seconds


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--skip", type=int, nargs="*", default=[])
    ap.add_argument("--widths", type=int, nargs="+", default=[64, 128, 256, 512])
    ap.add_argument("--depths", type=int, nargs="+", default=[2, 4, 8, 16, 32])
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    configure_threads(args.threads)

    import numpy as np
    import scipy.linalg

    import_package()
    from dln_git.core import (
        balanced_from_end_to_end,
        end_to_end,
        gauge_act,
        haar_orthonormal,
        moment_norm,
        regularizer,
    )
    from dln_git.flows import balance
    from dln_git.testing.dense_flows import dense_l2_flow

    rng = np.random.default_rng(args.seed)

    def instance(d, N, cond):
        U, V = haar_orthonormal(d, d, rng), haar_orthonormal(d, d, rng)
        X = (U * np.logspace(0, -np.log10(cond), d)) @ V.T
        Wb = balanced_from_end_to_end(X, (d,) * (N + 1), rng)
        g = [scipy.linalg.expm(0.7 * rng.standard_normal((d, d)) / np.sqrt(d)) for _ in range(N - 1)]
        return gauge_act(g, Wb)

    def svd_floor(W, N, d):
        return balanced_from_end_to_end(end_to_end(W), (d,) * (N + 1))

    print(f"threads {args.threads}; OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE')}, "
          f"OPENBLAS_L2_SIZE={os.environ.get('OPENBLAS_L2_SIZE')}; steal at start {steal_seconds()} s")

    if 1 not in args.skip:
        d, N = 16, 4
        W = instance(d, N, 1e3)
        mu0 = moment_norm(W)
        tol = 1e-10 * mu0 / regularizer(W)  # R only decreases, so ||mu|| <= 1e-10 ||mu0|| at the end
        t_new, res = median_time(lambda: balance(W, method="newton", tol=tol), args.repeats)
        T = 0.5 * np.log(1e10)
        t_ref, ref = median_time(lambda: dense_l2_flow(W, [0.0, T], rtol=1e-10), 1)
        mu_ref = moment_norm(ref.weights[-1]) / mu0
        print(f"\n1. N = 4, d = 16: balance (newton) {t_new * 1e3:.1f} ms, ||mu||/||mu0|| = "
              f"{res.mu_history[-1] / mu0:.1e}, {res.iterations} iterations")
        print(f"   solve_ivp RK45 dense projection to t = {T:.2f}: {t_ref:.2f} s, {ref.nfev} evaluations, "
              f"||mu||/||mu0|| = {mu_ref:.1e}")
        print(f"   speed-up {t_ref / t_new:.0f}x (target >= 100x: {'met' if t_ref / t_new >= 100 else 'NOT met'})")

    if 2 not in args.skip:
        d, N = 256, 8
        W = instance(d, N, 1e3)
        t_floor, _ = median_time(lambda: svd_floor(W, N, d), args.repeats)
        t_bal, res = median_time(lambda: balance(W, method="newton", tol=1e-12), args.repeats)
        print(f"\n2. N = 8, d = 256, cond X = 1e3: balance {t_bal:.2f} s ({res.iterations} iterations, converged "
              f"{res.converged}, X drift {res.x_drift:.1e}); SVD chart {t_floor * 1e3:.1f} ms")
        print(f"   ratio {t_bal / t_floor:.1f} (target <= 50: {'met' if t_bal / t_floor <= 50 else 'NOT met'})")

    if 3 not in args.skip:
        for label, grid, make in (
            ("width (N = 4)", args.widths, lambda v: (v, 4)),
            ("depth (d = 32)", args.depths, lambda v: (32, v)),
        ):
            rows = []
            for v in grid:
                d, N = make(v)
                W = instance(d, N, 1e3)
                t_bal, res = median_time(lambda W=W: balance(W, method="newton", tol=1e-12), args.repeats)
                t_floor, _ = median_time(lambda W=W, N=N, d=d: svd_floor(W, N, d), args.repeats)
                rows.append((v, t_bal, t_floor, res.iterations, res.converged))
                print(f"   {label} {v}: balance {t_bal:.3f} s ({res.iterations} it, converged {res.converged}), "
                      f"SVD chart {t_floor * 1e3:.1f} ms, ratio {t_bal / t_floor:.1f}")
            x = np.log([r[0] for r in rows])
            e_bal = np.polyfit(x, np.log([r[1] for r in rows]), 1)[0]
            e_floor = np.polyfit(x, np.log([r[2] for r in rows]), 1)[0]
            print(f"3. cost exponent versus {label}: balance {e_bal:.2f}, SVD-chart floor {e_floor:.2f}")
    print(f"\nsteal at end {steal_seconds()} s")


if __name__ == "__main__":
    main()
