"""Random network families with explicit parameter laws, sampled as a batch of draws (docs/math section 6.4).

A *family* is an architecture plus the law of its parameters: layer ``l`` (``l = 1..N``) has weights
``W_l`` of shape ``(d_l, d_{l-1})`` with iid entries ``N(weight_mean[l], weight_std[l]^2)`` and a bias
``b_l`` with iid entries ``N(bias_mean[l], bias_std[l]^2)``. The network is::

    h_0 = x,   h_l = sigma(W_l h_{l-1} + b_l)  (l < N),   f(x) = W_N h_{N-1} + b_N,

with ``sigma`` the identity (``"linear"``: a deep linear network), ``max(0, .)`` (``"relu"``), and for
the two one-hidden-layer families of Maiti–Stoner–Halverson (arXiv 2106.00694, section 4):

* ``"gauss"`` (Gauss-net): ``h_1 = exp(W_1 x + b_1) / sqrt(exp(2 (s_b^2 + s_W^2 |x|^2)))`` where
  ``s_W, s_b`` are the entry stds of ``W_1, b_1`` (the paper writes ``s_W^2 = sigma_W^2 / d``). Its
  two-point function is exactly ``G^(2)_ij(x, x') = delta_ij [d_1 v_2 exp(-s_W^2 |x - x'|^2 / 2) + s_{b,2}^2]``
  (``v_2`` the entry variance of ``W_2``) at every width, an RBF kernel: the
  ``exp(w.(x + x'))`` moment of a Gaussian ``w`` divided by the normalisation leaves ``|x - x'|``.
* ``"cos"`` (cos-net): ``h_1 = cos(W_1 x + b_1)`` with ``b_1 ~ Uniform(-pi, pi)`` (the paper's law,
  which makes every correlator translation invariant: ``x -> x + c`` is absorbed by ``b_1 -> b_1 + W_1 c``
  mod ``2 pi``); ``G^(2)_ij = delta_ij [d_1 v_2 / 2 exp(-s_W^2 |x - x'|^2 / 2) + s_{b,2}^2]``.

Means are only allowed on the weights and biases of the last layer for ``"gauss"``/``"cos"`` (their
closed forms assume a centred first layer); any layer of ``"linear"``/``"relu"``.

Draws are vectorised: :func:`sample_draws` returns arrays with a leading batch axis of ``S``
parameter samples and :func:`evaluate` maps inputs ``(P, d_0)`` to outputs ``(S, P, d_N)``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..core.options import Rule, check_options
from ..core.weights import as_rng

__all__ = ["KINDS", "NetworkDraws", "NetworkFamily", "evaluate", "network_family", "sample_draws"]

KINDS = ("linear", "relu", "gauss", "cos")


def _per_layer(value, n_layers: int, name: str, *, nonnegative: bool) -> tuple[float, ...]:
    arr = np.asarray(value, dtype=float)
    if arr.ndim == 0:
        arr = np.full(n_layers, float(arr))
    if arr.shape != (n_layers,):
        raise ValueError(f"{name} must be a scalar or one value per layer ({n_layers}), got shape {arr.shape}")
    if not np.isfinite(arr).all():
        raise ValueError(f"{name} must be finite, got {arr.tolist()}")
    if nonnegative and (arr < 0).any():
        raise ValueError(f"{name} must be >= 0, got {arr.tolist()}")
    return tuple(float(a) for a in arr)


@dataclass(frozen=True)
class NetworkFamily:
    """An architecture and the Gaussian law of its parameters (entry means and stds per layer)."""

    kind: str
    widths: tuple[int, ...]
    weight_mean: tuple[float, ...]
    weight_std: tuple[float, ...]
    bias_mean: tuple[float, ...]
    bias_std: tuple[float, ...]

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, got {self.kind!r}")
        w = tuple(int(d) for d in self.widths)
        if len(w) < 2 or any(d < 1 for d in w):
            raise ValueError(f"widths must be at least two positive integers, got {self.widths!r}")
        if self.kind in ("gauss", "cos"):
            if len(w) != 3:
                raise ValueError(f"a {self.kind}-net has one hidden layer: widths (d_0, d_1, d_2), got {w}")
            if self.weight_mean[0] != 0 or self.bias_mean[0] != 0:
                raise ValueError(f"a {self.kind}-net's first layer must be centred (its closed form assumes it)")
        n = len(w) - 1
        object.__setattr__(self, "widths", w)
        for name in ("weight_mean", "bias_mean"):
            object.__setattr__(self, name, _per_layer(getattr(self, name), n, name, nonnegative=False))
        for name in ("weight_std", "bias_std"):
            object.__setattr__(self, name, _per_layer(getattr(self, name), n, name, nonnegative=True))

    @property
    def depth(self) -> int:
        return len(self.widths) - 1

    @property
    def centred(self) -> bool:
        """True when every mean is zero (the law is invariant under ``W_N -> R W_N``, ``b_N -> R b_N``)."""
        return not any(self.weight_mean) and not any(self.bias_mean)


def network_family(kind: str, widths, *, sigma_w=1.0, sigma_b=0.0, last_weight_mean=0.0,
                   last_bias_mean=0.0) -> NetworkFamily:
    """The standard parametrisation: ``W_l`` entries ``N(0, sigma_w^2 / d_{l-1})``, biases ``N(0, sigma_b^2)``.

    ``last_weight_mean`` / ``last_bias_mean`` put a mean on the last layer (the symmetry-breaking
    law of docs/math section 6.4). ``sigma_w``, ``sigma_b`` may be given per layer.
    """
    if not isinstance(kind, str):
        raise TypeError(f"kind must be a string, got {type(kind).__name__}")
    w = tuple(int(d) for d in widths)
    n = len(w) - 1
    if n < 1:
        raise ValueError(f"widths must be at least two positive integers, got {widths!r}")
    sw = np.asarray(_per_layer(sigma_w, n, "sigma_w", nonnegative=True))
    sb = _per_layer(sigma_b, n, "sigma_b", nonnegative=True)
    (lwm, lbm) = check_options(last_weight_mean=(last_weight_mean, Rule("real", what="the last layer's weight mean")),
                               last_bias_mean=(last_bias_mean, Rule("real", what="the last layer's bias mean")))
    wm = [0.0] * n
    bm = [0.0] * n
    wm[-1], bm[-1] = lwm, lbm
    return NetworkFamily(kind, w, tuple(wm), tuple(sw / np.sqrt(np.asarray(w[:-1], float))), tuple(bm), sb)


@dataclass(frozen=True)
class NetworkDraws:
    """``S`` parameter samples: ``weights[l]`` of shape ``(S, d_{l+1}, d_l)``, ``biases[l]`` of shape
    ``(S, d_{l+1})``."""

    family: NetworkFamily
    weights: tuple[np.ndarray, ...]
    biases: tuple[np.ndarray, ...]

    @property
    def n_draws(self) -> int:
        return self.weights[0].shape[0]


def sample_draws(family: NetworkFamily, n_draws: int, rng) -> NetworkDraws:
    """Draw ``n_draws`` iid parameter samples of ``family`` from ``rng`` (Generator or int seed)."""
    if not isinstance(family, NetworkFamily):
        raise TypeError(f"family must be a NetworkFamily, got {type(family).__name__}")
    (n_draws,) = check_options(n_draws=(n_draws, Rule.count(1, "a number of parameter draws")))
    rng = as_rng(rng)
    Ws, bs = [], []
    for layer, (d_out, d_in) in enumerate(zip(family.widths[1:], family.widths[:-1], strict=True)):
        Ws.append(family.weight_mean[layer] + family.weight_std[layer] * rng.standard_normal((n_draws, d_out, d_in)))
        if family.kind == "cos" and layer == 0:
            bs.append(rng.uniform(-np.pi, np.pi, (n_draws, d_out)))
        else:
            bs.append(family.bias_mean[layer] + family.bias_std[layer] * rng.standard_normal((n_draws, d_out)))
    return NetworkDraws(family, tuple(Ws), tuple(bs))


def _as_inputs(x, d0: int) -> np.ndarray:
    a = np.asarray(x, dtype=float)
    if a.ndim == 1:
        a = a[None, :]
    if a.ndim != 2 or a.shape[1] != d0:
        raise ValueError(f"inputs must have shape (P, {d0}) (or ({d0},)), got {np.shape(x)}")
    if not np.isfinite(a).all():
        raise ValueError("inputs contain NaN or inf")
    return a


def evaluate(draws: NetworkDraws, x) -> np.ndarray:
    """Outputs ``f(x_p)`` of every draw: array ``(S, P, d_N)`` for inputs ``x`` of shape ``(P, d_0)``."""
    fam = draws.family
    x = _as_inputs(x, fam.widths[0])
    h = np.einsum("sij,pj->spi", draws.weights[0], x) + draws.biases[0][:, None, :]
    for layer in range(1, fam.depth):
        if fam.kind == "relu":
            h = np.maximum(h, 0.0)
        elif fam.kind == "gauss":
            s_w, s_b = fam.weight_std[0], fam.bias_std[0]
            h = np.exp(h - (s_b**2 + s_w**2 * np.sum(x * x, axis=1))[None, :, None])
        elif fam.kind == "cos":
            h = np.cos(h)
        h = np.matmul(h, np.swapaxes(draws.weights[layer], 1, 2)) + draws.biases[layer][:, None, :]
    return h
