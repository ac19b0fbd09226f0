"""The balancing flows at scale (issue 17's acceptance), every figure a ratio or an exponent
measured in one process.

A. ``balance(method="l2")`` against Newton (``balance(method="newton")``), both to ``tol``, at
   widths (16,)*5, (32,)*5 and (64,)*9. Targets: at most 10x, 20x and 20x. Also printed: the
   ratio against Newton from the sweeps' start (``newton_balance(merged=False)``, the Newton of
   the issue's table; the merged start made Newton itself 2.5-4.5x faster at even depths).
B. ``balance(method="moment")`` against Newton at (32,)*5 (target: at most 100x), and the moment
   flow's step count there against the count of the explicit integrator it replaced
   (``BASELINE_MOMENT_STEPS_32``, measured on main before the change; target: 20x fewer); and its
   step counts against the condition number of X (1 to 1e6) at widths (8,)*5.
C. ``solve_gram(W, mu(W), rtol=1e-10)`` at N = 8, widths 256: preconditioned CG iterations (target
   at most 150), and the fitted exponent of its time in the width over ``--gram-widths`` (target
   at most 3), for the default preconditioner (``"auto"``: ``"block_lu"`` below width 48,
   ``"segments"`` from 48) and for ``"segments"`` at every width.
   Also printed, for the L2 runs: their Gram solves and PCG iterations, and what these would cost
   at the price of one PCG iteration (one Gram and one preconditioner application) each, against
   Newton: the part of the ratio that no Gram solver can remove, only an integrator with fewer
   solves.
D. Newton's time against depth N = 2..32 at width 32: the fitted exponent (target at most 1.0),
   next to the exponent of the SVD floor (one SVD of each layer).

Instances: Gaussian layers ``W_i ~ N(0, 1/d)`` (``dln_git.random_weights``, seed ``--seed``).
Times are medians of ``--repeats`` runs; BLAS is limited to one thread. Nothing is asserted: the
script prints the figures, the targets and whether each is met.

Usage::

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/bench_scale.py [--repeats 3] [--skip C]
"""

from __future__ import annotations

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(__file__))
from _bench_env import configure_threads, import_package, median_time, steal_seconds, stolen_since

#: Steps of ``balance(method="moment", tol=1e-10)`` at (32,)*5, seed 0, with the explicit DP5(4)
#: integrator that preceded the stiff one (main at 918d92a, measured by
#: ``benchmarks/bench_moment_scale.py``); the issue asks for 20x fewer.
BASELINE_MOMENT_STEPS_32 = 12601


def _fit_exponent(xs, ys):
    import numpy as np

    return float(np.polyfit(np.log(xs), np.log(ys), 1)[0])


