"""Claims of docs/math section 6.4 (symmetry via duality, Maiti–Stoner–Halverson, arXiv 2106.00694).

Statistical thresholds. Every Monte Carlo comparison is a set of ``K`` components, each a mean of
iid per-draw values divided by its per-draw standard error (for invariances: of the per-draw
*difference* on common draws). A claim pools all its components and reports the Bonferroni
single-test equivalent ``z_eq`` of the largest ``|z|`` (:func:`dln_git.symmetries.correlators.bonferroni_z`);
under the null hypothesis ``P(z_eq > z) <= P(|Z| > z)`` whatever the dependence between components.
The pass threshold is ``Z_NULL = z_threshold(1e-6) = 4.89``: a false alarm once in a million runs
of a claim, so a run over hundreds of seeds stays silent. A symmetry-*breaking* law must give
``z_eq > 10`` (``P < 1e-23`` under invariance), and the law's mean is chosen large enough that it
does on every seed.

The weak point is the normal approximation of each studentized mean: per-draw products of many
Gaussian factors are heavy tailed and right skewed, so the sample mean's tail is heavier than
normal for a few thousand draws. Measured on the small branch (``/tmp`` scans, seeds 0..N-1):
output_invariance 1500 seeds, largest z_eq 2.66, none above 3; input_invariance 1500, largest 2.95;
odd_vanish 1500, largest 3.57 (0.07% above 3); wick_vs_monte_carlo 4000, largest 4.11 (0.2% above 3,
one above 4) after two changes made for this: the last layer averaged exactly (conditional Monte
Carlo) and hidden widths >= 2; plain products at depth 3 and width 1 gave z_eq 6.5 once in 2000
seeds. Bonferroni's own conservatism (most components are far from the maximum) is what keeps the
pooled statistics of the invariance claims well inside the normal bound.
"""

from __future__ import annotations

import numpy as np

from ..core import haar_orthonormal
from .registry import ClaimResult, register

Z_NULL = 4.891638475699412  # z_threshold(1e-6)
Z_BROKEN = 10.0
_DRAWS = {"small": 2000, "medium": 20000}


def _families(rng, *, last_weight_mean=0.0):
    from ..symmetries.architectures import network_family

    h = lambda: int(rng.integers(2, 7))  # noqa: E731  (a random hidden width per family)
    m = last_weight_mean
    return [
        network_family("linear", (3, h(), h(), 3), last_weight_mean=m),
        network_family("relu", (3, h(), 3), sigma_w=1.2, sigma_b=0.3, last_weight_mean=m),
        network_family("gauss", (3, h(), 3), sigma_w=1.0, sigma_b=[0.3, 0.2], last_weight_mean=m),
        network_family("cos", (3, h(), 3), sigma_w=1.0, sigma_b=[0.0, 0.2], last_weight_mean=m),
    ]


def _points(rng, n, d=3):
    return rng.standard_normal((n, d)) / np.sqrt(d)


def _pooled(tests) -> tuple[float, int]:
    from ..symmetries.correlators import bonferroni_z

    max_z = max(t.max_z for t in tests)
    K = sum(t.n_components for t in tests)
    return (bonferroni_z(max_z, K) if np.isfinite(max_z) else np.inf), K


def _orthogonal(d, rng):
    Q = haar_orthonormal(d, d, rng)
    if rng.random() < 0.5:  # both components of O(d)
        Q[:, 0] *= -1
    return Q


@register(
    "symmetries.duality.output_invariance",
    "Centred iid Gaussian last layer: R^{(x)n} G^(n) = G^(n) for Haar R in O(D), n = 1..4, for a DLN, a ReLU net,"
    " a Gauss-net and a cos-net at small widths (Monte Carlo, pooled Bonferroni z <= 4.89, false alarm 1e-6).",
    section="6.4", tag="paper",
)
def _output_invariance(rng, size):
    from ..symmetries.correlators import output_invariance_test

    tests = []
    for fam in _families(rng):
        R = _orthogonal(fam.widths[-1], rng)
        for n in (1, 2, 3, 4):
            tests.append(output_invariance_test(fam, _points(rng, n), R, _DRAWS[size], rng))
    z, K = _pooled(tests)
    largest = max(t.max_z for t in tests)
    return ClaimResult(z, 0.0, Z_NULL, detail=f"{len(tests)} tests, {K} components, {_DRAWS[size]} draws each;"
                                              f" largest |z| {largest:.2f}, Bonferroni z_eq {z:.2f}")


