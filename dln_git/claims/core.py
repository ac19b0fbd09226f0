"""Claims of docs/math sections 1-2: the gauge action, moment map, Kempf–Ness convexity, the SVD
chart minimum, and the width rules (funnel, stabiliser, closed orbits)."""

from __future__ import annotations

import itertools

import numpy as np

from ..core import (
    balanced_from_end_to_end,
    end_to_end,
    end_to_end_differential,
    end_to_end_differential_adjoint,
    funnel_layers,
    gauge_act,
    gauge_exp,
    generic_orbits_closed,
    haar_orthonormal,
    infinitesimal_action,
    infinitesimal_action_adjoint,
    inner,
    is_balanced,
    min_regularizer,
    moment_map,
    norm,
    random_weights,
    regularizer,
    stabiliser_layers,
)
from ..core.linalg import herm
from ..testing import dense
from .registry import ClaimResult, register

_INSTANCES = {"small": 6, "medium": 40}
_MAX_WIDTH = {"small": 4, "medium": 6}


def _random_widths(rng, max_depth=4, max_width=4, min_depth=1):
    depth = int(rng.integers(min_depth, max_depth + 1))
    return tuple(int(d) for d in rng.integers(1, max_width + 1, size=depth + 1))


def _instances(rng, size, min_depth=1):
    """Random (widths, W) pairs, half of them complex."""
    for k in range(_INSTANCES[size]):
        widths = _random_widths(rng, max_width=_MAX_WIDTH[size], min_depth=min_depth)
        yield widths, random_weights(widths, rng, complex=bool(k % 2))


def _random_gauge(rng, widths, cond, complex_):
    """g_i = U diag(s) V^* with singular values in [1/sqrt(cond), sqrt(cond)]."""
    g = []
    for d in widths[1:-1]:
        s = np.exp(rng.uniform(-0.5, 0.5, d) * np.log(cond))
        U = haar_orthonormal(d, d, rng, complex=complex_)
        V = haar_orthonormal(d, d, rng, complex=complex_)
        g.append((U * s) @ herm(V))
    return tuple(g)


def _random_lie(rng, widths, complex_, hermitian=False):
    out = []
    for d in widths[1:-1]:
        m = rng.standard_normal((d, d)) + (1j * rng.standard_normal((d, d)) if complex_ else 0)
        out.append(0.5 * (m + herm(m)) if hermitian else m)
    return tuple(out)


def _rel(a, b) -> float:
    """Relative difference of two tuples (or arrays) of matrices."""
    a = a if isinstance(a, tuple) else (a,)
    b = b if isinstance(b, tuple) else (b,)
    scale = max(norm(b), 1e-300)
    return norm(tuple(x - y for x, y in zip(a, b, strict=True))) / scale if a else 0.0


@register(
    "core.x_invariant",
    "The gauge action preserves the end-to-end map: phi(g.W) = phi(exp(xi).W) = phi(W).",
    section="1", tag="known",
)
def _x_invariant(rng, size):
    worst = 0.0
    for widths, W in _instances(rng, size):
        cx = np.iscomplexobj(W[0])
        X = end_to_end(W)
        g = _random_gauge(rng, widths, 10.0, cx)
        xi = tuple(0.3 * x for x in _random_lie(rng, widths, cx))
        worst = max(worst, _rel(end_to_end(gauge_act(g, W)), X), _rel(end_to_end(gauge_exp(xi, W)), X))
    return ClaimResult(worst, 0.0, 1e-12, detail="max relative change of X over random g (cond 10) and exp(xi)")


@register(
    "core.moment_map_derivative",
    "The moment map is the derivative of R along the orbit: d/dt R(exp(t xi).W)|_0 = <xi, mu(W)>.",
    section="1", tag="derived",
)
def _moment_map_derivative(rng, size):
    worst, h = 0.0, 1e-5
    for widths, W in _instances(rng, size, min_depth=2):
        xi = _random_lie(rng, widths, np.iscomplexobj(W[0]))
        fd = (regularizer(gauge_exp(xi, W, h)) - regularizer(gauge_exp(xi, W, -h))) / (2 * h)
        exact = inner(xi, moment_map(W))
        worst = max(worst, abs(fd - exact) / (norm(xi) * 2 * regularizer(W)))
    return ClaimResult(worst, 0.0, 1e-8, detail=f"central differences, h = {h:g}; error relative to ||xi|| ||W||^2")


