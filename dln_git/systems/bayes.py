"""Bayesian readings of balancedness (docs/math section 5): Gaussian priors on the layers.

Independent priors ``W_i ~ exp(-lam ||W_i||^2 / 2)`` make ``lam R(W)`` (``R = 1/2 sum ||W_i||^2``)
the negative log-prior. With a likelihood ``exp(-beta E(X))`` that depends on ``X = phi(W)`` alone
the negative log-posterior is

    ``f(W) = beta E(phi(W)) + lam R(W)``,  ``grad f = beta dphi_W^*(grad E(X)) + lam W``.

MAP (:func:`map_estimate`). Since ``A_W^*(dphi_W^*(Z)) = 0`` for every Z (Noether, docs/math section 4),
``A_W^*(grad f) = lam A_W^*(W) = lam mu(W)``: **every** stationary point of f is balanced, and
at an approximate one ``||mu|| <= ||A_W^*(grad f)|| / lam``. The MAP minimises R on its own fiber.

Induced prior on X (:func:`product_prior_density` and kin). For N = 2 scalar layers,
``x = w_1 w_2`` with ``w_i ~ N(0, 1/lam)`` has the exact density ``p(x) = (lam/pi) K_0(lam |x|)``.
For N scalar layers the coarea integral over the fiber, in logarithmic coordinates
``w_i = +-exp(u_i)`` with ``sum_i u_i = log|x|``, is

    ``p(x) = 2^{N-1} (lam / 2 pi)^{N/2} int_{R^{N-1}} exp(-(lam/2) sum_i e^{2 u_i}) du_1..du_{N-1}``

(the Jacobian of the fiber parametrisation cancels ``1/|grad phi|`` exactly). Laplace's method
at the balanced point ``u_i = log|x| / N`` (quadratic form ``z (I + 1 1^T)``, determinant N,
``z = lam |x|^{2/N}``) gives the leading order

    ``p_L(x) = 2^{N-1} (lam/2pi)^{N/2} pi^{(N-1)/2} z^{-(N-1)/2} N^{-1/2} exp(-lam (N/2) |x|^{2/N})``,

whose exponent is ``-lam min_{F_x} R`` (the trace formula of docs/math section 5). The ratio ``p/p_L``
depends on z alone and tends to 1 as ``1 - (N^2 - 1)/(12 N z) + O(z^-2)`` (second-order Laplace:
the quartic term ``-(1/3) z E sum t_i^4`` and the squared cubic term ``(2/9) z^2 E (sum t_i^3)^2``
under ``t ~ N(0, P/(2z))``, P the projection onto ``sum t_i = 0``); for N = 2 it is
``sqrt(2z/pi) e^z K_0(z) = 1 - 1/(8z) + O(z^-2)``.
The posterior sampler is in :mod:`dln_git.systems.bayes_mala`.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

import numpy as np
import scipy.integrate
import scipy.optimize
import scipy.special
import scipy.stats

from ..core.gauge import infinitesimal_action_adjoint
from ..core.linalg import pack, unpack
from ..core.moment_map import _moment_norm, _regularizer
from ..core.options import Rule, check_options
from ..core.scaling import normalized, safe_norm
from ..core.validation import as_weights, as_widths
from ..core.weights import as_rng, random_weights
from ..decomposition.gradient import loss_value_and_gradient
from ..decomposition.losses import as_loss

__all__ = [
    "MapResult",
    "ProductPriorTest",
    "balance_ratio",
    "laplace_density",
    "laplace_log_density",
    "laplace_ratio",
    "map_estimate",
    "product_prior_cdf",
    "product_prior_density",
    "product_prior_log_density",
    "product_prior_test",
    "sample_product_prior",
    "scalar_fiber_density",
]

#: Rules of the options of this module that are not package-wide.
PRIOR_PRECISION = Rule.positive("the prior precision lam > 0 (a proper Gaussian prior)")
DATA_WEIGHT = Rule.positive("the weight beta > 0 of the negative log-likelihood beta E(X)")
STARTS = Rule.count(1, "the number of random starts")
SIGNIFICANCE = Rule.relative_tolerance("a significance level, in (0, 1)")
SCALAR_DEPTH = Rule.choice(2, 3, what="the depth N of the scalar network (fiber quadrature in N - 1 dimensions)")


def balance_ratio(W) -> float:
    """``||mu(W)|| / (2 R(W)) = ||mu|| / sum_i ||W_i||^2`` (0 at W = 0, which is balanced).

    The scale-free distance to the balanced manifold used by :func:`dln_git.core.is_balanced`.
    """
    Wn, _ = normalized(as_weights(W))  # the ratio is scale-free: evaluate at scale 1
    r = _regularizer(Wn)
    return 0.0 if r == 0.0 else _moment_norm(Wn) / (2.0 * r)


# ----------------------------------------------------------------------------------------------
# MAP


@dataclass(frozen=True)
class MapResult:
    """MAP estimates of ``f(W) = beta E(phi(W)) + lam R(W)`` from several random starts.

    Attributes
    ----------
    weights : tuple of ndarray
        The optimum with the smallest objective among the converged starts (among all starts if
        none converged).
    objective : float
        ``f`` at ``weights``.
    objectives, balance_ratios, gradient_ratios, mu_bounds : ndarray, one entry per start
        ``f``; ``||mu|| / 2R``; ``||grad f|| / (beta ||dphi^* grad E|| + lam ||W||)`` (the relative
        stationarity); ``||A_W^*(grad f)|| / (2 lam R)``, the bound on ``||mu|| / 2R`` implied by the
        identity ``A_W^*(grad f) = lam mu`` (equal to ``balance_ratios`` up to rounding).
    converged_starts : ndarray of bool
        Whether each start reached ``gradient_ratio <= rtol`` with finite values.
    converged : bool
        Every start converged.
    message : str
        What happened, naming the starts that did not converge.
    """

    weights: tuple[np.ndarray, ...]
    objective: float
    objectives: np.ndarray
    balance_ratios: np.ndarray
    gradient_ratios: np.ndarray
    mu_bounds: np.ndarray
    converged_starts: np.ndarray
    converged: bool
    message: str

    @property
    def balance_ratio(self) -> float:
        """``||mu|| / 2R`` at :attr:`weights`."""
        return balance_ratio(self.weights)


class _Stop(Exception):
    pass


def _stationarity(W, loss, lam, beta):
    """``(f, grad f, relative stationarity)`` with ``f = beta (E + (lam/beta) R)``."""
    lg = loss_value_and_gradient(W, loss, lam / beta)
    grad = tuple(beta * g for g in lg.grad)
    scale = beta * safe_norm(lg.grad_data) + lam * safe_norm(W)
    g = safe_norm(grad)
    return beta * lg.value, grad, (0.0 if g == 0.0 else g / scale if scale > 0 else np.inf)


def _one_start(W0, loss, lam, beta, rtol, maxiter):
    shapes = [w.shape for w in W0]
    best = {"ratio": np.inf, "x": pack(W0), "last": pack(W0)}

    def fun(v):
        best["last"] = v.copy()
        value, grad, ratio = _stationarity(unpack(v, shapes), loss, lam, beta)
        if not (np.isfinite(value) and np.isfinite(ratio)):
            return np.inf, np.zeros_like(v)
        if ratio < best["ratio"]:
            best["ratio"], best["x"] = ratio, v.copy()
        if ratio <= rtol:
            raise _Stop
        return value, pack(grad)

    note = ""
    try:
        res = scipy.optimize.minimize(fun, pack(W0), jac=True, method="L-BFGS-B",
                                      options={"maxiter": maxiter, "gtol": 0.0, "ftol": 0.0, "maxcor": 20})
        note = str(res.message)
        if best["ratio"] > rtol:
            _polish(best, loss, lam, beta, shapes, rtol)
            note += "; Newton-Krylov polish did not reach rtol"
    except _Stop:
        note = "relative gradient below rtol"
    W = tuple(np.array(w) for w in unpack(best["x"], shapes))
    if best["ratio"] > rtol and safe_norm(best["last"]) <= np.sqrt(rtol) * safe_norm(W0):
        # the iterates fall into W = 0 (a local minimum for N >= 3, where R dominates near 0);
        # the relative gradient cannot certify that, but W = 0 itself is exactly stationary for N >= 2
        zero = tuple(np.zeros_like(w) for w in W)
        ratio = _stationarity(zero, loss, lam, beta)[2]
        if ratio <= rtol:
            return zero, ratio, "the iterates approached W = 0, an exact stationary point (X = 0)"
    return W, best["ratio"], note


def _polish(best, loss, lam, beta, shapes, rtol):
    """Newton–Krylov on ``grad f = 0`` from the L-BFGS point (gradient-only: L-BFGS stops when f
    no longer decreases in floating point, at a relative gradient of about sqrt(eps)). A polished
    point is kept only if its objective did not rise by more than rounding."""
    x0 = best["x"]
    f0, _, _ = _stationarity(unpack(x0, shapes), loss, lam, beta)

    def grad(v):
        value, g, ratio = _stationarity(unpack(v, shapes), loss, lam, beta)
        if ratio < best["ratio"] and value <= f0 + 1e-12 * abs(f0):
            best["ratio"], best["x"] = ratio, v.copy()
        if ratio <= rtol and value <= f0 + 1e-12 * abs(f0):
            raise _Stop
        return pack(g)

    with contextlib.suppress(ValueError, ArithmeticError, scipy.optimize.NoConvergence):
        scipy.optimize.newton_krylov(grad, x0, maxiter=20, f_tol=1e-300)


def map_estimate(loss, widths, lam, rng=None, *, starts: int = 8, data_weight: float = 1.0,
                 init_scale: float = 1.0, rtol: float = 1e-9, maxiter: int | None = 5000) -> MapResult:
    """MAP of the posterior ``exp(-beta E(phi(W)) - lam R(W))`` by L-BFGS from random starts.

    Parameters
    ----------
    loss : dln_git Loss or callable ``E(X) -> (value, grad)``
        The negative log-likelihood up to the factor ``beta = data_weight`` (real data).
    widths : sequence of int
        ``(d_0, ..., d_N)``.
    lam : float
        Prior precision, > 0.
    rng : None, int or numpy.random.Generator
        Source of the starts ``random_weights(widths, rng, scale=init_scale)``.
    starts : int
        Number of random starts.
    rtol : float
        Stop a start when ``||grad f|| <= rtol (beta ||dphi^* grad E|| + lam ||W||)`` (the two
        terms cancel at a stationary point, so this is a relative stationarity). L-BFGS alone
        stalls near ``sqrt(eps)`` (f stops decreasing in floating point); a gradient-only
        Newton–Krylov polish then takes the start to ``rtol``. Iterates that fall into ``W = 0``
        (exactly stationary for N >= 2, a local minimum for N >= 3) are snapped to it.
    maxiter : int or None
        L-BFGS iteration cap per start (None: 5000).

    Returns
    -------
    MapResult
        Per start, the first point that reached ``rtol`` (else the point of smallest relative
        gradient seen, with ``converged=False``), with ``||mu|| / 2R`` there. Stationary points
        are balanced whatever the likelihood: ``lam mu = A_W^*(grad f)``.
    """
    widths = as_widths(widths)
    lam, beta, starts, init_scale, rtol, maxiter = check_options(
        lam=(lam, PRIOR_PRECISION), data_weight=(data_weight, DATA_WEIGHT), starts=(starts, STARTS),
        init_scale=(init_scale, Rule.positive("the scale of the random starts")), rtol=rtol, maxiter=maxiter)
    maxiter = 5000 if maxiter is None else maxiter
    loss = as_loss(loss, (widths[-1], widths[0]))
    if np.iscomplexobj(loss(np.zeros(loss.shape))[1]):
        raise ValueError("map_estimate works with real weights: the loss has complex data")
    rng = as_rng(rng)
    rows, failures = [], []
    for k in range(starts):
        W, ratio, note = _one_start(random_weights(widths, rng, scale=init_scale), loss, lam, beta, rtol, maxiter)
        value, grad, _ = _stationarity(W, loss, lam, beta)
        Wn, sc = normalized(W)  # ||A_W^*(grad f)|| / (2 lam R) is scale-free: evaluate at scale 1
        r = _regularizer(Wn)
        bound = safe_norm(infinitesimal_action_adjoint(Wn, [g / sc for g in grad])) / (2 * lam * r) if r > 0 else 0.0
        ok = bool(ratio <= rtol and np.isfinite(value))
        if not ok:
            failures.append(f"start {k}: relative gradient {ratio:.2e} > rtol = {rtol:.1e} ({note})")
        rows.append((W, value, balance_ratio(W), ratio, bound, ok))
    conv = np.array([row[5] for row in rows])
    values = np.array([row[1] for row in rows])
    pool = np.flatnonzero(conv) if conv.any() else np.arange(starts)
    best = int(pool[np.argmin(values[pool])])
    message = (f"all {starts} starts reached relative gradient <= {rtol:.1e}" if conv.all()
               else f"{len(failures)} of {starts} starts did not converge: " + "; ".join(failures))
    return MapResult(
        weights=rows[best][0], objective=float(values[best]), objectives=values,
        balance_ratios=np.array([row[2] for row in rows]), gradient_ratios=np.array([row[3] for row in rows]),
        mu_bounds=np.array([row[4] for row in rows]), converged_starts=conv, converged=bool(conv.all()),
        message=message)


# ----------------------------------------------------------------------------------------------
# the induced prior of a product of Gaussian scalars


def _x_and_lam(x, lam):
    (lam,) = check_options(lam=(lam, PRIOR_PRECISION))
    x = np.asarray(x, dtype=float)
    if not np.all(np.isfinite(x)):
        raise ValueError("x must be finite")
    return x, lam


def product_prior_density(x, lam):
    """Exact density of ``x = w_1 w_2``, ``w_i ~ N(0, 1/lam)``: ``(lam/pi) K_0(lam |x|)`` (inf at 0)."""
    x, lam = _x_and_lam(x, lam)
    return lam / np.pi * scipy.special.k0(lam * np.abs(x))


def product_prior_log_density(x, lam):
    """``log p(x) = log(lam/pi) + log(e^z K_0(z)) - z``, ``z = lam |x|`` (no underflow for large z)."""
    x, lam = _x_and_lam(x, lam)
    z = lam * np.abs(x)
    with np.errstate(divide="ignore"):
        return np.log(lam / np.pi) + np.log(scipy.special.k0e(z)) - z


def product_prior_cdf(x, lam):
    """CDF of ``w_1 w_2``: ``1/2 + sign(x)/pi int_0^{lam|x|} K_0(t) dt`` (``scipy.special.iti0k0``)."""
    x, lam = _x_and_lam(x, lam)
    integral = scipy.special.iti0k0(lam * np.abs(x))[1]
    return np.clip(0.5 + np.sign(x) * integral / np.pi, 0.0, 1.0)


def sample_product_prior(lam, size, rng=None, *, depth: int = 2):
    """``size`` draws of ``w_1...w_N`` with independent ``w_i ~ N(0, 1/lam)`` (N = ``depth``)."""
    (lam,) = check_options(lam=(lam, PRIOR_PRECISION))
    size, depth = check_options(size=(size, Rule.count(1, "the number of draws")),
                                depth=(depth, Rule.count(1, "the depth N")))
    w = as_rng(rng).standard_normal((depth, size)) / np.sqrt(lam)
    return np.prod(w, axis=0)


def laplace_ratio(z, depth: int = 2) -> float:
    """``p(x) / p_L(x)`` as a function of ``z = lam |x|^{2/N}``, by quadrature over the fiber.

    In the rescaled coordinates ``t = s / sqrt(z)`` (``sum t_i = 0``),
    ``p/p_L = sqrt(N) pi^{-(N-1)/2} int exp(-(z/2)(sum_i e^{2 s_i/sqrt z} - N)) ds_1..ds_{N-1}``,
    which tends to 1 as z grows (Laplace's method). N = 2 or 3.
    """
    (depth,) = check_options(depth=(depth, SCALAR_DEPTH))
    (z,) = check_options(z=(z, Rule.positive("z = lam |x|^{2/N}")))
    c = 1.0 / np.sqrt(z)

    def excess(*s):  # (z/2) (sum e^{2 t_i} - N) >= 0, computed without cancellation
        t = [c * si for si in s]
        t.append(-sum(t))
        with np.errstate(over="ignore"):  # far tails: exp(-inf) = 0 is the right integrand
            return 0.5 * z * sum(np.expm1(2 * ti) - 2 * ti for ti in t)

    opts = {"epsabs": 1e-13, "epsrel": 1e-11, "limit": 200}
    if depth == 2:
        val = scipy.integrate.quad(lambda s: np.exp(-excess(s)), -np.inf, np.inf, **opts)[0]
    else:
        val = scipy.integrate.nquad(lambda s1, s2: np.exp(-excess(s1, s2)), [(-np.inf, np.inf)] * 2,
                                    opts=[{"epsabs": 1e-11, "epsrel": 1e-9, "limit": 100}] * 2)[0]
    return float(np.sqrt(depth) * np.pi ** (-(depth - 1) / 2) * val)


def laplace_log_density(x, lam, depth: int = 2):
    """``log p_L(x)`` of ``w_1..w_N`` at ``x != 0`` (formula in the module doc; no underflow)."""
    x, lam = _x_and_lam(x, lam)
    (depth,) = check_options(depth=(depth, Rule.count(2, "the depth N")))
    a = np.abs(x) ** (2.0 / depth)
    z = lam * a
    with np.errstate(divide="ignore"):
        return ((depth - 1) * np.log(2.0) + depth / 2 * np.log(lam / (2 * np.pi)) + (depth - 1) / 2 * np.log(np.pi)
                - (depth - 1) / 2 * np.log(z) - 0.5 * np.log(depth) - lam * depth / 2 * a)


def laplace_density(x, lam, depth: int = 2):
    """Laplace (leading-order) density ``p_L`` of ``w_1..w_N`` at ``x != 0`` (formula in the module doc)."""
    return np.exp(laplace_log_density(x, lam, depth))


def scalar_fiber_density(x, lam, depth: int = 2) -> float:
    """Density of ``w_1..w_N`` (``w_i ~ N(0, 1/lam)``) at ``x != 0`` by the coarea integral over the fiber.

    ``p(x) = p_L(x) * laplace_ratio(lam |x|^{2/N}, N)``: quadrature over the (N-1)-dimensional
    fiber, independent of the Bessel-function closed form (N = 2 or 3).
    """
    x, lam = _x_and_lam(x, lam)
    if x.ndim or x == 0:
        raise ValueError(f"x must be a nonzero scalar (the density is infinite at 0), got {x!r}")
    return float(laplace_density(x, lam, depth) * laplace_ratio(lam * abs(float(x)) ** (2.0 / depth), depth))


@dataclass(frozen=True)
class ProductPriorTest:
    """Kolmogorov–Smirnov tests of Monte Carlo draws of ``w_1 w_2`` (``w_i ~ N(0, 1/lam)``).

    ``exact_*``: against the exact CDF :func:`product_prior_cdf` (should not reject);
    ``trace_*``: against the trace-formula density ``(lam/2) exp(-lam |x|)`` (a Laplace
    distribution: docs/math section 5 says it is only the leading order, so enough draws reject it).
    ``accepted`` is ``exact_pvalue >= alpha``; ``rejects_trace`` is ``trace_pvalue < alpha``.
    """

    n_samples: int
    alpha: float
    exact_statistic: float
    exact_pvalue: float
    trace_statistic: float
    trace_pvalue: float
    accepted: bool
    rejects_trace: bool


def product_prior_test(lam, n_samples: int = 20000, rng=None, *, alpha: float = 1e-6) -> ProductPriorTest:
    """KS tests of ``n_samples`` Monte Carlo products against the exact and the trace-formula CDFs.

    Under the exact law the test rejects with probability ``alpha`` (the KS p-value is exact for
    continuous CDFs); the default ``alpha = 1e-6`` makes a false rejection negligible over many seeds.
    """
    (lam,) = check_options(lam=(lam, PRIOR_PRECISION))
    n_samples, alpha = check_options(n_samples=(n_samples, Rule.count(10, "the number of draws")),
                                     alpha=(alpha, SIGNIFICANCE))
    x = sample_product_prior(lam, n_samples, rng)
    exact = scipy.stats.kstest(x, lambda t: product_prior_cdf(t, lam))
    trace = scipy.stats.kstest(x, scipy.stats.laplace(scale=1.0 / lam).cdf)
    return ProductPriorTest(n_samples, alpha, float(exact.statistic), float(exact.pvalue), float(trace.statistic),
                            float(trace.pvalue), bool(exact.pvalue >= alpha), bool(trace.pvalue < alpha))
