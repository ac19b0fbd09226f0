"""Benchmark of the symbolic layer (issue 4): derivation of the moment map and the Kempf–Ness
conditions, and conservation-law counting.

Prints, in one run:

1. the time to derive the moment map (``derive_moment_map``) and the Kempf–Ness conditions
   (``kempf_ness_conditions``) for widths (3,3,3,3) (target under 5 s) and (4,4,4,4,4), real and
   complex, each from a cold cache (median of ``--repeats`` runs);
2. the time to count conservation laws of 50 random linear networks (depth 2-4, widths 2-5) and
   50 random ReLU networks (one or two hidden layers, widths 2-9), with every count checked
   against the expected one (target under 60 s each), by ``benchmarks/bench_conservation.py``.

It asserts nothing about time; it prints targets and whether they are met. Some machines of this
project set ``OPENBLAS_CORETYPE``/``OPENBLAS_L2_SIZE``: benchmark with both unset in that one
command::

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/bench_symbolic.py
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path


def _cold_derivation(widths, complex_):
    from dln_git.symbolic import derive_moment_map, kempf_ness_conditions
    from dln_git.symbolic import moment_map as mm

    mm._derive_poly.cache_clear()
    mm._derive.cache_clear()
    start = time.perf_counter()
    mu = derive_moment_map(widths, complex=complex_)
    mid = time.perf_counter()
    conditions = kempf_ness_conditions(widths, complex=complex_)
    end = time.perf_counter()
    return mid - start, end - mid, len(mu), len(conditions)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3, help="cold runs per derivation")
    parser.add_argument("--skip-laws", action="store_true", help="only the derivations")
    args = parser.parse_args(argv)

    import sympy  # noqa: F401  (import cost is not part of the derivation)

    print("== 1. Moment map and Kempf–Ness conditions, derived from the action (cold cache) ==")
    print(f"  {'widths':<18} {'field':<8} {'derive':>9} {'conditions':>11} {'total':>9} {'#eq':>5}  target")
    ok = True
    for widths in [(3, 3, 3, 3), (4, 4, 4, 4, 4)]:
        for complex_ in (False, True):
            runs = [_cold_derivation(widths, complex_) for _ in range(args.repeats)]
            d = statistics.median(r[0] for r in runs)
            c = statistics.median(r[1] for r in runs)
            target = ""
            if widths == (3, 3, 3, 3):
                met = d + c < 5.0
                ok &= met
                target = f"< 5 s: {'MET' if met else 'NOT MET'}"
            kind = "complex" if complex_ else "real"
            print(f"  {widths!s:<18} {kind:<8} {d:>8.3f}s {c:>10.3f}s {d + c:>8.3f}s {runs[0][3]:>5}  {target}")
    if not args.skip_laws:
        print("\n== 2. Conservation laws (benchmarks/bench_conservation.py) ==", flush=True)
        script = Path(__file__).resolve().parent / "bench_conservation.py"
        ok &= subprocess.run([sys.executable, str(script)], check=False).returncode == 0
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
