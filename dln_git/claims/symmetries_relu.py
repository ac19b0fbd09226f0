"""Claims of docs/math section 6.1: gauge fixing of positively homogeneous (ReLU) networks.

Instances: random networks with biases (or without), activations relu / leaky_relu / linear,
depths 2..5 (small) and up to 6 with widths up to 32 (medium); "imbalanced" networks multiply each
layer and each row by ``exp(U(-2, 2))``. Tolerances are stated per claim against what float64 and
the integrator deliver.
"""

from __future__ import annotations

import numpy as np

from .registry import ClaimResult, register

_ACTS = ("relu", "leaky_relu", "linear")


def _net(rng, widths, *, bias=True, spread=0.0, activation=None):
    from ..symmetries.homogeneous import homogeneous_net

    W = [rng.standard_normal((widths[i + 1], widths[i])) / np.sqrt(widths[i])
         * np.exp(rng.uniform(-spread, spread)) * np.exp(rng.uniform(-spread, spread, (widths[i + 1], 1)))
         for i in range(len(widths) - 1)]
    b = [0.5 * rng.standard_normal(d) for d in widths[1:]] if bias else None
    act = activation if activation is not None else _ACTS[int(rng.integers(3))]
    return homogeneous_net(W, b, act, float(rng.uniform(0.01, 0.5)))


def _widths(rng, depth, lo=2, hi=7):
    return tuple(int(v) for v in rng.integers(lo, hi, depth + 1))


def _shift(net, grads, h):
    gW, gb = grads
    return net.replace(weights=[w + h * g for w, g in zip(net.weights, gW, strict=True)],
                       biases=None if gb is None else [v + h * g for v, g in zip(net.biases, gb, strict=True)])


def _diag_xi(net, s):
    pad = 1 if net.biases is not None else 0
    return tuple(np.diag(np.concatenate([v, np.zeros(pad)])) for v in s)


@register(
    "symmetries.relu.rescaling_invariance",
    "The torus theta_in,j -> c theta_in,j, w_out,j -> w_out,j / c leaves f unchanged (relu, leaky relu, linear;"
    " with and without biases; c = exp(U(-4, 4))): ||f(c.W)(x) - f(W)(x)|| <= 1e-12 ||f(W)(x)||.",
    section="6.1", tag="known",
)
def _rescaling_invariance(rng, size):
    from ..symmetries.neuron_torus import rescale_neurons

    worst = 0.0
    for k in range(6 if size == "small" else 24):
        net = _net(rng, _widths(rng, int(rng.integers(2, 6)), hi=7 if size == "small" else 33),
                   bias=bool(k % 2), activation=_ACTS[k % 3])
        c = [np.exp(rng.uniform(-4, 4, d)) for d in net.hidden_widths]
        x = rng.standard_normal((net.widths[0], 16))
        f0 = net.forward(x)
        worst = max(worst, np.linalg.norm(rescale_neurons(net, c).forward(x) - f0) / np.linalg.norm(f0))
    # each rescaled weight carries one rounding (eps) and a ReLU decision never flips (the sign of c z is
    # that of z): the error is a few eps per layer (measured ~1e-15); 1e-12 is the bar
    return ClaimResult(worst, 0.0, 1e-12, detail="max relative change of f over random nets and torus elements")


@register(
    "symmetries.relu.imbalance_is_diagonal_of_mu",
    "D_j = ||theta_in,j||^2 - ||w_out,j||^2 equals diag(mu_l) of the core moment map of the bias-augmented chain"
    " Wh_l = [[W_l, b_l], [0, 1]] (mu_l = Wh_l Wh_l^T - Wh_{l+1}^T Wh_{l+1}: incoming minus outgoing).",
    section="6.1", tag="derived",
)
def _imbalance_mu(rng, size):
    from ..core import moment_map
    from ..symmetries.neuron_torus import augmented_weights, imbalance

    worst = 0.0
    for k in range(6 if size == "small" else 24):
        net = _net(rng, _widths(rng, int(rng.integers(2, 6))), bias=bool(k % 2), spread=2.0)
        mu = moment_map(augmented_weights(net))
        for D, m, d in zip(imbalance(net), mu, net.hidden_widths, strict=True):
            worst = max(worst, np.max(np.abs(D - np.diag(m)[:d])) / np.max(np.abs(m)))
    # both sides are sums of at most ~8 squares: rounding ~ 8 eps relative to the largest entry
    return ClaimResult(worst, 0.0, 1e-13, detail="max |D - diag(mu)| / max|mu|, with and without biases")


