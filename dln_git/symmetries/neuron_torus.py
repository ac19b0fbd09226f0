"""The neuron-rescaling torus of a homogeneous network (docs/math section 6.1).

For a hidden neuron j of layer l (``1 <= l <= L-1``) let ``theta_in,j = (W_l[j, :], b_l[j])`` (its
incoming row and bias) and ``w_out,j = W_{l+1}[:, j]`` (its outgoing column). The torus
``(R_{>0})^{d_1 + ... + d_{L-1}}`` acts by ``theta_in,j -> c_j theta_in,j``,
``w_out,j -> w_out,j / c_j``; positive homogeneity ``sigma(c z) = c sigma(z)`` makes f invariant.

Bias-augmented chain. Write ``Wh_l = [[W_l, b_l], [0, 1]]`` for ``l < L`` and ``Wh_L = [W_L, b_L]``
(without biases ``Wh_l = W_l``): a chain of matrices of widths ``(d_0 + 1, ..., d_{L-1} + 1, d_L)``
whose last hidden unit is the constant 1. The torus is the diagonal subgroup
``g_l = diag(c_l, 1)`` of the DLN gauge group of this chain (``g.Wh = (g_l Wh_l g_{l-1}^{-1})``),
so everything below is the core's vocabulary restricted to diagonals:

* moment map: ``D_j = ||theta_in,j||^2 - ||w_out,j||^2 = diag(mu_l(Wh))_j`` with the core's sign
  convention ``mu_l = Wh_l Wh_l^T - Wh_{l+1}^T Wh_{l+1}`` (incoming minus outgoing);
* infinitesimal action of ``s = (s_1, ..., s_{L-1})`` (``xi_l = diag(s_l, 0)``):
  ``A(s)_l[j, k] = (s_{l,j} - s_{l-1,k}) W_l[j, k]``, ``A(s)`` on ``b_l[j]`` is ``s_{l,j} b_l[j]``
  (``s_0 = s_L = 0``);
* torus Gram operator ``K = diag o A^*A`` on diagonal elements, ``<s, K s> = ||A(s)||^2``:
  ``(K s)_{l,j} = (||theta_in,j||^2 + ||w_out,j||^2) s_{l,j} - sum_k W_l[j,k]^2 s_{l-1,k}
  - sum_m W_{l+1}[m,j]^2 s_{l+1,m}``: block tridiagonal in the layers, diagonal blocks
  ``diag(||theta_in||^2 + ||w_out||^2)``, off-diagonal blocks ``-(W_l o W_l)`` (entrywise squares)
  and their transposes; a weighted graph Laplacian of the network grounded at the input, bias and
  output units. One hidden layer: ``K = diag(||theta_in,j||^2 + ||w_out,j||^2)``.

Gauge-adapted coordinates: ``P_j = ||theta_in,j|| ||w_out,j||`` and the gauge coordinate
``tau_j = 1/2 log(||theta_in,j|| / ||w_out,j||)``: ``c_j`` keeps ``P_j`` and shifts ``tau_j`` by
``log c_j``; the factors of the neighbouring layers change both unless there is one hidden layer.

Neuron vectors are tuples of 1-D arrays, one per hidden layer; :func:`torus_gram` orders them
layer 1 first. Squared norms are computed on the parameters divided by a power of two near
their size, so weights of any representable scale work.
Reference: arXiv 2602.14729 (gauge fixing of homogeneous networks); Stock et al., "Equi-normalization
of neural networks", ICLR 2019.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..core.scaling import rescale, scale_of
from .homogeneous import HomogeneousNet

__all__ = [
    "GaugeCoordinates",
    "augmented_weights",
    "gauge_coordinates",
    "imbalance",
    "neuron_sq_norms",
    "rescale_neurons",
    "torus_action",
    "torus_gram",
    "torus_gram_apply",
]


def _check_net(net) -> HomogeneousNet:
    if not isinstance(net, HomogeneousNet):
        raise TypeError(f"net must be a HomogeneousNet (see homogeneous_net), got {type(net).__name__}")
    return net


def augmented_weights(net: HomogeneousNet) -> tuple[np.ndarray, ...]:
    """The bias-augmented chain ``Wh_l = [[W_l, b_l], [0, 1]]`` (``l < L``), ``Wh_L = [W_L, b_L]``.

    Without biases the weights themselves (copies). ``end_to_end(Wh)`` is the affine map of the
    linear network; for any activation, ``diag(mu_l(Wh))[:d_l]`` is the imbalance ``D_l``.
    """
    net = _check_net(net)
    if net.biases is None:
        return tuple(w.copy() for w in net.weights)
    out = []
    for l, (W, b) in enumerate(zip(net.weights, net.biases, strict=True), start=1):
        top = np.hstack([W, b[:, None]])
        if l < net.depth:
            bottom = np.zeros((1, top.shape[1]))
            bottom[0, -1] = 1.0
            top = np.vstack([top, bottom])
        out.append(top)
    return tuple(out)


def _normalized(net: HomogeneousNet):
    """``(weights / s, biases / s, s)`` with s a power of two near the parameters' size (exact)."""
    mats = list(net.weights) + ([b[None, :] for b in net.biases] if net.biases is not None else [])
    s = scale_of(mats)
    W = tuple(w / s for w in net.weights)
    b = None if net.biases is None else tuple(v / s for v in net.biases)
    return W, b, s