def _verdict(ok: bool) -> str:
    return "met" if ok else "NOT met"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--tol", type=float, default=1e-10)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--skip", nargs="*", default=[], choices=list("ABCD"))
    ap.add_argument("--gram-widths", type=int, nargs="+", default=[32, 64, 128, 256])
    ap.add_argument("--depths", type=int, nargs="+", default=[2, 3, 4, 6, 8, 12, 16, 24, 32])
    args = ap.parse_args()
    configure_threads(1)

    import numpy as np

    dg = import_package()
    steal0 = steal_seconds()
    print(f"dln_git {dg.__version__} from {os.path.dirname(dg.__file__)}; numpy {np.__version__}; 1 BLAS thread")

    def weights(widths):
        return dg.random_weights(widths, rng=args.seed)

    def newton(W):
        return dg.balance(W, method="newton", tol=args.tol)

    from dln_git.core.gram import GramOperator
    from dln_git.core.scaling import normalized
    from dln_git.flows.newton import newton_balance

    def newton_sweeps(W):
        """Newton from the sweeps' start (the start of the issue's measurements), as balance() runs it."""
        return newton_balance(normalized(W)[0], tol=args.tol, merged=False)

    def also_sweeps(W, t_flow, repeats):
        t, _ = median_time(lambda: newton_sweeps(W), repeats)
        return f"; against Newton from the sweeps' start ({t:.4f} s): {t_flow / t:.1f}"

    def one_iteration(W):
        """Median time of one PCG iteration's operators at W: a Gram application and the default
        preconditioner's, on packed vectors as the flow's solves apply them."""
        import numpy as np

        op = GramOperator(normalized(W)[0])
        mu = dg.moment_map(normalized(W)[0])
        v = np.concatenate([m.ravel() for m in mu])
        M = op.preconditioner("auto")
        packed = getattr(M, "on_packed", None)
        t_a, _ = median_time(lambda: op.matvec(v), 20)
        t_m, _ = median_time((lambda: packed(v)) if packed is not None else (lambda: M(mu)), 20)
        return t_a + t_m

    def floor_of_integrator(W, res, t_newton):
        """What the L2 run's Gram solves would cost at one PCG iteration each, against Newton."""
        import re

        m = re.search(r"(\d+) PCG iterations in (\d+) Gram solves", res.message)
        if m is None:
            return ""
        iters, solves = int(m.group(1)), int(m.group(2))
        t_it = one_iteration(W)
        return (f"\n    its {solves} Gram solves took {iters} PCG iterations ({t_it * 1e3:.2f} ms each: one Gram "
                f"and one preconditioner application): {iters * t_it / t_newton:.0f}x Newton in PCG iterations alone; "
                f"at one iteration per solve, {solves * t_it / t_newton:.1f}x")

    def moment_steps_at_condition(cond, seed, d=8, N=4):
        """Steps of balance(method="moment") from a gauged balanced point over X with s_max / s_min = cond."""
        import numpy as np
        import scipy.linalg

        from dln_git.testing.strategies import haar_orthonormal

        rng = np.random.default_rng(seed)
        U, V = haar_orthonormal(rng, d, d, False), haar_orthonormal(rng, d, d, False)
        Wb = dg.balanced_from_end_to_end((U * np.geomspace(1.0, 1.0 / cond, d)) @ V.T, (d,) * (N + 1), rng)
        g = [scipy.linalg.expm(0.5 * rng.standard_normal((d, d)) / np.sqrt(d)) for _ in range(N - 1)]
        res = dg.balance(dg.gauge_act(g, Wb), method="moment", tol=args.tol)
        return res.iterations if res.converged else f"{res.iterations} (not converged)"

    if "A" not in args.skip:
        print("\nA. balance(method='l2') / Newton, tol", args.tol)
        for widths, target in (((16,) * 5, 10.0), ((32,) * 5, 20.0), ((64,) * 9, 20.0)):
            W = weights(widths)
            t_newton, _ = median_time(lambda W=W: newton(W), max(args.repeats, 5))
            t_l2, res = median_time(lambda W=W: dg.balance(W, method="l2", tol=args.tol), args.repeats)
            ratio = t_l2 / t_newton
            print(f"  widths {widths[0]}^{len(widths)}: Newton {t_newton:.4f} s, l2 {t_l2:.3f} s "
                  f"({res.iterations} steps, converged={res.converged}): ratio {ratio:.1f} "
                  f"(target <= {target:g}: {_verdict(ratio <= target and res.converged)})"
                  f"{also_sweeps(W, t_l2, max(args.repeats, 5))}{floor_of_integrator(W, res, t_newton)}")

    if "B" not in args.skip:
        print("\nB. balance(method='moment') / Newton at (32,)*5, tol", args.tol)
        W = weights((32,) * 5)
        t_newton, _ = median_time(lambda: newton(W), max(args.repeats, 5))
        t_mom, res = median_time(lambda: dg.balance(W, method="moment", tol=args.tol), args.repeats)
        ratio = t_mom / t_newton
        print(f"  Newton {t_newton:.4f} s, moment {t_mom:.3f} s ({res.iterations} steps, converged={res.converged}):"
              f" ratio {ratio:.1f} (target <= 100: {_verdict(ratio <= 100 and res.converged)})"
              f"{also_sweeps(W, t_mom, max(args.repeats, 5))}")
        if BASELINE_MOMENT_STEPS_32:
            fewer = BASELINE_MOMENT_STEPS_32 / max(res.iterations, 1)
            print(f"  steps: {res.iterations} against {BASELINE_MOMENT_STEPS_32} before: {fewer:.0f}x fewer "
                  f"(target >= 20x: {_verdict(fewer >= 20)})")
        print("  steps against s_max / s_min of X, widths (8,)*5, balanced point times a gauge expm(G / (2 sqrt d)):")
        for k in (0, 2, 4, 6):
            steps = [moment_steps_at_condition(10.0**k, seed) for seed in range(args.seed, args.seed + 3)]
            print(f"    cond X = 1e{k}: {steps} steps (seeds {args.seed}..{args.seed + 2})")

    if "C" not in args.skip:
        from dln_git.core.gram.preconditioners import auto_kind

        print("\nC. solve_gram(W, mu(W), rtol=1e-10), N = 8: the default preconditioner ('auto') and 'segments'")
        series = {"auto": ([], []), "segments": ([], [])}
        for d in args.gram_widths:
            W = weights((d,) * 9)
            mu = dg.moment_map(W)
            for kind, (times, iters) in series.items():
                if kind == "segments" and auto_kind((d,) * 9) == "segments":
                    times.append(series["auto"][0][-1])
                    iters.append(series["auto"][1][-1])
                    continue
                def solve(W=W, mu=mu, kind=kind):
                    return dg.solve_gram(W, mu, rtol=1e-10, preconditioner=kind)

                t, sol = median_time(solve, args.repeats)
                times.append(t)
                iters.append(sol.iterations)
                label = f"auto = {auto_kind((d,) * 9)}" if kind == "auto" else kind
                print(f"  width {d} ({label}): {sol.iterations} iterations, {t:.3f} s, converged={sol.converged}")
        for kind, (times, iters) in series.items():
            if 256 in args.gram_widths:
                it = iters[args.gram_widths.index(256)]
                print(f"  {kind}: iterations at width 256: {it} (target <= 150: {_verdict(it <= 150)}; 1952 before)")
            if len(times) > 1:
                e = _fit_exponent(args.gram_widths, times)
                print(f"  {kind}: cost exponent in width: {e:.2f} (target <= 3: {_verdict(e <= 3)})")

    if "D" not in args.skip:
        print("\nD. Newton against depth, width 32")
        t_newton, t_floor = [], []
        for n in args.depths:
            W = weights((32,) * (n + 1))
            t, res = median_time(lambda W=W: newton(W), max(args.repeats, 5))
            tf, _ = median_time(lambda W=W: [np.linalg.svd(w) for w in W], max(args.repeats, 5))
            t_newton.append(t)
            t_floor.append(tf)
            print(f"  N = {n}: Newton {t:.4f} s ({res.iterations} iterations), SVD floor {tf:.5f} s, "
                  f"ratio {t / tf:.0f}")
        e, ef = _fit_exponent(args.depths, t_newton), _fit_exponent(args.depths, t_floor)
        print(f"  exponent in N: Newton {e:.2f}, SVD floor {ef:.2f} (target <= 1.0: {_verdict(e <= 1.0)})")

    if stolen := stolen_since(steal0):
        print(f"\n{stolen}")


if __name__ == "__main__":
    main()
