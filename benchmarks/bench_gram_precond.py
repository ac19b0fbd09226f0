"""PCG iterations and times of the Gram solvers with the "block_lu" and "balanced" preconditioners.

For depth N (default 8) and equal widths d (default 64 and 128; add 256 with ``--big``), on

(a) ``W = g.W_bal``: ``W_bal = dln_git.balanced_from_end_to_end(X, (d,)*(N+1))`` with
    ``X = U diag(logspace(0, -3, d)) V^T`` (condition number 1e3, U, V Haar) and a gauge element
    ``g_i = expm(c G_i / sqrt(d))``, ``G_i`` Gaussian, ``c = --c`` (default 0.75);
(b) the same with g closer to the identity (``c = --c-near``, default 0.1);
(c) ``dln_git.random_weights((d,)*(N+1), seed)`` (Gaussian weights, far from balance),

it prints, for ``GramOperator.solve(mu)`` (``A^*A xi = mu``, min-norm) and
``GramOperator.solve_hermitian(mu)`` (``Herm(A^*A s) = mu`` over Hermitian s), with
``rtol = --rtol``: PCG iterations, convergence, the true relative residual, the set-up time
(preconditioner and kernel, on a fresh operator) and the solve time. Iterations are capped by
``--maxiter`` (block Gauss–Seidel needs thousands on (c) at d = 256).

``--newton`` adds a reference Newton loop for case (a): geodesic steps ``W <- exp(-s/2).W`` with
``Herm(A^*A s) = mu`` solved by ``solve_hermitian`` (forcing ``rtol = min(0.1, ||mu||/R)``) until
``||mu|| <= 1e-12 R(W)``, reporting Newton steps, total PCG iterations and time in units of one
SVD of X; ``--newton-direct`` switches to ``s = M^+ mu`` (one preconditioner application, no
Gram application) once ``||mu||/R < 1e-2``: the balanced model is exact at balance, so this is
itself a quadratically convergent Newton step. This loop is a measurement aid, not the project's
Newton method (dln_git/flows).

Timings use ``time.perf_counter``; the machine speed (one 256 x 256 product) and the CPU time
stolen by the hypervisor are printed, as on a shared machine they move a lot. Threads:
``--threads`` (default 2) is exported before numpy is imported.

``--scaling`` (issue 17's acceptance figures) replaces the table by: for each preconditioner of
``--kinds`` and the widths of ``--widths`` (default 32 64 128 256 in this mode), the PCG iterations
of ``GramOperator.solve(mu)`` to ``--rtol`` on Gaussian weights (case c) at depth ``--depth``, the
set-up and solve times, and the least-squares exponent ``p`` of ``time ~ d^p`` over the widths
(targets: at most 150 iterations at d = 256, p at most 3). One product of two d x d matrices costs
``d^3``, so ``p > 3`` means the iteration count grows with the width.

Usage::

    python benchmarks/bench_gram_precond.py [--big] [--widths 64 128] [--depth 8] [--threads 2]
                                            [--cases a b c] [--newton] [--newton-direct]
    python benchmarks/bench_gram_precond.py --scaling [--widths 32 64 128 256] [--kinds block_lu]
"""

from __future__ import annotations

import argparse
import time

from _bench_env import configure_threads, import_package, machine_speed, steal_seconds, stolen_since

KINDS = ("block_lu", "balanced")


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description="Compare the block_lu and balanced preconditioners of the Gram solvers.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("--widths", type=int, nargs="+", default=None,
                   help="widths d (default 64 128; 32 64 128 256 with --scaling)")
    p.add_argument("--scaling", action="store_true",
                   help="iterations and the width exponent of the solve on Gaussian weights (issue 17)")
    p.add_argument("--kinds", nargs="+", default=list(KINDS), choices=["jacobi", "block_lu", "balanced", "segments"],
                   help="preconditioners of --scaling")
    p.add_argument("--big", action="store_true", help="also d = 256 (slow for block_lu on case c)")
    p.add_argument("--depth", type=int, default=8, help="depth N")
    p.add_argument("--cases", nargs="+", default=["a", "b", "c"], choices=["a", "b", "c"])
    p.add_argument("--c", type=float, default=0.75, help="gauge strength of case (a)")
    p.add_argument("--c-near", type=float, default=0.1, help="gauge strength of case (b)")
    p.add_argument("--cond", type=float, default=1e3, help="condition number of X in (a), (b)")
    p.add_argument("--rtol", type=float, default=1e-10)
    p.add_argument("--maxiter", type=int, default=2000, help="PCG iteration cap")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=2, help="BLAS threads")
    p.add_argument("--methods", nargs="+", default=["solve", "solve_hermitian"],
                   choices=["solve", "solve_hermitian"])
    p.add_argument("--newton", action="store_true", help="reference Newton loop on case (a)")
    p.add_argument("--newton-direct", action="store_true",
                   help="in the Newton loop, s = M^+ mu once ||mu||/R < 1e-2")
    args = p.parse_args(argv)
    if args.widths is None:
        args.widths = [32, 64, 128, 256] if args.scaling else [64, 128]
    if args.big and 256 not in args.widths:
        args.widths = [*args.widths, 256]
    if args.depth < 2:
        p.error("--depth must be >= 2")
    return args