@register(
    "symmetries.duality.output_breaking",
    "A last-layer weight mean 3 (>= 4.2 entry stds) breaks the output O(D) symmetry: the two-point function moves"
    " by more than 10 standard errors (Bonferroni z_eq) for each of the four families.",
    section="6.4", tag="paper",
)
def _output_breaking(rng, size):
    from ..symmetries.correlators import output_invariance_test, reflection_moving

    zs = []
    for fam in _families(rng, last_weight_mean=3.0):  # last-layer entry std 1/sqrt(d_{N-1}) <= 1/sqrt(2)
        # the mean picks out the direction 1 of output space; a Haar R close to fixing it hid the breaking
        # (z_eq 4.0 once in 1500 seeds), so R is the reflection moving 1 to a random orthogonal direction
        R = reflection_moving(np.ones(fam.widths[-1]), rng)
        # G^(2)(x, x) (a DLN's G^(2)(x, x') is 0 at x.x' = 0) at |x| = 1/2: the Gauss-net's lognormal units
        # have log-variance 4 (s_b^2 + s_W^2 |x|^2), and at the |x| ~ 1.7 of a Gaussian tail point their
        # heavy tail inflated the standard error (z_eq 5.5 once in 1500 seeds)
        u = rng.standard_normal(3)
        x = np.repeat(0.5 * u[None, :] / np.linalg.norm(u), 2, axis=0)
        zs.append(_pooled([output_invariance_test(fam, x, R, 4 * _DRAWS[size], rng)])[0])
    worst = min(zs)
    return ClaimResult(worst, Z_BROKEN, 0.0, passed=worst > Z_BROKEN,
                       detail="z_eq per family (linear, relu, gauss, cos): " + ", ".join(f"{z:.1f}" for z in zs)
                              + f" (each must exceed {Z_BROKEN})")


@register(
    "symmetries.duality.input_invariance",
    "iid centred Gaussian first layer: G^(n)(Rx_1..Rx_n) = G^(n)(x_1..x_n) for Haar R in O(d), n = 1..4 (last layer"
    " with a mean, so odd correlators are not trivially zero); the cos-net's correlators are also translation"
    " invariant; pooled Bonferroni z <= 4.89; a non-orthogonal map moves them by > 10.",
    section="6.4", tag="paper",
)
def _input_invariance(rng, size):
    from ..symmetries.correlators import input_invariance_test

    tests = []
    fams = _families(rng, last_weight_mean=0.7)
    for fam in fams:
        R = _orthogonal(3, rng)
        for n in (1, 2, 3, 4):
            tests.append(input_invariance_test(fam, _points(rng, n), lambda x, R=R: x @ R.T, _DRAWS[size], rng))
    c = rng.standard_normal(3)
    for n in (1, 2, 3, 4):
        tests.append(input_invariance_test(fams[3], _points(rng, n), lambda x: x + c, _DRAWS[size], rng))
    z, K = _pooled(tests)
    stretch = 2.0 * _orthogonal(3, rng)  # |S x| = 2 |x|: the DLN's G^(2)(x, x) grows fourfold
    x = _points(rng, 2)
    x[1] = x[0]
    broken = _pooled([input_invariance_test(fams[0], x, lambda y: y @ stretch.T, 4 * _DRAWS[size], rng)])[0]
    ok = z <= Z_NULL and broken > Z_BROKEN
    return ClaimResult(z, 0.0, Z_NULL, passed=ok,
                       detail=f"{len(tests)} tests ({K} components): z_eq {z:.2f} (<= {Z_NULL:.2f});"
                              f" non-orthogonal map on the DLN: z_eq {broken:.1f} (> {Z_BROKEN})")


@register(
    "symmetries.duality.gauss_net_rbf",
    "Gauss-net and cos-net two-point functions are RBF kernels at every width (here d_1 = 1..4):"
    " G^(2)_ij = delta_ij [c d_1 v_2 exp(-s_W^2 |x-x'|^2 / 2) + s_b2^2] with c = 1 (Gauss), 1/2 (cos);"
    " Monte Carlo within Bonferroni z 4.89.",
    section="6.4", tag="paper",
)
def _gauss_net_rbf(rng, size):
    from ..symmetries.architectures import network_family
    from ..symmetries.correlators import _summarise, bonferroni_z, correlator

    tests = []
    for kind, c in (("gauss", 1.0), ("cos", 0.5)):
        d1 = int(rng.integers(1, 5))
        fam = network_family(kind, (3, d1, 2), sigma_w=1.0, sigma_b=[0.0, 0.4])
        x = _points(rng, 2)
        est = correlator(fam, x, _DRAWS[size], rng)
        s_w2, v2 = fam.weight_std[0] ** 2, fam.weight_std[1] ** 2
        K = (c * d1 * v2 * np.exp(-s_w2 * np.sum((x[0] - x[1]) ** 2) / 2) + fam.bias_std[1] ** 2) * np.eye(2)
        tests.append(_summarise(est.mean - K, est.stderr, est.n_draws))
    z = bonferroni_z(max(t.max_z for t in tests), sum(t.n_components for t in tests))
    return ClaimResult(z, 0.0, Z_NULL, detail=f"Gauss-net and cos-net at hidden width 1..4, {_DRAWS[size]} draws;"
                                              f" z_eq {z:.2f}")


