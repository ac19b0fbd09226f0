"""Monte Carlo n-point correlators of random networks and invariance tests (docs/math section 6.4).

The n-point function of a family (Maiti–Stoner–Halverson, arXiv 2106.00694, eq. 2.1) is::

    G^(n)_{i_1..i_n}(x_1, ..., x_n) = E_theta[ f_{i_1}(x_1) ... f_{i_n}(x_n) ].

It is estimated from ``S`` iid parameter draws as the mean of the per-draw product tensor
``f(x_1) (x) ... (x) f(x_n)`` (``d_N^n`` components); the standard error of every component is the
per-draw sample standard deviation over ``sqrt(S)`` (the draws are iid, so no batching is needed).

Invariance tests compare a correlator with its transform *on the same draws*: the per-draw
difference ``Delta_s = P_s - T(P_s)`` (output rotation: ``T = R^{(x)n}``; input map: the product at the
moved inputs) has mean ``G - T G`` and its own per-draw standard error, which accounts for the strong
correlation between the two terms. The statistic is the largest ``|mean / se|`` over the ``K``
components; it is turned into a single-test equivalent ``z`` by Bonferroni:
``p = min(1, 2 K Phi(-max|z|))``, ``z_eq = Phi^{-1}(1 - p / 2)``. Bonferroni is valid under any
dependence between components (conservative), so ``P(z_eq > z_alpha) <= alpha`` under invariance, up
to the normal approximation of each component's mean.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy import special

from ..core.options import Rule, check_options
from ..core.weights import as_rng
from .architectures import NetworkFamily, evaluate, sample_draws

__all__ = [
    "CorrelatorEstimate",
    "InvarianceTest",
    "bonferroni_z",
    "correlator",
    "input_invariance_test",
    "output_invariance_test",
    "reflection_moving",
    "z_threshold",
]

_CHUNK_ELEMENTS = 2_000_000  # per-draw product tensors are built in chunks of about this many floats


@dataclass(frozen=True)
class CorrelatorEstimate:
    """``mean`` (shape ``(d_N,)*n``) of the n-point function, its per-component standard error ``stderr``."""

    mean: np.ndarray
    stderr: np.ndarray
    n_draws: int


@dataclass(frozen=True)
class InvarianceTest:
    """The difference ``G - T G`` estimated on common draws, in standard errors of the difference.

    ``max_z`` is ``max_k |mean_k| / se_k`` over the ``n_components`` components, ``z_equivalent``
    its Bonferroni single-test equivalent (see the module docstring), ``max_abs`` the largest
    ``|mean_k|``.
    """

    difference: np.ndarray
    stderr: np.ndarray
    max_z: float
    z_equivalent: float
    max_abs: float
    n_components: int
    n_draws: int


def bonferroni_z(max_z: float, n_components: int) -> float:
    """Single-test equivalent of the largest of ``K`` two-sided standard scores (Bonferroni)."""
    # log of the two-sided tail 2 Phi(-z), stable far in the tail
    log_p = np.log(n_components) + np.log(2.0) + special.log_ndtr(-abs(max_z))
    if log_p >= 0:
        return 0.0
    # z with 2 Phi(-z) = p:  z = -ndtri(p / 2), via the log for tiny p
    p_half = np.exp(log_p - np.log(2.0))
    if p_half > 1e-300:
        return float(-special.ndtri(p_half))
    return float(np.sqrt(-2.0 * (log_p - np.log(2.0))))  # leading term of the Mills ratio, z ~ 38+


def z_threshold(alpha: float) -> float:
    """The two-sided normal quantile ``z`` with ``P(|Z| > z) = alpha``."""
    (alpha,) = check_options(alpha=(alpha, Rule.relative_tolerance("a false-alarm probability, in (0, 1)")))
    return float(-special.ndtri(alpha / 2))


def reflection_moving(v, rng) -> np.ndarray:
    """The Householder reflection ``I - 2 u u^T`` in O(D) that maps the direction of ``v`` to a random
    unit vector orthogonal to it.

    A Haar rotation may nearly fix the direction a symmetry-breaking mean picks out (then the broken
    correlator barely moves); this element of O(D) moves it as far as possible, so a breaking test
    cannot be blind by bad luck.
    """
    v = np.asarray(v, dtype=float)
    if v.ndim != 1 or v.size < 2 or not np.isfinite(v).all() or not np.any(v):
        raise ValueError(f"v must be a finite non-zero vector of length >= 2, got {v!r}")
    rng = as_rng(rng)
    a = v / np.linalg.norm(v)
    e = rng.standard_normal(v.size)
    e -= (e @ a) * a
    e /= np.linalg.norm(e)
    u = (a - e) / np.linalg.norm(a - e)
    return np.eye(v.size) - 2.0 * np.outer(u, u)


def _outer(F: np.ndarray) -> np.ndarray:
    """Per-draw product tensors: ``F`` of shape ``(S, n, D)`` -> ``(S, D, ..., D)`` (n axes)."""
    S, n, D = F.shape
    out = F[:, 0, :]
    for k in range(1, n):
        out = (out[..., None] * F[:, k, :].reshape((S,) + (1,) * k + (D,)))
    return out


def _apply_rotation(P: np.ndarray, R: np.ndarray) -> np.ndarray:
    """``R^{(x)n}`` applied to per-draw tensors ``P`` of shape ``(S, D, ..., D)``."""
    out = P
    for axis in range(1, P.ndim):
        out = np.moveaxis(np.tensordot(out, R, axes=([axis], [1])), -1, axis)
    return out


def _check_points(points, family: NetworkFamily) -> np.ndarray:
    x = np.asarray(points, dtype=float)
    if x.ndim != 2 or x.shape[1] != family.widths[0] or not 1 <= x.shape[0] <= 6:
        raise ValueError(f"points must have shape (n, {family.widths[0]}) with 1 <= n <= 6, got {np.shape(points)}")
    if not np.isfinite(x).all():
        raise ValueError("points contain NaN or inf")
    return x


class _Moments:
    """Running sums of per-draw tensors for the mean and standard error."""

    def __init__(self):
        self.s1 = self.s2 = None
        self.count = 0

    def add(self, P):
        if self.s1 is None:
            self.s1, self.s2 = np.zeros(P.shape[1:]), np.zeros(P.shape[1:])
            self.shift = P[0].copy()  # shifted sums keep the variance accurate
        Q = P - self.shift
        self.s1 += Q.sum(axis=0)
        self.s2 += (Q * Q).sum(axis=0)
        self.count += P.shape[0]

    def result(self):
        m = self.s1 / self.count
        var = np.maximum(self.s2 / self.count - m * m, 0.0) * self.count / max(self.count - 1, 1)
        return m + self.shift, np.sqrt(var / self.count)


def _run(family, points, n_draws, rng, per_draw: Callable[[np.ndarray], np.ndarray], extra_points=None):
    rng = as_rng(rng)
    D = family.widths[-1]
    n = points.shape[0]
    chunk = max(1, min(n_draws, _CHUNK_ELEMENTS // (2 * D**n)))
    acc = _Moments()
    done = 0
    allp = points if extra_points is None else np.vstack([points, extra_points])
    while done < n_draws:
        s = min(chunk, n_draws - done)
        F = evaluate(sample_draws(family, s, rng), allp)
        acc.add(per_draw(F))
        done += s
    return acc.result()


def correlator(family: NetworkFamily, points, n_draws: int, rng) -> CorrelatorEstimate:
    """Monte Carlo ``G^(n)(x_1..x_n)`` (``n = len(points)``) from ``n_draws`` iid draws of ``family``.

    Returns the mean tensor (shape ``(d_N,)*n``, axis k is the output index at ``x_k``) and the
    per-component standard error ``std(products) / sqrt(n_draws)``.
    """
    if not isinstance(family, NetworkFamily):
        raise TypeError(f"family must be a NetworkFamily, got {type(family).__name__}")
    x = _check_points(points, family)
    (n_draws,) = check_options(n_draws=(n_draws, Rule.count(2, "a number of parameter draws, >= 2")))
    mean, se = _run(family, x, n_draws, rng, _outer)
    return CorrelatorEstimate(mean, se, n_draws)


def _summarise(mean, se, n_draws) -> InvarianceTest:
    scale = max(float(np.max(np.abs(mean))), float(np.max(se)), 1e-300)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(se > 1e-13 * scale, np.abs(mean) / se, np.where(np.abs(mean) <= 1e-13 * scale, 0.0, np.inf))
    max_z = float(np.max(z))
    K = int(mean.size)
    return InvarianceTest(mean, se, max_z, bonferroni_z(max_z, K) if np.isfinite(max_z) else np.inf,
                          float(np.max(np.abs(mean))), K, n_draws)


def output_invariance_test(family: NetworkFamily, points, R, n_draws: int, rng) -> InvarianceTest:
    """Test ``R^{(x)n} G^(n)(x_1..x_n) = G^(n)(x_1..x_n)`` for an output map ``R`` (``d_N x d_N``).

    Holds for orthogonal ``R`` when the last layer's law is centred and rotation invariant (iid
    zero-mean Gaussian ``W_N`` and ``b_N``): ``f -> R f`` is absorbed by ``W_N -> R W_N``.
    """
    if not isinstance(family, NetworkFamily):
        raise TypeError(f"family must be a NetworkFamily, got {type(family).__name__}")
    x = _check_points(points, family)
    D = family.widths[-1]
    R = np.asarray(R, dtype=float)
    if R.shape != (D, D) or not np.isfinite(R).all():
        raise ValueError(f"R must be a finite ({D}, {D}) matrix, got shape {R.shape}")
    (n_draws,) = check_options(n_draws=(n_draws, Rule.count(2, "a number of parameter draws, >= 2")))

    def diff(F):
        P = _outer(F)
        return P - _apply_rotation(P, R)

    mean, se = _run(family, x, n_draws, rng, diff)
    return _summarise(mean, se, n_draws)


def input_invariance_test(family: NetworkFamily, points, transform: Callable[[np.ndarray], np.ndarray],
                          n_draws: int, rng) -> InvarianceTest:
    """Test ``G^(n)(x_1..x_n) = G^(n)(T x_1, .., T x_n)`` for an input map ``T`` (rows of ``points``).

    Holds at every n for orthogonal ``T x = R x`` when the first layer's weights are iid centred
    Gaussian (``W_1 -> W_1 R`` has the same law), and for translations ``T x = x + c`` on the
    cos-net (uniform first bias, ``b_1 -> b_1 + W_1 c`` mod ``2 pi``). The Gauss-net's two-point
    function (an RBF kernel) is translation invariant too, its four-point function is not.
    """
    if not isinstance(family, NetworkFamily):
        raise TypeError(f"family must be a NetworkFamily, got {type(family).__name__}")
    x = _check_points(points, family)
    if not callable(transform):
        raise TypeError(f"transform must be callable, got {type(transform).__name__}")
    y = np.asarray(transform(x.copy()), dtype=float)
    if y.shape != x.shape or not np.isfinite(y).all():
        raise ValueError(f"transform must map points {x.shape} to finite points of the same shape, got {y.shape}")
    (n_draws,) = check_options(n_draws=(n_draws, Rule.count(2, "a number of parameter draws, >= 2")))
    n = x.shape[0]

    def diff(F):
        return _outer(F[:, :n, :]) - _outer(F[:, n:, :])

    mean, se = _run(family, x, n_draws, rng, diff, extra_points=y)
    return _summarise(mean, se, n_draws)
