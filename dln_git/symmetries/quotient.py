"""Quotient observables: functions of the weights that the symmetry leaves unchanged (docs/math section 6.3).

A raw parameter observable (a layer norm, the regularizer R, ``||mu||``) moves along the gauge
orbit although the network function does not; a quotient observable is constant on the orbit and
so only sees what the network computes. Three systems:

* **Deep linear network**, gauge group ``GL(d_1) x ... x GL(d_{N-1})``: the end-to-end map
  ``X = W_N ... W_1``, its singular values ``s_k(X)`` and the layer norms of the balanced
  representative of the fiber (the SVD chart, docs/math section 2), each
  ``||W_i^bal||_F = (sum_k s_k^{2/N})^{1/2}``, with ``min_{F_X} R = (N/2) sum_k s_k^{2/N}``.
* **ReLU network** (real weights ``W_l`` of shape ``(d_l, d_{l-1})``, optional biases ``b_l``),
  neuron rescaling: hidden neuron j of layer l with incoming ``theta_in,j = (W_l[j, :], b_l[j])`` and
  outgoing ``w_out,j = W_{l+1}[:, j]`` is mapped to ``(c theta_in,j, w_out,j / c)``, ``c > 0`` (this
  is the gauge action of the diagonal subgroup, ``W_l -> D_l W_l D_{l-1}^{-1}``, ``b_l -> D_l b_l``).
  Invariants: the rank-one matrices ``w_out,j theta_in,j^T`` and the l_p path norms
  ``(sum_paths prod_edges |w_e|^p)^{1/p}`` (Neyshabur, Tomioka & Srebro 2015), computed as
  products of the entrywise powers ``|W_l|^p`` (a bias is an edge from a constant unit).
* **Attention**: ``W_Q W_K^T`` and ``W_V W_O`` are depth-2 linear networks under ``GL(d_k)``
  (``W_Q -> W_Q g^{-1}``, ``W_K -> W_K g^T``), so the DLN facts apply with N = 2:
  ``||A||_F^2 + ||B||_F^2 >= 2 ||A B||_*`` for a factor pair ``(A, B)``, with equality exactly at
  balanced pairs ``A^T A = B B^T`` (the SVD chart is one; its norms give the nuclear norm).

Reference: arXiv 2606.18303 (quotient dynamics); Neyshabur et al., "Path-SGD", NeurIPS 2015.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..core.end_to_end import end_to_end
from ..core.gauge import gauge_act
from ..core.moment_map import _moment_norm, _regularizer, moment_norm, regularizer
from ..core.options import Rule, check_options
from ..core.scaling import normalized, rescale, safe_norm
from ..core.svd_chart import balanced_from_end_to_end, min_regularizer
from ..core.validation import _widths, as_matrix, as_weights
from ..flows.balance import balance

__all__ = [
    "DLNObservables",
    "FactorPairObservables",
    "ReLUObservables",
    "attention_observables",
    "balance_pair",
    "dln_observables",
    "factor_pair_observables",
    "neuron_invariants",
    "path_norm",
    "relu_observables",
    "rescale_neurons",
]

PATH_P = Rule.positive("the exponent p of the l_p path norm")


# --------------------------------------------------------------------------------------------
# Deep linear networks
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class DLNObservables:
    """Raw and quotient observables of one DLN point.

    Quotient (constant on the gauge orbit): ``end_to_end`` X, ``singular_values`` s_k(X) (all
    ``min(d_0, d_N)`` of them, largest first), ``balanced_layer_norms`` (``||W_i^bal||_F`` of the SVD
    chart, each ``(sum_k s_k^{2/N})^{1/2}``) and ``min_regularizer`` ``(N/2) sum_k s_k^{2/N}``.
    Raw (move along the orbit): ``layer_norms`` ``||W_i||_F``, ``regularizer`` R, ``mu_norm``.
    """

    end_to_end: np.ndarray
    singular_values: np.ndarray
    balanced_layer_norms: np.ndarray
    min_regularizer: float
    layer_norms: np.ndarray
    regularizer: float
    mu_norm: float


def dln_observables(W, *, rtol: float = 1e-12) -> DLNObservables:
    """Quotient and raw observables of DLN weights ``W = (W_1, ..., W_N)``.

    The balanced representative is :func:`dln_git.core.balanced_from_end_to_end` of X (canonical
    frames), built at unit scale and multiplied back (``X(cW) = c^N X(W)``, its layers scale by c),
    so tiny or huge weights work wherever the observable itself is representable; ``rtol`` is the
    SVD chart's rank cut-off (singular values below ``rtol s_1`` count as zero).

    Raises
    ------
    ValueError
        Invalid weights, or X not representable in float64 at this scale (as
        :func:`dln_git.core.end_to_end`).
    """
    (rtol,) = check_options(rtol=rtol)
    W = as_weights(W)
    widths = _widths(W)
    depth = len(W)
    Wn, scale = normalized(W)
    Xn = Wn[0]
    for w in Wn[1:]:
        Xn = w @ Xn
    s_unit = np.linalg.svd(Xn, compute_uv=False)
    bal = balanced_from_end_to_end(Xn, widths, rtol=rtol) if np.any(s_unit > 0) else tuple(
        np.zeros((widths[i + 1], widths[i])) for i in range(depth))
    bal_norms = np.array([np.linalg.norm(b) for b in bal])  # unit scale: no overflow
    return DLNObservables(
        end_to_end=np.asarray(rescale(Xn, scale, depth, "X = phi(W)")),
        singular_values=np.asarray(rescale(s_unit, scale, depth, "the singular values of X")),
        balanced_layer_norms=np.asarray(rescale(bal_norms, scale, 1, "the balanced layer norms")),
        min_regularizer=float(rescale(min_regularizer(Xn, depth, rtol=rtol), scale, 2, "min R on the fiber")),
        layer_norms=np.array([safe_norm(w) for w in W]),
        regularizer=float(rescale(_regularizer(Wn), scale, 2, "R(W)")),
        mu_norm=float(rescale(_moment_norm(Wn), scale, 2, "||mu(W)||")),
    )


# --------------------------------------------------------------------------------------------
# ReLU networks
# --------------------------------------------------------------------------------------------
def _relu_params(W, biases):
    """Validated real weights and biases (None -> no biases); biases copied as 1-D float arrays."""
    W = as_weights(W)
    if any(np.iscomplexobj(w) for w in W):
        raise TypeError("a ReLU network has real weights; got complex ones")
    if biases is None:
        return W, None
    if isinstance(biases, (str, bytes)) or not hasattr(biases, "__len__"):
        raise TypeError(f"biases must be None or a sequence of N = {len(W)} vectors, got {type(biases).__name__}")
    if len(biases) != len(W):
        raise ValueError(f"biases has {len(biases)} entries but the network has N = {len(W)} layers")
    out = []
    for i, (b, w) in enumerate(zip(biases, W, strict=True), start=1):
        b = np.asarray(b)
        if b.dtype == np.bool_ or not np.issubdtype(b.dtype, np.number) or np.iscomplexobj(b):
            raise TypeError(f"b_{i} must be a real numeric vector, got dtype {b.dtype}")
        if b.shape != (w.shape[0],):
            raise ValueError(f"b_{i} must have shape ({w.shape[0]},) (the width of layer {i}), got {b.shape}")
        if not np.all(np.isfinite(b)):
            raise ValueError(f"b_{i} contains NaN or inf")
        out.append(np.array(b, dtype=float))
    return W, tuple(out)


def rescale_neurons(W, scales, biases=None):
    """Neuron rescaling: ``W_l -> D_l W_l D_{l-1}^{-1}``, ``b_l -> D_l b_l`` with ``D_l = diag(c_l)``.

    ``scales = (c_1, ..., c_{N-1})``, ``c_l`` a positive vector of length ``d_l`` (``D_0 = D_N = I``):
    the diagonal subgroup of the DLN gauge group, applied with :func:`dln_git.core.gauge_act`.
    Positive scales commute with ReLU, so the network function is unchanged.

    Returns
    -------
    (weights, biases) : new arrays (biases None if none were given)
    """
    W, biases = _relu_params(W, biases)
    widths = _widths(W)
    if isinstance(scales, np.ndarray) or not hasattr(scales, "__len__") or len(scales) != len(W) - 1:
        raise ValueError(f"scales must be a sequence of N - 1 = {len(W) - 1} vectors (one per hidden layer)")
    diag = []
    for layer, c in enumerate(scales, start=1):
        c = np.asarray(c, dtype=float)
        if c.shape != (widths[layer],):
            raise ValueError(f"scales[{layer - 1}] must have shape ({widths[layer]},), got {c.shape}")
        if not np.all(np.isfinite(c)) or np.any(c <= 0):
            raise ValueError(f"scales[{layer - 1}] must be finite and positive (ReLU commutes only with c > 0)")
        diag.append(np.diag(c))
    new_W = gauge_act(tuple(diag), W)
    if biases is None:
        return new_W, None
    factors = [np.asarray(c, dtype=float) for c in scales] + [np.ones(widths[-1])]
    return new_W, tuple(f * b for f, b in zip(factors, biases, strict=True))


def neuron_invariants(W, biases=None) -> tuple[np.ndarray, ...]:
    """The rank-one invariants ``w_out,j theta_in,j^T`` of every hidden neuron.

    For hidden layer l (1..N-1) an array of shape ``(d_l, d_{l+1}, d_{l-1} [+ 1])``: entry j is the
    outer product of column j of ``W_{l+1}`` with row j of ``[W_l | b_l]`` (the bias column only when
    biases are given). Unchanged when layer l's neurons are rescaled (``c_l``); the rescaling of the
    neighbouring layers acts on it as ``D_{l+1} (.) D_{l-1}^{-1}`` on its two sides, so the invariants
    of the whole torus are the path products (:func:`path_norm` sums them).
    """
    W, biases = _relu_params(W, biases)
    out = []
    for layer in range(1, len(W)):
        theta = W[layer - 1] if biases is None else np.hstack([W[layer - 1], biases[layer - 1][:, None]])
        out.append(np.einsum("aj,jb->jab", W[layer], theta))
    return tuple(out)


def path_norm(W, biases=None, *, p: float = 1.0) -> float:
    """The l_p path norm ``(sum_paths prod_edges |w_e|^p)^{1/p}``.

    A path runs from an input unit, or from the constant unit of some layer's bias, to an output
    unit, one edge per layer; so ``S = 1^T |W_N|^p ... |W_1|^p 1 + sum_l 1^T |W_N|^p ... |W_{l+1}|^p |b_l|^p``
    (entrywise powers), accumulated as ``v_l = |W_l|^p v_{l-1} + |b_l|^p``, ``v_0 = 1``, ``S = 1^T v_N``.
    Each layer is divided by a power of two and ``v`` kept normalised, with the exponent carried
    separately, so weights of any representable scale work (the bias-free norm is homogeneous of
    degree N). ``p = 2`` is the l2 path norm, ``p = 1`` the l1 path norm.

    Raises
    ------
    ValueError
        If the norm is not representable in float64.
    """
    (p,) = check_options(p=(p, PATH_P))
    W, biases = _relu_params(W, biases)
    v = np.ones(W[0].shape[1])
    log2_v = 0.0  # true v = 2^log2_v * v
    for layer, w in enumerate(W):
        b = None if biases is None else biases[layer]
        top = max(float(np.max(np.abs(w))), 0.0 if b is None else float(np.max(np.abs(b), initial=0.0)))
        e = math.frexp(top)[1] if top > 0 else 0
        new = (np.abs(np.ldexp(w, -e)) ** p) @ v
        log2_new = log2_v + p * e
        if b is not None:
            # true: 2^{p e} (|w~|^p 2^{log2_v} v + |b~|^p); keep the larger exponent as the common one
            bias = np.abs(np.ldexp(b, -e)) ** p
            if log2_v >= 0.0:
                new = new + bias * 2.0 ** (-log2_v)
            else:
                new = new * 2.0 ** log2_v + bias
                log2_new = p * e
        peak = float(np.max(new, initial=0.0))
        if peak == 0.0:  # no path reaches this layer with a nonzero weight (later biases still may)
            v, log2_v = new, 0.0
            continue
        k = math.frexp(peak)[1]
        v, log2_v = np.ldexp(new, -k), log2_new + k
    total = float(np.sum(v))
    if total == 0.0:
        return 0.0
    log2_norm = (math.log2(total) + log2_v) / p
    if not -1074 < log2_norm < 1024:
        raise ValueError(f"the l_{p:g} path norm 2^{log2_norm:.0f} is not representable in float64")
    return float(2.0 ** log2_norm)


@dataclass(frozen=True)
class ReLUObservables:
    """Quotient (``neuron_invariants``, ``path_norm_l1``, ``path_norm_l2``) and raw (``layer_norms``
    ``||[W_l | b_l]||_F``, ``total_norm``) observables of a ReLU network."""

    neuron_invariants: tuple[np.ndarray, ...]
    path_norm_l1: float
    path_norm_l2: float
    layer_norms: np.ndarray
    total_norm: float


def relu_observables(W, biases=None) -> ReLUObservables:
    """Quotient and raw observables of a ReLU network (see the module docstring)."""
    W, biases = _relu_params(W, biases)
    layers = list(W) if biases is None else [np.hstack([w, b[:, None]]) for w, b in zip(W, biases, strict=True)]
    return ReLUObservables(
        neuron_invariants=neuron_invariants(W, biases),
        path_norm_l1=path_norm(W, biases, p=1.0),
        path_norm_l2=path_norm(W, biases, p=2.0),
        layer_norms=np.array([safe_norm(m) for m in layers]),
        total_norm=safe_norm(tuple(layers)),
    )


# --------------------------------------------------------------------------------------------
# Attention: factor pairs are depth-2 linear networks
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class FactorPairObservables:
    """A factor pair ``(A, B)`` with product ``M = A B`` read as the depth-2 network ``(W_1, W_2) = (B, A)``.

    Attributes
    ----------
    product : ndarray
        ``M = A B`` (quotient).
    nuclear_norm : float
        ``||M||_* = sum_k s_k(M)`` (quotient) ``= min R`` over the fiber for N = 2.
    balanced_left, balanced_right : ndarray
        The SVD-chart balanced pair ``A_bal = U S^{1/2}``, ``B_bal = S^{1/2} V^T`` (canonical frames),
        with ``A_bal B_bal = M`` and ``||A_bal||^2 + ||B_bal||^2 = 2 ||M||_*``.
    squared_norms : float
        ``||A||_F^2 + ||B||_F^2`` (raw).
    gap : float
        ``||A||^2 + ||B||^2 - 2 ||M||_* >= 0``, zero exactly at balanced pairs.
    mu_norm : float
        ``||B B^T - A^T A||_F``, the moment map of ``GL(k)`` (raw).
    """

    product: np.ndarray
    nuclear_norm: float
    balanced_left: np.ndarray
    balanced_right: np.ndarray
    squared_norms: float
    gap: float
    mu_norm: float


def factor_pair_observables(left, right, *, rtol: float = 1e-12) -> FactorPairObservables:
    """Observables of ``M = left @ right`` (``left`` of shape ``(m, k)``, ``right`` of shape ``(k, n)``).

    The pair is the depth-2 network ``W = (right, left)``, ``X = M``, with the gauge group ``GL(k)``
    (``left -> left g^{-1}``, ``right -> g right``); everything comes from the core:
    :func:`~dln_git.core.end_to_end`, :func:`~dln_git.core.moment_norm`, :func:`~dln_git.core.min_regularizer`
    (``= ||M||_*`` for N = 2) and :func:`~dln_git.core.balanced_from_end_to_end`. The gap
    ``||left||^2 + ||right||^2 - 2||M||_* = 2 (R(W) - min R)`` is computed at unit scale.
    """
    (rtol,) = check_options(rtol=rtol)
    A, B = as_matrix(left, "left"), as_matrix(right, "right")
    if A.shape[1] != B.shape[0]:
        raise ValueError(f"left has shape {A.shape} and right has shape {B.shape}: left needs {B.shape[0]} "
                         f"columns (the inner dimension k of right)")
    W = (B, A)
    widths = _widths(W)
    Wn, scale = normalized(W)
    Mn = Wn[1] @ Wn[0]
    nuc_unit = min_regularizer(Mn, 2, rtol=rtol)
    if np.any(Mn != 0):
        bal = balanced_from_end_to_end(Mn, widths, rtol=rtol)
    else:
        bal = (np.zeros_like(Wn[0]), np.zeros_like(Wn[1]))
    gap_unit = max(2.0 * (0.5 * sum(float(np.vdot(w, w).real) for w in Wn) - nuc_unit), 0.0)
    return FactorPairObservables(
        product=end_to_end(W),
        nuclear_norm=float(rescale(nuc_unit, scale, 2, "||M||_*")),
        balanced_left=np.asarray(rescale(bal[1], scale, 1, "the balanced left factor")),
        balanced_right=np.asarray(rescale(bal[0], scale, 1, "the balanced right factor")),
        squared_norms=2.0 * regularizer(W),
        gap=float(rescale(gap_unit, scale, 2, "the balance gap")),
        mu_norm=moment_norm(W),
    )


def balance_pair(left, right, *, method: str = "newton", tol: float = 1e-12):
    """A balanced factor pair with the same product, by :func:`dln_git.flows.balance` on ``(right, left)``.

    ``"newton"`` stays in the closure of the ``GL(k)``-orbit of the pair (the Kempf–Ness point,
    ``left^T left = right right^T``); ``"svd"`` is the SVD chart. Either way
    ``||left_bal||^2 + ||right_bal||^2 = 2 ||left right||_*``.

    Returns
    -------
    (left_bal, right_bal, result) : the balanced pair and the :class:`dln_git.flows.BalanceResult`
        (``converged``, ``message``).
    """
    A, B = as_matrix(left, "left"), as_matrix(right, "right")
    if A.shape[1] != B.shape[0]:
        raise ValueError(f"left has shape {A.shape} and right has shape {B.shape}: left needs {B.shape[0]} columns")
    result = balance((B, A), method=method, tol=tol)
    return np.array(result.weights[1]), np.array(result.weights[0]), result


def attention_observables(W_Q, W_K, W_V, W_O, *, rtol: float = 1e-12) -> dict[str, FactorPairObservables]:
    """The two factor pairs of an attention head: ``"QK"`` for ``W_Q W_K^T`` (pair ``(W_Q, W_K^T)``,
    gauge ``W_Q -> W_Q g^{-1}``, ``W_K -> W_K g^T``) and ``"VO"`` for ``W_V W_O`` (pair ``(W_V, W_O)``,
    gauge ``W_V -> W_V h^{-1}``, ``W_O -> h W_O``)."""
    return {"QK": factor_pair_observables(W_Q, as_matrix(W_K, "W_K").T, rtol=rtol),
            "VO": factor_pair_observables(W_V, W_O, rtol=rtol)}
