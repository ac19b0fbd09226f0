"""The gauge group ``G = GL(d_1) x...x GL(d_{N-1})`` and its infinitesimal action.

docs/math section 1:

* action ``g.W = (g_1 W_1, g_2 W_2 g_1^{-1}, ..., W_N g_{N-1}^{-1})`` (preserves X);
* infinitesimal action ``A_W(xi)_i = xi_i W_i - W_i xi_{i-1}`` (i = 1..N, ``xi_0 = xi_N = 0``);
* its adjoint ``A_W^*(V)_i = V_i W_i^* - W_{i+1}^* V_{i+1}`` (i = 1..N-1).
"""

from __future__ import annotations

import numpy as np
import scipy.linalg

from .linalg import herm
from .options import Rule, check_options
from .validation import _widths, as_lie_algebra, as_tangent, as_weights, fresh

__all__ = [
    "gauge_act",
    "gauge_exp",
    "infinitesimal_action",
    "infinitesimal_action_adjoint",
    "lie_algebra_shapes",
]


def lie_algebra_shapes(widths) -> list[tuple[int, int]]:
    """Shapes ``(d_i, d_i)`` of the hidden-layer blocks ``xi_1, ..., xi_{N-1}``."""
    return [(d, d) for d in widths[1:-1]]


def _act(g, W) -> tuple[np.ndarray, ...]:
    N = len(W)
    out = []
    for i in range(N):
        Wi = W[i]
        if i < N - 1:
            Wi = g[i] @ Wi
        if i > 0:
            # W_i g_{i-1}^{-1} = (g_{i-1}^{-T} W_i^T)^T, by an LU solve
            Wi = np.linalg.solve(g[i - 1].T, Wi.T).T
        out.append(Wi)
    return tuple(out)


def gauge_act(g, W) -> tuple[np.ndarray, ...]:
    """Gauge action ``(g.W)_i = g_i W_i g_{i-1}^{-1}`` (with ``g_0 = I_{d_0}``, ``g_N = I_{d_N}``).

    Parameters
    ----------
    g : sequence of arrays
        ``(g_1, ..., g_{N-1})``, ``g_i`` invertible of shape ``(d_i, d_i)``; ``()`` for N = 1.
    W : sequence of arrays
        Weights ``(W_1, ..., W_N)``.

    Raises
    ------
    ValueError
        If some ``g_i`` is singular to working precision (condition number above 1e14).
    """
    W_in, g_in = W, g
    W = as_weights(W)
    g = as_lie_algebra(g, _widths(W), "g")
    for i, gi in enumerate(g, start=1):
        c = np.linalg.cond(gi)
        if not np.isfinite(c) or c > 1e14:
            raise ValueError(f"g_{i} is not invertible (condition number {c:.3g})")
    return fresh(_act(g, W), W_in, g_in)


def _exp_pair(xi_i: np.ndarray, t: float) -> tuple[np.ndarray, np.ndarray]:
    return scipy.linalg.expm(t * xi_i), scipy.linalg.expm(-t * xi_i)


def gauge_exp(xi, W, t: float = 1.0) -> tuple[np.ndarray, ...]:
    """Move along a one-parameter subgroup: ``W_i <- exp(t xi_i) W_i exp(-t xi_{i-1})``.

    This is ``exp(t xi).W``; X is unchanged up to rounding. ``xi`` is a Lie algebra element
    ``(xi_1, ..., xi_{N-1})``.
    """
    W_in = W
    W = as_weights(W)
    xi = as_lie_algebra(xi, _widths(W), "xi")
    (t,) = check_options(t=(t, Rule("real", what="the group time")))
    return fresh(_act_pairs([_exp_pair(x, t) for x in xi], W), W_in, W)


def _act_pairs(pairs, W) -> tuple[np.ndarray, ...]:
    """``W_i <- g_i W_i h_{i-1}`` for ``pairs = [(g_i, h_i)]`` with ``h_i = g_i^{-1}`` given."""
    N = len(W)
    out = []
    for i in range(N):
        Wi = W[i]
        if i < N - 1:
            Wi = pairs[i][0] @ Wi
        if i > 0:
            Wi = Wi @ pairs[i - 1][1]
        out.append(Wi)
    return tuple(out)


def _action(W, xi) -> tuple[np.ndarray, ...]:
    N = len(W)
    if N == 1:
        return (np.zeros_like(W[0], dtype=np.result_type(W[0], *xi)),)
    out = [xi[0] @ W[0]]
    for i in range(1, N - 1):
        out.append(xi[i] @ W[i] - W[i] @ xi[i - 1])
    out.append(-(W[N - 1] @ xi[N - 2]))
    return tuple(out)


def _action_adjoint(W, V) -> tuple[np.ndarray, ...]:
    return tuple(V[i] @ herm(W[i]) - herm(W[i + 1]) @ V[i + 1] for i in range(len(W) - 1))


def infinitesimal_action(W, xi) -> tuple[np.ndarray, ...]:
    """Gauge directions ``A_W(xi)_i = xi_i W_i - W_i xi_{i-1}``, i = 1..N (``xi_0 = xi_N = 0``).

    The velocity of ``t -> exp(t xi).W`` at t = 0; it lies in ``ker dphi_W``.
    """
    W = as_weights(W)
    xi = as_lie_algebra(xi, _widths(W), "xi")
    return _action(W, xi)


def infinitesimal_action_adjoint(W, V) -> tuple[np.ndarray, ...]:
    """Adjoint of the infinitesimal action: ``A_W^*(V)_i = V_i W_i^* - W_{i+1}^* V_{i+1}``.

    Defined by ``<A_W(xi), V> = <xi, A_W^*(V)>`` with ``<A, B> = Re tr(A^* B)``; i = 1..N-1.
    ``A_W^*(W)`` is the moment map.
    """
    W = as_weights(W)
    V = as_tangent(V, _widths(W), "V")
    return _action_adjoint(W, V)