@register(
    "symmetries.relu.torus_gram",
    "The torus Gram operator K = diag o A^*A on diagonal xi (core gram_operator of the augmented chain) is"
    " diag(||theta_in||^2 + ||w_out||^2) minus the entrywise squares of the weights between neighbouring hidden"
    " layers; with one hidden layer K = diag(||theta_in,j||^2 + ||w_out,j||^2).",
    section="6.1", tag="derived",
)
def _torus_gram(rng, size):
    from ..core import gram_operator
    from ..symmetries.neuron_torus import augmented_weights, neuron_sq_norms, torus_gram

    worst = 0.0
    for k in range(6 if size == "small" else 20):
        net = _net(rng, _widths(rng, int(rng.integers(2, 6))), bias=bool(k % 2), spread=1.0)
        s = [rng.standard_normal(d) for d in net.hidden_widths]
        K = torus_gram(net)
        G = gram_operator(augmented_weights(net)).apply(_diag_xi(net, s))
        ref = np.concatenate([np.diag(g)[:d] for g, d in zip(G, net.hidden_widths, strict=True)])
        sv = np.concatenate(s)
        worst = max(worst, np.max(np.abs(K @ sv - ref)) / (np.abs(K).max() * np.abs(sv).max()))
        if net.depth == 2:
            a, o = neuron_sq_norms(net)
            worst = max(worst, np.max(np.abs(K - np.diag(a[0] + o[0]))) / np.abs(K).max())
    # K s and A^*A xi are sums of ~2d products each: rounding ~ 2d eps relative to |K| |s| (d <= 6)
    return ClaimResult(worst, 0.0, 1e-13, detail="max |K s - diag(A^*A diag(s))| / (max|K| max|s|)")


@register(
    "symmetries.relu.penalty_gradient_tangent",
    "grad of (rho/4) sum D_j^2 is rho A(D) (finite differences) and is tangent to the torus orbit: the derivative"
    " of f along it is zero (relative to the derivative along a random direction of the same size).",
    section="6.1", tag="derived",
)
def _penalty_gradient(rng, size):
    from ..symmetries.penalty import orbit_penalty, orbit_penalty_grad

    worst_fd = worst_tan = 0.0
    for k in range(3 if size == "small" else 12):
        net = _net(rng, _widths(rng, int(rng.integers(2, 5))), bias=bool(k % 2), spread=0.5)
        rho = float(rng.uniform(0.1, 2.0))
        g = orbit_penalty_grad(net, rho)
        V = (tuple(rng.standard_normal(w.shape) for w in net.weights),
             None if net.biases is None else tuple(rng.standard_normal(v.shape) for v in net.biases))
        dot = sum(np.sum(a * b) for a, b in zip(g[0], V[0], strict=True))
        if net.biases is not None:
            dot += sum(np.sum(a * b) for a, b in zip(g[1], V[1], strict=True))
        h = 1e-5
        fd = (orbit_penalty(_shift(net, V, h), rho) - orbit_penalty(_shift(net, V, -h), rho)) / (2 * h)
        worst_fd = max(worst_fd, abs(fd - dot) / max(abs(fd), 1.0))
        x = rng.standard_normal((net.widths[0], 12))
        gn = np.sqrt(sum(np.sum(a * a) for a in g[0]) + (sum(np.sum(a * a) for a in g[1]) if g[1] else 0.0))
        vn = np.sqrt(sum(np.sum(a * a) for a in V[0]) + (sum(np.sum(a * a) for a in V[1]) if V[1] else 0.0))
        t = 1e-4 / gn
        df = np.linalg.norm(_shift(net, g, t).forward(x) - _shift(net, g, -t).forward(x)) / (2 * t * gn)
        tv = 1e-4 / vn
        dv = np.linalg.norm(_shift(net, V, tv).forward(x) - _shift(net, V, -tv).forward(x)) / (2 * tv * vn)
        worst_tan = max(worst_tan, df / dv)
    # Phi is a quartic polynomial: central differences at h = 1e-5 err by ~h^2 (1e-10) plus eps Phi / h
    # (~1e-11). Along the orbit f moves only at second order: df/dt over a step 1e-4 is ~1e-4 of the
    # derivative along a generic direction, so 1e-3 separates tangent from generic by three decades.
    ok = worst_fd <= 1e-7 and worst_tan <= 1e-3
    return ClaimResult(worst_fd, 0.0, 1e-7, passed=ok,
                       detail=f"gradient vs central differences {worst_fd:.1e} (<= 1e-7); |df| along grad / along "
                              f"random direction {worst_tan:.1e} (<= 1e-3)")


