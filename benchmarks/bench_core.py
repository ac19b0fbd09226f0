"""Benchmark of the matrix-free Gram operator ``A_W^* A_W`` and its solver (docs/math section 2).

Prints, in one run, for a depth-N network of equal widths ``(d,)*(N+1)``
(weights ``dln_git.random_weights((d,)*(N+1), seed)``, float64 unless ``--complex``):

1. for every width d: the construction time of ``dln_git.gram_operator(W)``, the median time of
   one application ``op @ v`` on a packed random vector (operator built outside the timed region),
   and the median time of ``dln_git.solve_gram(W, dln_git.moment_map(W), rtol=1e-10)`` with its
   iterations, relative residual and convergence flag (and the time per PCG iteration);
2. the fitted exponent of cost versus width (least-squares slope of log median time against
   log d) for the application and for the solve (target <= 3.2), and for the solve split into
   iteration count and time per iteration;
3. the dense Jacobian reference at one width (default: the largest multiple of 8 for which the
   dense infinitesimal action, the dense Gram and the dense solver's copy of it fit in
   ``--dense-mem-gb``, i.e. 32 at N = 8 and 2 GB): building the dense Gram from
   ``dln_git.testing.dense.dense_infinitesimal_action`` and solving the same system by a dense
   minimum-norm least-squares solve (``--dense-solver``, default ``np.linalg.lstsq``), against
   ``solve_gram`` at that width; the speed-up (target >= 50x) and the relative difference of the
   two solutions. A dense Cholesky solve is also timed, as a lower bound on any dense route (it
   is not minimum-norm and works only because this Gram operator is non-singular).

It is a measurement, not a test: it asserts nothing about wall-clock times, it prints each
target and whether this run met it.

Usage::

    python benchmarks/bench_core.py [--widths 64 128 256] [--depth 8] [--repeats 5]
                                    [--dense-width W] [--threads 2]

BLAS environment. Some machines of this project set ``OPENBLAS_CORETYPE`` (and
``OPENBLAS_L2_SIZE``) because older OpenBLAS builds compute wrong results on their processors;
with a current numpy those variables only slow it down. Benchmark with both unset, in that one
command alone (never change them for tests or CI)::

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/bench_core.py

and compare with a run with the environment as it is. The script prints those variables, the
BLAS library and the kernel (core) it actually runs (through ``threadpoolctl`` when it is
importable, else by asking the loaded OpenBLAS library itself), and the thread count.

Threads: ``--threads`` (default 2, the size of the project's machines) is exported as
``OPENBLAS_NUM_THREADS``/``OMP_NUM_THREADS``/``MKL_NUM_THREADS`` before numpy is imported (and
enforced with threadpoolctl when available). Timing uses ``time.perf_counter``; solves are
repeated up to ``--repeats`` times but, at each width, no new repeat starts once
``--solve-budget`` seconds have been spent there (the number of runs is printed). The CPU time
stolen by the hypervisor during the run is printed too (from /proc/stat): a large value means
the timings are noisy. The machine speed (GFLOP/s of a 256 x 256 product) is printed at the
start, after each width and at the end: on a shared virtual machine it can drop several-fold for
minutes, inflating whatever ran then.

Run time at the defaults on a 2-core machine: about 7 to 12 minutes, nearly all in the single
solve at d = 256 (about 3500 PCG iterations) and in the dense ``np.linalg.lstsq`` at d = 32
(about 2 minutes). A shorter look: ``--widths 64 128 --dense-width 24`` (about 2 to 3 minutes).
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import importlib
import os
import statistics
import sys
import time
import warnings

from _bench_env import configure_threads, import_package, steal_seconds

BLAS_ENV_VARS = (
    "OPENBLAS_CORETYPE",
    "OPENBLAS_L2_SIZE",
    "OPENBLAS_NUM_THREADS",
    "OMP_NUM_THREADS",
    "MKL_NUM_THREADS",
)
APPLY_EXPONENT_TARGET = 3.2
SOLVE_EXPONENT_TARGET = 3.2
DENSE_SPEEDUP_TARGET = 50.0


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description="Benchmark the matrix-free Gram operator and solve_gram against a dense reference.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("--widths", type=int, nargs="+", default=[64, 128, 256], help="widths d")
    p.add_argument("--depth", type=int, default=8, help="depth N (N + 1 layers of width d)")
    p.add_argument("--repeats", type=int, default=5, help="timed runs per measurement")
    p.add_argument("--rtol", type=float, default=1e-10, help="rtol of solve_gram")
    p.add_argument("--seed", type=int, default=0, help="seed of random_weights")
    p.add_argument("--complex", action="store_true", help="complex128 weights instead of float64")
    p.add_argument("--threads", type=int, default=2, help="BLAS threads")
    p.add_argument(
        "--solve-budget", type=float, default=30.0,
        help="seconds per width after which no further solve repeat is started (at least one runs)",
    )
    p.add_argument(
        "--dense-width", type=int, default=None,
        help="width of the dense comparison (default: largest multiple of 8 within --dense-mem-gb)",
    )
    p.add_argument("--dense-mem-gb", type=float, default=2.0, help="memory budget of the dense reference")
    p.add_argument(
        "--dense-solver", choices=["lstsq", "gelsy", "pinvh"], default="lstsq",
        help="dense minimum-norm solve: np.linalg.lstsq (gelsd), scipy.linalg.lstsq(gelsy), "
        "scipy.linalg.pinvh",
    )
    p.add_argument("--dense-repeats", type=int, default=1, help="timed runs of the dense reference")
    p.add_argument("--no-cholesky", action="store_true", help="skip the dense Cholesky lower bound")
    p.add_argument("--skip-dense", action="store_true", help="skip section 3")
    args = p.parse_args(argv)
    if args.depth < 2:
        p.error("--depth must be >= 2 (the Lie algebra is empty at depth 1)")
    if min(args.widths) < 1 or args.repeats < 1 or args.threads < 1 or args.dense_repeats < 1:
        p.error("widths, repeats, dense-repeats and threads must be positive")
    return args


# ---------------------------------------------------------------------------------------------
# BLAS configuration
# ---------------------------------------------------------------------------------------------


def _loaded_openblas_paths() -> list[str]:
    paths = []
    with contextlib.suppress(OSError), open("/proc/self/maps") as f:
        for line in f:
            path = line.split()[-1] if len(line.split()) >= 6 else ""
            if "openblas" in os.path.basename(path).lower() and path not in paths:
                paths.append(path)
    return paths


def _openblas_query(path: str) -> dict[str, str]:
    """Version, kernel (core) and threads reported by a loaded OpenBLAS library, via ctypes."""
    try:
        lib = ctypes.CDLL(path)
    except OSError as exc:
        return {"error": str(exc)}
    out = {}
    for prefix in ("", "scipy_"):
        for suffix in ("", "64_"):
            name = f"{prefix}openblas_get_corename{suffix}"
            if not hasattr(lib, name):
                continue
            for key, fn, restype in (
                ("core", "openblas_get_corename", ctypes.c_char_p),
                ("config", "openblas_get_config", ctypes.c_char_p),
                ("threads", "openblas_get_num_threads", ctypes.c_int),
            ):
                f = getattr(lib, f"{prefix}{fn}{suffix}", None)
                if f is not None:
                    f.restype = restype
                    val = f()
                    out[key] = val.decode() if isinstance(val, bytes) else str(val)
            return out
    return {"error": "no openblas_get_corename symbol"}


def blas_report(threads: int):
    """Print the BLAS configuration; return a threadpoolctl limiter (or None) to keep alive."""
    import numpy as np
    import scipy

    print("== BLAS configuration ==")
    for var in BLAS_ENV_VARS:
        print(f"  {var} = {os.environ.get(var)!r}")
    print(f"  numpy {np.__version__}, scipy {scipy.__version__}, python {sys.version.split()[0]}, "
          f"os.cpu_count() = {os.cpu_count()}")
    with contextlib.suppress(Exception):
        cfg = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
        print(f"  numpy built against: {cfg.get('name')} {cfg.get('version')}")
    limiter = None
    try:
        import threadpoolctl
    except ImportError:
        threadpoolctl = None
    if threadpoolctl is not None:
        limiter = threadpoolctl.threadpool_limits(limits=threads, user_api="blas")
        for info in threadpoolctl.threadpool_info():
            print(f"  [threadpoolctl] {info.get('internal_api')} {info.get('version')} "
                  f"kernel={info.get('architecture')} threads={info.get('num_threads')} "
                  f"({os.path.basename(info.get('filepath', ''))})")
    else:
        importlib.import_module("scipy.linalg")  # loads scipy's own BLAS too, if it has one

        paths = _loaded_openblas_paths()
        if not paths:
            print("  threadpoolctl not importable and no OpenBLAS library found in /proc/self/maps")
        for path in paths:
            q = _openblas_query(path)
            if "error" in q:
                print(f"  {os.path.basename(path)}: {q['error']}")
            else:
                print(f"  [ctypes] {os.path.basename(path)}: kernel={q.get('core')} "
                      f"threads={q.get('threads')} config={q.get('config')!r}")
    return limiter


# ---------------------------------------------------------------------------------------------
# Timing helpers
# ---------------------------------------------------------------------------------------------


def timed(fn):
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def fmt_t(t: float) -> str:
    if t < 1e-3:
        return f"{t * 1e6:8.1f} us"
    if t < 1.0:
        return f"{t * 1e3:8.2f} ms"
    return f"{t:8.2f} s "


def calibrate(n: int = 256, reps: int = 15) -> float:
    """Machine speed right now: median GFLOP/s of an n x n float64 matrix product."""
    import numpy as np

    rng = np.random.default_rng(12345)
    A, B = rng.standard_normal((n, n)), rng.standard_normal((n, n))
    _ = A @ B
    times = [timed(lambda: A @ B)[0] for _ in range(reps)]
    return 2.0 * n**3 / statistics.median(times) / 1e9


def fit_exponent(widths, values) -> float | None:
    """Least-squares slope of log(value) against log(width)."""
    import numpy as np

    pts = [(w, v) for w, v in zip(widths, values, strict=True) if v is not None and v > 0]
    if len({w for w, _ in pts}) < 2:
        return None
    x = np.log([w for w, _ in pts])
    y = np.log([v for _, v in pts])
    return float(np.polyfit(x, y, 1)[0])


def met(ok: bool | None) -> str:
    return "n/a" if ok is None else ("MET" if ok else "NOT MET")


def run_solves(dln_git, W, rhs, rtol: float, repeats: int, budget: float):
    """Time solve_gram up to ``repeats`` times (at least once, until ``budget`` seconds are spent)."""
    times, sol = [], None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", dln_git.ConvergenceWarning)
        for _ in range(repeats):
            t, sol = timed(lambda: dln_git.solve_gram(W, rhs, rtol=rtol))
            times.append(t)
            if sum(times) >= budget:
                break
    return times, sol


# ---------------------------------------------------------------------------------------------
# Sections
# ---------------------------------------------------------------------------------------------


def section_widths(dln_git, args) -> list[dict]:
    import numpy as np

    N = args.depth
    print(f"\n== 1. Matrix-free Gram operator, N = {N}, widths {args.widths}, repeats {args.repeats} ==")
    print(f"  {'d':>5} {'dim':>8} {'build':>11} {'apply(med)':>11} {'apply(min)':>11} "
          f"{'solve(med)':>11} {'runs':>4} {'iters':>6} {'t/iter':>11} {'residual':>9} conv kernel "
          f"GFLOP/s")
    rows = []
    for d in args.widths:
        W = dln_git.random_weights((d,) * (N + 1), args.seed, complex=args.complex)
        build_times, op = [], None
        for _ in range(args.repeats):
            t, op = timed(lambda W=W: dln_git.gram_operator(W))
            build_times.append(t)
        rng = np.random.default_rng(args.seed + 1)
        v = rng.standard_normal(op.shape[1])
        if args.complex:
            v = v + 1j * rng.standard_normal(op.shape[1])
        _ = op @ v  # warm-up (first touch of the buffers), not timed
        apply_times = [timed(lambda op=op, v=v: op @ v)[0] for _ in range(args.repeats)]
        mu = dln_git.moment_map(W)
        solve_times, sol = run_solves(dln_git, W, mu, args.rtol, args.repeats, args.solve_budget)
        row = {
            "d": d,
            "dim": op.shape[1],
            "build": statistics.median(build_times),
            "apply": statistics.median(apply_times),
            "apply_min": min(apply_times),
            "solve": statistics.median(solve_times),
            "runs": len(solve_times),
            "iters": sol.iterations,
            "residual": sol.residual,
            "converged": sol.converged,
            "kernel": sol.kernel_dim,
        }
        row["per_iter"] = row["solve"] / max(sol.iterations, 1)
        rows.append(row)
        print(f"  {d:5d} {row['dim']:8d} {fmt_t(row['build'])} {fmt_t(row['apply'])} "
              f"{fmt_t(row['apply_min'])} {fmt_t(row['solve'])} {row['runs']:4d} {sol.iterations:6d} "
              f"{fmt_t(row['per_iter'])} {sol.residual:9.2e} {'yes' if sol.converged else 'NO ':4} "
              f"{sol.kernel_dim!s:>6} {calibrate():6.1f}", flush=True)
    return rows


def section_exponents(rows) -> None:
    ws = [r["d"] for r in rows]
    print("\n== 2. Fitted exponent of cost versus width (slope of log median time vs log d) ==")
    e_apply = fit_exponent(ws, [r["apply"] for r in rows])
    e_solve = fit_exponent(ws, [r["solve"] for r in rows])
    e_iters = fit_exponent(ws, [r["iters"] for r in rows])
    e_per = fit_exponent(ws, [r["per_iter"] for r in rows])

    def show(name, e, target=None):
        if e is None:
            print(f"  {name:<34} n/a (need two widths)")
        elif target is None:
            print(f"  {name:<34} {e:5.2f}")
        else:
            print(f"  {name:<34} {e:5.2f}   target <= {target}: {met(e <= target)}")

    show("application  op @ v", e_apply, APPLY_EXPONENT_TARGET)
    show("solve_gram", e_solve, SOLVE_EXPONENT_TARGET)
    show("  of which: PCG iteration count", e_iters)
    show("  of which: time per iteration", e_per)
    if not all(r["converged"] for r in rows):
        print("  note: some solves did not converge; their times are not comparable")


def dense_bytes(d: int, N: int, itemsize: int) -> int:
    """Peak bytes of the dense reference: A (N d^2 x (N-1) d^2), A^* A, and the solver's copy."""
    m, n = N * d * d, (N - 1) * d * d
    return itemsize * (m * n + 2 * n * n)


