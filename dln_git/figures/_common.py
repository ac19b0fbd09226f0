"""Instances shared by the figures: random weights in every width regime, off balance by a gauge move.

All randomness goes through an explicit ``numpy.random.Generator`` seeded by the figure, so a
rebuild draws the same instances.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

import dln_git as dg

__all__ = ["REGIME_CASES", "Case", "hermitian_generator", "make_instance", "off_balance", "with_spectrum"]


@dataclass(frozen=True)
class Case:
    """A width pattern standing for one regime of MATH.md section 2."""

    regime: str  # a key of dln_git.plotting.REGIME_COLORS
    widths: tuple[int, ...]
    complex: bool = False
    rank_deficient: bool = False

    @property
    def label(self) -> str:
        """The widths, ``(d_0,...,d_N)`` (the regime name says complex or rank-deficient)."""
        return "(" + ",".join(map(str, self.widths)) + ")"


#: One or two width patterns per regime (closedness, funnels, stabilisers, complex, rank-deficient X).
REGIME_CASES = (
    Case("closed, equal widths", (3, 3, 3)),
    Case("closed, equal widths", (2, 2, 2, 2, 2)),
    Case("closed, excess width", (2, 4, 2)),
    Case("closed, bottleneck", (3, 1, 3)),
    Case("not closed", (2, 4, 4, 2)),
    Case("not closed", (1, 2, 2)),
    Case("funnel", (3, 2, 1)),
    Case("funnel", (4, 3, 2, 3, 4)),
    Case("funnel, off-orbit", (1, 2, 3, 3)),
    Case("complex", (3, 3, 3, 3), complex=True),
    Case("rank-deficient X", (3, 3, 3), rank_deficient=True),
)


def hermitian_generator(widths, rng, spread: float, *, complex: bool = False):
    """A random Hermitian Lie algebra element ``(xi_1..xi_{N-1})`` with ``||xi_i||_F ~ spread``."""
    out = []
    for d in widths[1:-1]:
        a = rng.standard_normal((d, d))
        if complex:
            a = a + 1j * rng.standard_normal((d, d))
        h = (a + a.conj().T) / 2
        out.append(spread * h / max(np.linalg.norm(h), 1e-300) * np.sqrt(d))
    return tuple(out)


def off_balance(W, rng, spread: float):
    """``exp(xi).W`` with a random Hermitian xi: same X, same orbit, moment map of order one."""
    widths = dg.widths_of(W)
    return dg.gauge_exp(hermitian_generator(widths, rng, spread, complex=np.iscomplexobj(W[0])), W)


def make_instance(case: Case, rng, *, spread: float = 0.5):
    """Random weights for ``case``: Gaussian layers (``dg.random_weights``) moved off balance.

    For ``rank_deficient`` the first layer is replaced by a product of rank ``min(d) - 1``, so rank X
    is below its generic value.
    """
    W = list(dg.random_weights(case.widths, rng, complex=case.complex))
    if case.rank_deficient:
        d1, d0 = W[0].shape
        k = min(case.widths) - 1
        W[0] = rng.standard_normal((d1, k)) @ rng.standard_normal((k, d0)) / np.sqrt(k * d0)
    return off_balance(tuple(W), rng, spread)


def with_spectrum(widths, s, rng, *, spread: float = 0.5):
    """Weights with ``X = U diag(s) V^T`` exactly (Haar U, V), built balanced by the SVD chart and then
    moved along the orbit by a random Hermitian gauge element (so the orbit is closed)."""
    s = np.asarray(s, dtype=float)
    U = dg.haar_orthonormal(widths[-1], s.size, rng)
    V = dg.haar_orthonormal(widths[0], s.size, rng)
    X = U @ np.diag(s) @ V.T
    return off_balance(dg.balanced_from_end_to_end(X, widths, rng), rng, spread)


def singular_values(W) -> np.ndarray:
    """Singular values of ``X = phi(W)``, largest first."""
    return np.linalg.svd(dg.end_to_end(W), compute_uv=False)
