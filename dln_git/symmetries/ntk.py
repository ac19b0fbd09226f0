"""The empirical neural tangent kernel and its input-rotation identity (docs/math section 6.4).

For one parameter draw ``theta = (W_1, b_1, ..., W_N, b_N)`` of a family of
:mod:`dln_git.symmetries.architectures`, the empirical NTK is::

    Theta_ij(x, x'; theta) = sum_p  d f_i(x) / d theta_p  *  d f_j(x') / d theta_p,

computed here from the parameter Jacobian by back-propagation: with ``delta_N = I`` and
``delta_{l-1} = (delta_l W_l) * sigma'(z_{l-1})``, ``d f / d W_l = delta_l (x) h_{l-1}`` and
``d f / d b_l = delta_l``.

Duality (Maiti–Stoner–Halverson, arXiv 2106.00694, section 3.3): ``f(R x; W_1) = f(x; W_1 R)``, and
the only Jacobian block that sees ``R`` is ``d f / d W_1 = delta_1 (x) x``, whose contribution
``delta_1(x) delta_1(x')^T (x^T R^T R x')`` at ``(R x, W_1)`` equals the one at ``(x, W_1 R)`` iff
``R^T R = I``. So ``Theta(R x, R x'; W) = Theta(x, x'; W_1 R, ...)`` exactly for orthogonal R and fails
by ``delta_1 delta_1'^T x^T (R^T R - I) x'`` otherwise.
"""

from __future__ import annotations

import numpy as np

from .architectures import NetworkFamily

__all__ = ["empirical_ntk", "parameter_jacobian", "rotate_first_layer"]


def _check_params(family: NetworkFamily, weights, biases):
    if not isinstance(family, NetworkFamily):
        raise TypeError(f"family must be a NetworkFamily, got {type(family).__name__}")
    if len(weights) != family.depth or len(biases) != family.depth:
        raise ValueError(f"expected {family.depth} weights and biases, got {len(weights)} and {len(biases)}")
    Ws, bs = [], []
    for layer, (d_out, d_in) in enumerate(zip(family.widths[1:], family.widths[:-1], strict=True)):
        W = np.asarray(weights[layer], dtype=float)
        b = np.asarray(biases[layer], dtype=float)
        if W.shape != (d_out, d_in) or b.shape != (d_out,):
            raise ValueError(f"layer {layer + 1}: expected W {(d_out, d_in)} and b {(d_out,)}, "
                             f"got {W.shape} and {b.shape}")
        if not (np.isfinite(W).all() and np.isfinite(b).all()):
            raise ValueError(f"layer {layer + 1}: parameters contain NaN or inf")
        Ws.append(W)
        bs.append(b)
    return Ws, bs


def parameter_jacobian(family: NetworkFamily, weights, biases, x) -> np.ndarray:
    """``d f(x) / d theta`` as a ``(d_N, n_params)`` matrix; parameters ordered ``W_1, b_1, ..., W_N, b_N``
    (each weight flattened row-major)."""
    Ws, bs = _check_params(family, weights, biases)
    x = np.asarray(x, dtype=float)
    if x.shape != (family.widths[0],) or not np.isfinite(x).all():
        raise ValueError(f"x must be a finite vector of length {family.widths[0]}, got shape {x.shape}")
    hs, zs = [x], []
    for layer in range(family.depth):
        z = Ws[layer] @ hs[-1] + bs[layer]
        zs.append(z)
        if layer == family.depth - 1:
            break
        if family.kind == "relu":
            h = np.maximum(z, 0.0)
        elif family.kind == "gauss":
            s_w, s_b = family.weight_std[0], family.bias_std[0]
            h = np.exp(z - (s_b**2 + s_w**2 * (x @ x)))
        elif family.kind == "cos":
            h = np.cos(z)
        else:
            h = z
        hs.append(h)
    delta = np.eye(family.widths[-1])
    blocks = []
    for layer in range(family.depth - 1, -1, -1):
        blocks.append(delta)
        blocks.append((delta[:, :, None] * hs[layer][None, None, :]).reshape(delta.shape[0], -1))
        if layer == 0:
            break
        delta = delta @ Ws[layer]
        z = zs[layer - 1]
        if family.kind == "relu":
            delta = delta * (z > 0)
        elif family.kind == "gauss":
            delta = delta * hs[layer]
        elif family.kind == "cos":
            delta = delta * -np.sin(z)
    return np.concatenate(blocks[::-1], axis=1)


def empirical_ntk(family: NetworkFamily, weights, biases, x, x2) -> np.ndarray:
    """``Theta(x, x')``, a ``(d_N, d_N)`` matrix: ``J(x) J(x')^T`` with the parameter Jacobian ``J``."""
    return parameter_jacobian(family, weights, biases, x) @ parameter_jacobian(family, weights, biases, x2).T


def rotate_first_layer(weights, R) -> tuple[np.ndarray, ...]:
    """``(W_1 R, W_2, ..., W_N)``: the reparametrisation that absorbs the input map ``x -> R x``."""
    Ws = [np.array(W, dtype=float) for W in weights]
    R = np.asarray(R, dtype=float)
    if R.ndim != 2 or R.shape[0] != Ws[0].shape[1]:
        raise ValueError(f"R must be a ({Ws[0].shape[1]}, d) matrix, got shape {R.shape}")
    Ws[0] = Ws[0] @ R
    return tuple(Ws)
