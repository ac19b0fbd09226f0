"""Benchmark of conservation-law counting (``dln_git.symbolic.conservation``).

Counts the conservation laws of

1. ``--n-linear`` (50) random linear networks: depth N uniform in {2, 3, 4}, every width
   (``d_0 .. d_N``) uniform in 2..5;
2. ``--n-relu`` (50) random ReLU networks: one or two hidden layers (equally likely), every width
   (input, hidden, output) uniform in 2..9 (``--bias``: with biases);

drawn from ``numpy.random.default_rng(--seed)``; network k is counted with ``rng=seed + k``. For
each family it prints the total time of the 50 counts (median and all values over ``--repeats``
runs of the whole family), the median time per network, the largest D and bracket depth, the
number of counts that do not match the expected one (moment-map Jacobian rank, resp. number of
hidden neurons; must be 0), how many runs drew more than one point, how many exact checks ran
(``exact=None``: the library default, exact integer arithmetic when D <= 40) and how many of them
disagreed, and the target (< 60 s per family on 2 cores) with whether this run met it. Context:
the published SageMath notebooks of Marcotte-Gribonval-Peyré took about 34 min for 50 linear
networks and about 2 h for 50 ReLU networks on 64 threads.

It is a measurement, not a test: it asserts nothing about wall-clock times.

Usage::

    python benchmarks/bench_conservation.py [--n-linear 50] [--n-relu 50] [--seed 0]
                                            [--repeats 3] [--threads 1] [--exact auto|on|off]

BLAS environment. Some machines of this project set ``OPENBLAS_CORETYPE`` (and
``OPENBLAS_L2_SIZE``); benchmark with both unset, in that one command alone::

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/bench_conservation.py

Threads: ``--threads`` (default 1) is exported as ``OPENBLAS_NUM_THREADS``/``OMP_NUM_THREADS``/
``MKL_NUM_THREADS`` before numpy is imported. The work is many small dense products and QR
factorizations (at most D x D, D <= 243 here), for which a second BLAS thread only adds
synchronization: with other processes on the machine, two threads were about 1.5-2x slower than
one in our measurements (``--threads 2`` to compare). The script prints the variables it runs
with and the CPU time stolen by the hypervisor during the run (from /proc/stat; a large value
means noisy timings).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

from _bench_env import configure_threads, import_package, steal_seconds

BLAS_ENV_VARS = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")
TARGET_SECONDS = 60.0


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description="Time conservation-law counting on random linear and ReLU networks.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("--n-linear", type=int, default=50, help="number of random linear networks")
    p.add_argument("--n-relu", type=int, default=50, help="number of random ReLU networks")
    p.add_argument("--seed", type=int, default=0, help="seed of the network draws and of the counts")
    p.add_argument("--repeats", type=int, default=3, help="timed runs of each whole family")
    p.add_argument("--threads", type=int, default=1, help="BLAS threads")
    p.add_argument("--bias", action="store_true", help="ReLU networks with biases")
    p.add_argument(
        "--exact",
        choices=["auto", "on", "off"],
        default="auto",
        help="exact integer cross-check: auto = library default (D <= 40), on = always, off = never",
    )
    args = p.parse_args(argv)
    if args.n_linear < 0 or args.n_relu < 0 or args.repeats < 1 or args.threads < 1:
        p.error("counts must be >= 0, repeats and threads >= 1")
    return args


def import_counter():
    import_package()
    from dln_git.symbolic.conservation import count_conservation_laws

    return count_conservation_laws


def draw_networks(seed: int, n_linear: int, n_relu: int):
    import numpy as np

    rng = np.random.default_rng(seed)
    linear = []
    for _ in range(n_linear):
        depth = int(rng.integers(2, 5))
        linear.append(tuple(int(d) for d in rng.integers(2, 6, size=depth + 1)))
    relu = []
    for _ in range(n_relu):
        hidden = int(rng.integers(1, 3))
        relu.append(tuple(int(d) for d in rng.integers(2, 10, size=hidden + 2)))
    return linear, relu


def run_family(count, networks, activation: str, seed: int, exact, bias: bool):
    """Count every network once; return the per-network times and results."""
    times, results = [], []
    for k, widths in enumerate(networks):
        t0 = time.perf_counter()
        r = count(widths, activation, rng=seed + k, exact=exact, bias=bias)
        times.append(time.perf_counter() - t0)
        results.append(r)
    return times, results


def report(name: str, networks, runs) -> bool:
    totals = [sum(t) for t, _ in runs]
    per_net = statistics.median([statistics.median(t) for t, _ in runs])
    slowest = max(max(t) for t, _ in runs)
    results = runs[0][1]
    worst = max(range(len(networks)), key=lambda k: max(t[k] for t, _ in runs)) if networks else None
    mismatches = [r for r in results if not r.matches]
    exact_runs = [r for r in results if r.exact_rank is not None]
    exact_bad = [r for r in exact_runs if not r.exact_matches]
    unsaturated = [r for r in results if not r.saturated]
    ill = [r for r in results if not r.well_conditioned]
    retried = [r for r in results if r.points_tried > 1]
    depth_hist: dict[int, int] = {}
    for r in results:
        depth_hist[r.bracket_depth] = depth_hist.get(r.bracket_depth, 0) + 1
    total = statistics.median(totals)
    met = total < TARGET_SECONDS
    print(f"== {name}: {len(networks)} networks ==")
    print(f"  total time: median {total:.3f} s over {len(runs)} runs ({', '.join(f'{t:.3f}' for t in totals)} s)")
    print(f"  per network: median {per_net * 1e3:.2f} ms, slowest {slowest * 1e3:.1f} ms"
          + (f" ({networks[worst]}, D = {results[worst].D})" if worst is not None else ""))
    if results:
        print(f"  max D = {max(r.D for r in results)}, bracket depths {dict(sorted(depth_hist.items()))}, "
              f"max count = {max(r.count for r in results)}")
    print(f"  mismatches (count != expected): {len(mismatches)}"
          + "".join(f"\n    {r.widths}: count {r.count}, expected {r.expected}" for r in mismatches))
    print(f"  not saturated: {len(unsaturated)}; gap < 1e6 at the reported point: {len(ill)}; "
          f"runs that drew more than one point: {len(retried)}")
    print(f"  exact integer cross-checks: {len(exact_runs)}, disagreeing: {len(exact_bad)}")
    print(f"  smallest singular-value gap: {min((r.singular_value_gap for r in results), default=float('nan')):.3g}")
    print(f"  target: total < {TARGET_SECONDS:.0f} s -> {'met' if met else 'NOT met'}")
    return met and not mismatches and not exact_bad


def main(argv=None) -> int:
    args = parse_args(argv)
    configure_threads(args.threads)
    import numpy as np
    import scipy

    count = import_counter()
    print("== configuration ==")
    for var in BLAS_ENV_VARS:
        print(f"  {var} = {os.environ.get(var)!r}")
    print(f"  numpy {np.__version__}, scipy {scipy.__version__}, python {sys.version.split()[0]}, "
          f"os.cpu_count() = {os.cpu_count()}")
    exact = {"auto": None, "on": True, "off": False}[args.exact]
    print(f"  seed {args.seed}, repeats {args.repeats}, exact={exact}, relu bias={args.bias}")
    linear, relu = draw_networks(args.seed, args.n_linear, args.n_relu)
    count((2, 2, 2), "linear", rng=0)  # warm-up: imports, first BLAS calls
    steal0 = steal_seconds()
    wall0 = time.perf_counter()
    ok = True
    for name, nets, activation in (("linear", linear, "linear"), ("relu", relu, "relu")):
        runs = [run_family(count, nets, activation, args.seed, exact, args.bias and activation == "relu")
                for _ in range(args.repeats)]
        ok &= report(name, nets, runs)
    steal1 = steal_seconds()
    print(f"== wall time {time.perf_counter() - wall0:.1f} s"
          + (f", CPU time stolen by the hypervisor {steal1 - steal0:.2f} s" if steal0 is not None else ""))
    print("reference: SageMath notebooks of Marcotte-Gribonval-Peyré, ~34 min (50 linear) and ~2 h (50 ReLU) "
          "on 64 threads")
    print("all targets met, no mismatch" if ok else "SOME TARGET OR CHECK FAILED")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