@register(
    "core.moment_map_adjoint",
    "mu(W) = A_W^*(W): mu_i = W_i W_i^* - W_{i+1}^* W_{i+1} is the adjoint action applied to W.",
    section="1", tag="derived",
)
def _moment_map_adjoint(rng, size):
    worst = 0.0
    for _, W in _instances(rng, size, min_depth=2):
        worst = max(worst, _rel(moment_map(W), infinitesimal_action_adjoint(W, W)),
                    _rel(moment_map(W), dense.dense_moment_map(W)))
    return ClaimResult(worst, 0.0, 1e-13, detail="closed form vs A_W^*(W), matrix-free and dense (Kronecker)")


@register(
    "core.equivariance",
    "The moment map is K-equivariant: mu(k.W) = k mu(W) k^* for k in O(d) (U(d)), and R is K-invariant.",
    section="1", tag="known",
)
def _equivariance(rng, size):
    worst = 0.0
    for widths, W in _instances(rng, size, min_depth=2):
        cx = np.iscomplexobj(W[0])
        k = tuple(haar_orthonormal(d, d, rng, complex=cx) for d in widths[1:-1])
        kW = gauge_act(k, W)
        rotated = tuple(ki @ m @ herm(ki) for ki, m in zip(k, moment_map(W), strict=True))
        worst = max(worst, _rel(moment_map(kW), rotated), abs(regularizer(kW) / regularizer(W) - 1))
    return ClaimResult(worst, 0.0, 1e-13)


@register(
    "core.noether",
    "Noether: the gradient of any E(phi(W)) is orthogonal to the gauge directions, A_W^*(grad_W E) = 0.",
    section="4", tag="known",
)
def _noether(rng, size):
    worst = 0.0
    for widths, W in _instances(rng, size, min_depth=2):
        cx = np.iscomplexobj(W[0])
        C = rng.standard_normal((widths[-1], widths[0]))
        X = end_to_end(W)
        # E(X) = sum Re(sin(C * X)) + 1/2 ||X - C||^2; its gradient for <A,B> = Re tr(A^* B)
        G = np.conj(np.cos(C * X)) * C if cx else np.cos(C * X) * C
        G = G + (X - C)
        grad_W = end_to_end_differential_adjoint(W, G)
        worst = max(worst, norm(infinitesimal_action_adjoint(W, grad_W)) / (norm(grad_W) * norm(W)))
    return ClaimResult(worst, 0.0, 1e-13, detail="E(X) = sum Re sin(C∘X) + 1/2||X - C||^2")


@register(
    "core.kempf_ness_convexity",
    "t -> R(exp(t s).W) is convex for Hermitian s: its second derivative at 0 is 2 ||A_W(s)||^2 >= 0.",
    section="2", tag="derived",
)
def _convexity(rng, size):
    worst, h, min_second = 0.0, 1e-3, np.inf
    for widths, W in _instances(rng, size, min_depth=2):
        s = _random_lie(rng, widths, np.iscomplexobj(W[0]), hermitian=True)
        s = tuple(x / max(norm(s), 1e-300) for x in s)
        r = [regularizer(gauge_exp(s, W, t)) for t in (-h, 0.0, h)]
        fd = (r[0] - 2 * r[1] + r[2]) / h**2
        exact = 2 * norm(infinitesimal_action(W, s)) ** 2
        worst = max(worst, abs(fd - exact) / (2 * regularizer(W)))
        ts = np.linspace(-1.0, 1.0, 21)
        rs = np.array([regularizer(gauge_exp(s, W, t)) for t in ts])
        min_second = min(min_second, float(np.min(rs[:-2] - 2 * rs[1:-1] + rs[2:]) / (2 * regularizer(W))))
    ok = worst <= 1e-5 and min_second >= -1e-12
    return ClaimResult(worst, 0.0, 1e-5, passed=ok,
                       detail=f"second differences, h = {h:g}; smallest second difference on t in [-1, 1]: "
                       f"{min_second:.2e} (must be >= 0)")


