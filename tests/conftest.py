"""Hypothesis profiles: ``ci`` (default: fast, derandomized so CI is reproducible) and
``thorough`` (many random examples). Select with ``DLN_GIT_HYPOTHESIS_PROFILE=thorough``."""

import os

from hypothesis import HealthCheck, settings

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
