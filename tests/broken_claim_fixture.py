"""Test-only claims for the verify runner (not a test module: pytest does not collect it).

Importing this module registers, at import time, a claim that fails, one that raises, one that
passes, one whose verdict depends on the seed and one with a "large" branch. At import time so
that fresh worker processes ("spawn", a cluster) find them by importing this module, as they
would a user's claims module. Tests load and remove them with the ``fixture_claims`` fixture of
``test_verify_runner.py``; they never stay in the registry.
"""

from dln_git.claims import SIZES, ClaimResult, register

IDS = ("fixture.broken", "fixture.raises", "fixture.ok", "fixture.seed_dependent", "fixture.sized")

#: fixture.seed_dependent passes when its uniform draw is at most this.
THRESHOLD = 0.5


@register("fixture.broken", "deliberately wrong: 1 = 2", section="0", tag="derived")
def broken(rng, size):
    return ClaimResult(1.0, 2.0, 1e-12, detail="a deliberately broken claim")


@register("fixture.raises", "deliberately raises", section="0", tag="derived")
def raises(rng, size):
    raise RuntimeError(f"deliberate failure in a test fixture (size {size})")


@register("fixture.ok", "passes: x = x for a random x", section="0", tag="derived")
def ok(rng, size):
    x = float(rng.standard_normal())
    return ClaimResult(x, x, 0.0, detail=f"ran at size {size}")


@register("fixture.seed_dependent", "a uniform draw is at most 1/2", section="0", tag="derived")
def seed_dependent(rng, size):
    return ClaimResult(float(rng.uniform()), 0.0, THRESHOLD)


@register("fixture.sized", "knows every size", section="0", tag="derived", sizes=SIZES)
def sized(rng, size):
    return ClaimResult(0.0, 0.0, 0.0, detail=f"ran at size {size}")
