"""Claims of docs/math section 6.3 (first bullet): quotient observables and staged learning.

Tolerances:

* Invariance and (in)equalities of norms are compared relative to the size of the instance
  (``||A||^2 + ||B||^2``, the product of the layer norms): the observables are sums of products
  computed in float64, so their rounding is ``~ d eps`` of that size; 1e-10 leaves a wide margin
  for the gauge-moved instances (condition numbers of the moving element up to ~e^8).
* Staged learning: the acceptance of issue 15 is 5% on every seed. An aligned balanced start
  follows the scalar mode flow exactly (Saxe et al. 2014), so what is left is the measurement: the
  crossing located on 200 records, then refined on 48 records of a restart from the recorded
  weights around it (cubic interpolation of log s_k), and the integrator's rtol = 1e-8: measured
  <= 4e-7 relative on seeds 0..60. The 5% is the acceptance, not the accuracy.
"""

from __future__ import annotations

import itertools

import numpy as np

from ..core import gauge_exp
from ..flows import balance
from ..symmetries.monitor import predicted_transition_time
from ..symmetries.quotient import (
    dln_observables,
    factor_pair_observables,
    neuron_invariants,
    path_norm,
    rescale_neurons,
)
from ..symmetries.staged import staged_learning
from .registry import ClaimResult, register


def _brute_path_norm(W, b, p):
    """Every path (an input unit or a bias unit, then one unit per layer) enumerated."""
    d = [W[0].shape[1]] + [w.shape[0] for w in W]
    total = 0.0
    for start in range(len(W) + 1 if b is not None else 1):
        layers = range(max(start - 1, 0), len(W))
        for src in (range(d[0]) if start == 0 else [None]):
            for path in itertools.product(*[range(d[k + 1]) for k in layers]):
                prod, prev = 1.0, src
                for k, j in zip(layers, path, strict=True):
                    prod *= abs(b[k][j] if prev is None else W[k][j, prev]) ** p
                    prev = j
                total += prod
    return total ** (1.0 / p)


@register(
    "symmetries.quotient.attention_nuclear",
    "A factor pair (W_Q, W_K^T) or (W_V, W_O) is a depth-2 linear network under GL(d_k): "
    "||A||^2 + ||B||^2 >= 2 ||AB||_* on random, gauge-rescaled and degenerate pairs (nuclear norm by SVD), "
    "with equality at the SVD-chart balanced pair and at the Newton-balanced pair of the orbit.",
    section="6.3", tag="known",
)
def _attention_nuclear(rng, size):
    worst_ineq = worst_eq = 0.0
    kinds = ("random", "rescaled", "rank_deficient", "zero_factor")
    for kind in kinds * (1 if size == "small" else 4):
        m, k, n = (int(x) for x in rng.integers(1, 7, 3))
        A, B = rng.standard_normal((m, k)), rng.standard_normal((k, n))
        if kind == "rescaled":
            g = np.diag(np.exp(rng.uniform(-3, 3, k))) @ np.linalg.qr(rng.standard_normal((k, k)))[0]
            A, B = A @ np.linalg.inv(g), g @ B
        elif kind == "rank_deficient" and k > 1:
            A[:, -1] = A[:, 0]
        elif kind == "zero_factor":
            B = np.zeros_like(B)
        size_ab = np.sum(A**2) + np.sum(B**2)
        nuc = np.linalg.norm(A @ B, "nuc")
        o = factor_pair_observables(A, B)
        worst_ineq = max(worst_ineq, (2 * nuc - size_ab) / size_ab, abs(o.nuclear_norm - nuc) / size_ab)
        svd_pair = np.sum(o.balanced_left**2) + np.sum(o.balanced_right**2)
        worst_eq = max(worst_eq, abs(svd_pair - 2 * nuc) / size_ab)
        if nuc > 0:
            B_n, A_n = balance((B, A), method="newton").weights
            worst_eq = max(worst_eq, abs(np.sum(A_n**2) + np.sum(B_n**2) - 2 * nuc) / size_ab)
    ok = worst_ineq <= 1e-10 and worst_eq <= 1e-8
    # Newton stops at ||mu|| <= 1e-12 R; R - min R is then O(||mu||^2 / s_min) (second order), <= 1e-8
    return ClaimResult(max(worst_ineq, worst_eq), 0.0, 1e-8, passed=ok,
                       detail=f"{len(kinds)} kinds; inequality violation / ||A||^2+||B||^2 {worst_ineq:.1e} "
                              f"(<= 1e-10); equality at the balanced pairs {worst_eq:.1e} (<= 1e-8)")