def gauged_balanced(dg, d, N, c, cond, seed):
    """(W, X): ``g.W_bal`` over X of condition ``cond``, ``g_i = expm(c G_i / sqrt(d))``."""
    import numpy as np
    import scipy.linalg as sl

    rng = np.random.default_rng(seed)
    U = np.linalg.qr(rng.standard_normal((d, d)))[0]
    V = np.linalg.qr(rng.standard_normal((d, d)))[0]
    X = (U * np.logspace(0, -np.log10(cond), d)) @ V.T
    Wb = dg.balanced_from_end_to_end(X, (d,) * (N + 1))
    g = [sl.expm(c * rng.standard_normal((d, d)) / np.sqrt(d)) for _ in range(N - 1)]
    return dg.gauge_act(g, Wb), X


def run_solve(dg, W, method, kind, rtol, maxiter):
    from dln_git.core.gram import GramOperator

    mu = dg.moment_map(W)
    op = GramOperator(W)
    t0 = time.perf_counter()
    # set-up: the preconditioner (frames and model, or eigenbases) and the kernel
    if kind == "balanced":
        target = op.in_frames()
        target.preconditioner("balanced", hermitian=method == "solve_hermitian")
    else:
        target = op
        target.preconditioner(kind, hermitian=method == "solve_hermitian")
    if method == "solve_hermitian":
        target.hermitian_kernel()
    else:
        target.kernel()
    t1 = time.perf_counter()
    sol = getattr(op, method)(mu, rtol=rtol, maxiter=maxiter, preconditioner=kind)
    t2 = time.perf_counter()
    return sol, t1 - t0, t2 - t1


def newton_reference(dg, W, direct: bool, maxsteps: int = 40):
    """Geodesic Newton balancing ``W <- exp(-s/2).W``; returns (steps, PCG iterations, seconds)."""
    import numpy as np

    from dln_git.core.gram import GramOperator

    def expstep(s, W):
        ex, exi = [], []
        for si in s:
            lam, U = np.linalg.eigh(0.5 * (si + si.conj().T))
            ex.append((U * np.exp(-0.5 * lam)) @ U.conj().T)
            exi.append((U * np.exp(0.5 * lam)) @ U.conj().T)
        out = []
        for i, w in enumerate(W):
            if i < len(W) - 1:
                w = ex[i] @ w
            if i > 0:
                w = w @ exi[i - 1]
            out.append(w)
        return tuple(out)

    its = steps = 0
    trivial = False  # ker A_W = 0 is constant along the gauge orbit: computed at the first step only
    log = []
    t = time.perf_counter()
    while steps < maxsteps:
        mu = dg.moment_map(W)
        r = dg.norm(mu) / dg.regularizer(W)
        if r <= 1e-12:
            break
        steps += 1
        op = GramOperator(W, trivial_kernel=trivial)
        if direct and r < 1e-2:
            s = op.preconditioner("balanced", hermitian=True)(mu)
            log.append(f"{r:.1e}:M")
        else:
            sol = op.solve_hermitian(mu, rtol=min(0.1, r))
            s, its = sol.xi, its + sol.iterations
            trivial = sol.kernel_dim == 0 and op.kernel() is not None and op.kernel().dim == 0
            log.append(f"{r:.1e}:{sol.iterations}")
        W = expstep(s, W)
    return steps, its, time.perf_counter() - t, log


