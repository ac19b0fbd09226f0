"""Claims of docs/math section 4 (training dynamics and the decomposition)."""

from __future__ import annotations

import itertools

import numpy as np

from ..core import (
    balanced_from_end_to_end,
    end_to_end,
    end_to_end_metric,
    haar_orthonormal,
    moment_map,
    norm,
    random_weights,
)
from .core import _random_widths as _widths
from .registry import ClaimResult, register

_KINDS = ("distance", "regression", "sensing", "completion")
#: Composite Gauss-Legendre rule of the objective's rate integral in ``decomp.learning_objective``:
#: panels of [0, T] halving towards t = 0 (``[0, T/64], [T/64, T/32], ..., [T/2, T]``, where the
#: rate's initial transient lives: rates fall from ~200 to ~3 within t ~ 0.01 on deep regressions)
#: and nodes per panel.
_OBJECTIVE_PANELS, _OBJECTIVE_NODES = 7, 12


def _problem(rng, k, min_depth=2):
    """Random widths, weights and loss (kinds in turn, every third instance complex)."""
    from ..testing.losses import random_loss

    widths = _widths(rng, min_depth=min_depth)
    cx = k % 3 == 2
    W = random_weights(widths, rng, complex=cx)
    return widths, W, random_loss((widths[-1], widths[0]), _KINDS[k % 4], rng, complex=cx)


def _mu_deviation(trajectory, times, mu0, lam):
    """``max_t ||mu(W(t)) - e^{-2 lam t} mu0|| / ||(W_i(t) W_i(t)^*)_i||``.

    The error of an integrator that keeps W to relative accuracy delta is
    ``||mu(W + dW) - mu(W)|| <= 2 ||W|| ||dW||``, of the size of the terms ``W_i W_i^*`` of mu, not
    of mu itself: mu decays like ``e^{-2 lam t}`` (to 2e-3 at lam t = 3) while W does not (the data
    keep X away from 0), so dividing by ``||mu(t)||`` would measure the cancellation in
    ``W_i W_i^* - W_{i+1}^* W_{i+1}``, not the law. The scale is that of the discrete law in
    ``decomp.gd_drift``.
    """
    worst = 0.0
    for t, Wt in zip(times, trajectory, strict=True):
        pred = tuple(np.exp(-2 * lam * t) * m for m in mu0)
        diff = tuple(a - b for a, b in zip(moment_map(Wt), pred, strict=True))
        worst = max(worst, norm(diff) / max(norm(tuple(w @ w.conj().T for w in Wt)), 1e-300))
    return worst


@register(
    "decomp.noether",
    "Noether: along the gradient flow of E(phi(W)) alone (lam = 0), mu(W(t)) = mu(W(0)) for any loss E.",
    section="4", tag="known",
)
def _noether(rng, size):
    from ..decomposition import train

    worst = 0.0
    for k in range(4 if size == "small" else 16):
        _, W, loss = _problem(rng, k)
        r = train(W, loss, t_final=1.0, t_eval=np.linspace(0, 1, 6), rtol=1e-11, record_weights=True, speeds=False)
        worst = max(worst, _mu_deviation(r.trajectory, r.times, moment_map(W), 0.0))
    return ClaimResult(worst, 0.0, 1e-9, detail="max over t of ||mu(t) - mu(0)|| / ||(W_i(t) W_i(t)^*)_i||; "
                       "distance, regression, sensing, completion losses, real and complex; flow to rtol 1e-11 per "
                       "step, so 1e-9 allows ~100 steps of accumulated local error")


@register(
    "decomp.reg_rate",
    "With the regularizer, mu(W(t)) = exp(-2 lam t) mu(W(0)) along dW/dt = -grad(E + lam R), for any E:"
    " balancedness at a data-independent rate.",
    section="4", tag="derived",
)
def _reg_rate(rng, size):
    from ..decomposition import train

    worst = 0.0
    for k in range(4 if size == "small" else 16):
        _, W, loss = _problem(rng, k)
        lam = float(rng.uniform(0.2, 2.0))
        r = train(W, loss, lam=lam, t_final=1.5, t_eval=np.linspace(0, 1.5, 7), rtol=1e-11, record_weights=True,
                  speeds=False)
        worst = max(worst, _mu_deviation(r.trajectory, r.times, moment_map(W), lam))
    return ClaimResult(worst, 0.0, 1e-9, detail="max over t of ||mu(t) - e^{-2 lam t} mu(0)|| / ||(W_i(t) W_i(t)^*)_i||"
                       " (the scale of the integrator's error in mu, which decays to e^{-6} of its start while W "
                       "does not), lam in [0.2, 2]; flow to rtol 1e-11 per step, so 1e-9 allows ~100 steps of "
                       "accumulated local error")


