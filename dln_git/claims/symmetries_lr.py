"""Claims of MATH.md section 6.1 about learning rates: the sharpness on the minimum set of the
scalar model ``1/2 (a c - y)^2`` and gradient descent's stability threshold ``2 / sharpness``,
and the penalty's own one-step map of the imbalance (which caps the learning rate a fixed
penalty weight allows).

The learning-rate GRID of ``dln_git/figures/fig10_relu_learning_rate.py`` is not a claim: its
outcome depends on the data set and the penalty weight and does not hold on every seed (see
:data:`dln_git.symmetries.learning_rate.MEASURED` for the measured counts).
"""

from __future__ import annotations

import numpy as np

from .registry import ClaimResult, register

_SIZES = ("small", "medium")


def _loss(a, c, y):
    return 0.5 * (a * c - y) ** 2


def _fd_hessian(a, c, y, h):
    """Central second differences of the loss itself (E is quadratic in a and in c separately, so
    the formulas are exact up to rounding: no h^2 truncation term)."""
    e0 = _loss(a, c, y)
    haa = (_loss(a + h, c, y) - 2 * e0 + _loss(a - h, c, y)) / h**2
    hcc = (_loss(a, c + h, y) - 2 * e0 + _loss(a, c - h, y)) / h**2
    hac = (_loss(a + h, c + h, y) - _loss(a + h, c - h, y)
           - _loss(a - h, c + h, y) + _loss(a - h, c - h, y)) / (4 * h**2)
    return np.array([[haa, hac], [hac, hcc]])


@register(
    "symmetries.lr.sharpness_minimum_set",
    "On the minimum set a c = y of 1/2 (a c - y)^2 the sharpness (largest Hessian eigenvalue, by finite differences)"
    " is a^2 + c^2 >= 2|y|, with the minimum 2|y| at the balanced point |a| = |c| = sqrt|y| (1e-9 relative).",
    section="6.1", tag="derived", sizes=_SIZES,
)
def _sharpness_minimum_set(rng, size):
    from ..symmetries.learning_rate import scalar_sharpness

    worst = 0.0
    below = 0
    for _ in range(8 if size == "small" else 64):
        y = float(rng.choice([-1, 1]) * np.exp(rng.uniform(np.log(0.1), np.log(10.0))))
        r = np.sqrt(abs(y))
        for u in (*rng.uniform(-2.0, 2.0, 3), 0.0):
            a = r * np.exp(u)
            c = y / a
            h = 1e-3 * max(abs(a), abs(c))
            fd = float(np.linalg.eigvalsh(_fd_hessian(a, c, y, h))[-1])
            worst = max(worst, abs(fd - (a * a + c * c)) / (a * a + c * c),
                        abs(scalar_sharpness(a, c, y) - fd) / fd)
            below += fd < 2 * abs(y) * (1 - 1e-9)
            if u == 0.0:
                worst = max(worst, abs(fd - 2 * abs(y)) / (2 * abs(y)))
    ok = worst <= 1e-9 and below == 0
    return ClaimResult(worst, 0.0, 1e-9, passed=ok,
                       detail=f"max relative gap between the finite-difference sharpness, a^2 + c^2, scalar_sharpness "
                              f"and 2|y| at |a| = |c|: {worst:.1e} (E has no h^2 error term; the rounding of the "
                              f"second differences at h = 1e-3 max(|a|, |c|) measured <= 3e-13 on 60 seeds); "
                              f"points below 2|y|: {below}")


