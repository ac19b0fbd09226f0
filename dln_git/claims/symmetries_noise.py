"""Claims of docs/math section 6.2 (SGD noise equilibria; Ziyin et al., NeurIPS 2024, arXiv 2402.07193).

Tolerances:

* exact identities evaluated in float64 (one-step identity, minibatch averages, the factorised
  noise imbalance) are compared relative to the size of the terms that are rounded, at 1e-13 or
  1e-12: measured 1e-17..1e-15 (a D-term inner product has rounding ~ D eps, D <= 40 here);
* root finds (Brent to ``xtol = 1e-12 max(1, |s|)``) against closed forms: 1e-9 relative (the
  conditioning of ``tr(A Sigma)`` in s is ~ 1, Brent's bracket is 1e-12);
* the SGD acceptance: the mismatch of the two sides averaged over the second half of the recorded
  points (the stationary state; a single iterate fluctuates by a few percent at eta = 0.05) <= 0.10
  in every hidden layer, the final GD mismatch (worst layer) >= 1.00 from a start at 1.6. Measured
  (tail 50%): two-layer (3,2,3), batch 10, Sx = I, Se = I/2, 12000 steps: max 0.039, mean 0.018
  (60 seeds); with the random anisotropic covariances the claim uses, 12000 steps gave max 0.067
  (61 seeds), so the claim runs 16000 steps: max 0.046, mean 0.024 (60 seeds). Depth 3 (2,2,2,2),
  24000 steps, batch 20, Sx = I, Se = I/2: max 0.039, mean 0.020 (60 seeds); with anisotropic
  covariances max 0.093 (40 seeds), too close to the bound, so the deep claim keeps isotropic
  covariances (the relation is still non-trivial through the partial products). GD stays at
  1.5-1.7. The residual ~2% is the finite-eta/b bias plus fluctuation; the 10% bound is the one
  the issue asks for. The batch is a trade-off: eta/b sets the bias, b/eta^2 the relaxation time
  (batch 40 left one seed in 60 at 0.18 after 16000 steps).
"""

from __future__ import annotations

import itertools

import numpy as np
import scipy.linalg

from ..core import end_to_end, haar_orthonormal
from .registry import ClaimResult, register


def _sym(rng, d):
    R = rng.standard_normal((d, d))
    return R + R.T


def _instances(rng, size):
    """(name, sym, theta) for the scalar model and the layer symmetries of N = 2, 3 networks."""
    from ..symmetries.linear_noise_models import dln_layer_symmetry, scalar_model_symmetry

    n = 8 if size == "small" else 20
    x = rng.standard_normal(n)
    y = 0.7 * x + 0.3 * rng.standard_normal(n)
    out = [("scalar", *scalar_model_symmetry(x, y, *rng.standard_normal(2)))]
    for widths in ((3, 2, 4), (2, 3, 3, 2)) + (((4, 3, 5, 2),) if size != "small" else ()):
        W = tuple(rng.standard_normal((widths[i + 1], widths[i])) for i in range(len(widths) - 1))
        Xd, Yd = rng.standard_normal((widths[0], n)), rng.standard_normal((widths[-1], n))
        for layer in range(1, len(W)):
            sym, th = dln_layer_symmetry(W, Xd, Yd, layer, _sym(rng, widths[layer]))
            out.append((f"{widths} layer {layer}", sym, th))
    return out


@register(
    "symmetries.noise.step_identity",
    "One plain SGD step on any minibatch of a loss with an exponential symmetry exp(sA): C' - C = eta^2 g^T A g,"
    " and with weight decay C' = (1 - eta lambda)^2 C + eta^2 g^T A g, to 1e-13 relative to"
    " ||A||_2 (||theta||^2 + ||theta'||^2 + eta^2 ||g||^2).",
    section="6.2", tag="derived",
)
def _step_identity(rng, size):
    from ..symmetries.noise_equilibria import sgd_step_identity

    worst, where = 0.0, ""
    for name, sym, th in _instances(rng, size):
        for lam in (0.0, float(rng.uniform(0.01, 1.0))):
            for b in (1, 3, sym.n_samples):
                idx = rng.choice(sym.n_samples, size=b, replace=False)
                r = sgd_step_identity(sym, th, idx, float(rng.uniform(0.01, 0.5)), weight_decay=lam)
                if r.defect > worst:
                    worst, where = r.defect, f"{name}, lambda = {lam:.2g}, batch {b}"
    return ClaimResult(worst, 0.0, 1e-13, passed=worst <= 1e-13,
                       detail=f"worst relative defect {worst:.1e} ({where}); rounding of the quadratic forms ~ D eps")


