"""Checkable claims of docs/math and the runner behind ``dln-git verify``.

Add a claim by writing, in the module of its layer under ``dln_git/claims/``::

    @register("layer.name", "one-line statement", section="2", tag="derived")
    def _check(rng, size):
        ...  # compute on random instances drawn from rng
        return ClaimResult(measured, expected, tolerance)

and listing that module in ``_load.py``. A check branches on ``size`` ("small", "medium"; pass
``sizes=SIZES`` to :func:`register` if it also has a "large" branch).

Run claims with :func:`verify` (many seeds, glob selection, parallel executors, Markdown/JSON
reports; see :mod:`dln_git.claims.runner`, :mod:`dln_git.claims.selection` and
:mod:`dln_git.claims.report`) or one at a time with :func:`run_claim`.
"""

from .registry import (
    SIZES,
    Claim,
    ClaimResult,
    ClaimRun,
    all_claims,
    claim_rng,
    get_claim,
    register,
    run_claim,
    run_claims,
)
from .report import ClaimSummary, InstanceRun, VerifyReport, report_format, write_report
from .runner import verify
from .selection import UnknownClaimError, select_claims

__all__ = [
    "SIZES",
    "Claim",
    "ClaimResult",
    "ClaimRun",
    "ClaimSummary",
    "InstanceRun",
    "UnknownClaimError",
    "VerifyReport",
    "all_claims",
    "claim_rng",
    "get_claim",
    "register",
    "report_format",
    "run_claim",
    "run_claims",
    "select_claims",
    "verify",
    "write_report",
]