@register(
    "symmetries.quotient.relu_invariants",
    "ReLU networks: l1 and l2 path norms (products of |W_l|^p, biases as constant units) equal a brute-force "
    "sum over every path and are invariant under neuron rescaling "
    "(theta_in,j -> c theta_in,j, w_out,j -> w_out,j / c); "
    "w_out,j theta_in,j^T is invariant under its layer's rescaling; the network function is unchanged.",
    section="6.3", tag="known",
)
def _relu_invariants(rng, size):
    worst = 0.0
    for trial in range(3 if size == "small" else 12):
        widths = [int(x) for x in rng.integers(1, 4, int(rng.integers(3, 5)))]
        W = tuple(rng.standard_normal((widths[i + 1], widths[i])) for i in range(len(widths) - 1))
        b = tuple(rng.standard_normal(d) for d in widths[1:]) if trial % 2 == 0 else None
        scales = [np.exp(rng.uniform(-4, 4, d)) for d in widths[1:-1]]
        W2, b2 = rescale_neurons(W, scales, b)
        for p in (1.0, 2.0):
            ref = _brute_path_norm(W, b, p)
            worst = max(worst, abs(path_norm(W, b, p=p) - ref) / ref, abs(path_norm(W2, b2, p=p) - ref) / ref)
        for layer in range(1, len(widths) - 1):
            one = [np.ones(d) for d in widths[1:-1]]
            one[layer - 1] = scales[layer - 1]
            before = neuron_invariants(W, b)[layer - 1]
            after = neuron_invariants(*rescale_neurons(W, one, b))[layer - 1]
            worst = max(worst, np.max(np.abs(after - before)) / max(np.max(np.abs(before)), 1e-300))
        x = rng.standard_normal((widths[0], 5))
        y, y2 = x, x
        for k in range(len(W)):
            y = W[k] @ y + (0 if b is None else b[k][:, None])
            y2 = W2[k] @ y2 + (0 if b2 is None else b2[k][:, None])
            if k < len(W) - 1:
                y, y2 = np.maximum(y, 0), np.maximum(y2, 0)
        worst = max(worst, np.max(np.abs(y - y2)) / max(np.max(np.abs(y)), 1.0))
    # rescaling by e^{+-4} per neuron loses ~ e^8 eps relative in the rescaled products
    return ClaimResult(worst, 0.0, 1e-10, detail=f"largest relative deviation {worst:.1e} (path norms vs brute force, "
                                                   f"after rescaling; neuron invariants; outputs)")


