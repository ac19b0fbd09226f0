"""Checkable claims of MATH.md and the runner behind ``dln-git verify``.

Add a claim by writing, in the module of its layer under ``dln_git/claims/``::

    @register("layer.name", "one-line statement", section="2", tag="derived")
    def _check(rng, size):
        ...  # compute on random instances drawn from rng
        return ClaimResult(measured, expected, tolerance)

and listing that module in ``_load.py``.
"""

from .registry import (
    SIZES,
    Claim,
    ClaimResult,
    ClaimRun,
    all_claims,
    get_claim,
    register,
    run_claim,
    run_claims,
)

__all__ = [
    "SIZES",
    "Claim",
    "ClaimResult",
    "ClaimRun",
    "all_claims",
    "get_claim",
    "register",
    "run_claim",
    "run_claims",
]