def _sq_norms(W, b) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """``(||theta_in,j||^2, ||w_out,j||^2)`` per hidden layer, at the given scale."""
    ins, outs = [], []
    for l in range(len(W) - 1):
        a = np.einsum("jk,jk->j", W[l], W[l])
        if b is not None:
            a = a + b[l] ** 2
        ins.append(a)
        outs.append(np.einsum("mj,mj->j", W[l + 1], W[l + 1]))
    return ins, outs


def neuron_sq_norms(net: HomogeneousNet) -> tuple[tuple[np.ndarray, ...], tuple[np.ndarray, ...]]:
    """``(||theta_in,j||^2, ||w_out,j||^2)``: two tuples with one array per hidden layer.

    Raises ValueError if the squares are not representable in float64 (weights beyond ~1e154).
    """
    W, b, s = _normalized(_check_net(net))
    ins, outs = _sq_norms(W, b)
    return (tuple(rescale(tuple(ins), s, 2, "||theta_in||^2")),
            tuple(rescale(tuple(outs), s, 2, "||w_out||^2")))


def imbalance(net: HomogeneousNet) -> tuple[np.ndarray, ...]:
    """The torus moment map ``D_j = ||theta_in,j||^2 - ||w_out,j||^2``, one array per hidden layer.

    Equal to the first ``d_l`` diagonal entries of the core's ``moment_map`` of
    :func:`augmented_weights` (``mu_l = Wh_l Wh_l^T - Wh_{l+1}^T Wh_{l+1}``: incoming minus
    outgoing, the same sign). Empty for depth 1. Computed at scale 1 and rescaled by ``s^2``.
    """
    W, b, s = _normalized(_check_net(net))
    ins, outs = _sq_norms(W, b)
    return tuple(rescale(tuple(a - o for a, o in zip(ins, outs, strict=True)), s, 2, "D (imbalance)"))


def _check_neuron_vector(values, net: HomogeneousNet, name: str, positive: bool) -> tuple[np.ndarray, ...]:
    hidden = net.hidden_widths
    if isinstance(values, (str, bytes)) or not isinstance(values, (Sequence, np.ndarray)):
        raise TypeError(f"{name} must be a sequence of 1-D arrays, one per hidden layer {hidden}")
    if len(values) != len(hidden):
        raise ValueError(f"{name} has {len(values)} entries, expected {len(hidden)} (hidden widths {hidden})")
    out = []
    for l, (v, d) in enumerate(zip(values, hidden, strict=True), start=1):
        v = np.array(v, dtype=np.float64, copy=True) if not np.iscomplexobj(v) else None
        if v is None:
            raise TypeError(f"{name}[{l - 1}] must be real")
        if v.shape != (d,):
            raise ValueError(f"hidden layer {l}: {name}[{l - 1}] has shape {v.shape}, expected ({d},)")
        if not np.isfinite(v).all():
            raise ValueError(f"hidden layer {l}: {name}[{l - 1}] contains NaN or inf")
        if positive and not (v > 0).all():
            raise ValueError(f"hidden layer {l}: {name}[{l - 1}] must be positive (min {v.min():g})")
        out.append(v)
    return tuple(out)


def _apply_scales(W, b, scales):
    """``theta_in,j -> c_j theta_in,j``, ``w_out,j -> w_out,j / c_j`` (the group action)."""
    L = len(W)
    W = [w.copy() for w in W]
    b = None if b is None else [v.copy() for v in b]
    for l in range(L - 1):
        c = scales[l]
        W[l] *= c[:, None]
        if b is not None:
            b[l] *= c
        W[l + 1] /= c[None, :]
    return tuple(W), (None if b is None else tuple(b))


def rescale_neurons(net: HomogeneousNet, scales) -> HomogeneousNet:
    """Act with the torus element ``scales = (c_1, ..., c_{L-1})`` (positive arrays, one per hidden
    layer): row j of ``W_l`` and ``b_l[j]`` times ``c_{l,j}``, column j of ``W_{l+1}`` divided by it.

    The function f is unchanged (positive homogeneity). Returns a new network.
    """
    net = _check_net(net)
    c = _check_neuron_vector(scales, net, "scales", positive=True)
    W, b = _apply_scales(net.weights, net.biases, c)
    return net.replace(weights=W, biases=b)


def torus_action(net: HomogeneousNet, s) -> tuple[tuple[np.ndarray, ...], tuple[np.ndarray, ...] | None]:
    """Infinitesimal action ``A(s) = d/dt rescale_neurons(net, exp(t s))|_{t=0}``.

    ``A(s)_l[j,k] = (s_{l,j} - s_{l-1,k}) W_l[j,k]`` and ``s_{l,j} b_l[j]`` on the biases
    (``s_0 = s_L = 0``), returned as ``(weight tangents, bias tangents or None)``: the core's
    ``infinitesimal_action`` of the augmented chain at ``xi_l = diag(s_l, 0)``.
    """
    net = _check_net(net)
    s = _check_neuron_vector(s, net, "s", positive=False)
    return _torus_action(net.weights, net.biases, s)