def scaling(dg, args) -> None:
    """Iterations and the width exponent of ``GramOperator.solve(mu)`` on Gaussian weights."""
    import numpy as np

    print(f"Gaussian weights (random_weights, seed {args.seed}), depth N = {args.depth}, solve A^*A xi = mu to "
          f"rtol {args.rtol:.0e}, maxiter {args.maxiter}")
    header = f"{'precond':9s} {'d':>4s} {'iters':>6s} {'conv':>5s} {'resid':>8s} {'setup s':>8s} {'solve s':>8s}"
    print(header)
    print("-" * len(header))
    for kind in args.kinds:
        widths, costs = [], []
        for d in args.widths:
            W = dg.random_weights((d,) * (args.depth + 1), args.seed)
            sol, ts, tv = run_solve(dg, W, "solve", kind, args.rtol, args.maxiter)
            print(f"{kind:9s} {d:4d} {sol.iterations:6d} {sol.converged!s:>5s} {sol.residual:8.1e} {ts:8.3f} "
                  f"{tv:8.3f}", flush=True)
            widths.append(d)
            costs.append(ts + tv)
        if len(widths) >= 2:
            slope = float(np.polyfit(np.log(widths), np.log(costs), 1)[0])
            print(f"{kind:9s} cost exponent in width (time ~ d^p, d = {widths[0]}..{widths[-1]}): p = {slope:.2f}"
                  f"{' (iteration cap reached: a lower bound)' if sol.iterations >= args.maxiter else ''}")


def main(argv=None) -> int:
    args = parse_args(argv)
    configure_threads(args.threads)
    import numpy as np

    dg = import_package()
    steal0 = steal_seconds()
    mm = machine_speed()
    if args.scaling:
        print(f"threads {args.threads}; one 256 x 256 product: {mm * 1e3:.2f} ms")
        scaling(dg, args)
        if stolen := stolen_since(steal0):
            print(f"\n{stolen}")
        return 0
    print(f"threads {args.threads}; one 256 x 256 product: {mm * 1e3:.2f} ms; depth N = {args.depth}; "
          f"rtol {args.rtol:.0e}; maxiter {args.maxiter}")
    print(f"case (a): g.W_bal, c = {args.c:g}, cond X = {args.cond:.0e}; (b): c = {args.c_near:g}; "
          f"(c): random_weights(seed {args.seed})")
    header = (f"{'case':4s} {'d':>4s} {'method':16s} {'precond':9s} {'iters':>6s} {'conv':>5s} "
              f"{'resid':>8s} {'setup s':>8s} {'solve s':>8s} {'total s':>8s} {'s/iter':>8s}")
    print(header)
    print("-" * len(header))
    for case in args.cases:
        for d in args.widths:
            if case == "c":
                W = dg.random_weights((d,) * (args.depth + 1), args.seed)
            else:
                c = args.c if case == "a" else args.c_near
                W, _ = gauged_balanced(dg, d, args.depth, c, args.cond, args.seed)
            for method in args.methods:
                for kind in KINDS:
                    sol, ts, tv = run_solve(dg, W, method, kind, args.rtol, args.maxiter)
                    per = tv / max(sol.iterations, 1)
                    print(f"{case:4s} {d:4d} {method:16s} {kind:9s} {sol.iterations:6d} "
                          f"{sol.converged!s:>5s} {sol.residual:8.1e} {ts:8.3f} {tv:8.3f} {ts + tv:8.3f} "
                          f"{per:8.4f}", flush=True)
    if args.newton:
        print("\nreference Newton loop on case (a) (forcing rtol = min(0.1, ||mu||/R); "
              + ("s = M^+ mu once ||mu||/R < 1e-2)" if args.newton_direct else "PCG at every step)"))
        for d in args.widths:
            W, X = gauged_balanced(dg, d, args.depth, args.c, args.cond, args.seed)
            t = time.perf_counter()
            for _ in range(3):
                np.linalg.svd(X)
            svd = (time.perf_counter() - t) / 3
            steps, its, sec, log = newton_reference(dg, W, args.newton_direct)
            print(f"  d={d}: {steps} Newton steps, {its} PCG iterations, {sec:.2f} s = {sec / svd:.0f} SVDs of X "
                  f"({svd * 1e3:.1f} ms each); ||mu||/R : iterations per step: {' '.join(log)}", flush=True)
    if stolen := stolen_since(steal0):
        print(f"\n{stolen}; one 256 x 256 product now: {machine_speed() * 1e3:.2f} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
