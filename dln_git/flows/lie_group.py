"""The gauge Lie algebra as a vector space with a bracket, and exact group updates of weights.

Lie algebra elements are tuples ``(theta_1, ..., theta_{N-1})`` of square matrices (docs/math
section 1). The group acts by ``(exp(theta).W)_i = exp(theta_i) W_i exp(-theta_{i-1})``
(``theta_0 = theta_N = 0``); every update here applies each factor ``exp(theta_i)`` and its
inverse from one factorisation, so ``X = W_N..W_1`` telescopes and is preserved to rounding error.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..core.gauge import _act_pairs
from ..core.linalg import herm

__all__ = [
    "act_exp",
    "bracket",
    "dexpinv",
    "expm",
    "expm_stack",
    "lincomb",
]


def lincomb(coefficients: Sequence[float], elements: Sequence[tuple[np.ndarray, ...]]):
    """``sum_j c_j theta^(j)`` for tuples of matrices (terms with ``c_j = 0`` are skipped)."""
    terms = [(c, e) for c, e in zip(coefficients, elements, strict=True) if c != 0.0]
    if not terms:
        return tuple(np.zeros_like(m) for m in elements[0])
    c0, e0 = terms[0]
    out = [c0 * m for m in e0]
    for c, e in terms[1:]:
        for k, m in enumerate(e):
            out[k] = out[k] + c * m
    return tuple(out)


def bracket(a, b) -> tuple[np.ndarray, ...]:
    """Layer-wise commutator ``[a, b]_i = a_i b_i - b_i a_i``."""
    return tuple(x @ y - y @ x for x, y in zip(a, b, strict=True))


def dexpinv(theta, F, order: int = 5) -> tuple[np.ndarray, ...]:
    """Truncated inverse differential of exp: ``F - [theta, F]/2 + [theta, [theta, F]]/12 - ...``.

    ``dexp^{-1}_theta = sum_k B_k / k! ad_theta^k`` (Bernoulli numbers ``B_k``); a
    Runge–Kutta–Munthe-Kaas method of order p needs the terms up to ``ad^{p-2}``. The odd terms
    beyond the first vanish, so order 5 keeps ``ad^0, ad^1, ad^2``; order 6 would add ``ad^4``.
    """
    if order <= 2:
        return F
    ad1 = bracket(theta, F)
    if order == 3:
        return lincomb((1.0, -0.5), (F, ad1))
    ad2 = bracket(theta, ad1)
    out = lincomb((1.0, -0.5, 1.0 / 12.0), (F, ad1, ad2))
    if order >= 6:
        ad4 = bracket(theta, bracket(theta, ad2))
        out = lincomb((1.0, -1.0 / 720.0), (out, ad4))
    return out


#: Coefficients of the [13/13] Padé approximant of exp (Higham, SIAM J. Matrix Anal. Appl. 26, 2005).
_PADE13 = (64764752532480000.0, 32382376266240000.0, 7771770303897600.0, 1187353796428800.0,
           129060195264000.0, 10559470521600.0, 670442572800.0, 33522128640.0, 1323241920.0,
           40840800.0, 960960.0, 16380.0, 182.0, 1.0)
_THETA13 = 5.371920351148152


def expm(A: np.ndarray) -> np.ndarray:
    """Matrix exponential by scaling and squaring with the [13/13] Padé approximant.

    ``exp(A) = r(A / 2^s)^(2^s)`` with ``2^s >= ||A||_1 / 5.37`` (Higham 2005). Written with
    numpy products (rather than ``scipy.linalg.expm``, whose small-matrix calls were measured
    at milliseconds under multi-threaded BLAS contention) because the flows call it for many
    small matrices.
    """
    if A.shape[0] == 0:
        return A.copy()
    return expm_stack(A)


def expm_stack(A: np.ndarray) -> np.ndarray:
    """:func:`expm` of one matrix ``(d, d)`` or of each matrix of a stack ``(k, d, d)`` (one
    scaling ``s`` for the whole stack, from the largest 1-norm)."""
    norm1 = float(np.abs(A).sum(axis=-2).max())
    s = max(0, int(np.ceil(np.log2(norm1 / _THETA13)))) if norm1 > 0 else 0
    A = A / 2.0**s
    b = _PADE13
    eye = np.eye(A.shape[-1], dtype=A.dtype)
    A2 = A @ A
    A4 = A2 @ A2
    A6 = A4 @ A2
    U = A @ (A6 @ (b[13] * A6 + b[11] * A4 + b[9] * A2) + b[7] * A6 + b[5] * A4 + b[3] * A2 + b[1] * eye)
    V = A6 @ (b[12] * A6 + b[10] * A4 + b[8] * A2) + b[6] * A6 + b[4] * A4 + b[2] * A2 + b[0] * eye
    E = np.linalg.solve(V - U, V + U)
    for _ in range(s):
        E = E @ E
    return E


def _exp_and_inverse(theta_i: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    E = expm(theta_i)
    return E, np.linalg.inv(E)


def act_exp(W, theta) -> tuple[np.ndarray, ...]:
    """``exp(theta).W``: ``W_i <- exp(theta_i) W_i exp(-theta_{i-1})`` for a general ``theta``.

    ``exp(-theta_i)`` is taken as the computed inverse of ``exp(theta_i)`` so that the factors
    cancel in ``X`` to rounding (relative error ``~ eps cond(exp(theta_i))``).
    """
    return _act_pairs([_exp_and_inverse(t) for t in theta], W)


def hermitian_eig(s) -> list[tuple[np.ndarray, np.ndarray]]:
    """Eigen-decompositions ``s_i = E_i diag(lam_i) E_i^*`` of a Hermitian Lie algebra element."""
    return [np.linalg.eigh(0.5 * (m + herm(m))) for m in s]