@register(
    "symmetries.noise.drift_decomposition",
    "Exact mean one-step change over ALL minibatches of size b (enumerated, with and without replacement):"
    " E[C' - C] = eta^2 E[g^T A g] = eta^2 (gbar^T A gbar + c_b tr(A Sigma)), c_b = 1/b resp. (n-b)/(b(n-1));"
    " the Noether drift per unit time is (eta/b) tr(A Sigma) plus the dropped eta gbar^T A gbar.",
    section="6.2", tag="derived",
)
def _drift_decomposition(rng, size):
    from ..symmetries.noise_equilibria import expected_step_change, noether_drift, sgd_step_identity

    worst = 0.0
    for _, sym, th in _instances(rng, "small")[: 3 if size == "small" else None]:
        n = sym.n_samples
        eta = float(rng.uniform(0.01, 0.3))
        for b, replace in ((2, True), (3, False)):
            batches = (itertools.product(range(n), repeat=b) if replace else itertools.combinations(range(n), b))
            changes, sq = [], []
            for idx in batches:
                r = sgd_step_identity(sym, th, list(idx), eta)
                changes.append(r.C_next - r.C)
                g = sym.minibatch_grad(th, list(idx))
                sq.append(eta**2 * np.linalg.norm(sym.A, 2) * (g @ g))
            pred = expected_step_change(sym, th, eta, b, replace=replace)
            # C' - C is a difference of two quadratic forms of size ||A|| ||theta||^2: that is the rounding scale
            scale = max(np.mean(sq) + np.linalg.norm(sym.A, 2) * (th @ th), 1e-300)
            worst = max(worst, abs(np.mean(changes) - pred["total"]) / scale)
            if replace:
                rate = noether_drift(sym, th, eta, b, include_mean=True)
                worst = max(worst, abs(eta * rate - pred["total"]) / scale)
                sde = noether_drift(sym, th, eta, b)
                worst = max(worst, abs(eta * sde - pred["noise_term"]) / scale)
    return ClaimResult(worst, 0.0, 1e-13, passed=worst <= 1e-13,
                       detail=f"worst |enumerated mean - formula| / (||A|| (||theta||^2 + eta^2 E||g||^2))"
                              f" = {worst:.1e} "
                              "(an exact identity; rounding over <= 64 minibatches)")


@register(
    "symmetries.noise.scalar_equilibrium",
    "Scalar model (u w x - y)^2, A = diag(1, -1): the orbit root find of tr(A Sigma) = 0 lands on"
    " |u*| = |w*| = sqrt(|u w|).",
    section="6.2", tag="derived",
)
def _scalar_equilibrium(rng, size):
    from ..symmetries.linear_noise_models import scalar_equilibrium, scalar_model_symmetry
    from ..symmetries.noise_equilibria import orbit_equilibrium

    worst, ok = 0.0, True
    for _ in range(3 if size == "small" else 20):
        x = rng.standard_normal(9)
        y = rng.standard_normal() * x + rng.uniform(0.1, 1) * rng.standard_normal(9)
        u, w = rng.standard_normal(2) * np.exp(rng.uniform(-2, 2, 2))
        sym, th = scalar_model_symmetry(x, y, u, w)
        r = orbit_equilibrium(sym, th)
        ok &= r.converged
        worst = max(worst, np.max(np.abs(r.theta - np.array(scalar_equilibrium(u, w)))) / np.sqrt(abs(u * w)))
    return ClaimResult(worst, 0.0, 1e-9, passed=ok and worst <= 1e-9,
                       detail=f"worst relative error {worst:.1e}; all converged: {ok}")


def _product_problem(rng, widths, m=5, p=4):
    from ..symmetries.linear_noise_models import product_dataset

    W = tuple(rng.standard_normal((widths[i + 1], widths[i])) for i in range(len(widths) - 1))
    V = end_to_end(W)
    xs = rng.standard_normal((widths[0], m)) * rng.uniform(0.5, 2, (widths[0], 1))
    es = rng.standard_normal((widths[-1], p))
    return W, product_dataset(xs, es, V)