def _torus_action(W, b, s):
    L = len(W)
    full = [np.zeros(W[0].shape[1]), *s, np.zeros(W[-1].shape[0])]
    dW = tuple((full[l + 1][:, None] - full[l][None, :]) * W[l] for l in range(L))
    db = None if b is None else tuple(full[l + 1] * b[l] for l in range(L))
    return dW, db


@dataclass(frozen=True)
class GaugeCoordinates:
    """``P_j = ||theta_in,j|| ||w_out,j||`` (invariant) and ``tau_j = 1/2 log(||theta_in|| / ||w_out||)``.

    ``tau`` is ``+inf`` where ``w_out,j = 0``, ``-inf`` where ``theta_in,j = 0`` and NaN where both are.
    """

    P: tuple[np.ndarray, ...]
    tau: tuple[np.ndarray, ...]


def gauge_coordinates(net: HomogeneousNet) -> GaugeCoordinates:
    """Gauge-adapted coordinates ``(P, tau)`` of every hidden neuron (see :class:`GaugeCoordinates`).

    Rescaling neuron j alone by ``c_j`` keeps ``P_j`` and shifts ``tau_j`` by ``log c_j``. With one
    hidden layer this holds for the whole torus; deeper, rescaling a neighbouring neuron k changes
    ``theta_in,j`` or ``w_out,j``, so ``P_j`` is invariant only under its own factor (docs/math section 6.1
    calls P "invariant": true per neuron, and under the whole torus only for one hidden layer).
    """
    W, b, s = _normalized(_check_net(net))
    ins, outs = _sq_norms(W, b)
    P, tau = [], []
    with np.errstate(divide="ignore", invalid="ignore"):
        for a, o in zip(ins, outs, strict=True):
            na, no = np.sqrt(a), np.sqrt(o)
            P.append(na * no)
            tau.append(0.5 * (np.log(na) - np.log(no)))
    return GaugeCoordinates(P=tuple(rescale(tuple(P), s, 2, "P")), tau=tuple(tau))


def _gram_blocks(W, b):
    """Diagonal ``a + o`` per hidden layer and coupling blocks ``C_l = W_l o W_l`` (l = 2..L-1)."""
    ins, outs = _sq_norms(W, b)
    diag = [a + o for a, o in zip(ins, outs, strict=True)]
    coupling = [W[l] * W[l] for l in range(1, len(W) - 1)]  # couples hidden layer l+1 to layer l
    return diag, coupling


def torus_gram(net: HomogeneousNet) -> np.ndarray:
    """The torus Gram operator K as a dense symmetric matrix on the hidden neurons (layer 1 first).

    ``K = diag(||theta_in||^2 + ||w_out||^2)`` minus the entrywise squares ``W_l o W_l`` between
    neighbouring hidden layers (block tridiagonal); ``<s, K s> = ||A(s)||^2 >= 0``. It is the
    diagonal of the core's ``A^*A`` on the augmented chain restricted to diagonal ``xi``.
    """
    W, b, s = _normalized(_check_net(net))
    diag, coupling = _gram_blocks(W, b)
    n = sum(d.size for d in diag)
    K = np.zeros((n, n))
    offsets = np.cumsum([0, *(d.size for d in diag)])
    K[np.arange(n), np.arange(n)] = np.concatenate(diag) if n else 0.0
    for l, C in enumerate(coupling, start=1):  # C: (d_{l+1}, d_l) couples layers l+1 and l
        r0, r1, c0, c1 = offsets[l], offsets[l + 1], offsets[l - 1], offsets[l]
        K[r0:r1, c0:c1] = -C
        K[c0:c1, r0:r1] = -C.T
    return rescale(K, s, 2, "K")


def torus_gram_apply(net: HomogeneousNet, s) -> tuple[np.ndarray, ...]:
    """``K s`` matrix-free, in ``O(sum_l d_l d_{l-1})``: for hidden layer l,
    ``(K s)_l = (||theta_in||^2 + ||w_out||^2) s_l - (W_l o W_l) s_{l-1} - (W_{l+1} o W_{l+1})^T s_{l+1}``
    (``s_0 = s_L = 0``; the output layer and the inputs are not neurons of the torus).
    """
    net = _check_net(net)
    s = _check_neuron_vector(s, net, "s", positive=False)
    W, b, sc = _normalized(net)
    diag, coupling = _gram_blocks(W, b)
    out = [d * v for d, v in zip(diag, s, strict=True)]
    for l, C in enumerate(coupling):  # C couples hidden layer l+2 (rows) and l+1 (columns), 1-based
        out[l + 1] = out[l + 1] - C @ s[l]
        out[l] = out[l] - C.T @ s[l + 1]
    return tuple(rescale(tuple(out), sc, 2, "K s"))
