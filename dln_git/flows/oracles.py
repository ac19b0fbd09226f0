"""Closed-form oracles for the balancing flows (docs/math section 3).

N = 2 geometric-mean oracle [derived]: with ``P = W_1 W_1^*`` and ``Q = W_2^* W_2`` invertible, the
balanced points of the orbit of W are ``g.W`` with ``g^* g = H`` where ``H P H = Q``, i.e. H is the
matrix geometric mean ``H = P^{-1/2} (P^{1/2} Q P^{1/2})^{1/2} P^{-1/2}``; every ``g = U H^{1/2}``
with U unitary works.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..core.linalg import herm
from ..core.options import check_options
from ..core.scaling import normalized, rescale
from ..core.validation import as_weights

__all__ = ["GeometricMeanBalance", "geometric_mean_balance"]


@dataclass(frozen=True)
class GeometricMeanBalance:
    """Result of :func:`geometric_mean_balance`.

    Attributes
    ----------
    weights : tuple of ndarray
        The balanced point ``g.W = (g W_1, W_2 g^{-1})`` with ``g = H^{1/2}`` (U = I).
    g : ndarray
        ``H^{1/2}``, Hermitian positive definite.
    H : ndarray
        The geometric mean ``H = P^{-1} # Q`` solving ``H P H = Q``.
    """

    weights: tuple[np.ndarray, ...]
    g: np.ndarray
    H: np.ndarray


def _hermitian_function(M: np.ndarray, f) -> np.ndarray:
    w, V = np.linalg.eigh(0.5 * (M + herm(M)))
    return (V * f(w)) @ herm(V)


def geometric_mean_balance(W, *, rtol: float = 1e-12) -> GeometricMeanBalance:
    """Balance a depth-2 network in closed form by the matrix geometric mean.

    ``P = W_1 W_1^*``, ``Q = W_2^* W_2``, ``H = P^{-1/2} (P^{1/2} Q P^{1/2})^{1/2} P^{-1/2}``
    (so ``H P H = Q``), ``g = H^{1/2}`` and ``g.W = (g W_1, W_2 g^{-1})`` has ``mu = 0`` and the
    same end-to-end map. The orbit is closed and this point minimises R on it (Kempf–Ness).
    Computed on ``W / s`` (s a power of two near the layer norms): g and H do not depend on the
    scale of W, the weights are multiplied back by s.

    Raises
    ------
    ValueError
        If the depth is not 2, or P or Q is singular (smallest eigenvalue below ``rtol`` times the
        largest): then the orbit is not closed or W is rank-deficient, and no balanced point lies in
        the orbit itself (use the flows, which converge to the orbit closure).
    """
    (rtol,) = check_options(rtol=rtol)
    W = as_weights(W)
    if len(W) != 2:
        raise ValueError(f"the geometric-mean oracle is for depth N = 2, got depth {len(W)}")
    # scale: P, Q scale by c^2 and H by 1 (H P H = Q), so work at scale 1 and rescale the weights
    (W1, W2), s = normalized(W)
    P = W1 @ herm(W1)
    Q = herm(W2) @ W2
    p, U = np.linalg.eigh(0.5 * (P + herm(P)))
    q = np.linalg.eigvalsh(0.5 * (Q + herm(Q)))
    for name, ev in (("P = W_1 W_1^*", p), ("Q = W_2^* W_2", q)):
        if ev[0] <= rtol * ev[-1]:
            raise ValueError(
                f"{name} is singular (eigenvalues {ev[0]:.3g} .. {ev[-1]:.3g}): the oracle needs "
                "d_1 <= min(d_0, d_2) and full-rank layers (a closed orbit)"
            )
    P_half = (U * np.sqrt(p)) @ herm(U)
    P_minus_half = (U / np.sqrt(p)) @ herm(U)
    H = P_minus_half @ _hermitian_function(P_half @ Q @ P_half, np.sqrt) @ P_minus_half
    h, V = np.linalg.eigh(0.5 * (H + herm(H)))
    H = (V * h) @ herm(V)
    g = (V * np.sqrt(h)) @ herm(V)
    g_inv = (V / np.sqrt(h)) @ herm(V)
    return GeometricMeanBalance(tuple(rescale((g @ W1, W2 @ g_inv), s, 1, "the balanced weights")), g, H)
