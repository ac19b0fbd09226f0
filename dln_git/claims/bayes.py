"""Claims of docs/math section 5 (Bayesian readings): MAP balanced, induced prior, Laplace limit, posterior."""

from __future__ import annotations

import numpy as np
import scipy.stats

from .registry import ClaimResult, register

# Sampler settings per size: chains, burn-in, kept draws, thinning.
_MALA = {"small": (32, 2000, 500, 2), "medium": (32, 4000, 1000, 2)}


@register(
    "bayes.map_balanced",
    "With Gaussian priors on the layers every stationary point of beta E(phi(W)) + lam R(W) is balanced "
    "(lam mu = A_W^*(grad f)), so the MAP of a regression problem lands on the balanced manifold from every start.",
    section="5", tag="paper",
)
def _map_balanced(rng, size):
    from ..decomposition import LinearRegression, SquaredDistance
    from ..systems.bayes import map_estimate

    rtol, worst, gap, failed = 1e-7, 0.0, 0.0, []
    for k in range(3 if size == "small" else 8):
        N = 2 + k % 2
        widths = tuple(int(w) for w in rng.integers(1, 5, N + 1))
        A = rng.standard_normal((widths[0], 30))
        B = rng.standard_normal((widths[-1], widths[0])) @ A + 0.3 * rng.standard_normal((widths[-1], 30))
        lam = float(rng.uniform(0.01, 0.1))
        res = map_estimate(LinearRegression(A, B), widths, lam, rng, starts=4, rtol=rtol)
        if not res.converged:
            failed.append(f"{widths}: {res.message}")
        worst = max(worst, float(res.balance_ratios.max()))
    # closed form for N = 2, E = 1/2 ||X - Y||^2: min_X E + lam ||X||_* = singular value soft-thresholding
    Y = rng.standard_normal((3, 3))
    s = np.linalg.svd(Y, compute_uv=False)
    lam = float(np.median(s))
    res = map_estimate(SquaredDistance(Y), (3, 3, 3), lam, rng, starts=4, rtol=rtol)
    exact = 0.5 * np.sum(np.minimum(s, lam) ** 2) + lam * np.sum(np.maximum(s - lam, 0.0))
    gap = abs(res.objective / exact - 1)
    ok = not failed and res.converged and worst <= 4 * rtol and gap <= 1e-10
    return ClaimResult(worst, 0.0, 4 * rtol, passed=ok, detail=(
        f"max ||mu||/2R over all optima (real regression, N = 2, 3, random widths <= 4, 4 starts each, stopped at "
        f"relative gradient rtol = {rtol:g}); bound 4 rtol from ||mu|| = ||A_W^*(grad f)||/lam "
        "<= 2||W|| ||grad f||/lam "
        f"and ||grad f|| <= rtol * 2 lam ||W||; N = 2 soft-thresholding objective gap {gap:.1e} (<= 1e-10)"
        + ("; not converged: " + "; ".join(failed) if failed else "")))


@register(
    "bayes.product_prior_exact",
    "For N = 2 scalar layers with w_i ~ N(0, 1/lam), x = w_1 w_2 has density (lam/pi) K_0(lam |x|): the fiber "
    "(coarea) quadrature equals it, Monte Carlo passes a KS test against it and rejects the trace formula "
    "(lam/2) exp(-lam |x|).",
    section="5", tag="derived",
)
def _product_prior_exact(rng, size):
    from ..systems.bayes import product_prior_density, product_prior_test, scalar_fiber_density

    lam = float(np.exp(rng.uniform(np.log(0.1), np.log(10.0))))
    quad_err = 0.0
    for x in rng.uniform(0.05, 5.0, 4) / lam:
        quad_err = max(quad_err, abs(scalar_fiber_density(x, lam, 2) / product_prior_density(x, lam) - 1))
    alpha, n = 1e-6, (20000 if size == "small" else 200000)
    test = product_prior_test(lam, n, rng, alpha=alpha)
    ok = quad_err <= 1e-9 and test.accepted and test.rejects_trace
    return ClaimResult(test.exact_pvalue, 1.0, 1.0 - alpha, passed=ok, detail=(
        f"KS p-value of {n} draws against the exact CDF (1/2 + sign(x) int_0^(lam|x|) K_0 / pi) must be >= alpha = "
        f"{alpha:g}: a false rejection has probability 1e-6 per seed (the KS p-value is exact for a continuous CDF); "
        f"trace-formula p-value {test.trace_pvalue:.1e} must be < alpha (KS distance {test.trace_statistic:.3f} "
        f"gives power ~1 at this n); fiber quadrature vs K_0 closed form {quad_err:.1e} (<= 1e-9), lam = {lam:.3g}"))


