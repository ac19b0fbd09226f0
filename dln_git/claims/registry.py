"""The registry of checkable claims behind ``dln-git verify``.

A claim is a statement of MATH.md with its section and tag (paper, known, derived) and a check
``(rng, size) -> ClaimResult`` that *computes* a measured figure, the expected figure and the
tolerance on random instances. Each layer registers its own claims with :func:`register`.

Sizes are ``"small"`` (the fast default), ``"medium"`` and ``"large"``. A check declares the sizes
it has branches for (``register(..., sizes=...)``, default ``("small", "medium")``); asked for a
size it does not know, it runs its largest known size below it (:meth:`Claim.size_for`), so
``--size large`` runs the medium branch of a check that has no large one.

Randomness: instance ``seed`` of a claim draws from :func:`claim_rng` ``(claim id, seed)``, so
claims are independent of each other and of the order they run in (serially or in parallel).
The runner over many seeds, in parallel, with reports, is :mod:`dln_git.claims.runner`.
"""

from __future__ import annotations

import time
import traceback
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import numpy as np

__all__ = [
    "SIZES",
    "Claim",
    "ClaimResult",
    "ClaimRun",
    "all_claims",
    "claim_rng",
    "get_claim",
    "register",
    "run_claim",
    "run_claims",
]

#: Sizes of a run: "small" is the fast default, "medium" more and larger instances, "large" more
#: still for the checks that have a large branch (the others run their medium branch).
SIZES = ("small", "medium", "large")
#: Sizes a check has branches for unless it registers others.
DEFAULT_CHECK_SIZES = ("small", "medium")
TAGS = ("paper", "known", "derived")


@dataclass(frozen=True)
class ClaimResult:
    """What a check measured.

    ``passed`` is computed from the figures: ``|measured - expected| <= tolerance``, unless the
    check passes ``passed`` explicitly (when several conditions must hold; ``detail`` then says
    which).
    """

    measured: float
    expected: float
    tolerance: float
    passed: bool | None = None
    detail: str = ""

    def __post_init__(self):
        if self.passed is None:
            ok = bool(abs(self.measured - self.expected) <= self.tolerance)
            object.__setattr__(self, "passed", ok)


@dataclass(frozen=True)
class Claim:
    """A registered claim: id, one-line statement, MATH.md section and tag, and its check.

    ``sizes`` are the sizes the check has branches for (a subset of :data:`SIZES`).
    """

    id: str
    statement: str
    section: str
    tag: str
    check: Callable[[np.random.Generator, str], ClaimResult] = field(repr=False)
    sizes: tuple[str, ...] = DEFAULT_CHECK_SIZES

    def size_for(self, size: str) -> str:
        """The size the check runs when the run asks for ``size``.

        ``size`` itself if the check knows it, else the largest size the check knows that is
        smaller than ``size`` (the smallest one it knows if there is none).

        Raises
        ------
        ValueError
            If ``size`` is not one of :data:`SIZES`.
        """
        if size not in SIZES:
            raise ValueError(f"size must be one of {SIZES}, got {size!r}")
        if size in self.sizes:
            return size
        below = [s for s in SIZES[: SIZES.index(size)] if s in self.sizes]
        return below[-1] if below else min(self.sizes, key=SIZES.index)


@dataclass(frozen=True)
class ClaimRun:
    """One run of a claim: its result, or the error it raised, and the time it took."""

    claim: Claim
    result: ClaimResult | None
    error: str | None
    seconds: float

    @property
    def passed(self) -> bool:
        return self.result is not None and bool(self.result.passed)

    @property
    def verdict(self) -> str:
        if self.error is not None:
            return "ERROR"
        return "PASS" if self.passed else "FAIL"


_REGISTRY: dict[str, Claim] = {}


def register(id: str, statement: str, section: str, tag: str, *, sizes: Iterable[str] = DEFAULT_CHECK_SIZES):
    """Decorator registering ``check(rng, size) -> ClaimResult`` as a claim.

    Parameters
    ----------
    id : str
        ``layer.name``; unique.
    statement : str
        The claim in one line, as a referee reads it.
    section : str
        Its section of MATH.md.
    tag : {"paper", "known", "derived"}
        Where the claim comes from.
    sizes : iterable of str, optional
        The sizes the check has branches for (default ``("small", "medium")``); other sizes are
        mapped by :meth:`Claim.size_for`.

    Notes
    -----
    Register at import time of an importable module (as the built-in layers do): parallel runs
    in fresh worker processes (``spawn``, a cluster) find a claim they do not know by importing
    the module its check is defined in.
    """
    if tag not in TAGS:
        raise ValueError(f"tag must be one of {TAGS}, got {tag!r}")
    sizes = tuple(sizes)
    if not sizes or any(s not in SIZES for s in sizes):
        raise ValueError(f"sizes must be a non-empty subset of {SIZES}, got {sizes!r}")

    def decorator(check):
        if id in _REGISTRY:
            raise ValueError(f"claim {id!r} is registered twice")
        _REGISTRY[id] = Claim(id, statement, section, tag, check, sizes)
        return check

    return decorator


def all_claims() -> list[Claim]:
    """Every registered claim, in registration order."""
    from . import _load  # noqa: F401  (registers the built-in claims)

    return list(_REGISTRY.values())


def get_claim(claim_id: str) -> Claim:
    """The claim with this id (KeyError listing the known ids otherwise)."""
    claims = {c.id: c for c in all_claims()}
    if claim_id not in claims:
        raise KeyError(f"unknown claim {claim_id!r}; known claims: {', '.join(sorted(claims))}")
    return claims[claim_id]


def claim_rng(claim_id: str, seed: int) -> np.random.Generator:
    """Generator for one claim: independent across claims, reproducible from the seed."""
    return np.random.default_rng([int(seed), zlib.crc32(claim_id.encode())])


def run_claim(claim: Claim, seed: int = 0, size: str = "small") -> ClaimRun:
    """Run one claim on the instance ``seed``; an exception is caught and reported as an error
    with its traceback. The check runs at ``claim.size_for(size)``, with the flows' automatic
    progress bars off (:func:`dln_git.flows.progress.quiet`: verify shows its own)."""
    from ..flows.progress import quiet

    check_size = claim.size_for(size)
    start = time.perf_counter()
    try:
        with quiet():
            result = claim.check(claim_rng(claim.id, seed), check_size)
        if not isinstance(result, ClaimResult):
            raise TypeError(f"check of {claim.id} returned {type(result).__name__}, not ClaimResult")
        error = None
    except Exception:  # reported, never swallowed silently
        result, error = None, traceback.format_exc()
    return ClaimRun(claim, result, error, time.perf_counter() - start)


def run_claims(ids: Iterable[str] | None = None, seed: int = 0, size: str = "small") -> list[ClaimRun]:
    """Run the given claims (all registered ones by default), one instance each, serially.

    :func:`dln_git.claims.runner.verify` runs several instances per claim, in parallel, with
    glob selection and a report."""
    claims = all_claims() if ids is None else [get_claim(i) for i in ids]
    return [run_claim(c, seed, size) for c in claims]
