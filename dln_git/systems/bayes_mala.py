"""Posterior sampling on the weights by a Metropolis-adjusted Langevin algorithm (docs/math section 5).

Target: ``pi(W) ∝ exp(-beta E(phi(W)) - lam R(W))`` with a Gaussian likelihood, i.e. a loss whose
gradient is affine in X, ``grad E(X) = X M + G_0`` (``SquaredDistance``: ``M = I``;
``LinearRegression``: ``M = A A^* / n``), identified from the loss and checked at a probe point.

MALA with step h: propose ``W' = W + (h/2) grad log pi(W) + sqrt(h) xi`` (``xi`` standard normal),
accept with probability ``min(1, pi(W') q(W | W') / (pi(W) q(W' | W)))``,
``q(W' | W) ∝ exp(-||W' - W - (h/2) grad log pi(W)||^2 / 2h)``. Many chains run in one batch of
matrix products. During burn-in only, ``log h`` follows a Robbins–Monro recursion towards the
mean acceptance probability ``target_acceptance`` (0.574, optimal for MALA); afterwards h is frozen,
so the kept samples come from an exact Metropolis–Hastings chain for ``pi``.

Concentration on the balanced manifold. When the likelihood pins X, the posterior restricted to a
fiber is ``∝ exp(-lam R)`` on it; near its balanced point R grows quadratically in the gauge
directions with Hessian ``2 lam A_W^* A_W`` (docs/math section 3), so the gauge displacement is of order
``lam^{-1/2}`` and so is ``||mu|| / 2R`` (``d mu = 2 Herm(A_W^* A_W s)``): the median of
``||mu|| / 2R`` over the posterior falls like ``lam^{-1/2}`` (e.g. N = 2 scalars pinned at x:
``mu / 2R = tanh(u)`` with ``u`` of density ``∝ exp(-lam |x| cosh u)``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.integrate
import scipy.linalg
import scipy.optimize
import scipy.special

from ..core.gauge import gauge_act
from ..core.linalg import pack
from ..core.moment_map import regularizer
from ..core.options import Rule, check_options
from ..core.validation import as_weights, as_widths, widths_of
from ..core.weights import as_rng
from ..decomposition.losses import as_loss
from .bayes import DATA_WEIGHT, PRIOR_PRECISION, map_estimate

__all__ = [
    "ConcentrationTrend",
    "PosteriorSample",
    "gaussian_likelihood",
    "posterior_concentration",
    "sample_posterior",
    "scalar_posterior_ratio_quantile",
    "split_rhat",
]


def gaussian_likelihood(loss, shape) -> tuple[float, np.ndarray, np.ndarray]:
    """``(E_0, G_0, M)`` with ``E(X) = E_0 + <G_0, X> + 1/2 <X M, X>`` and ``grad E(X) = X M + G_0``.

    Read from the loss (``E(0)``, ``grad E(0)`` and ``grad E`` at ``d_0`` unit rows), then checked
    at a probe point: a ``ValueError`` if the loss is not of this form (e.g. matrix sensing).
    """
    loss = as_loss(loss, shape)
    d_in = loss.shape[1]
    E0, G0 = loss(np.zeros(loss.shape))
    if np.iscomplexobj(G0):
        raise ValueError("the sampler works with real weights: the loss has complex data")
    M = np.empty((d_in, d_in))
    for j in range(d_in):
        X = np.zeros(loss.shape)
        X[0, j] = 1.0
        M[j] = loss(X)[1][0] - G0[0]
    probe = np.random.default_rng(12345).standard_normal(loss.shape)
    E, G = loss(probe)
    E_model = E0 + np.sum(G0 * probe) + 0.5 * np.sum((probe @ M) * probe)
    G_model = probe @ M + G0
    scale = abs(E0) + abs(E) + np.linalg.norm(G0) + np.linalg.norm(G) + np.linalg.norm(M)
    if (np.iscomplexobj(G) or abs(E - E_model) > 1e-9 * scale or np.linalg.norm(G - G_model) > 1e-9 * scale
            or np.linalg.norm(M - M.T) > 1e-9 * scale):
        raise ValueError("the sampler needs a Gaussian likelihood: E(X) quadratic with grad E(X) = X M + G_0, "
                         "M symmetric (SquaredDistance, LinearRegression); this loss is not of that form")
    return float(E0), np.array(G0, dtype=float), 0.5 * (M + M.T)


class _Target:
    """``log pi`` and its gradient for a batch of chains, weights of shape ``(C, d_i, d_{i-1})``."""

    def __init__(self, E0, G0, M, lam, beta):
        self.E0, self.G0, self.M, self.lam, self.beta = E0, G0, M, lam, beta

    def __call__(self, W):
        F = [W[0]]
        for Wj in W[1:]:
            F.append(Wj @ F[-1])
        X = F[-1]
        XM = X @ self.M
        E = self.E0 + np.einsum("cij,ij->c", X, self.G0) + 0.5 * np.einsum("cij,cij->c", XM, X)
        R = 0.5 * sum(np.einsum("cij,cij->c", w, w) for w in W)
        Z = XM + self.G0
        grad = [None] * len(W)
        for j in range(len(W), 0, -1):  # grad_j = (W_N..W_{j+1})^T Z (W_{j-1}..W_1)^T
            grad[j - 1] = Z if j == 1 else Z @ np.swapaxes(F[j - 2], 1, 2)
            if j > 1:
                Z = np.swapaxes(W[j - 1], 1, 2) @ Z
        logp = -(self.beta * E + self.lam * R)
        return logp, [-(self.beta * g + self.lam * w) for g, w in zip(grad, W, strict=True)], E, R


def _balance_ratios(W, R):
    mu2 = sum(np.sum((W[i] @ np.swapaxes(W[i], 1, 2) - np.swapaxes(W[i + 1], 1, 2) @ W[i + 1]) ** 2, axis=(1, 2))
              for i in range(len(W) - 1))
    return np.where(R > 0, np.sqrt(mu2) / np.where(R > 0, 2 * R, 1.0), 0.0)


def split_rhat(draws: np.ndarray) -> float:
    """Split R-hat (Gelman et al.) of ``draws`` of shape ``(n, chains)``: ~1 for mixed chains."""
    n = draws.shape[0] // 2
    halves = np.concatenate([draws[:n], draws[n: 2 * n]], axis=1)
    within = np.mean(np.var(halves, axis=0, ddof=1))
    between = n * np.var(np.mean(halves, axis=0), ddof=1)
    if within == 0:
        return 1.0 if between == 0 else np.inf
    return float(np.sqrt(((n - 1) / n * within + between / n) / within))


@dataclass(frozen=True)
class PosteriorSample:
    """Draws of a MALA run (after burn-in), arrays of shape ``(n_samples, chains)``.

    Attributes
    ----------
    balance_ratios, regularizer, data_loss : ndarray
        ``||mu|| / 2R``, ``R`` and ``E(X)`` at each kept draw.
    weights : tuple of ndarray or None
        Layer ``i`` of every kept draw, shape ``(n_samples, chains, d_i, d_{i-1})`` (``record_weights``).
    last : tuple of ndarray
        The final state, one ``(chains, d_i, d_{i-1})`` array per layer.
    acceptance_rate : float
        Fraction of accepted proposals after burn-in (step frozen).
    step : float
        The frozen step h.
    rhat : float
        Split R-hat of the balance ratios across chains.
    converged : bool
        Finite draws and ``rhat <= max_rhat``; otherwise ``message`` says which failed.
    """

    balance_ratios: np.ndarray
    regularizer: np.ndarray
    data_loss: np.ndarray
    weights: tuple[np.ndarray, ...] | None
    last: tuple[np.ndarray, ...]
    acceptance_rate: float
    step: float
    rhat: float
    converged: bool
    message: str

    @property
    def median_balance_ratio(self) -> float:
        """Median of ``||mu|| / 2R`` over all kept draws of all chains."""
        return float(np.median(self.balance_ratios))


def sample_posterior(loss, widths, lam, rng=None, *, data_weight: float = 1.0, chains: int = 16,
                     n_samples: int = 1000, burn_in: int = 2000, thin: int = 1, step: float | None = None,
                     target_acceptance: float = 0.574, init=None, init_spread: float | None = None,
                     max_rhat: float = 1.05, record_weights: bool = False) -> PosteriorSample:
    """MALA on W for ``pi(W) ∝ exp(-beta E(phi(W)) - lam R(W))`` (real weights, Gaussian likelihood).

    Parameters
    ----------
    loss : SquaredDistance, LinearRegression, or any loss with ``grad E(X) = X M + G_0``
        The negative log-likelihood up to the factor ``beta = data_weight``.
    widths : sequence of int
        ``(d_0, ..., d_N)``.
    lam : float
        Prior precision, > 0.
    rng : None, int or numpy.random.Generator
        The only source of randomness (starts, proposals, accept draws).
    chains, n_samples, burn_in, thin : int
        Chains run together; draws kept per chain; burn-in steps (step adaptation happens only
        here); steps between kept draws.
    step : float or None
        Initial step h (None: ``1 / (lam + beta ||M||_2)``), adapted during burn-in.
    target_acceptance : float
        Mean acceptance probability the burn-in adaptation aims at.
    init : weights or None
        The point the chains start around (None: a MAP estimate, :func:`map_estimate`, one start).
    init_spread : float or None
        Chain c starts at ``g_c.init`` with ``g_{c,i} = expm(init_spread S_{c,i})``, ``S`` Gaussian
        with entries of variance ``1/d_i``: same X, overdispersed along the fiber (so that R-hat
        can see unmixed chains). None: ``min(0.5, 2 / sqrt(2 lam R(init)))``, about two posterior
        standard deviations of the gauge (R grows like ``R(init) |s|^2`` along the orbit). Chains
        started far out in the tails stall (reported): the quartic growth of ``beta E(phi(W))``
        makes MALA non-geometric there.
    max_rhat : float
        ``converged`` requires the split R-hat of the balance ratios to be at most this.
    record_weights : bool
        Keep every kept draw (memory ``n_samples * chains * sum d_i d_{i-1}`` floats).
    """
    widths = as_widths(widths)
    lam, beta, record_weights = check_options(lam=(lam, PRIOR_PRECISION), data_weight=(data_weight, DATA_WEIGHT),
                                              record_weights=record_weights)
    chains, n_samples, burn_in, thin = check_options(
        chains=(chains, Rule.count(2, "the number of chains (R-hat needs two)")),
        n_samples=(n_samples, Rule.count(4, "the draws kept per chain")),
        burn_in=(burn_in, Rule.count(1, "the burn-in steps")), thin=(thin, Rule.count(1, "the thinning")))
    step, target, init_spread, max_rhat = check_options(
        step=step, target_acceptance=(target_acceptance, Rule.relative_tolerance("a mean acceptance probability")),
        init_spread=(init_spread, Rule.nonnegative("the spread of the random gauge of the starts", allow_none=True)),
        max_rhat=(max_rhat, Rule("real", 1.0, None, low_open=True, what="an R-hat threshold, > 1")))
    E0, G0, M = gaussian_likelihood(loss, (widths[-1], widths[0]))
    target_fn = _Target(E0, G0, M, lam, beta)
    rng = as_rng(rng)
    if init is None:
        mode = map_estimate(loss, widths, lam, rng, starts=1, data_weight=beta, rtol=1e-6)
        if not np.all(np.isfinite(pack(mode.weights))):
            raise ValueError(f"could not find a posterior mode to start the chains from: {mode.message}")
        init = mode.weights
    else:
        init = as_weights(init, "init")
        if widths_of(init) != widths:
            raise ValueError(f"init has widths {widths_of(init)}, expected {widths}")
        if np.iscomplexobj(init[0]):
            raise ValueError("init must be real (the sampler works with real weights)")
    if init_spread is None:  # two posterior standard deviations along the orbit, at most 0.5
        r0 = regularizer(init)
        init_spread = 0.5 if r0 == 0 else min(0.5, 2.0 / np.sqrt(2.0 * lam * r0))
    W = [np.empty((chains, *w.shape)) for w in init]
    for c in range(chains):  # overdispersed along the fiber of init: a random gauge g = expm(spread S)
        g = [scipy.linalg.expm(init_spread * rng.standard_normal((d, d)) / np.sqrt(d)) for d in widths[1:-1]]
        for i, w in enumerate(gauge_act(g, init)):
            W[i][c] = w
    h = 1.0 / (lam + beta * np.linalg.norm(M, 2)) if step is None else step
    logp, grad, E, R = target_fn(W)
    kept = {"ratio": [], "R": [], "E": [], "W": []}
    accepted = np.zeros(chains)
    total_steps = burn_in + n_samples * thin
    for k in range(total_steps):
        noise = [rng.standard_normal(w.shape) for w in W]
        prop = [w + 0.5 * h * g + np.sqrt(h) * z for w, g, z in zip(W, grad, noise, strict=True)]
        logp_p, grad_p, E_p, R_p = target_fn(prop)
        fwd = sum(np.sum(z**2, axis=(1, 2)) for z in noise) / 2  # -log q(W'|W), up to constants
        back = sum(np.sum((w - p - 0.5 * h * gp) ** 2, axis=(1, 2))
                   for w, p, gp in zip(W, prop, grad_p, strict=True)) / (2 * h)
        with np.errstate(over="ignore", invalid="ignore"):
            log_alpha = logp_p - logp - back + fwd
        log_alpha = np.where(np.isfinite(log_alpha), log_alpha, -np.inf)
        accept = np.log(rng.random(chains)) < log_alpha
        for i in range(len(W)):
            W[i] = np.where(accept[:, None, None], prop[i], W[i])
            grad[i] = np.where(accept[:, None, None], grad_p[i], grad[i])
        logp, E, R = (np.where(accept, a, b) for a, b in ((logp_p, logp), (E_p, E), (R_p, R)))
        if k < burn_in:
            mean_alpha = float(np.mean(np.exp(np.minimum(log_alpha, 0.0))))
            h *= np.exp((mean_alpha - target) / (k + 1) ** 0.6)
            continue
        accepted += accept
        if (k - burn_in + 1) % thin == 0:
            kept["ratio"].append(_balance_ratios(W, R))
            kept["R"].append(R.copy())
            kept["E"].append(E.copy())
            if record_weights:
                kept["W"].append([w.copy() for w in W])
    ratios = np.array(kept["ratio"])
    weights = tuple(np.stack([draw[i] for draw in kept["W"]]) for i in range(len(W))) if record_weights else None
    per_chain = accepted / (n_samples * thin)
    rate = float(np.mean(per_chain))
    rhat = split_rhat(ratios)
    problems = []
    if not (np.all(np.isfinite(ratios)) and np.all(np.isfinite(R))):
        problems.append("non-finite draws")
    stalled = np.flatnonzero(per_chain < 0.1 * target)
    if stalled.size:
        problems.append(f"chains {stalled.tolist()} accepted under {0.1 * target:.3f} of their proposals (stalled)")
    if not rhat <= max_rhat:
        problems.append(f"split R-hat of ||mu||/2R is {rhat:.3f} > {max_rhat} (chains not mixed: longer burn-in "
                        "or more draws)")
    message = (f"acceptance {rate:.3f} at frozen step {h:.3e}; R-hat {rhat:.3f}"
               + ("" if not problems else "; " + "; ".join(problems)))
    return PosteriorSample(ratios, np.array(kept["R"]), np.array(kept["E"]), weights, tuple(w.copy() for w in W),
                           float(rate), float(h), rhat, not problems, message)


@dataclass(frozen=True)
class ConcentrationTrend:
    """Median ``||mu|| / 2R`` of the posterior at each prior precision, and the fitted power law.

    ``slope`` and ``intercept`` fit ``log median = intercept + slope log lam`` (least squares);
    the prediction when the likelihood pins X is ``slope = -1/2``.
    """

    lams: np.ndarray
    medians: np.ndarray
    slope: float
    intercept: float
    samples: tuple[PosteriorSample, ...]
    converged: bool
    message: str


def posterior_concentration(loss, widths, lams, rng=None, **sampler_options) -> ConcentrationTrend:
    """:func:`sample_posterior` at each prior precision in ``lams`` (one generator, in order) and the trend."""
    lams = np.asarray(lams, dtype=float)
    if lams.ndim != 1 or lams.size < 2 or not np.all(np.isfinite(lams)) or np.any(lams <= 0):
        raise ValueError(f"lams must be at least two finite positive prior precisions, got {lams!r}")
    rng = as_rng(rng)
    samples = tuple(sample_posterior(loss, widths, lam, rng, **sampler_options) for lam in lams)
    medians = np.array([s.median_balance_ratio for s in samples])
    slope, intercept = np.polyfit(np.log(lams), np.log(medians), 1)
    bad = [f"lam = {lam:g}: {s.message}" for lam, s in zip(lams, samples, strict=True) if not s.converged]
    message = "every run converged" if not bad else "; ".join(bad)
    return ConcentrationTrend(lams, medians, float(slope), float(intercept), samples, not bad, message)


# ----------------------------------------------------------------------------------------------
# exact reference: N = 2 scalar layers


def _log_half_line(a: float, shift: float, beta_y2: float) -> float:
    """``shift + log Phi(a)`` where ``shift = a^2/2 - beta y^2/2``, without overflow or cancellation.

    For ``a < 0`` through ``Phi(a) = erfcx(-a/sqrt 2) e^{-a^2/2} / 2`` (the a^2/2 cancels exactly);
    for ``a >= 0`` directly (``log Phi(a)`` is small and ``shift`` is a moderate number).
    """
    if a < 0:
        return float(-0.5 * beta_y2 + np.log(0.5 * scipy.special.erfcx(-a / np.sqrt(2.0))))
    return float(shift + scipy.special.log_ndtr(a))


def _log_fiber_marginal(u: float, y: float, lam: float, beta: float) -> float:
    """``log int exp(-beta/2 (x - y)^2 - c |x|) dx`` up to a constant, ``c = lam cosh u``, y >= 0.

    Completing the square on each half line gives ``sqrt(2 pi / beta) Phi(a_pm) e^{c^2/(2 beta) -+ c y}``
    with ``a_pm = (±y - c/beta) sqrt(beta)``.
    """
    c = lam * np.cosh(u)
    rb = np.sqrt(beta)
    by2 = beta * y * y
    positive = _log_half_line((y - c / beta) * rb, c * c / (2 * beta) - c * y, by2)
    negative = _log_half_line(-(y + c / beta) * rb, c * c / (2 * beta) + c * y, by2)
    return float(np.logaddexp(positive, negative))


def scalar_posterior_ratio_quantile(q, y, lam, data_weight: float = 1.0) -> float:
    """Quantile ``q`` of ``|mu| / 2R`` under the posterior of two scalar layers, by quadrature.

    Posterior ``∝ exp(-beta/2 (w_1 w_2 - y)^2 - lam (w_1^2 + w_2^2)/2)``. In fiber coordinates
    ``w_1 = ±sqrt|x| e^{u/2}``, ``w_2 = ±sqrt|x| e^{-u/2}`` (area element ``dx du / 2``) it is
    ``∝ exp(-beta/2 (x - y)^2 - lam |x| cosh u)`` and ``|mu| / 2R = |tanh u|``; the x-integral is
    closed form (two ``erfc`` terms), the u-quantile by quadrature and root finding.
    """
    (lam,) = check_options(lam=(lam, PRIOR_PRECISION))
    beta, q = check_options(data_weight=(data_weight, DATA_WEIGHT), q=(q, Rule.relative_tolerance("a probability")))
    y = abs(float(y))
    if not np.isfinite(y):
        raise ValueError(f"y must be finite, got {y}")
    log0 = _log_fiber_marginal(0.0, y, lam, beta)

    def density(u):
        return np.exp(_log_fiber_marginal(u, y, lam, beta) - log0)

    # beyond |u| = 50 the density is below e^{-50} of its values near the peak (it decays at
    # least like 1/cosh u): the truncation is far below the quadrature tolerance. The peak has
    # width about w = 1/sqrt(lam (y + beta^{-1/2})): break points at multiples of w.
    w = 1.0 / np.sqrt(lam * (y + 1.0 / np.sqrt(beta)))

    def mass(m):
        points = [p for p in (w, 3 * w, 10 * w, 30 * w) if p < m]
        return scipy.integrate.quad(density, 0.0, m, points=points or None, epsabs=1e-14 * w, epsrel=1e-10,
                                    limit=400)[0]

    total = mass(50.0)
    root = scipy.optimize.brentq(lambda m: mass(m) - q * total, 0.0, 50.0, xtol=1e-14, rtol=1e-11)
    return float(np.tanh(root))