def default_dense_width(N: int, itemsize: int, mem_gb: float) -> int:
    d = 8
    while dense_bytes(d + 8, N, itemsize) <= mem_gb * 1e9:
        d += 8
    return d


def dense_solve(G, b, solver: str):
    import numpy as np
    import scipy.linalg

    if solver == "lstsq":
        return np.linalg.lstsq(G, b, rcond=None)[0]
    if solver == "gelsy":
        return scipy.linalg.lstsq(G, b, lapack_driver="gelsy")[0]
    if solver == "pinvh":
        return scipy.linalg.pinvh(G) @ b
    raise ValueError(solver)


def section_dense(dln_git, args) -> None:
    import numpy as np
    import scipy.linalg

    from dln_git.testing import dense

    N = args.depth
    itemsize = 16 if args.complex else 8
    dw = args.dense_width or default_dense_width(N, itemsize, args.dense_mem_gb)
    need = dense_bytes(dw, N, itemsize) / 1e9
    print(f"\n== 3. Dense Jacobian reference at d = {dw}, N = {N} "
          f"(A: {N * dw * dw} x {(N - 1) * dw * dw}; estimated peak {need:.2f} GB, "
          f"budget {args.dense_mem_gb} GB) ==")
    if need > args.dense_mem_gb:
        print(f"  warning: --dense-width {dw} exceeds --dense-mem-gb {args.dense_mem_gb}")
    W = dln_git.random_weights((dw,) * (N + 1), args.seed, complex=args.complex)
    mu = dln_git.moment_map(W)
    b = dln_git.pack(mu)

    mf_times, sol = run_solves(dln_git, W, mu, args.rtol, args.repeats, args.solve_budget)
    t_mf = statistics.median(mf_times)
    x_mf = dln_git.pack(sol.xi)
    print(f"  matrix-free solve_gram: median {fmt_t(t_mf).strip()} over {len(mf_times)} runs, "
          f"{sol.iterations} iterations, residual {sol.residual:.2e}, converged {sol.converged}")

    totals, x_dense = [], None
    t_A = t_G = t_s = 0.0
    G = None
    for _ in range(args.dense_repeats):
        G = None  # free the previous repeat's Gram before building the next
        t_A, A = timed(lambda: dense.dense_infinitesimal_action(W))
        t_G, G = timed(lambda A=A: A.conj().T @ A)
        del A
        t_s, x_dense = timed(lambda G=G: dense_solve(G, b, args.dense_solver))
        totals.append(t_A + t_G + t_s)
    t_dense = statistics.median(totals)
    res_dense = np.linalg.norm(G @ x_dense - b) / np.linalg.norm(b)
    rel = np.linalg.norm(x_dense - x_mf) / np.linalg.norm(x_mf)
    print(f"  dense reference ({args.dense_solver}): dense_infinitesimal_action {fmt_t(t_A).strip()}, "
          f"A^* A {fmt_t(t_G).strip()}, solve {fmt_t(t_s).strip()}; total {fmt_t(t_dense).strip()} "
          f"(median of {len(totals)}), residual {res_dense:.2e}")
    print(f"  relative difference of the solutions ||x_dense - x_mf|| / ||x_mf|| = {rel:.2e}")
    ratio = t_dense / t_mf
    print(f"  speed-up dense / matrix-free = {ratio:.1f}x   target >= {DENSE_SPEEDUP_TARGET:.0f}x: "
          f"{met(ratio >= DENSE_SPEEDUP_TARGET)}")
    if not args.no_cholesky:
        try:
            t_c, x_c = timed(lambda: scipy.linalg.cho_solve(scipy.linalg.cho_factor(G), b))
        except np.linalg.LinAlgError as exc:
            print(f"  dense Cholesky lower bound: failed ({exc}); G is singular")
        else:
            rel_c = np.linalg.norm(x_c - x_mf) / np.linalg.norm(x_mf)
            lb = t_A + t_G + t_c
            print(f"  dense Cholesky (lower bound, not min-norm): solve {fmt_t(t_c).strip()}, total "
                  f"{fmt_t(lb).strip()}, speed-up {lb / t_mf:.1f}x, relative difference {rel_c:.2e}")


def main(argv=None) -> int:
    args = parse_args(argv)
    configure_threads(args.threads)
    t_start, steal0 = time.perf_counter(), steal_seconds()
    dln_git = import_package()
    limiter = blas_report(args.threads)
    print(f"  precision: {'complex128' if args.complex else 'float64'}; rtol = {args.rtol:g}; "
          f"seed = {args.seed}; threads = {args.threads}")
    print(f"  machine speed now: {calibrate():.1f} GFLOP/s on a 256 x 256 float64 product (printed again "
          "after each width and at the end: a drop means the timings around it are inflated)")
    rows = section_widths(dln_git, args)
    section_exponents(rows)
    if not args.skip_dense:
        section_dense(dln_git, args)
    wall = time.perf_counter() - t_start
    steal1 = steal_seconds()
    steal = "" if steal0 is None or steal1 is None else (
        f"; CPU time stolen by the hypervisor: {steal1 - steal0:.1f} s over all cores"
    )
    print(f"\n  machine speed at the end: {calibrate():.1f} GFLOP/s (256 x 256 float64 product)")
    print(f"== total wall time {wall:.1f} s{steal} ==")
    del limiter
    return 0


if __name__ == "__main__":
    sys.exit(main())