@register(
    "symmetries.duality.odd_vanish",
    "Centred last layer: the odd correlators G^(1), G^(3) vanish (Monte Carlo within Bonferroni z 4.89), for all"
    " four families.",
    section="6.4", tag="paper",
)
def _odd_vanish(rng, size):
    from ..symmetries.correlators import _summarise, bonferroni_z, correlator

    tests = []
    for fam in _families(rng):
        for n in (1, 3):
            est = correlator(fam, _points(rng, n), _DRAWS[size], rng)
            tests.append(_summarise(est.mean, est.stderr, est.n_draws))
    z = bonferroni_z(max(t.max_z for t in tests), sum(t.n_components for t in tests))
    return ClaimResult(z, 0.0, Z_NULL, detail=f"{len(tests)} correlators; z_eq {z:.2f}")


def _last_layer_averaged(fam, x, n_draws, rng):
    """Conditional Monte Carlo of a DLN's G^(2) (n = 2) or centred G^(4) (n = 4): draw the first N-1
    layers, average the last one exactly given ``h = h_{N-1}``:
    ``E[f f'^T | h] = m^2 (1.h)(1.h') 1 1^T + v (h.h') I`` and
    ``E[f f f f | h] = v^2 (d12 d34 (h1.h2)(h3.h4) + d13 d24 (h1.h3)(h2.h4) + d14 d23 (h1.h4)(h2.h3))``.
    Per-draw values of degree 2(N-1) instead of 2N (n = 2), 4(N-1) instead of 4N (n = 4) in the
    Gaussian weights: far lighter tails, so the studentized mean is close to normal."""
    from ..symmetries.architectures import NetworkFamily, evaluate, sample_draws

    k = fam.depth - 1
    sub = NetworkFamily("linear", fam.widths[:-1], fam.weight_mean[:-1], fam.weight_std[:-1], (0.0,) * k, (0.0,) * k)
    H = evaluate(sample_draws(sub, n_draws, rng), x)  # (S, n, d_{N-1})
    D, m, v = fam.widths[-1], fam.weight_mean[-1], fam.weight_std[-1] ** 2
    eye = np.eye(D)
    dot = np.einsum("spa,sqa->spq", H, H)
    if x.shape[0] == 2:
        s = H.sum(axis=2)
        P = (m**2 * s[:, 0] * s[:, 1])[:, None, None] * np.ones((D, D)) + (v * dot[:, 0, 1])[:, None, None] * eye
    else:
        P = v**2 * (np.einsum("s,ij,kl->sijkl", dot[:, 0, 1] * dot[:, 2, 3], eye, eye)
                    + np.einsum("s,ik,jl->sijkl", dot[:, 0, 2] * dot[:, 1, 3], eye, eye)
                    + np.einsum("s,il,jk->sijkl", dot[:, 0, 3] * dot[:, 1, 2], eye, eye))
    return P.mean(axis=0), P.std(axis=0, ddof=1) / np.sqrt(n_draws)


@register(
    "symmetries.duality.wick_vs_monte_carlo",
    "Gaussian DLN: the Wick/closed-form G^(2) (with layer means) and G^(4) (centred) agree with Monte Carlo"
    " (the first N-1 layers sampled, the last averaged exactly) within Bonferroni z 4.89.",
    section="6.4", tag="derived",
)
def _wick_vs_mc(rng, size):
    from ..symbolic.wick import dln_four_point, dln_two_point
    from ..symmetries.architectures import NetworkFamily
    from ..symmetries.correlators import _summarise, bonferroni_z

    # Plain per-draw products f f' (f f f f) have 2N (4N) Gaussian factors: so heavy tailed that the
    # studentized mean gave z_eq = 6.5 on one of 2000 seeds. Conditional Monte Carlo (see
    # _last_layer_averaged) removes the last layer's factors; hidden widths >= 2 (width 1 makes h a
    # bare product of scalars, the heaviest tail: z_eq 4.1 once in 2000 seeds with widths 1..3).
    widths = (2, int(rng.integers(2, 4)), int(rng.integers(2, 4)), 2)
    std = rng.uniform(0.5, 1.0, 3)
    mean = rng.uniform(-0.5, 0.5, 3)
    with_mean = NetworkFamily("linear", widths, tuple(mean), tuple(std), (0.0,) * 3, (0.0,) * 3)
    centred = NetworkFamily("linear", widths, (0.0,) * 3, tuple(std), (0.0,) * 3, (0.0,) * 3)
    x2, x4 = _points(rng, 2, 2), _points(rng, 4, 2)
    m2, se2 = _last_layer_averaged(with_mean, x2, 4 * _DRAWS[size], rng)
    m4, se4 = _last_layer_averaged(centred, x4, 4 * _DRAWS[size], rng)
    tests = [_summarise(m2 - dln_two_point(widths, std**2, x2[0], x2[1], means=mean), se2, 4 * _DRAWS[size]),
             _summarise(m4 - dln_four_point(widths, std**2, x4), se4, 4 * _DRAWS[size])]
    z = bonferroni_z(max(t.max_z for t in tests), sum(t.n_components for t in tests))
    return ClaimResult(z, 0.0, Z_NULL, detail=f"widths {widths}; z_eq {z:.2f}")