@register(
    "symmetries.relu.imbalance_rate",
    "Along dW/dt = -grad((rho/4) sum D^2): dD/dt = -2 rho K D (finite differences in time); a loss gradient"
    " conserves D (so the same rate holds with the loss on).",
    section="6.1", tag="derived",
)
def _imbalance_rate(rng, size):
    from ..symmetries.homogeneous import mse_loss_and_grad
    from ..symmetries.neuron_torus import imbalance, torus_gram
    from ..symmetries.penalty import orbit_penalty_grad

    worst_rate = worst_loss = 0.0
    for k in range(3 if size == "small" else 12):
        net = _net(rng, _widths(rng, int(rng.integers(2, 6))), bias=bool(k % 2), spread=0.5)
        rho = float(rng.uniform(0.1, 2.0))
        h = 1e-6
        g = orbit_penalty_grad(net, rho)
        dD = (np.concatenate(imbalance(_shift(net, g, -h))) - np.concatenate(imbalance(_shift(net, g, h)))) / (2 * h)
        pred = -2 * rho * torus_gram(net) @ np.concatenate(imbalance(net))
        worst_rate = max(worst_rate, np.max(np.abs(dD - pred)) / np.max(np.abs(pred)))
        x, y = rng.standard_normal((net.widths[0], 10)), rng.standard_normal((net.widths[-1], 10))
        _, gE = mse_loss_and_grad(net, x, y)
        gn = np.sqrt(sum(np.sum(a * a) for a in gE[0]))
        dDE = (np.concatenate(imbalance(_shift(net, gE, -h))) - np.concatenate(imbalance(_shift(net, gE, h)))) / (2 * h)
        worst_loss = max(worst_loss, np.max(np.abs(dDE)) / (gn * max(np.max(np.abs(pred)), 1.0) / rho))
    # D is quadratic in W: central differences are exact up to rounding, eps |D| / h ~ 1e-10 relative
    ok = worst_rate <= 1e-7 and worst_loss <= 1e-7
    return ClaimResult(worst_rate, 0.0, 1e-7, passed=ok,
                       detail=f"|dD/dt + 2 rho K D| / max|2 rho K D| {worst_rate:.1e} (<= 1e-7); dD along -grad E, "
                              f"relative {worst_loss:.1e} (<= 1e-7)")


@register(
    "symmetries.relu.penalty_flow_keeps_function",
    "The penalty flow dW/dt = -grad((rho/4) sum D^2), integrated on the weights (DOP853, rtol 1e-11) over a long"
    " horizon (rho t lambda_min(K) = 8 at the balanced point it flows to), keeps f to 1e-6 relative while max|D|"
    " falls by at least 1e-4.",
    section="6.1", tag="derived",
)
def _penalty_flow(rng, size):
    from ..symmetries.gauge_balance import balance_neurons
    from ..symmetries.neuron_torus import torus_gram
    from ..symmetries.penalty import penalty_flow

    worst_f, worst_ratio = 0.0, 0.0
    for k in range(1 if size == "small" else 4):
        net = _net(rng, _widths(rng, int(rng.integers(2, 4)), lo=2, hi=6), bias=bool(k % 2) or size == "small",
                   spread=1.0)
        rho = 1.0
        # the flow ends at the balanced point of the orbit, where dD/dt = -2 rho K D decays at the rate
        # 2 rho lambda_min(K) of that point (K moves along the flow): horizon 8 / (rho lambda_min) there
        lam = float(np.linalg.eigvalsh(torus_gram(balance_neurons(net).net))[0])
        t_final = 8.0 / (rho * max(lam, 1e-3))
        res = penalty_flow(net, rho, t_final, rtol=1e-11, n_times=6)
        if not res.converged:
            return ClaimResult(np.inf, 0.0, 1e-6, passed=False, detail=res.message)
        x = rng.standard_normal((net.widths[0], 16))
        f0 = net.forward(x)
        worst_f = max(worst_f, max(np.linalg.norm(m.forward(x) - f0) for m in res.nets) / np.linalg.norm(f0))
        worst_ratio = max(worst_ratio, res.max_imbalance[-1] / res.max_imbalance[0])
    # near the end ||D|| decays like exp(-2 rho lambda_min t) = e^-16 over the horizon (the early transient
    # is faster: far from balance K is larger); the integrator's global
    # error at rtol 1e-11 moves f by ~1e-9 (measured); the bar is 1e-6
    ok = worst_f <= 1e-6 and worst_ratio <= 1e-4
    return ClaimResult(worst_f, 0.0, 1e-6, passed=ok,
                       detail=f"max relative change of f along the flow {worst_f:.1e} (<= 1e-6); max|D(T)|/max|D(0)| "
                              f"{worst_ratio:.1e} (<= 1e-4)")


