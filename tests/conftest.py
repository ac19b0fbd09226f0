"""Hypothesis profiles: ``ci`` (default: fast, derandomized so CI is reproducible) and
``thorough`` (many random examples). Select with ``DLN_GIT_HYPOTHESIS_PROFILE=thorough``.

BLAS runs single-threaded in the test process: the tests work on matrices of a few dozen
entries, where a second OpenBLAS thread only adds synchronisation, and on a shared 2-core
machine its busy-waiting made such work 10-100x slower (measured)."""

import os

from hypothesis import HealthCheck, settings
from threadpoolctl import threadpool_limits

threadpool_limits(limits=1, user_api="blas")

settings.register_profile(
    "ci",
    max_examples=20,
    deadline=None,
    derandomize=True,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile("dev", max_examples=50, deadline=None, print_blob=True)
settings.register_profile(
    "thorough",
    max_examples=500,
    deadline=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile(os.environ.get("DLN_GIT_HYPOTHESIS_PROFILE", "ci"))
