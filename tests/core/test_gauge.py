"""Gauge action, one-parameter subgroups, infinitesimal action and its adjoint, Noether.

References: explicit ``g_i W_i g_{i-1}^{-1}`` with ``numpy.linalg.inv``, ``scipy.linalg.expm``,
``numpy.linalg.multi_dot``, the dense matrix of the infinitesimal action ``A`` and the dense
Jacobian ``J`` of ``dln_git.testing.dense``, and central finite differences.
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg
from core_helpers import cases, product, random_tuple
from hypothesis import given, settings
from hypothesis import strategies as st

import dln_git as dg
from dln_git.testing import dense
from dln_git.testing import strategies as dst


def spectral_scale(W) -> float:
    return float(np.prod([np.linalg.norm(w, 2) for w in W]))


def explicit_action(g, W) -> tuple[np.ndarray, ...]:
    """``(g.W)_i = g_i W_i g_{i-1}^{-1}`` with explicit inverses (g_0 = g_N = I)."""
    N = len(W)
    out = []
    for i in range(N):
        M = W[i]
        if i < N - 1:
            M = g[i] @ M
        if i > 0:
            M = M @ np.linalg.inv(g[i - 1])
        out.append(M)
    return tuple(out)


def conds(g) -> float:
    return max((np.linalg.cond(x) for x in g), default=1.0)


# ---------------------------------------------------------------------------------------------
# The group action
# ---------------------------------------------------------------------------------------------


@settings(deadline=None)
@given(st.data())
def test_gauge_act_formula_and_end_to_end_invariance(data):
    d, W, is_complex, _ = data.draw(cases())
    g = data.draw(dst.gauge_elements(d, cond=10.0, complex=is_complex))
    gW = dg.gauge_act(g, W)
    kappa = conds(g)
    assert [m.shape for m in gW] == [w.shape for w in W]
    ref = explicit_action(g, W)
    for a, b in zip(gW, ref, strict=True):
        assert np.linalg.norm(a - b) <= 1e-12 * kappa**2 * max(np.linalg.norm(b), 1.0)
    X = product(W)
    X2 = product(gW)
    assert np.linalg.norm(X2 - X) <= 1e-12 * kappa**2 * max(spectral_scale(W), 1e-300)


@settings(deadline=None)
@given(st.data())
def test_gauge_exp_invariance_and_expm(data):
    d, W, is_complex, _ = data.draw(cases())
    xi = data.draw(dst.lie_algebra_elements(d, scale=1.0, complex=is_complex))
    t = data.draw(st.floats(-1.0, 1.0))
    out = dg.gauge_exp(xi, W, t)
    g = tuple(scipy.linalg.expm(t * x) for x in xi)
    kappa = conds(g)
    ref = explicit_action(g, W)
    for a, b in zip(out, ref, strict=True):
        assert np.linalg.norm(a - b) <= 1e-12 * kappa**2 * max(np.linalg.norm(b), 1.0)
    X = product(W)
    assert np.linalg.norm(product(out) - X) <= 1e-12 * kappa**2 * spectral_scale(W)
    assert np.linalg.norm(dg.end_to_end(out) - X) <= 1e-12 * kappa**2 * spectral_scale(W)


@settings(deadline=None)
@given(st.data())
def test_gauge_exp_one_parameter_group(data):
    """exp((s + t) xi).W = exp(t xi).(exp(s xi).W) and exp(0 xi).W = W."""
    d, W, is_complex, _ = data.draw(cases(max_depth=3))
    xi = data.draw(dst.lie_algebra_elements(d, scale=0.5, complex=is_complex))
    s = data.draw(st.floats(-1.0, 1.0))
    t = data.draw(st.floats(-1.0, 1.0))
    two_steps = dg.gauge_exp(xi, dg.gauge_exp(xi, W, s), t)
    one_step = dg.gauge_exp(xi, W, s + t)
    assert dg.norm([a - b for a, b in zip(two_steps, one_step, strict=True)]) <= 1e-11 * dg.norm(W)
    zero = dg.gauge_exp(xi, W, 0.0)
    assert dg.norm([a - b for a, b in zip(zero, W, strict=True)]) <= 1e-15 * dg.norm(W)


# ---------------------------------------------------------------------------------------------
# The infinitesimal action and its adjoint
# ---------------------------------------------------------------------------------------------


@settings(deadline=None)
@given(st.data())
def test_infinitesimal_action_matches_dense(data):
    d, W, is_complex, _ = data.draw(cases())
    xi = data.draw(dst.lie_algebra_elements(d, complex=is_complex))
    got = dg.infinitesimal_action(W, xi)
    assert [m.shape for m in got] == [w.shape for w in W]
    A = dense.dense_infinitesimal_action(W)
    ref = A @ dense.flatten(xi) if xi else np.zeros(A.shape[0])
    assert np.linalg.norm(dg.pack(got) - ref) <= 1e-13 * (1 + np.linalg.norm(A, 2)) * (1 + dg.norm(xi))


@settings(deadline=None)
@given(st.data())
def test_infinitesimal_action_is_velocity_of_gauge_exp(data):
    d, W, is_complex, _ = data.draw(cases())
    xi = data.draw(dst.lie_algebra_elements(d, complex=is_complex))
    h = 1e-5
    plus, minus = dg.gauge_exp(xi, W, h), dg.gauge_exp(xi, W, -h)
    fd = [(p - m) / (2 * h) for p, m in zip(plus, minus, strict=True)]
    got = dg.infinitesimal_action(W, xi)
    size = max(dg.norm(xi), 1.0) ** 3 * dg.norm(W)
    assert dg.norm([a - b for a, b in zip(got, fd, strict=True)]) <= 1e-7 * size


@settings(deadline=None)
@given(st.data())
def test_infinitesimal_action_adjoint_is_the_adjoint(data):
    d, W, is_complex, rng = data.draw(cases())
    xi = data.draw(dst.lie_algebra_elements(d, complex=is_complex))
    # the identity is linear in xi: rescale tiny draws (down to subnormals) to entries of order 1
    top = max((float(np.abs(x).max()) for x in xi), default=0.0)
    if top > 0.0:  # real divisions: a complex division by a subnormal overflows
        xi = tuple(x.real / top + 1j * (x.imag / top) if is_complex else x / top for x in xi)
    V = random_tuple(rng, [w.shape for w in W], is_complex)
    adj = dg.infinitesimal_action_adjoint(W, V)
    assert [m.shape for m in adj] == [(n, n) for n in d[1:-1]]
    lhs = dg.inner(dg.infinitesimal_action(W, xi), V)
    rhs = dg.inner(xi, adj)
    wmax = max(np.linalg.norm(w, 2) for w in W)
    assert abs(lhs - rhs) <= 1e-12 * 2 * wmax * dg.norm(xi) * dg.norm(V)
    # and it is A^H applied to vec(V)
    A = dense.dense_infinitesimal_action(W)
    ref = A.conj().T @ dense.flatten(V)
    assert np.linalg.norm(dg.pack(adj) - ref) <= 1e-12 * (1 + np.linalg.norm(A, 2)) * dg.norm(V)


@settings(deadline=None)
@given(st.data())
def test_gauge_directions_are_vertical(data):
    """dphi(A_W(xi)) = 0: the orbit tangent lies in the fiber tangent (dense Jacobian)."""
    d, W, is_complex, _ = data.draw(cases())
    xi = data.draw(dst.lie_algebra_elements(d, complex=is_complex))
    J = dense.dense_end_to_end_jacobian(W)
    v = dg.pack(dg.infinitesimal_action(W, xi))
    assert np.linalg.norm(J @ v) <= 1e-12 * (1 + np.linalg.norm(J, 2)) * (1 + np.linalg.norm(v))


# ---------------------------------------------------------------------------------------------
# Noether: A_W^*(grad_W E) = 0 for every smooth E(X)
# ---------------------------------------------------------------------------------------------


def _sine_energy(rng, shape, is_complex):
    """E(X) = sum Re sin(C * X), C real; gradient (for <A,B> = Re tr A^*B) C * conj(cos(C X))."""
    C = rng.standard_normal(shape)

    def E(X):
        return float(np.sum(np.sin(C * X).real))

    def grad(X):
        return C * np.conj(np.cos(C * X))

    return E, grad


def _quadratic_energy(rng, shape, is_complex):
    """E(X) = 1/2 ||P X Q - Y||^2 with random P, Q, Y; gradient P^*(P X Q - Y) Q^*."""
    m, n = shape
    P, Q, Y = random_tuple(rng, [(m + 1, m), (n, n + 2), (m + 1, n + 2)], is_complex)

    def E(X):
        return 0.5 * float(np.linalg.norm(P @ X @ Q - Y) ** 2)

    def grad(X):
        return P.conj().T @ (P @ X @ Q - Y) @ Q.conj().T

    return E, grad


def fd_gradient(f, W, h=1e-6) -> tuple[np.ndarray, ...]:
    """Gradient of a real function of the weights for <A,B> = Re tr A^*B, entry by entry."""
    out = []
    for i, Wi in enumerate(W):
        G = np.zeros_like(Wi)
        directions = [1.0, 1j] if np.iscomplexobj(Wi) else [1.0]
        for idx in np.ndindex(Wi.shape):
            for u in directions:
                Wp = [w.copy() for w in W]
                Wm = [w.copy() for w in W]
                Wp[i][idx] += h * u
                Wm[i][idx] -= h * u
                G[idx] += u * (f(Wp) - f(Wm)) / (2 * h)
        out.append(G)
    return tuple(out)


@pytest.mark.parametrize("energy", [_sine_energy, _quadratic_energy], ids=["sine", "quadratic"])
@settings(deadline=None)
@given(case=cases(max_depth=3, max_width=3, scale=0.7))
def test_noether(energy, case):
    d, W, is_complex, rng = case
    E, gradE = energy(rng, (d[-1], d[0]), is_complex)
    GX = gradE(product(W))
    # route 1: chain rule through the dense Jacobian, grad_W = J^H vec(grad E(X))
    J = dense.dense_end_to_end_jacobian(W)
    G1 = dense.unflatten(J.conj().T @ GX.ravel(), [w.shape for w in W])
    # route 2: finite differences of E o phi in every real coordinate of W
    G2 = fd_gradient(lambda V: E(product(V)), W)
    gnorm = max(dg.norm(G1), 1e-300)
    assert dg.norm([a - b for a, b in zip(G1, G2, strict=True)]) <= 1e-5 * (1 + gnorm)
    wmax = max(np.linalg.norm(w, 2) for w in W)
    n1 = dg.norm(dg.infinitesimal_action_adjoint(W, G1))
    n2 = dg.norm(dg.infinitesimal_action_adjoint(W, G2))
    assert n1 <= 1e-12 * wmax * (1 + gnorm)
    assert n2 <= 1e-5 * wmax * (1 + gnorm)
    # the same vector through the package's adjoint differential
    G3 = dg.end_to_end_differential_adjoint(W, GX)
    assert dg.norm([a - b for a, b in zip(G1, G3, strict=True)]) <= 1e-12 * (1 + gnorm)


@settings(deadline=None)
@given(cases(max_depth=4, max_width=4))
def test_generic_vectors_are_not_in_ker_action_adjoint(case):
    """Guard against a vacuous Noether test: A_W^* of a random weight-space vector matches the
    dense A^H and is not zero (for N >= 2)."""
    _d, W, is_complex, rng = case
    V = random_tuple(rng, [w.shape for w in W], is_complex)
    A = dense.dense_infinitesimal_action(W)
    expected = np.linalg.norm(A.conj().T @ dense.flatten(V))
    got = dg.norm(dg.infinitesimal_action_adjoint(W, V))
    assert abs(got - expected) <= 1e-12 * (1 + np.linalg.norm(A, 2)) * dg.norm(V)
    if len(W) > 1:
        assert got > 1e-6 * dg.norm(V) * min(np.linalg.svd(w, compute_uv=False)[-1] for w in W)