@register(
    "symmetries.relu.one_hidden_layer_closed_form",
    "One hidden layer, penalty flow alone: tanh tau_j(t) = tanh tau_j(0) exp(-4 rho P_j t), P_j constant"
    " (the flow integrated on the weights, DOP853 rtol 1e-12).",
    section="6.1", tag="derived",
)
def _closed_form(rng, size):
    from ..symmetries.neuron_torus import gauge_coordinates
    from ..symmetries.penalty import one_hidden_layer_tau, penalty_flow

    worst = 0.0
    for k in range(1 if size == "small" else 4):
        net = _net(rng, _widths(rng, 2, hi=9), bias=bool(k % 2) or size == "small", spread=1.5)
        rho = float(rng.uniform(0.2, 2.0))
        c0 = gauge_coordinates(net)
        t_final = 2.0 / (rho * float(np.median(c0.P[0])))
        res = penalty_flow(net, rho, t_final, rtol=1e-12, n_times=5)
        for t, m in zip(res.times, res.nets, strict=True):
            c = gauge_coordinates(m)
            worst = max(worst, np.max(np.abs(c.tau[0] - one_hidden_layer_tau(c0.tau[0], c0.P[0], rho, t))),
                        np.max(np.abs(c.P[0] / c0.P[0] - 1.0)))
    # the integrator's global error at rtol 1e-12 (measured ~1e-11 in tau); the bar is 1e-6
    return ClaimResult(worst, 0.0, 1e-6, detail="max |tau - closed form| and max |P(t)/P(0) - 1|")


