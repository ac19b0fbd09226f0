"""Benchmark of gradient-descent training (``dln_git.decomposition.train``, docs/math section 4).

GD on a linear regression ``E = 1/(2n) ||X A - B||^2`` with n = d samples, depth N, all widths d
(default N = 6, d = 128, 2000 steps, eta = 0.05, lam = 1e-3). Prints, in one process:

1. the floor: the median time of one forward pass of the data through the network, i.e. the N
   matrix products ``H <- W_i H`` (``d x d`` times ``d x n``);
2. the time per GD step of ``train(..., method="gd")`` with its default recording (every
   ``steps // 100`` steps: X, L, E, ||mu||, R and the two speeds, one end-to-end metric solve
   each), and with the recording reduced to the first and last step (``record_every=steps``,
   ``speeds=False``), each as the median over ``--repeats`` runs of its ratio to the floor measured
   just before it. Target (for the step itself): at most 4x. The default diagnostics cost one
   end-to-end metric solve per record (the speeds), which dominates at 100 records per 2000 steps.

A GD step costs about 3N products (the forward products F_j, the backward products and
``B_j^* G F_{j-1}^*``), so ~3x is the arithmetic lower bound of this implementation.

It is a measurement, not a test: it asserts nothing about wall-clock times.

Usage::

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/bench_train.py [--depth 6] [--width 128]
        [--steps 2000] [--repeats 3] [--threads 2]

(see ``bench_core.py`` for why the two OpenBLAS variables are unset for benchmarks only).
"""

from __future__ import annotations

import argparse
import os
import time

from _bench_env import configure_threads, import_package, steal_seconds, stolen_since


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--depth", type=int, default=6)
    parser.add_argument("--width", type=int, default=128)
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    configure_threads(args.threads)
    import numpy as np

    dg = import_package()
    from dln_git.decomposition import LinearRegression, train

    print(f"OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE')} OPENBLAS_L2_SIZE="
          f"{os.environ.get('OPENBLAS_L2_SIZE')} threads={args.threads}")
    rng = np.random.default_rng(args.seed)
    N, d = args.depth, args.width
    W0 = dg.random_weights((d,) * (N + 1), rng)
    A = rng.standard_normal((d, d))
    B = rng.standard_normal((d, d)) @ A / np.sqrt(d)
    loss = LinearRegression(A, B)
    steal0 = steal_seconds()

    def forward():
        H = A
        for w in W0:
            H = w @ H
        return H

    def floor_time():
        """Median over 7 batches of 20 forward passes, per pass."""
        times = []
        for _ in range(7):
            t0 = time.perf_counter()
            for _ in range(20):
                forward()
            times.append((time.perf_counter() - t0) / 20)
        return float(np.median(times))

    def step_time(**kw):
        t0 = time.perf_counter()
        r = train(W0, loss, lam=1e-3, method="gd", eta=0.05, steps=args.steps, **kw)
        assert r.converged, r.message
        return (time.perf_counter() - t0) / args.steps

    # the floor is measured right before every timed run, so each ratio compares like with like on a
    # machine whose speed drifts; the reported ratio is the median of the per-run ratios
    configs = (("the step (record first/last only, no speeds)", {"record_every": args.steps, "speeds": False}, True),
               ("with the default diagnostics (100 records with speeds)", {}, False))
    print(f"N = {N}, widths {d}, {args.steps} GD steps, regression with {d} samples")
    for name, kw, has_target in configs:
        floors, steps, ratios = [], [], []
        for _ in range(args.repeats):
            floors.append(floor_time())
            steps.append(step_time(**kw))
            ratios.append(steps[-1] / floors[-1])
        ratio = float(np.median(ratios))
        verdict = f"[target <= 4x: {'met' if ratio <= 4 else 'NOT met'}]" if has_target else "[no target]"
        print(f"GD step, {name}: {1e3 * float(np.median(steps)):.3f} ms, floor {1e3 * float(np.median(floors)):.3f} ms "
              f"(one forward pass, N products); ratios {', '.join(f'{x:.2f}' for x in ratios)} -> median "
              f"{ratio:.2f}x  {verdict}")
    if stolen := stolen_since(steal0):
        print(stolen)


if __name__ == "__main__":
    main()