@register(
    "decomp.vertical_is_l2_flow",
    "The vertical part of -grad L is exactly -lam Pi_V(W) (lam times the L2 balancing field): grad_W E is"
    " horizontal.",
    section="4", tag="paper",
)
def _vertical(rng, size):
    from ..decomposition import loss_value_and_gradient, split
    from ..testing.dense import dense_projection_vertical, flatten

    worst = 0.0
    for k in range(6 if size == "small" else 24):
        _, W, loss = _problem(rng, k, min_depth=1)
        lam = float(rng.uniform(0.1, 2.0))
        g = loss_value_and_gradient(W, loss, lam)
        vertical, _ = split(W, tuple(-x for x in g.grad))
        P_V = dense_projection_vertical(W)  # an independent, dense projector
        expected = -lam * (P_V @ flatten(W))
        worst = max(worst, np.linalg.norm(flatten(vertical) - expected) / (lam * norm(W)),
                    np.linalg.norm(P_V @ flatten(g.grad_data)) / max(norm(g.grad_data), 1e-300))
    return ClaimResult(worst, 0.0, 1e-9, detail="split (matrix-free CG) against the dense projector Pi_V = I - J^+ J;"
                       " max of ||V_vert + lam Pi_V W|| / lam ||W|| and ||Pi_V grad_W E|| / ||grad_W E||")


@register(
    "decomp.balanced_metric",
    "On the balanced manifold dphi dphi^*(G) = sum_j (XX^*)^{(N-j)/N} G (X^*X)^{(j-1)/N} ((XX^*)^0 = I), and"
    " dphi(lam W) = lam N X: the learning flow is dX/dt = -dphi(grad L).",
    section="4", tag="known",
)
def _balanced_metric(rng, size):
    from ..decomposition import SquaredDistance, learning_velocity

    worst = 0.0
    for k in range(6 if size == "small" else 24):
        widths = _widths(rng, min_depth=1)
        cx = k % 3 == 2
        rank = int(rng.integers(1, min(widths) + 1)) if k % 2 else min(widths)
        U = haar_orthonormal(widths[-1], rank, rng, complex=cx)
        V = haar_orthonormal(widths[0], rank, rng, complex=cx)
        X = (U * rng.uniform(0.3, 2.0, rank)) @ V.conj().T
        W = balanced_from_end_to_end(X, widths, rng)
        G = rng.standard_normal(X.shape) + (1j * rng.standard_normal(X.shape) if cx else 0)
        lam = float(rng.uniform(0.0, 1.0))
        loss = SquaredDistance(X - G)  # grad E(X) = G
        expected = -(end_to_end_metric(W).apply(G) + lam * len(W) * end_to_end(W))
        worst = max(worst, np.linalg.norm(learning_velocity(X, loss, len(W), lam) - expected)
                    / np.linalg.norm(expected))
    return ClaimResult(worst, 0.0, 1e-12, detail="fractional powers from one SVD of X, against the end-to-end metric "
                       "at an SVD-chart point; full rank and rank-deficient X, real and complex")