@register(
    "symmetries.duality.wick_exact",
    "The sympy Wick contraction over partial pairings equals the closed-form recursions exactly (difference expands"
    " to 0): G^(2) with symbolic means and variances, centred G^(4); odd centred correlators are identically 0.",
    section="6.4", tag="derived",
)
def _wick_exact(rng, size):
    import sympy

    from ..symbolic.wick import four_point_coefficients, two_point_coefficients, wick_correlator

    choices = [(2, 2, 2), (2, 3, 2), (1, 2, 2), (2, 1, 3)] + ([(2, 2, 2, 2), (3, 2, 2)] if size != "small" else [])
    widths = choices[int(rng.integers(len(choices)))]
    g2 = wick_correlator(widths, 2, mean=True, simplify=False)
    al, be = two_point_coefficients(widths, g2.variances, g2.means, list(g2.inputs[0]), list(g2.inputs[1]))
    bad = 0
    D = widths[-1]
    for i in range(D):
        for j in range(D):
            bad += sympy.expand(g2.tensor[i, j] - (al * int(i == j) + be)) != 0
    g4 = wick_correlator(widths, 4, simplify=False)
    A, B, C = four_point_coefficients(widths, g4.variances, [list(x) for x in g4.inputs])
    for idx in np.ndindex(*(D,) * 4):
        i, j, k, m = idx
        ref = A * int(i == j and k == m) + B * int(i == k and j == m) + C * int(i == m and j == k)
        bad += sympy.expand(g4.tensor[idx] - ref) != 0
    g3 = wick_correlator(widths, 3, simplify=False)
    bad += sum(sympy.expand(e) != 0 for e in g3.tensor.reshape(len(g3.tensor)).tolist())
    return ClaimResult(float(bad), 0.0, 0.0, detail=f"widths {widths}: {bad} entries differ symbolically")


@register(
    "symmetries.duality.ntk_identity",
    "Empirical NTK: Theta(Rx, Rx'; W) = Theta(x, x'; W_1 R, W_2, ..) to 1e-12 relative for Haar R in O(d) (DLN, ReLU,"
    " Gauss-, cos-net), and it fails (relative gap > 1e-6) for a non-orthogonal R = diag(s) Q, s in [1.5, 2.5]"
    " (DLN, Gauss-, cos-net).",
    section="6.4", tag="paper",
)
def _ntk_identity(rng, size):
    from ..symmetries.architectures import sample_draws
    from ..symmetries.ntk import empirical_ntk, rotate_first_layer

    worst_orth, worst_fail = 0.0, np.inf
    for fam in _families(rng, last_weight_mean=0.3):
        dr = sample_draws(fam, 1, rng)
        W, b = [w[0] for w in dr.weights], [c[0] for c in dr.biases]
        x, x2 = _points(rng, 2)
        Q = _orthogonal(3, rng)
        T1 = empirical_ntk(fam, W, b, Q @ x, Q @ x2)
        T2 = empirical_ntk(fam, rotate_first_layer(W, Q), b, x, x2)
        worst_orth = max(worst_orth, np.abs(T1 - T2).max() / np.abs(T1).max())
        if fam.kind != "relu":  # a ReLU net whose units are all off at x has no first-layer gradient
            S = np.diag(rng.uniform(1.5, 2.5, 3)) @ Q
            T3 = empirical_ntk(fam, W, b, S @ x, S @ x)
            T4 = empirical_ntk(fam, rotate_first_layer(W, S), b, x, x)
            worst_fail = min(worst_fail, np.abs(np.trace(T3 - T4)) / np.abs(np.trace(T3)))
    ok = worst_orth <= 1e-12 and worst_fail > 1e-6
    return ClaimResult(worst_orth, 0.0, 1e-12, passed=ok,
                       detail=f"orthogonal R: {worst_orth:.1e} (<= 1e-12); non-orthogonal: relative trace gap"
                              f" {worst_fail:.1e} (> 1e-6; it is tr(delta_1 delta_1^T) x^T (S^T S - I) x > 0)")