@register(
    "symmetries.quotient.dln_invariants",
    "DLN: s_k(X) and the balanced representative's layer norms (each (sum_k s_k^{2/N})^{1/2}) are constant on "
    "the gauge orbit, while the raw layer norms, R and ||mu|| move; R >= min R = (N/2) sum s_k^{2/N}.",
    section="6.3", tag="derived",
)
def _dln_invariants(rng, size):
    worst, moved, below = 0.0, 0.0, 0.0
    for _ in range(3 if size == "small" else 12):
        widths = [int(x) for x in rng.integers(1, 6, int(rng.integers(3, 6)))]
        W = tuple(rng.standard_normal((widths[i + 1], widths[i])) for i in range(len(widths) - 1))
        xi = tuple((lambda a: (a + a.T) / 2)(rng.standard_normal((d, d))) for d in widths[1:-1])
        o, g = dln_observables(W), dln_observables(gauge_exp(xi, W))
        big = max(np.prod([np.linalg.norm(w, 2) for w in W]), 1e-300)
        worst = max(worst, np.max(np.abs(o.singular_values - g.singular_values)) / big,
                    np.max(np.abs(o.balanced_layer_norms**2 - g.balanced_layer_norms**2)) / big ** (2 / len(W)))
        s = np.linalg.svd(np.linalg.multi_dot([*W[::-1], np.eye(widths[0])]), compute_uv=False)
        s = s[s > 1e-12 * s[0]] if s[0] > 0 else s[:0]
        closed = 0.5 * len(W) * np.sum(s ** (2 / len(W)))
        worst = max(worst, abs(o.min_regularizer - closed) / max(o.regularizer, 1e-300))
        moved = max(moved, abs(o.regularizer - g.regularizer) / o.regularizer)
        below = max(below, (g.min_regularizer - g.regularizer) / g.regularizer)
    ok = worst <= 1e-9 and below <= 1e-12
    return ClaimResult(worst, 0.0, 1e-9, passed=ok,
                       detail=f"quotient deviation on the orbit {worst:.1e} (<= 1e-9); raw R moved by {moved:.2f} "
                              f"(relative); min R - R {below:.1e} (<= 1e-12)")


def _staged_instance(rng):
    depth = int(rng.integers(3, 5))
    widths = tuple(int(x) for x in rng.integers(8, 11, depth + 1))
    s3 = rng.uniform(0.8, 1.2)
    s2 = s3 * rng.uniform(1.6, 2.2)
    s = np.array([s2 * rng.uniform(1.3, 1.6), s2, s3])
    return widths, s, float(10 ** rng.uniform(-4, -2))


@register(
    "symmetries.quotient.staged_learning",
    "A deep linear network (N = 3, 4; widths 8-10) trained by gradient flow from a small balanced start aligned with "
    "a target of well-separated singular values learns in stages: the time s_k(X(t)) reaches s_k(Y)/2 (a quotient "
    "observable) matches the aligned-mode prediction int da / (N a^{2-2/N} (s_k - a)) within 5% for every mode, "
    "while each s_k's 10-90% rise holds its own transition only and every raw layer norm's rise holds two or more.",
    section="6.3", tag="known",
)
def _staged(rng, size):
    worst, blur_ok, runs = 0.0, True, []
    for _ in range(1 if size == "small" else 4):
        widths, s, a0 = _staged_instance(rng)
        r = staged_learning(widths, s, a0, rng, records=200)
        if not r.converged:
            return ClaimResult(np.inf, 0.0, 0.05, passed=False, detail=r.message)
        worst = max(worst, float(np.max(np.abs(r.relative_error))))
        blur_ok &= bool(np.all(r.raw_transitions_inside >= 2) and np.all(r.quotient_transitions_inside == 1))
        runs.append(f"N={len(widths) - 1}, a0={a0:.1e}: t_k {np.round(r.measured, 3).tolist()} vs predicted "
                    f"{np.round(r.predicted, 3).tolist()}; transitions inside the 10-90% rise of each s_k "
                    f"{r.quotient_transitions_inside.tolist()}, of each ||W_i||^2 {r.raw_transitions_inside.tolist()}")
    # independent check of the prediction: the decomposition layer's oracle at the predicted time
    # (reliable for a0 >= 1e-4, the range drawn here)
    from ..decomposition import aligned_mode

    t_pred = predicted_transition_time(s[0], a0, len(widths) - 1)
    oracle = abs(float(aligned_mode(s[0], a0, len(widths) - 1, t_pred)) / (0.5 * s[0]) - 1.0)
    ok = worst <= 0.05 and blur_ok and oracle <= 1e-6
    return ClaimResult(worst, 0.0, 0.05, passed=ok,
                       detail="; ".join(runs) + f"; raw blur {'holds' if blur_ok else 'FAILS'}; aligned_mode at the "
                                                 f"predicted time off by {oracle:.1e} (<= 1e-6)")