@register(
    "symmetries.noise.layer_relation",
    "Linear networks with label noise at a realizable minimum (x independent of e, E e = 0, exact independence via a"
    " product dataset): the per-sample-gradient noise imbalance of hidden layer i,"
    " Cov[G_i G_i^T] - Cov[G_{i+1}^T G_{i+1}],"
    " equals 4 (tr(P_{i-1} Sx P_{i-1}^T) Q_i^T Se Q_i - tr(Q_{i+1}^T Se Q_{i+1}) P_i Sx P_i^T), and tr(A Sigma) of the"
    " dense layer generator A_B equals <B, that matrix> (N = 2, 3, 4).",
    section="6.2", tag="derived",
)
def _layer_relation(rng, size):
    from ..symmetries.linear_noise_models import dln_layer_symmetry, equilibrium_sides, layer_noise_imbalance
    from ..symmetries.noise_equilibria import gradient_covariance

    worst = 0.0
    patterns = ((3, 2, 3), (2, 3, 2, 3)) + (((3, 4, 2, 3, 2),) if size != "small" else ())
    for widths in patterns:
        W, (Xd, Yd, Sx, Se) = _product_problem(rng, widths)
        for i in range(1, len(W)):
            M = layer_noise_imbalance(W, Xd, Yd, i)
            f, b = equilibrium_sides(W, Sx, Se, i)
            ref = 4 * (b - f)
            scale = 4 * (np.linalg.norm(b) + np.linalg.norm(f))
            worst = max(worst, np.linalg.norm(M - ref) / scale)
            B = _sym(rng, widths[i])
            sym, th = dln_layer_symmetry(W, Xd, Yd, i, B)
            _, Sigma = gradient_covariance(sym, th)
            worst = max(worst, abs(np.sum(sym.A * Sigma) - np.sum(B * M)) / (scale * np.linalg.norm(B)))
    return ClaimResult(worst, 0.0, 1e-12, passed=worst <= 1e-12,
                       detail=f"worst relative defect {worst:.1e} over widths {patterns}")


@register(
    "symmetries.noise.two_layer_equilibrium",
    "Two-layer U W x with label noise: the closed-form equilibrium (balanced point of the reweighted product"
    " sqrt(tr Sx tr Se) Se^{1/2} V Sx^{1/2}) satisfies tr(Se) W Sx W^T = tr(Sx) U^T Se U with U W = V; from a point"
    " moved by exp(-B*), the orbit root find along B* = log g returns s* = 1 and that equilibrium.",
    section="6.2", tag="derived",
)
def _two_layer_equilibrium(rng, size):
    from ..symmetries.linear_noise_models import (
        dln_layer_symmetry,
        equilibrium_mismatch,
        product_dataset,
        symmetric_log,
        two_layer_equilibrium,
        two_layer_equilibrium_factorisation,
    )
    from ..symmetries.noise_equilibria import orbit_equilibrium

    worst_rel = worst_root = 0.0
    ok = True
    for dx, d, dy in ((3, 2, 3), (4, 3, 5)) + (((6, 4, 5),) if size != "small" else ()):
        V = (haar_orthonormal(dy, d, rng) * rng.uniform(0.5, 2, d)) @ haar_orthonormal(dx, d, rng).T
        Xd, Yd, Sx, Se = product_dataset(rng.standard_normal((dx, dx + 3)) * rng.uniform(0.5, 2, (dx, 1)),
                                         rng.standard_normal((dy, dy + 3)), V)
        Ws, Us = two_layer_equilibrium_factorisation(V, d, Sx, Se)
        worst_rel = max(worst_rel, equilibrium_mismatch((Ws, Us), Sx, Se)[0],
                        np.linalg.norm(Us @ Ws - V) / np.linalg.norm(V))
        g0 = scipy.linalg.expm(0.4 * _sym(rng, d))
        W0, U0 = g0 @ Ws, Us @ np.linalg.inv(g0)
        W1, U1, g = two_layer_equilibrium(W0, U0, Sx, Se)
        sym, th = dln_layer_symmetry((W0, U0), Xd, Yd, 1, symmetric_log(g))
        r = orbit_equilibrium(sym, th)
        ok &= r.converged
        ref = np.concatenate([W1.ravel(), U1.ravel()])
        worst_root = max(worst_root, abs(r.s - 1.0), np.linalg.norm(r.theta - ref) / np.linalg.norm(ref),
                         equilibrium_mismatch((W1, U1), Sx, Se)[0])
    worst = max(worst_rel, worst_root)
    return ClaimResult(worst, 0.0, 1e-9, passed=ok and worst <= 1e-9,
                       detail=f"closed form: mismatch/fiber {worst_rel:.1e}; root find vs closed form {worst_root:.1e};"
                              f" converged: {ok}")