@register(
    "core.svd_chart_minimum",
    "min over the fiber of R is (N/2) sum s_k^{2/N}, attained by the balanced SVD chart; no fiber point is lower.",
    section="2", tag="known",
)
def _svd_chart_minimum(rng, size):
    worst, lowest = 0.0, np.inf
    for widths, W in _instances(rng, size):
        X = end_to_end(W)
        N = len(widths) - 1
        Wb = balanced_from_end_to_end(X, widths, rng)
        rmin = min_regularizer(X, N)
        if not is_balanced(Wb, 1e-12):
            return ClaimResult(np.inf, 0.0, 1e-12, passed=False, detail=f"SVD chart not balanced for {widths}")
        worst = max(worst, abs(regularizer(Wb) / rmin - 1), _rel(end_to_end(Wb), X))
        if N == 2:  # independent closed form: the nuclear norm
            worst = max(worst, abs(rmin / np.linalg.norm(X, "nuc") - 1))
        for _ in range(4):
            g = _random_gauge(rng, widths, 30.0, np.iscomplexobj(W[0]))
            lowest = min(lowest, regularizer(gauge_act(g, Wb)) / rmin, regularizer(gauge_act(g, W)) / rmin)
    ok = worst <= 1e-12 and lowest >= 1 - 1e-12
    return ClaimResult(worst, 0.0, 1e-12, passed=ok,
                       detail=f"lowest R/Rmin over random gauge moves of the fiber: {lowest:.6f} (must be >= 1)")


def _patterns(size):
    top = _MAX_WIDTH[size]
    depths = (2, 3) if size == "small" else (2, 3, 4)
    for N in depths:
        limit = top if N <= 2 else min(top, 4 if size == "medium" else 3)
        yield from itertools.product(range(1, limit + 1), repeat=N + 1)


def _rule_mismatches(rng, size, holds, what: str) -> ClaimResult:
    """Check ``holds(widths, W)`` at a random W of every width pattern; count the exceptions."""
    examples, count = [], 0
    for widths in _patterns(size):
        count += 1
        if not holds(widths, random_weights(widths, rng)):
            examples.append(widths)
    return ClaimResult(len(examples), 0, 0, detail=f"{count} width patterns, {what}; mismatches: {examples[:5]}")


@register(
    "core.funnel_rule",
    "At generic W the gauge directions fill the fiber's tangent space exactly when no hidden layer is a funnel.",
    section="2", tag="derived",
)
def _funnel_rule(rng, size):
    def holds(widths, W):
        orbit, fiber = dense.dense_orbit_dimension(W), dense.dense_fiber_dimension(W)
        return orbit <= fiber and (orbit == fiber) == (not funnel_layers(widths))

    return _rule_mismatches(rng, size, holds, "dense ranks")


@register(
    "core.stabiliser_rule",
    "The Gram operator A_W^*A_W is singular at generic W exactly when some hidden layer has d_i > max(a_i, b_i);"
    " for N = 2 the stabiliser has dimension (d_1 - a)_+ (d_1 - b)_+.",
    section="2", tag="derived",
)
def _stabiliser_rule(rng, size):
    def holds(widths, W):
        stab = dense.dense_stabiliser_dimension(W)
        if len(widths) == 3:
            d0, d1, d2 = widths
            return stab == max(d1 - d0, 0) * max(d1 - d2, 0) and (stab > 0) == bool(stabiliser_layers(widths))
        return (stab > 0) == bool(stabiliser_layers(widths))

    return _rule_mismatches(rng, size, holds, "dense ranks")


