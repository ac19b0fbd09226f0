"""SGD noise equilibria of exponential symmetries (docs/math section 6.2; Ziyin et al., NeurIPS 2024,
"Parameter symmetry and noise equilibrium of stochastic gradient descent", arXiv 2402.07193).

Setting
-------
A parameter vector ``theta`` in R^D, per-sample losses ``l(theta, x_k)`` (k = 1..n) and a symmetric
D x D matrix ``A`` with ``l(exp(s A) theta, x_k) = l(theta, x_k)`` for every s, theta and k. Then

* ``C(theta) = theta^T A theta`` is conserved by gradient flow: the symmetry gives
  ``grad l(theta)^T A theta = 0`` (differentiate in s at s = 0);
* per-sample gradients transform linearly along the orbit: differentiating the invariance in theta,
  ``grad l(exp(sA) theta) = exp(-sA) grad l(theta)`` (A symmetric);
* one plain (S)GD step ``theta' = (1 - eta lambda) theta - eta g`` on ANY minibatch (g its mean
  gradient) gives exactly ``C' = (1 - eta lambda)^2 C + eta^2 g^T A g`` (expand the quadratic form;
  the cross term is ``-2 eta (1 - eta lambda) g^T A theta = 0``);
* averaged over minibatches of size b drawn uniformly (with replacement: ``c_b = 1/b``; without
  replacement from n samples: ``c_b = (n - b) / (b (n - 1))``),
  ``E[C' - C] = eta^2 (gbar^T A gbar + c_b tr(A Sigma))`` with gbar the full-batch gradient and
  ``Sigma = (1/n) sum_k (g_k - gbar)(g_k - gbar)^T`` the per-sample gradient covariance. This is
  exact (it is ``E[g g^T] = gbar gbar^T + c_b Sigma``).

Noether flow. Per unit time ``t = eta * steps`` the mean drift is
``dC/dt = eta gbar^T A gbar + (eta / b) tr(A Sigma)``. The SDE model
``d theta = -grad L dt + sqrt(2 sigma^2 Sigma) dB`` with ``2 sigma^2 = eta / b`` keeps only the second
term, ``dC/dt = 2 sigma^2 tr(A Sigma)``: it applies near a minimum (``gbar ~ 0``) or when the noise
dominates (``b ||gbar||^2 << tr|A| Sigma``); elsewhere both terms are of the same order in eta and the
exact form (:func:`expected_step_change`, ``include_mean=True`` in :func:`noether_drift`) is needed.

The equilibrium on an orbit. Along ``theta(s) = exp(sA) theta_0`` write ``A = Q diag(a) Q^T`` and
``S = Q^T Sigma(theta_0) Q``. Since ``Sigma(theta(s)) = exp(-sA) Sigma(theta_0) exp(-sA)``::

    f(s) = tr(A Sigma(theta(s))) = sum_i a_i S_ii exp(-2 a_i s),
    f'(s) = -2 tr(A Sigma(theta(s)) A) = -2 sum_i a_i^2 S_ii exp(-2 a_i s) <= 0.

So f is non-increasing, strictly decreasing unless ``S_ii = 0`` for every ``a_i != 0``; it tends to
``-inf`` as s -> +inf iff some ``a_i < 0`` has ``S_ii > 0`` and to ``+inf`` as s -> -inf iff some
``a_i > 0`` has ``S_ii > 0``. Under these two conditions the orbit carries exactly one noise
equilibrium ``f(s*) = 0`` (the paper's Theorem: SGD noise drives C towards it); otherwise there is
none and :func:`orbit_equilibrium` says so.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import scipy.optimize

from ..core.options import Rule, check_options

__all__ = [
    "ExponentialSymmetry",
    "OrbitEquilibrium",
    "StepIdentity",
    "conserved_quantity",
    "expected_step_change",
    "gradient_covariance",
    "minibatch_factor",
    "noether_drift",
    "orbit_equilibrium",
    "sgd_step_identity",
]


def _vector(theta, D: int, name: str = "theta") -> np.ndarray:
    a = np.asarray(theta)
    if a.dtype == np.bool_ or not np.issubdtype(a.dtype, np.number) or np.iscomplexobj(a):
        raise TypeError(f"{name} must be a real numeric vector, got dtype {a.dtype}")
    a = np.array(a, dtype=np.float64).ravel() if a.ndim <= 1 else None
    if a is None:
        raise ValueError(f"{name} must be a 1-D vector of length {D}, got shape {np.shape(theta)}")
    if a.size != D:
        raise ValueError(f"{name} must have length {D} (the dimension of A), got {a.size}")
    if not np.isfinite(a).all():
        raise ValueError(f"{name} contains NaN or inf")
    return a


@dataclass(frozen=True)
class ExponentialSymmetry:
    """A per-sample loss with an exponential symmetry ``l(exp(sA) theta, x_k) = l(theta, x_k)``.

    Parameters
    ----------
    A : (D, D) array
        The symmetric generator (checked symmetric to ``1e-12 ||A||``; stored symmetrised, a copy).
    per_sample_grads : callable
        ``per_sample_grads(theta, idx) -> (len(idx), D)`` array: the gradients ``grad l(theta, x_k)``
        for the sample indices ``idx`` (an int array).
    n_samples : int
        The number of samples n of the dataset.
    name : str
        A label for messages.

    The symmetry itself is a property of the loss; :meth:`invariance_defect` measures it at a
    point (``max_k |g_k^T A theta| / (||g_k|| ||A theta||)``, zero to rounding when it holds).
    """

    A: np.ndarray
    per_sample_grads: Callable = field(repr=False)
    n_samples: int
    name: str = "loss"

    def __post_init__(self):
        A = np.asarray(self.A)
        if A.dtype == np.bool_ or not np.issubdtype(A.dtype, np.number) or np.iscomplexobj(A):
            raise TypeError(f"A must be a real numeric matrix, got dtype {A.dtype}")
        if A.ndim != 2 or A.shape[0] != A.shape[1] or A.shape[0] == 0:
            raise ValueError(f"A must be a non-empty square matrix, got shape {A.shape}")
        A = np.array(A, dtype=np.float64)
        if not np.isfinite(A).all():
            raise ValueError("A contains NaN or inf")
        scale = np.linalg.norm(A)
        if np.linalg.norm(A - A.T) > 1e-12 * scale:
            raise ValueError(f"A must be symmetric: ||A - A^T|| = {np.linalg.norm(A - A.T):.3g} > 1e-12 ||A||")
        object.__setattr__(self, "A", (A + A.T) / 2)
        if not callable(self.per_sample_grads):
            raise TypeError("per_sample_grads must be callable (theta, idx) -> (len(idx), D) array")
        (n,) = check_options(n_samples=(self.n_samples, Rule.count(1, "the number of samples")))
        object.__setattr__(self, "n_samples", n)

    @property
    def dim(self) -> int:
        return self.A.shape[0]

    def grads(self, theta, idx=None) -> np.ndarray:
        """Per-sample gradients at ``theta`` for ``idx`` (default: all samples), shape (len, D)."""
        theta = _vector(theta, self.dim)
        idx = np.arange(self.n_samples) if idx is None else np.asarray(idx, dtype=int).ravel()
        if idx.size and (idx.min() < 0 or idx.max() >= self.n_samples):
            raise ValueError(f"idx must lie in [0, {self.n_samples}), got range [{idx.min()}, {idx.max()}]")
        G = np.asarray(self.per_sample_grads(theta, idx), dtype=np.float64)
        if G.shape != (idx.size, self.dim):
            raise ValueError(f"per_sample_grads returned shape {G.shape}, expected {(idx.size, self.dim)}")
        return G

    def minibatch_grad(self, theta, idx) -> np.ndarray:
        """Mean gradient ``g = (1/b) sum_{k in idx} grad l(theta, x_k)`` of a minibatch."""
        return self.grads(theta, idx).mean(axis=0)

    def orbit_point(self, theta, s: float) -> np.ndarray:
        """``exp(sA) theta`` (through one eigendecomposition of A)."""
        theta = _vector(theta, self.dim)
        a, Q = np.linalg.eigh(self.A)
        return Q @ (np.exp(s * a) * (Q.T @ theta))

    def invariance_defect(self, theta) -> float:
        """``max_k |g_k^T A theta| / (||g_k|| ||A theta||)`` (0 where the symmetry holds)."""
        theta = _vector(theta, self.dim)
        G = self.grads(theta)
        At = self.A @ theta
        den = np.linalg.norm(G, axis=1) * np.linalg.norm(At)
        num = np.abs(G @ At)
        ok = den > 0
        return float(np.max(num[ok] / den[ok])) if ok.any() else 0.0


def conserved_quantity(sym: ExponentialSymmetry, theta) -> float:
    """``C = theta^T A theta``, conserved by gradient flow of any loss with the symmetry."""
    theta = _vector(theta, sym.dim)
    return float(theta @ sym.A @ theta)


@dataclass(frozen=True)
class StepIdentity:
    """One (S)GD step and the two sides of ``C' = (1 - eta lambda)^2 C + eta^2 g^T A g``.

    ``defect = |C'_measured - C'_predicted| / scale`` with ``scale = ||A||_2 (||theta||^2 +
    ||theta'||^2 + eta^2 ||g||^2)``, the size of the rounding in forming the quadratic forms.
    """

    theta_next: np.ndarray
    C: float
    C_next: float
    C_next_predicted: float
    scale: float
    defect: float


def sgd_step_identity(sym: ExponentialSymmetry, theta, idx, eta: float, weight_decay: float = 0.0) -> StepIdentity:
    """Take ``theta' = (1 - eta lambda) theta - eta g`` (g the mean gradient of minibatch ``idx``)
    and return both sides of the exact identity ``C' = (1 - eta lambda)^2 C + eta^2 g^T A g``.

    The identity holds for every minibatch because ``g^T A theta = 0`` for each per-sample gradient
    (no momentum, no noise injected outside the gradient). docs/math section 6.2.
    """
    eta, lam = check_options(eta=(eta, Rule.positive("the step size")),
                             weight_decay=(weight_decay, Rule.nonnegative("the weight-decay coefficient")))
    theta = _vector(theta, sym.dim)
    g = sym.minibatch_grad(theta, idx)
    nxt = (1.0 - eta * lam) * theta - eta * g
    A = sym.A
    C, C1 = float(theta @ A @ theta), float(nxt @ A @ nxt)
    pred = (1.0 - eta * lam) ** 2 * C + eta**2 * float(g @ A @ g)
    scale = np.linalg.norm(A, 2) * (theta @ theta + nxt @ nxt + eta**2 * (g @ g))
    defect = abs(C1 - pred) / scale if scale > 0 else abs(C1 - pred)
    return StepIdentity(nxt, C, C1, float(pred), float(scale), float(defect))


def gradient_covariance(sym: ExponentialSymmetry, theta) -> tuple[np.ndarray, np.ndarray]:
    """``(gbar, Sigma)``: the full-batch gradient and the per-sample gradient covariance
    ``Sigma(theta) = (1/n) sum_k (g_k - gbar)(g_k - gbar)^T`` (population normalisation)."""
    G = sym.grads(theta)
    gbar = G.mean(axis=0)
    Z = G - gbar
    return gbar, Z.T @ Z / sym.n_samples


def minibatch_factor(n: int, batch: int, replace: bool = True) -> float:
    """``c_b`` in ``E[g g^T] = gbar gbar^T + c_b Sigma`` for uniform minibatches of size ``batch``:
    ``1/b`` with replacement (b i.i.d. indices), ``(n - b) / (b (n - 1))`` without (uniform b-subsets)."""
    n, b = check_options(n=(n, Rule.count(1, "the number of samples")), batch=(batch, Rule.count(1, "the batch size")))
    (replace,) = check_options(replace=(replace, Rule.flag("sampling with replacement")))
    if replace:
        return 1.0 / b
    if b > n:
        raise ValueError(f"batch = {b} exceeds n = {n} for sampling without replacement")
    return 0.0 if n == 1 else (n - b) / (b * (n - 1))


def expected_step_change(sym: ExponentialSymmetry, theta, eta: float, batch: int, replace: bool = True) -> dict:
    """Exact mean one-step change of C over uniform minibatches (no weight decay):

    ``E[C' - C] = eta^2 E[g^T A g] = eta^2 (gbar^T A gbar + c_b tr(A Sigma))``.

    Returns a dict with ``total``, ``mean_term = eta^2 gbar^T A gbar`` and
    ``noise_term = eta^2 c_b tr(A Sigma)``.
    """
    (eta,) = check_options(eta=(eta, Rule.positive("the step size")))
    gbar, Sigma = gradient_covariance(sym, theta)
    c = minibatch_factor(sym.n_samples, batch, replace)
    mean_term = eta**2 * float(gbar @ sym.A @ gbar)
    noise_term = eta**2 * c * float(np.sum(sym.A * Sigma))
    return {"total": mean_term + noise_term, "mean_term": mean_term, "noise_term": noise_term}


def noether_drift(sym: ExponentialSymmetry, theta, eta: float, batch: int, include_mean: bool = False) -> float:
    """Drift of C per unit time ``t = eta * steps`` (the "Noether flow").

    ``include_mean=False``: the SDE form ``dC/dt = 2 sigma^2 tr(A Sigma(theta))``, ``2 sigma^2 = eta/b``
    (valid near a minimum, where ``gbar ~ 0``). ``include_mean=True``: the exact mean drift of
    discrete SGD with replacement, ``eta gbar^T A gbar + (eta/b) tr(A Sigma)``.
    """
    (eta,) = check_options(eta=(eta, Rule.positive("the step size")))
    (include_mean,) = check_options(include_mean=(include_mean, Rule.flag("keep the eta gbar^T A gbar term")))
    (b,) = check_options(batch=(batch, Rule.count(1, "the batch size")))
    gbar, Sigma = gradient_covariance(sym, theta)
    drift = eta / b * float(np.sum(sym.A * Sigma))
    if include_mean:
        drift += eta * float(gbar @ sym.A @ gbar)
    return drift


def _noise_trace(sym: ExponentialSymmetry, theta) -> tuple[float, float]:
    """``(tr(A Sigma), tr(|A| Sigma))`` at theta (the second is the scale of the first)."""
    _, Sigma = gradient_covariance(sym, theta)
    a, Q = np.linalg.eigh(sym.A)
    S = np.einsum("ki,kl,li->i", Q, Sigma, Q)
    return float(a @ S), float(np.abs(a) @ S)


@dataclass(frozen=True)
class OrbitEquilibrium:
    """The noise equilibrium ``theta* = exp(s* A) theta_0`` with ``tr(A Sigma(theta*)) = 0``."""

    s: float
    theta: np.ndarray
    residual: float
    relative_residual: float
    evaluations: int
    converged: bool
    message: str


def orbit_equilibrium(sym: ExponentialSymmetry, theta0, *, rtol: float = 1e-12, max_expansions: int = 60,
                      maxiter: int = 200) -> OrbitEquilibrium:
    """Find the unique ``s*`` with ``tr(A Sigma(exp(s* A) theta_0)) = 0`` by bracketing and Brent.

    ``f(s) = tr(A Sigma(exp(sA) theta_0))`` is non-increasing (module docstring:
    ``f'(s) = -2 tr(A Sigma A) <= 0``), so the bracket is grown geometrically from
    ``[-h, h]``, ``h = 1 / max|a_i|``, to the side where f has the opposite sign of ``f(0)``
    (at most ``max_expansions`` doublings; the exponentials are capped at ``|s| max|a| <= 300``),
    and ``scipy.optimize.brentq`` refines it to ``xtol = rtol max(1, |s|)``. f is evaluated from
    the per-sample gradients at each orbit point (not through the transformation law).

    ``converged`` is True when Brent converged and the output is finite; when f does not change
    sign (no noise in one of A's signed eigenspaces: no equilibrium on this orbit) it is False with
    the reason.
    """
    rtol, max_expansions, maxiter = check_options(
        rtol=rtol, max_expansions=(max_expansions, Rule.count(1, "a bracket-doubling cap")),
        maxiter=(maxiter, Rule.count(1)))
    theta0 = _vector(theta0, sym.dim, "theta0")
    a, Q = np.linalg.eigh(sym.A)
    amax = float(np.max(np.abs(a)))
    coords = Q.T @ theta0
    count = [0]

    def point(s):
        return Q @ (np.exp(s * a) * coords)

    def f(s):
        count[0] += 1
        return _noise_trace(sym, point(s))[0]

    def result(s, conv, msg):
        th = point(s)
        val, sc = _noise_trace(sym, th) if np.isfinite(th).all() else (np.nan, np.nan)
        rel = abs(val) / sc if sc > 0 else abs(val)
        ok = bool(conv and np.isfinite(th).all() and np.isfinite(val))
        return OrbitEquilibrium(float(s), th, float(val), float(rel), count[0], ok, msg)

    if amax == 0:
        return result(0.0, False, "A = 0: every point is fixed, tr(A Sigma) = 0 trivially; no orbit to search")
    f0 = f(0.0)
    if f0 == 0.0:
        _, Sigma0 = gradient_covariance(sym, theta0)
        if np.sum((sym.A @ Sigma0) * sym.A.T) == 0.0:  # tr(A Sigma A) = 0: f vanishes on the whole orbit
            return result(0.0, True, "tr(A Sigma) vanishes on the whole orbit (no gradient noise along A): "
                                     "every orbit point is an equilibrium; returned theta_0")
        return result(0.0, True, "theta_0 is already an equilibrium (tr(A Sigma) = 0 exactly)")
    direction = 1.0 if f0 > 0 else -1.0  # f decreases: go right if f(0) > 0
    h, s_in = 1.0 / amax, 0.0
    cap = 300.0 / amax
    for _ in range(max_expansions):
        s_out = direction * min(h, cap)
        v = f(s_out)
        if np.sign(v) != np.sign(f0):
            break
        s_in = s_out
        if h >= cap:
            return result(s_in, False, f"f = tr(A Sigma) keeps the sign of f(0) = {f0:.3g} up to |s| max|a| = 300: "
                                       "no equilibrium on this orbit (the noise misses one signed eigenspace of A)")
        h *= 2.0
    else:
        return result(s_in, False, f"no sign change of tr(A Sigma) within {max_expansions} bracket doublings")
    lo, hi = sorted((s_in, s_out))
    try:
        s_star, info = scipy.optimize.brentq(f, lo, hi, xtol=rtol * max(1.0, abs(lo), abs(hi)),
                                             rtol=4 * np.finfo(float).eps, maxiter=maxiter, full_output=True,
                                             disp=False)
    except ValueError as exc:  # f not finite at an end point
        return result(s_in, False, f"brentq failed: {exc}")
    conv = bool(info.converged)
    msg = (f"brentq converged in {info.iterations} iterations on [{lo:.6g}, {hi:.6g}]" if conv
           else f"brentq stopped: {info.flag} after {info.iterations} iterations (maxiter = {maxiter})")
    return result(s_star, conv, msg)