@register(
    "symmetries.relu.exact_balancing",
    "Newton on the log-scales reaches max|D| <= 1e-12 * scale (scale = mean (||theta_in||^2 + ||w_out||^2)/2) with f"
    " unchanged to 1e-12, in strictly fewer iterations than ENorm sweeps on every net with >= 2 hidden layers"
    " (one hidden layer: both are the closed form c_j = sqrt(||w_out,j|| / ||theta_in,j||), one step); the"
    " balanced point minimises ||c.W||^2 over the torus (random log-scale perturbations increase it).",
    section="6.1", tag="derived",
)
def _exact_balancing(rng, size):
    from ..symmetries.gauge_balance import balance_neurons, balance_one_hidden_layer
    from ..symmetries.neuron_torus import rescale_neurons

    worst_rel, worst_f, ok_fewer, ok_min, cases = 0.0, 0.0, True, True, []
    depths = (2, 3, 4) if size == "small" else (2, 3, 4, 5, 6)
    for L in depths:
        net = _net(rng, _widths(rng, L, lo=3, hi=9 if size == "small" else 33), bias=bool(rng.integers(2)),
                   spread=2.0)
        rn = balance_neurons(net, 1e-12, method="newton")
        re = balance_neurons(net, 1e-12, method="enorm")
        if not (rn.converged and re.converged):
            return ClaimResult(np.inf, 0.0, 1e-12, passed=False, detail=f"newton: {rn.message}; enorm: {re.message}")
        # measured independently of the package: squared norms by np.linalg.norm
        D, sc = [], []
        for l in range(L - 1):
            th = np.hstack([rn.net.weights[l], rn.net.biases[l][:, None]]) if rn.net.biases else rn.net.weights[l]
            a, o = np.linalg.norm(th, axis=1) ** 2, np.linalg.norm(rn.net.weights[l + 1], axis=0) ** 2
            D.append(a - o)
            sc.append((a + o) / 2)
        worst_rel = max(worst_rel, np.max(np.abs(np.concatenate(D))) / np.mean(np.concatenate(sc)))
        x = rng.standard_normal((net.widths[0], 8))
        f0 = net.forward(x)
        worst_f = max(worst_f, np.linalg.norm(rn.net.forward(x) - f0) / np.linalg.norm(f0))
        cases.append(f"L={L}: {rn.iterations} vs {re.iterations}")
        if L == 2:
            cf = balance_one_hidden_layer(net)
            ok_fewer &= rn.iterations == 1 and np.allclose(cf.scales[0], rn.scales[0], rtol=1e-12)
        else:
            ok_fewer &= rn.iterations < re.iterations
        norm0 = sum(np.sum(w * w) for w in rn.net.weights) + (sum(np.sum(v * v) for v in rn.net.biases)
                                                              if rn.net.biases else 0.0)
        for _ in range(3):
            c = [np.exp(1e-3 * rng.standard_normal(d)) for d in net.hidden_widths]
            m = rescale_neurons(rn.net, c)
            norm1 = sum(np.sum(w * w) for w in m.weights) + (sum(np.sum(v * v) for v in m.biases) if m.biases else 0.0)
            ok_min &= norm1 >= norm0 * (1 - 1e-14)
    # the solver stops at <= 1e-12 by its own measurement; the independent one differs by the rounding of
    # the squared norms (summation order, ~d eps relative: 4e-15 for d <= 33), allowed on top of 1e-12
    tol_rel = 1e-12 + 40 * np.finfo(float).eps
    ok = worst_rel <= tol_rel and worst_f <= 1e-12 and ok_fewer and ok_min
    return ClaimResult(worst_rel, 0.0, tol_rel, passed=ok,
                       detail=f"Newton max|D|/scale {worst_rel:.1e} (<= 1e-12 + 40 eps); "
                              f"f change {worst_f:.1e} (<= 1e-12); "
                              f"iterations Newton vs ENorm: {', '.join(cases)}; fewer: {ok_fewer}; minimum: {ok_min}")


@register(
    "symmetries.relu.scalar_sharpness",
    "On the minimum set a c = y of E = 1/2 (a c - y)^2 the Hessian has eigenvalues 0 and a^2 + c^2 (finite"
    " differences); a^2 + c^2 >= 2|y| with equality exactly at the balanced point |a| = |c|.",
    section="6.1", tag="derived",
)
def _scalar_sharpness(rng, size):
    worst, ok_min = 0.0, True
    for _ in range(5 if size == "small" else 20):
        y = float(rng.uniform(0.2, 3.0)) * (1 if rng.integers(2) else -1)
        a = float(np.exp(rng.uniform(-1.5, 1.5)))
        c = y / a
        h = 1e-4

        def E(p, q, y=y):
            return 0.5 * (p * q - y) ** 2

        H = np.array([[(E(a + h, c) - 2 * E(a, c) + E(a - h, c)) / h**2,
                       (E(a + h, c + h) - E(a + h, c - h) - E(a - h, c + h) + E(a - h, c - h)) / (4 * h * h)],
                      [0.0, (E(a, c + h) - 2 * E(a, c) + E(a, c - h)) / h**2]])
        H[1, 0] = H[0, 1]
        ev = np.linalg.eigvalsh(H)
        worst = max(worst, abs(ev[0]) / (a * a + c * c), abs(ev[1] - (a * a + c * c)) / (a * a + c * c))
        ok_min &= a * a + c * c >= 2 * abs(y) * (1 - 1e-15)
        ab = np.sqrt(abs(y))
        ok_min &= abs(ab * ab + (y / ab) ** 2 - 2 * abs(y)) <= 1e-14 * abs(y)
    # second differences at h = 1e-4 of a quartic: error ~ h^2 (1e-8) plus eps E / h^2 (~1e-8)
    return ClaimResult(worst, 0.0, 1e-6, passed=worst <= 1e-6 and ok_min,
                       detail=f"Hessian eigenvalues vs (0, a^2 + c^2), relative {worst:.1e} (<= 1e-6); minimum "
                              f"2|y| at |a| = |c|: {ok_min}")