@register(
    "core.closed_orbit_rule",
    "Generic orbits are closed iff every hidden layer wider than r = min(d) has both neighbours equal to r"
    " (checked as: a generic W has every W_i of rank equal to rank X, as the balanced points of its fiber do).",
    section="2", tag="derived",
)
def _closed_orbit_rule(rng, size):
    def holds(widths, W):
        rx = np.linalg.matrix_rank(end_to_end(W))
        return all(np.linalg.matrix_rank(w) == rx for w in W) == generic_orbits_closed(widths)

    return _rule_mismatches(rng, size, holds, "ranks of the layers and of X")


@register(
    "core.gauge_in_fiber",
    "Gauge directions are tangent to the fiber: dphi_W(A_W(xi)) = 0.",
    section="2", tag="derived",
)
def _gauge_in_fiber(rng, size):
    worst = 0.0
    for widths, W in _instances(rng, size, min_depth=2):
        xi = _random_lie(rng, widths, np.iscomplexobj(W[0]))
        d = end_to_end_differential(W, infinitesimal_action(W, xi))
        worst = max(worst, np.linalg.norm(d) / (norm(xi) * norm(W) ** len(W)))
    return ClaimResult(worst, 0.0, 1e-13)


@register(
    "core.transport_spaces",
    "On a run of hidden layers j..k, xi_i = T_i X S_i (T_i = W_i..W_{j+1}, S_i = W_k..W_{i+1}) has A_W(xi) zero on "
    "the layers inside the run, X B_1 and -B_2 X on the two boundary layers (B_1 = W_k..W_j, B_2 = W_{k+1}..W_{j+1}), "
    "so A^*A restricted to these tuples is the Sylvester operator X -> B_2^*B_2 X + X B_1B_1^*.",
    section="2", tag="derived",
)
def _transport_spaces(rng, size):
    """Against the dense infinitesimal action: the interior blocks of ``A (Z X)`` (relative to
    ``||A|| ||Z X||``, rounding of products of up to N layers: tolerance 1e-12), the boundary
    blocks against ``X B_1`` and ``-B_2 X``, and ``<Z X, A^*A Z X>`` against
    ``||B_2 X||^2 + ||X B_1||^2`` (relative 1e-12)."""
    worst = 0.0
    for _, W in _instances(rng, size, min_depth=3):
        A = dense.dense_infinitesimal_action(W)
        offsets = np.cumsum([0, *(w.size for w in W)])
        scale = np.linalg.norm(A, 2)
        H = len(W) - 1
        for j, k in itertools.combinations(range(H), 2):
            X = rng.standard_normal((W[j].shape[0], W[k].shape[0]))
            if np.iscomplexobj(W[0]):
                X = X + 1j * rng.standard_normal(X.shape)
            xi = [np.zeros((w.shape[0], w.shape[0]), dtype=np.result_type(W[0], X)) for w in W[:-1]]
            T = np.eye(W[j].shape[0])
            for i in range(j, k + 1):
                if i > j:
                    T = W[i] @ T
                S = np.eye(W[k].shape[0])
                for m in range(k, i, -1):
                    S = S @ W[m]
                xi[i] = T @ X @ S
            v = np.concatenate([x.ravel() for x in xi])
            Av = A @ v
            size_ = scale * np.linalg.norm(v) or 1.0
            B1, B2 = T @ W[j], W[k + 1] @ T
            blocks = [Av[offsets[m]:offsets[m + 1]].reshape(W[m].shape) for m in range(len(W))]
            worst = max(worst, max((np.linalg.norm(blocks[m]) for m in range(j + 1, k + 1)), default=0.0) / size_,
                        np.linalg.norm(blocks[j] - X @ B1) / size_, np.linalg.norm(blocks[k + 1] + B2 @ X) / size_)
            energy = np.linalg.norm(B2 @ X) ** 2 + np.linalg.norm(X @ B1) ** 2
            worst = max(worst, abs(np.vdot(Av, Av).real - energy) / (size_ ** 2))
    return ClaimResult(worst, 0.0, 1e-12, detail="max relative defect: interior blocks, boundary blocks, energy")