def _covariance(rng, d, lo, hi):
    Q = haar_orthonormal(d, d, rng)
    return (Q * rng.uniform(lo, hi, d)) @ Q.T


def _sgd_vs_gd(rng, widths, steps, eta=0.05, batch=10, anisotropic=False):
    from ..symmetries.sgd_noise_sim import LabelNoiseTask, off_equilibrium_start, simulate_label_noise

    r = min(widths)
    V = (haar_orthonormal(widths[-1], r, rng) * rng.uniform(0.8, 1.5, r)) @ haar_orthonormal(widths[0], r, rng).T
    if anisotropic:  # Sigma_x eigenvalues in [0.5, 1.5], Sigma_e in [0.25, 0.75], random eigenvectors
        task = LabelNoiseTask(V, _covariance(rng, widths[0], 0.5, 1.5), _covariance(rng, widths[-1], 0.25, 0.75))
    else:
        task = LabelNoiseTask(V, np.eye(widths[0]), 0.5 * np.eye(widths[-1]))
    W0 = off_equilibrium_start(task, widths, rng, target=1.6)
    sgd = simulate_label_noise(task, W0, eta=eta, steps=steps, batch=batch, seed=rng, record_every=steps // 40)
    gd = simulate_label_noise(task, W0, eta=eta, steps=2000, method="gd", record_every=500)
    return sgd, gd


def _acceptance(rng, cases):
    worst_sgd, best_gd, worst_id = 0.0, np.inf, 0.0
    ok = True
    for widths, steps, batch, anisotropic in cases:
        sgd, gd = _sgd_vs_gd(rng, widths, steps, batch=batch, anisotropic=anisotropic)
        ok &= sgd.finite and gd.finite
        worst_sgd = max(worst_sgd, float(sgd.tail_mismatch(0.5).max()))
        best_gd = min(best_gd, float(gd.mismatch[-1].max()))
        worst_id = max(worst_id, gd.identity_defect, sgd.identity_defect)
    # SGD: every hidden layer within 10%; GD: the relation still fails by > 100% (worst layer)
    passed = ok and worst_sgd <= 0.10 and best_gd >= 1.0 and worst_id <= 1e-12
    return ClaimResult(worst_sgd, 0.0, 0.10, passed=passed,
                       detail=f"SGD (eta 0.05; widths, steps, batch: {cases}) mismatch of the sides averaged over"
                              f" the second half of the run {worst_sgd:.3f} (<= 0.10); GD from mismatch 1.6"
                              f" ends at worst-layer {best_gd:.3f} (>= 1.00);"
                              f" exact mu identity along both runs {worst_id:.1e} (<= 1e-12);"
                              " mismatch = ||forward - backward|| / ||backward|| per hidden layer")


@register(
    "symmetries.noise.sgd_reaches_equilibrium",
    "Two-layer linear net with label noise (online x ~ N(0, Sx), e ~ N(0, Se), random anisotropic covariances),"
    " started on the fiber U W = V at"
    " equilibrium mismatch 1.6: SGD drives tr(Se) W Sx W^T - tr(Sx) U^T Se U to within 10% (sides averaged over the"
    " second half of the run), GD stays"
    " above 100%, and mu follows the exact discrete identity along both runs.",
    section="6.2", tag="derived", sizes=("small", "medium"),
)
def _sgd_reaches_equilibrium(rng, size):
    cases = [((3, 2, 3), 16000, 10, True)] + ([((4, 3, 4), 20000, 10, True)] if size != "small" else [])
    return _acceptance(rng, cases)


@register(
    "symmetries.noise.sgd_deep_equilibrium",
    "Depth-3 linear net with label noise (x ~ N(0, I), e ~ N(0, I/2)): SGD reaches the per-hidden-layer equilibrium"
    " tr(Q_{i+1}^T Se Q_{i+1}) P_i Sx P_i^T = tr(P_{i-1} Sx P_{i-1}^T) Q_i^T Se Q_i within 10% (second-half average)"
    " in every hidden layer;"
    " GD from mismatch 1.6 stays above 100%.",
    section="6.2", tag="derived", sizes=("small", "medium"),
)
def _sgd_deep_equilibrium(rng, size):
    cases = [((2, 2, 2, 2), 24000, 20, False)] if size == "small" else [((3, 3, 3, 3), 24000, 20, False)]
    return _acceptance(rng, cases)