@register(
    "decomp.balanced_learning_flow",
    "From a balanced start, X(t) = phi(W(t)) of the training flow follows the learning flow on the balanced"
    " manifold (including rank-deficient and complex X, lam >= 0).",
    section="4", tag="known",
)
def _balanced_learning_flow(rng, size):
    from ..decomposition import learning_flow, train
    from ..testing.losses import random_loss

    worst = 0.0
    for k in range(4 if size == "small" else 16):
        widths = _widths(rng, min_depth=1, max_depth=4)
        cx = k % 3 == 2
        rank = max(1, min(widths) - (k % 2))
        X0 = (haar_orthonormal(widths[-1], rank, rng, complex=cx) * rng.uniform(0.5, 1.5, rank)) @ \
            haar_orthonormal(widths[0], rank, rng, complex=cx).conj().T
        W = balanced_from_end_to_end(X0, widths, rng)
        loss = random_loss(X0.shape, _KINDS[k % 4], rng, complex=cx)
        lam = 0.3 * (k % 2)
        ts = np.linspace(0, 1.0, 6)
        r = train(W, loss, lam=lam, t_final=1.0, t_eval=ts, rtol=1e-12, speeds=False)
        lf = learning_flow(X0, loss, len(W), lam=lam, t_final=1.0, t_eval=ts, rtol=1e-12)
        scale = np.linalg.norm(lf.trajectory, axis=(1, 2))
        worst = max(worst, float(np.max(np.linalg.norm(r.X - lf.trajectory, axis=(1, 2)) / scale)))
    return ClaimResult(worst, 0.0, 1e-8, detail="max over t of ||X_train(t) - X_learning(t)|| / ||X_learning(t)||")


@register(
    "decomp.learning_objective",
    "The learning flow is a gradient flow of E(X) + lam (N/2) tr((X^*X)^{1/N}): d/dt of it equals <G, dX/dt>"
    " < 0 with G = grad E + lam X (X^*X)^{1/N - 1} (so f(T) - f(0) is the integral of that rate).",
    section="4", tag="known",
)
def _learning_objective(rng, size):
    from ..decomposition import learning_flow, learning_velocity
    from ..testing.losses import random_loss

    nodes, weights = np.polynomial.legendre.leggauss(_OBJECTIVE_NODES)
    T = 0.3
    edges = np.concatenate([[0.0], T * 2.0 ** -np.arange(_OBJECTIVE_PANELS - 1, -1, -1)])
    panels = list(itertools.pairwise(edges))
    times = np.concatenate([a + 0.5 * (b - a) * (nodes + 1.0) for a, b in panels])
    weights = np.concatenate([0.5 * (b - a) * weights for a, b in panels])
    worst, increase = 0.0, -np.inf
    for k in range(4 if size == "small" else 16):
        widths = _widths(rng, min_depth=2)
        d0, dN = widths[0], widths[-1]
        r = min(d0, dN)
        X0 = (haar_orthonormal(dN, r, rng) * rng.uniform(0.5, 1.5, r)) @ haar_orthonormal(d0, r, rng).T
        loss = random_loss(X0.shape, _KINDS[k % 4], rng)
        N, lam = len(widths) - 1, float(rng.uniform(0.05, 0.5))
        lf = learning_flow(X0, loss, N, lam=lam, t_final=T, t_eval=np.concatenate([[0.0], times, [T]]), rtol=1e-12)
        rates = []
        for X in lf.trajectory[1:-1]:
            U, s, Vh = np.linalg.svd(X, full_matrices=False)
            G = loss.gradient(X) + lam * (U * s ** (2.0 / N - 1.0)) @ Vh
            rates.append(float(np.vdot(G, learning_velocity(X, loss, N, lam)).real))
        decrease = lf.objective[-1] - lf.objective[0]
        integral = float(np.dot(weights, rates))
        worst = max(worst, abs(decrease - integral) / abs(integral))
        increase = max(increase, max(rates))
    return ClaimResult(worst, 0.0, 1e-9, passed=bool(worst <= 1e-9 and increase < 0),
                       detail=f"f(T) - f(0) of the objective along the flow (rtol 1e-12) against the "
                              f"Gauss-Legendre integral of <G, dX/dt> over [0, T = 0.3] ({_OBJECTIVE_PANELS} "
                              f"panels halving towards 0, {_OBJECTIVE_NODES} nodes each), "
                              f"relative; the integrator's error in f is ~1e-12 |f| per step, tens of steps, and "
                              f"the quadrature error of an analytic rate is far below; largest rate {increase:.2e} "
                              f"(must be < 0)")