@register(
    "symmetries.lr.gd_stability_threshold",
    "GD on 1/2 (a c - y)^2 near a minimum (a, y/a): the residual a c - y is multiplied by |1 - lr s| per step,"
    " s = a^2 + c^2 the finite-difference sharpness, so it decays for lr < 2/s and grows for lr > 2/s"
    " (1e-4 relative on the factor).",
    section="6.1", tag="derived", sizes=_SIZES,
)
def _gd_stability_threshold(rng, size):
    from ..symmetries.learning_rate import scalar_gd

    worst = 0.0
    wrong_side = 0
    for _ in range(4 if size == "small" else 32):
        y = float(rng.choice([-1, 1]) * np.exp(rng.uniform(np.log(0.1), np.log(10.0))))
        a = np.sqrt(abs(y)) * np.exp(rng.uniform(-1.5, 1.5))
        c = y / a
        h = 1e-3 * max(abs(a), abs(c))
        s = float(np.linalg.eigvalsh(_fd_hessian(a, c, y, h))[-1])
        for side in (-1.0, 1.0):
            delta = rng.uniform(0.05, 0.2)
            lr = (1.0 + side * delta) * 2.0 / s
            # start the decaying run higher, so its end stays far above rounding (eps |y|)
            eps = (1e-9 if side > 0 else 1e-6) * abs(y)
            steps = 15
            r = scalar_gd(a + eps / c, c, y, lr, steps)  # residual starts at eps
            factor = (abs(r[-1]) / abs(r[0])) ** (1.0 / steps)
            expect = abs(1.0 - lr * s)
            worst = max(worst, abs(factor - expect) / expect)
            wrong_side += (factor > 1.0) != (side > 0)
    ok = worst <= 1e-4 and wrong_side == 0
    return ClaimResult(worst, 0.0, 1e-4, passed=ok,
                       detail=f"max relative gap between the measured per-step factor of |a c - y| over 15 steps and "
                              f"|1 - lr s| at lr = (1 -+ delta) 2/s, delta in [0.05, 0.2]: {worst:.1e}; residual from "
                              f"1e-9 |y| (growing, <= 1.5e-7 |y| at the end) or 1e-6 |y| (decaying, >= 5e-10 |y|): the "
                              f"quadratic terms (relative ~|r|/|y|) and rounding (eps |y| / |r|) stay ~1e-5 "
                              f"(measured <= 6e-6), far below 1e-4; runs on the wrong side of 1: {wrong_side}")


@register(
    "symmetries.lr.penalty_step",
    "One GD step on the penalty (rho/4) sum D_j^2 alone (one hidden layer, biases) maps D_j to"
    " a_j (1 - lr rho D_j)^2 - o_j (1 + lr rho D_j)^2 (a_j, o_j: squared in/out norms), i.e. D_j (1 - 2 lr rho K_j)"
    " + O(D^2): stable only for lr rho K_j < 1 (1e-10 relative to max_j K_j).",
    section="6.1", tag="derived", sizes=_SIZES,
)
def _penalty_step(rng, size):
    from ..symmetries.homogeneous import homogeneous_net
    from ..symmetries.neuron_torus import imbalance
    from ..symmetries.penalty import orbit_penalty_grad

    worst = 0.0
    for _ in range(3 if size == "small" else 20):
        d0, h, d2 = (int(v) for v in rng.integers(1, 7, 3))
        scale = float(np.exp(rng.uniform(-3, 3)))
        W = [scale * rng.standard_normal((h, d0)), scale * rng.standard_normal((d2, h))]
        b = [scale * rng.standard_normal(h), scale * rng.standard_normal(d2)]
        net = homogeneous_net(W, b, "relu")
        rho, lr = float(rng.uniform(0.1, 2.0)), float(rng.uniform(0.01, 0.3)) / scale**2
        gW, gb = orbit_penalty_grad(net, rho)
        stepped = homogeneous_net([w - lr * g for w, g in zip(W, gW, strict=True)],
                                  [v - lr * g for v, g in zip(b, gb, strict=True)], "relu")
        a = np.sum(W[0] ** 2, axis=1) + b[0] ** 2
        o = np.sum(W[1] ** 2, axis=0)
        D = a - o
        expect = a * (1 - lr * rho * D) ** 2 - o * (1 + lr * rho * D) ** 2
        worst = max(worst, float(np.max(np.abs(imbalance(stepped)[0] - expect)) / np.max(a + o)))
    return ClaimResult(worst, 0.0, 1e-10,
                       detail=f"max |D_j(after) - closed form| / max_j (a_j + o_j): {worst:.1e} "
                              "(rounding of squared norms, ~1e-15; 1e-10 leaves room for width and scale)")