@register(
    "bayes.laplace_limit",
    "The trace formula is the leading order of the induced prior as lam grows: p/p_L -> 1 with "
    "1 - p/p_L ~ (N^2 - 1)/(12 N z), z = lam |x|^{2/N}, p_L the Laplace approximation at the balanced point "
    "(exponent -lam (N/2) |x|^{2/N} = -lam min R on the fiber).",
    section="5", tag="derived",
)
def _laplace_limit(rng, size):
    from ..systems.bayes import laplace_ratio

    z_small = np.exp(rng.uniform(np.log(5.0), np.log(200.0), 3 if size == "small" else 10))
    envelope = max(float((laplace_ratio(z, 2) - 1 + 1 / (8 * z)) * 128 * z**2 / 9) for z in z_small)
    worst = 0.0
    for depth in (2, 3):
        z = float(np.exp(rng.uniform(np.log(500.0), np.log(2000.0))))
        c = (depth**2 - 1) / (12 * depth)
        worst = max(worst, abs(z * (1 - laplace_ratio(z, depth)) / c - 1) * z / 3)
    ok = 0.0 <= envelope <= 1.0 and worst <= 1.0
    return ClaimResult(worst, 0.0, 1.0, passed=ok, detail=(
        "N = 2, 3 at z in [500, 2000]: |z (1 - p/p_L) / c_N - 1| <= 3/z, c_N = (N^2-1)/(12N) (second-order Laplace: "
        "-(1/3) z E sum t^4 + (2/9) z^2 E (sum t^3)^2 with t ~ N(0, P/(2z)) on sum t = 0 gives "
        "-(N-1)^2/(4Nz) + (N-1)(N-2)/(6Nz); c_2 = 1/8 agrees with the K_0 series; next order measured ~0.5/z), "
        "measured as a fraction of "
        f"3/z; N = 2 at z in [5, 200]: (p/p_L - 1 + 1/(8z)) * 128 z^2 / 9 = {envelope:.3f} must lie in [0, 1] "
        "(the K_0 series encloses its remainder); p/p_L by fiber quadrature, not from K_0"))


def _scalar_problem(rng):
    from ..decomposition import SquaredDistance

    y = float(rng.uniform(2.0, 3.0))
    return y, SquaredDistance([[y]])


@register(
    "bayes.mala_exact_scalar",
    "The MALA sampler on W reproduces the exact posterior of two scalar layers: at each prior precision the "
    "median of |mu|/2R over the draws equals the quadrature median.",
    section="5", tag="derived",
)
def _mala_exact_scalar(rng, size):
    from ..systems.bayes_mala import sample_posterior, scalar_posterior_ratio_quantile

    chains, burn_in, n, thin = _MALA[size]
    y, loss = _scalar_problem(rng)
    beta, alpha = 200.0, 1e-5
    crit = float(scipy.stats.t.ppf(1 - alpha / 2, chains - 1))
    worst, rates = 0.0, []
    for lam in (4.0, 16.0, 64.0):
        s = sample_posterior(loss, (1, 1, 1), lam, rng, data_weight=beta, chains=chains, burn_in=burn_in,
                             n_samples=n, thin=thin)
        median = scalar_posterior_ratio_quantile(0.5, y, lam, beta)
        below = np.mean(s.balance_ratios <= median, axis=0)  # one fraction per independent chain
        worst = max(worst, abs(below.mean() - 0.5) / (below.std(ddof=1) / np.sqrt(chains)))
        rates.append(s.acceptance_rate)
    return ClaimResult(worst, 0.0, crit, detail=(
        f"max over lam in (4, 16, 64) of |t| for 'fraction of draws below the exact median = 1/2', t over "
        f"{chains} independent chains (batch means absorb autocorrelation), two-sided alpha = {alpha:g} per lam "
        f"(t_crit = {crit:.2f}, false failure < 3e-5 per seed); y = {y:.3f}, beta = {beta:g}, burn-in {burn_in}, "
        f"acceptance {min(rates):.2f}-{max(rates):.2f}"))


@register(
    "bayes.posterior_concentration",
    "As the prior precision lam grows the posterior mass concentrates near the balanced manifold: the median "
    "of ||mu||/2R over posterior draws falls like lam^{-1/2} (exact for N = 2 scalars, MALA for 2x2 layers).",
    section="5", tag="derived",
)
def _posterior_concentration(rng, size):
    from ..decomposition import SquaredDistance
    from ..systems.bayes_mala import posterior_concentration, scalar_posterior_ratio_quantile

    chains, burn_in, n, thin = _MALA[size]
    lams = np.array([4.0, 16.0, 64.0])
    y, _ = _scalar_problem(rng)
    exact = [scalar_posterior_ratio_quantile(0.5, y, lam, 200.0) for lam in lams]
    # far out, with the likelihood pinning x (beta = 1e6 >> lam): the asymptotic power
    pinned = [scalar_posterior_ratio_quantile(0.5, y, lam, 1e6) for lam in (1024.0, 4096.0)]
    exact_slope = float(np.polyfit(np.log([1024.0, 4096.0]), np.log(pinned), 1)[0])
    U, V = (np.linalg.qr(rng.standard_normal((2, 2)))[0] for _ in range(2))
    Y = (U * rng.uniform(2.0, 3.0, 2)) @ V.T
    trend = posterior_concentration(SquaredDistance(Y), (2, 2, 2), lams, rng, data_weight=200.0, chains=chains,
                                    burn_in=burn_in, n_samples=n, thin=thin)
    decreasing = bool(np.all(np.diff(trend.medians) < 0) and np.all(np.diff(exact) < 0))
    ok = decreasing and abs(trend.slope + 0.5) <= 0.1 and abs(exact_slope + 0.5) <= 0.02
    return ClaimResult(trend.slope, -0.5, 0.1, passed=ok, detail=(
        f"fitted slope of log median ||mu||/2R against log lam, lam = 4, 16, 64, widths (2,2,2), Y with singular "
        f"values in [2, 3], beta = 200 (medians {np.round(trend.medians, 4).tolist()}, R-hat "
        f"{[round(s.rhat, 3) for s in trend.samples]}); tolerance 0.1 covers the pre-asymptotic bend (exact scalar "
        f"slope over the same lams {np.polyfit(np.log(lams), np.log(exact), 1)[0]:.3f}) and Monte Carlo error; "
        f"exact scalar slope at lam = 1024..4096 with beta = 1e6 (x pinned): {exact_slope:.4f} (required within 0.02 "
        "of -1/2); medians "
        "strictly decreasing (required)"))
