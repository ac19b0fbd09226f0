"""Environment helpers shared by the benchmark scripts (run as ``python benchmarks/<script>.py``)."""

import os
import sys
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]


def configure_threads(threads: int) -> None:
    """Export the BLAS thread count; must run before numpy is imported."""
    if "numpy" in sys.modules:
        raise RuntimeError("configure_threads must run before numpy is imported")
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(threads)


def steal_seconds() -> float | None:
    """Total CPU time stolen by the hypervisor so far (Linux /proc/stat), in seconds."""
    try:
        with open("/proc/stat") as f:
            fields = f.readline().split()
        return int(fields[8]) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return None


def stolen_since(steal0: float | None) -> str:
    """``"CPU time stolen by the hypervisor during the run: X s"`` since ``steal0`` (from
    :func:`steal_seconds`), or ``""`` where /proc/stat is not available."""
    steal1 = steal_seconds()
    if steal0 is None or steal1 is None:
        return ""
    return f"CPU time stolen by the hypervisor during the run: {steal1 - steal0:.1f} s"


def import_package():
    """``dln_git``, installed or else from this checkout (benchmarks run from a clone too)."""
    try:
        import dln_git
    except ImportError:
        sys.path.insert(0, str(REPO_ROOT))
        import dln_git
    return dln_git


def machine_speed() -> float:
    """Seconds of one 256 x 256 float64 product (median of 20)."""
    import numpy as np

    A = np.random.default_rng(0).standard_normal((256, 256))
    times = []
    for _ in range(20):
        t = time.perf_counter()
        A @ A
        times.append(time.perf_counter() - t)
    return sorted(times)[10]


def median_time(fn, repeats: int):
    """Median wall time of ``repeats`` calls of ``fn()`` and the output of the last call."""
    import numpy as np

    times, out = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return float(np.median(times)), out