@register(
    "decomp.aligned_modes",
    "Whitened regression from a balanced, aligned start: every mode follows da/dt = -N a^{2-2/N}(a - s) - lam N a"
    " (the logistic curve of Saxe et al. for N = 2), as the training flow shows.",
    section="4", tag="known",
)
def _aligned_modes(rng, size):
    from ..decomposition import aligned_regression, train

    worst = 0.0
    for k in range(3 if size == "small" else 12):
        N = (2, 3, 4)[k % 3]
        modes = int(rng.integers(1, 4))
        widths = tuple(int(x) for x in rng.integers(modes, modes + 3, size=N + 1))
        lam = 0.1 * (k % 2)
        prob = aligned_regression(widths, rng.uniform(0.5, 3.0, modes), rng.uniform(0.05, 0.5, modes), rng, lam=lam)
        ts = np.linspace(0, 2.0, 5)
        r = train(prob.weights, prob.loss, lam=lam, t_final=2.0, t_eval=ts, rtol=1e-12, speeds=False)
        Xo = prob.solution(r.times)
        worst = max(worst, float(np.max(np.linalg.norm(r.X - Xo, axis=(1, 2)) / np.linalg.norm(Xo, axis=(1, 2)))))
    return ClaimResult(worst, 0.0, 1e-8, detail="closed forms (N = 2) and quadrature-inverted t(a) (N = 3, 4) against "
                       "train(method='flow'), max relative X error")


@register(
    "decomp.fast_slow_order",
    "The fast-slow system dW/dt = -grad E - (1/eps) Pi_V(W) stays within O(eps) of the learning flow from the"
    " balanced projection: log-log slope 1 of the distance against eps.",
    section="4", tag="paper",
)
def _fast_slow(rng, size):
    from ..decomposition import fast_slow_distance
    from ..testing.losses import random_loss

    eps = np.array([1e-2, 1e-3, 1e-4] if size == "small" else [1e-2, 1e-3, 1e-4, 1e-5])
    slopes = []
    for k in range(1 if size == "small" else 3):
        widths = (3, 3, 3, 2) if k == 0 else _widths(rng, min_depth=2, max_depth=3)
        W = random_weights(widths, rng)
        loss = random_loss((widths[-1], widths[0]), _KINDS[k % 4], rng)
        d = [fast_slow_distance(W, loss, e, t_final=1.0).distance for e in eps]
        slopes.append(np.polyfit(np.log(eps), np.log(d), 1)[0])
    worst = max(slopes, key=lambda s: abs(s - 1))
    return ClaimResult(float(worst), 1.0, 0.2, detail=f"eps = {', '.join(f'{e:g}' for e in eps)}, t in [0, 1]; "
                       f"slopes {', '.join(f'{s:.3f}' for s in slopes)}")


@register(
    "decomp.gd_drift",
    "Gradient descent W <- W - eta (grad_W E + lam W): mu_{k+1,i} = (1 - eta lam)^2 mu_{k,i}"
    " + eta^2 (g_i g_i^* - g_{i+1}^* g_{i+1}) exactly, per step, minibatch losses included.",
    section="4", tag="derived",
)
def _gd_drift(rng, size):
    from ..decomposition import DataLoss, loss_value_and_gradient, train

    worst = 0.0
    for k in range(4 if size == "small" else 16):
        _, W, loss = _problem(rng, k)
        eta, lam = float(rng.uniform(0.01, 0.1)), float(rng.uniform(0.0, 1.0))
        sgd = isinstance(loss, DataLoss) and k % 2 == 1
        kw = dict(method="sgd", batch_size=max(1, loss.n_samples // 2), rng=rng) if sgd else dict(method="gd")
        r = train(W, loss, lam=lam, eta=eta, steps=5, record_every=1, record_weights=True, speeds=False, **kw)
        for step in range(5):
            Wk, Wn = r.trajectory[step], r.trajectory[step + 1]
            batch_loss = loss.batch(r.batches[step]) if sgd else loss
            g = loss_value_and_gradient(Wk, batch_loss, 0.0).grad_data
            pred = tuple((1 - eta * lam) ** 2 * m + eta**2 * (g[i] @ g[i].conj().T - g[i + 1].conj().T @ g[i + 1])
                         for i, m in enumerate(moment_map(Wk)))
            scale = max(norm(tuple(w @ w.conj().T for w in Wn)), 1e-300)
            worst = max(worst, norm(tuple(a - b for a, b in zip(moment_map(Wn), pred, strict=True))) / scale)
    return ClaimResult(worst, 0.0, 1e-12, detail="5 steps of GD and SGD on every loss kind; error relative to "
                       "||(W_i W_i^*)_i||")
