"""Positively homogeneous networks in numpy (docs/math section 6.1).

A network of depth L with widths ``(d_0, ..., d_L)``, weights ``W_l`` of shape ``(d_l, d_{l-1})``
(math order, as the DLN core) and optional biases ``b_l`` of shape ``(d_l,)``:

``z_l = W_l h_{l-1} + b_l``,  ``h_0 = x``,  ``h_l = sigma(z_l)`` for the hidden layers
``l = 1..L-1``, and ``f(x) = z_L`` (the last layer is linear).

``sigma`` is ``relu(z) = max(z, 0)``, ``leaky_relu(z) = z if z > 0 else alpha z`` or the identity
(``"linear"``: the network is a deep linear network with biases). All three are positively
homogeneous, ``sigma(c z) = c sigma(z)`` for ``c > 0``, which is what makes the neuron-rescaling
torus a symmetry (see :mod:`dln_git.symmetries.neuron_torus`).

Inputs are COLUMNS: ``x`` has shape ``(d_0, n)`` and ``f(x)`` shape ``(d_L, n)``, as in
:mod:`dln_git.decomposition.losses`. Losses return ``(value, (weight_grads, bias_grads))`` with
``bias_grads = None`` for a network without biases:

* :func:`mse_loss_and_grad`            ``E = 1/(2n) ||f(x) - y||_F^2``
* :func:`cross_entropy_loss_and_grad`  ``E = -1/n sum_k log softmax(f(x_k))_{y_k}``

Gradients by backpropagation (derivative of ReLU at 0 taken as 0, of leaky ReLU as ``alpha``).
Reference: Neyshabur, Salakhutdinov & Srebro, "Path-SGD" (NeurIPS 2015) for the rescaling
symmetry of ReLU networks; arXiv 2602.14729 for its gauge fixing.
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..core.options import check_options

__all__ = [
    "ACTIVATIONS",
    "HomogeneousNet",
    "cross_entropy_loss_and_grad",
    "gd_step",
    "homogeneous_net",
    "mse_loss_and_grad",
]

#: Positively homogeneous activations of the hidden layers.
ACTIVATIONS = ("relu", "leaky_relu", "linear")


def _real_array(a, label: str, ndim: int) -> np.ndarray:
    """``a`` (anything with ``__array__``: numpy, torch, JAX) as a new finite real float64 array."""
    try:
        arr = np.array(a, copy=True)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"{label} is not a rectangular array: {exc}") from None
    if arr.dtype == np.bool_ or not np.issubdtype(arr.dtype, np.number):
        raise TypeError(f"{label} must be a real numeric array, got dtype {arr.dtype}")
    if np.iscomplexobj(arr):
        raise TypeError(f"{label} must be real (homogeneous activations act on real numbers), got {arr.dtype}")
    if arr.ndim != ndim:
        raise ValueError(f"{label} must be a {ndim}-D array, got shape {arr.shape}")
    if arr.size == 0:
        raise ValueError(f"{label} is empty (shape {arr.shape}): every width must be positive")
    arr = np.asarray(arr, dtype=np.float64)
    if not np.isfinite(arr).all():
        raise ValueError(f"{label} contains NaN or inf")
    return arr


def _check_weights(weights) -> tuple[np.ndarray, ...]:
    if isinstance(weights, (str, bytes)) or not isinstance(weights, (Sequence, np.ndarray)) or (
            isinstance(weights, np.ndarray) and weights.ndim == 2):
        raise TypeError(f"weights must be a sequence (W_1, ..., W_L) of 2-D arrays, got {type(weights).__name__}")
    mats = tuple(_real_array(w, f"weights[{i}] (W_{i + 1})", 2) for i, w in enumerate(weights))
    if not mats:
        raise ValueError("weights is empty: a network needs at least one layer")
    for i in range(1, len(mats)):
        if mats[i].shape[1] != mats[i - 1].shape[0]:
            raise ValueError(
                f"layer {i + 1}: W_{i + 1} has shape {mats[i].shape} but W_{i} has shape {mats[i - 1].shape}, "
                f"so W_{i + 1} must have {mats[i - 1].shape[0]} columns (expected shape "
                f"({mats[i].shape[0]}, {mats[i - 1].shape[0]}))")
    return mats


def _check_biases(biases, weights) -> tuple[np.ndarray, ...] | None:
    if biases is None:
        return None
    if isinstance(biases, (str, bytes)) or not isinstance(biases, (Sequence, np.ndarray)):
        raise TypeError(f"biases must be None or a sequence (b_1, ..., b_L) of 1-D arrays, got {type(biases).__name__}")
    if len(biases) != len(weights):
        raise ValueError(f"biases has {len(biases)} entries, expected {len(weights)} (one per layer)")
    out = []
    for i, (b, w) in enumerate(zip(biases, weights, strict=True), start=1):
        b = _real_array(b, f"biases[{i - 1}] (b_{i})", 1)
        if b.shape != (w.shape[0],):
            raise ValueError(f"layer {i}: b_{i} has shape {b.shape}, expected ({w.shape[0]},) to match W_{i} {w.shape}")
        out.append(b)
    return tuple(out)


@dataclass(frozen=True, eq=False)
class HomogeneousNet:
    """A positively homogeneous network ``f(x) = W_L sigma(...sigma(W_1 x + b_1) ...) + b_L``.

    Attributes
    ----------
    weights : tuple of ndarray
        ``(W_1, ..., W_L)``, ``W_l.shape == (d_l, d_{l-1})``, float64 (validated copies).
    biases : tuple of ndarray or None
        ``(b_1, ..., b_L)``, ``b_l.shape == (d_l,)``, or None for a network without biases.
    activation : {"relu", "leaky_relu", "linear"}
        Activation of the hidden layers ``1..L-1``; the last layer is linear.
    negative_slope : float
        Slope ``alpha`` of leaky ReLU for ``z < 0`` (ignored otherwise).

    Equality is identity (``eq=False``): comparing arrays elementwise has no single truth value.
    """

    weights: tuple[np.ndarray, ...]
    biases: tuple[np.ndarray, ...] | None
    activation: str
    negative_slope: float = 0.01

    def __post_init__(self):
        if self.activation not in ACTIVATIONS:
            raise ValueError(f"activation = {self.activation!r} is not one of {ACTIVATIONS}")
        slope = self.negative_slope
        if isinstance(slope, (bool, np.bool_)) or not isinstance(slope, numbers.Real) or not np.isfinite(slope):
            raise TypeError(f"negative_slope must be a finite real number, got {slope!r}")
        weights = _check_weights(self.weights)
        object.__setattr__(self, "weights", weights)
        object.__setattr__(self, "biases", _check_biases(self.biases, weights))
        object.__setattr__(self, "negative_slope", float(slope))

    # ---- shape -----------------------------------------------------------------------------
    @property
    def widths(self) -> tuple[int, ...]:
        """``(d_0, d_1, ..., d_L)``."""
        return (self.weights[0].shape[1], *(w.shape[0] for w in self.weights))

    @property
    def depth(self) -> int:
        """Number of layers L (hidden layers are 1..L-1)."""
        return len(self.weights)

    @property
    def hidden_widths(self) -> tuple[int, ...]:
        """``(d_1, ..., d_{L-1})``: the neurons the rescaling torus acts on."""
        return self.widths[1:-1]

    @property
    def has_biases(self) -> bool:
        return self.biases is not None

    # ---- evaluation ------------------------------------------------------------------------
    def _sigma(self, z: np.ndarray) -> np.ndarray:
        if self.activation == "relu":
            return np.maximum(z, 0.0)
        if self.activation == "leaky_relu":
            return np.where(z > 0, z, self.negative_slope * z)
        return z

    def _sigma_prime(self, z: np.ndarray) -> np.ndarray:
        if self.activation == "relu":
            return (z > 0).astype(np.float64)
        if self.activation == "leaky_relu":
            return np.where(z > 0, 1.0, self.negative_slope)
        return np.ones_like(z)

    def _check_inputs(self, x) -> np.ndarray:
        x = _real_array(x, "x (inputs, d_0 x n)", 2)
        if x.shape[0] != self.widths[0]:
            raise ValueError(f"x has shape {x.shape}: expected {self.widths[0]} rows (d_0; samples are columns)")
        return x

    def _forward_cache(self, x: np.ndarray):
        pre, post = [], [x]
        h = x
        for l, W in enumerate(self.weights):
            z = W @ h
            if self.biases is not None:
                z = z + self.biases[l][:, None]
            pre.append(z)
            h = z if l == self.depth - 1 else self._sigma(z)
            post.append(h)
        return pre, post

    def forward(self, x) -> np.ndarray:
        """``f(x)`` for inputs ``x`` of shape ``(d_0, n)`` (samples as columns): shape ``(d_L, n)``."""
        return self._forward_cache(self._check_inputs(x))[1][-1]

    __call__ = forward

    def _backward(self, pre, post, dout: np.ndarray):
        """Backpropagate ``dE/df = dout`` (shape ``(d_L, n)``) to the weights and biases."""
        gW = [None] * self.depth
        gb = [None] * self.depth
        dz = dout
        for l in range(self.depth - 1, -1, -1):
            gW[l] = dz @ post[l].T
            gb[l] = dz.sum(axis=1)
            if l > 0:
                dz = (self.weights[l].T @ dz) * self._sigma_prime(pre[l - 1])
        return tuple(gW), (tuple(gb) if self.biases is not None else None)

    # ---- updates ---------------------------------------------------------------------------
    def replace(self, *, weights=None, biases=None) -> HomogeneousNet:
        """A new validated network with ``weights`` and/or ``biases`` replaced (None: keep).

        To drop the biases of a network use :func:`homogeneous_net` directly.
        """
        return HomogeneousNet(self.weights if weights is None else tuple(weights),
                              self.biases if biases is None else tuple(biases),
                              self.activation, self.negative_slope)


def homogeneous_net(weights, biases=None, activation: str = "relu", negative_slope: float = 0.01) -> HomogeneousNet:
    """Validated constructor of :class:`HomogeneousNet` (copies every array to float64).

    Parameters
    ----------
    weights : sequence of array_like
        ``(W_1, ..., W_L)`` with ``W_l.shape == (d_l, d_{l-1})``; anything with ``__array__``
        (numpy, torch, JAX arrays).
    biases : sequence of array_like or None
        ``(b_1, ..., b_L)`` with ``b_l.shape == (d_l,)``.
    activation : {"relu", "leaky_relu", "linear"}
    negative_slope : float
        Leaky-ReLU slope for negative inputs.

    Raises
    ------
    TypeError, ValueError
        Non-numeric, complex or non-finite arrays, shapes that do not chain (the error names the
        layer, the expected and the actual shape), an unknown activation.
    """
    return HomogeneousNet(weights, biases, activation, negative_slope)


def _check_targets(y, shape, label) -> np.ndarray:
    y = _real_array(y, label, 2)
    if y.shape != shape:
        raise ValueError(f"{label} has shape {y.shape}, expected {shape}")
    return y


def mse_loss_and_grad(net: HomogeneousNet, x, y):
    """``E = 1/(2n) ||f(x) - y||_F^2`` and its gradient ``((dE/dW_l), (dE/db_l) or None)``.

    ``x``: ``(d_0, n)``, ``y``: ``(d_L, n)``. ``dE/df = (f(x) - y) / n``, backpropagated.
    """
    x = net._check_inputs(x)
    y = _check_targets(y, (net.widths[-1], x.shape[1]), "y (targets, d_L x n)")
    pre, post = net._forward_cache(x)
    n = x.shape[1]
    r = post[-1] - y
    return 0.5 * float(np.vdot(r, r)) / n, net._backward(pre, post, r / n)


def cross_entropy_loss_and_grad(net: HomogeneousNet, x, labels):
    """Softmax cross-entropy ``E = -1/n sum_k log p_{y_k, k}``, ``p = softmax(f(x))`` over outputs.

    ``labels``: integer array of shape ``(n,)`` with values in ``[0, d_L)``. ``dE/df = (p - onehot) / n``.
    Computed with the log-sum-exp shift (no overflow for large logits).
    """
    x = net._check_inputs(x)
    lab = np.asarray(labels)
    n, k = x.shape[1], net.widths[-1]
    if lab.shape != (n,) or not np.issubdtype(lab.dtype, np.integer):
        raise ValueError(f"labels must be an integer array of shape ({n},), got dtype {lab.dtype} shape {lab.shape}")
    if lab.min() < 0 or lab.max() >= k:
        raise ValueError(f"labels must lie in [0, {k}), got min {lab.min()} max {lab.max()}")
    pre, post = net._forward_cache(x)
    z = post[-1]
    zs = z - z.max(axis=0, keepdims=True)
    lse = np.log(np.exp(zs).sum(axis=0))
    logp = zs - lse
    cols = np.arange(n)
    value = -float(logp[lab, cols].mean())
    g = np.exp(logp)
    g[lab, cols] -= 1.0
    return value, net._backward(pre, post, g / n)


def gd_step(net: HomogeneousNet, grads, lr: float) -> HomogeneousNet:
    """One gradient-descent step ``W_l <- W_l - lr dE/dW_l``, ``b_l <- b_l - lr dE/db_l``.

    ``grads`` is the ``(weight_grads, bias_grads)`` pair returned by the loss functions.
    """
    (lr,) = check_options(lr=lr)
    if not isinstance(grads, (tuple, list)) or len(grads) != 2:
        raise TypeError("grads must be the pair (weight_grads, bias_grads) returned by a loss function")
    gW, gb = grads
    gW = _check_weights(gW)
    if tuple(g.shape for g in gW) != tuple(w.shape for w in net.weights):
        raise ValueError(f"weight gradients have shapes {[g.shape for g in gW]}, "
                         f"expected {[w.shape for w in net.weights]}")
    weights = tuple(w - lr * g for w, g in zip(net.weights, gW, strict=True))
    if net.biases is None:
        if gb is not None:
            raise ValueError("bias gradients given for a network without biases")
        return net.replace(weights=weights)
    if gb is None:
        raise ValueError("the network has biases: grads must contain the bias gradients")
    gb = _check_biases(gb, net.weights)
    return net.replace(weights=weights, biases=tuple(b - lr * g for b, g in zip(net.biases, gb, strict=True)))
