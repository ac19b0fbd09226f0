"""Regularizer and moment map: closed form vs dense A^H route, K-equivariance, first and second
derivatives of R along one-parameter subgroups (finite differences and an eigenbasis closed form).
"""

from __future__ import annotations

import numpy as np
import scipy.linalg
from core_helpers import cases
from hypothesis import given, settings
from hypothesis import strategies as st

import dln_git as dg
from dln_git.testing import dense
from dln_git.testing import strategies as dst


def herm(A):
    return A.conj().T


def sq_norm(W) -> float:
    return float(sum(np.linalg.norm(w) ** 2 for w in W))


@settings(deadline=None)
@given(cases())
def test_regularizer_and_moment_norm(case):
    _, W, _, _ = case
    assert abs(dg.regularizer(W) - 0.5 * sq_norm(W)) <= 1e-14 * sq_norm(W)
    mu = dense.dense_moment_map(W)
    ref = np.sqrt(sum(np.linalg.norm(m) ** 2 for m in mu))
    assert abs(dg.moment_norm(W) - ref) <= 1e-12 * (1 + sq_norm(W))


@settings(deadline=None)
@given(cases())
def test_moment_map_closed_form_matches_dense_and_adjoint(case):
    d, W, is_complex, _ = case
    mu = dg.moment_map(W)
    assert len(mu) == len(W) - 1
    assert [m.shape for m in mu] == [(n, n) for n in d[1:-1]]
    scale = 1e-12 * (1 + sq_norm(W))
    ref = dense.dense_moment_map(W)  # unflatten(A^H vec(W)): a different route
    for a, b in zip(mu, ref, strict=True):
        assert np.linalg.norm(a - b) <= scale
    # mu = A_W^*(W) through the package's adjoint
    for a, b in zip(mu, dg.infinitesimal_action_adjoint(W, W), strict=True):
        assert np.linalg.norm(a - b) <= scale
    # each mu_i is Hermitian and has the dtype of W
    for m in mu:
        assert np.linalg.norm(m - herm(m)) <= scale
        assert np.iscomplexobj(m) == is_complex


@settings(deadline=None)
@given(st.data())
def test_moment_map_is_K_equivariant(data):
    """mu(k.W) = k mu(W) k^* for k in K = prod O(d_i) (U(d_i) in the complex case)."""
    d, W, is_complex, _ = data.draw(cases(min_depth=2))
    k = data.draw(dst.gauge_elements(d, cond=1.0, complex=is_complex))
    for ki in k:  # precondition: the strategy gave orthogonal / unitary matrices
        assert np.linalg.norm(herm(ki) @ ki - np.eye(ki.shape[0])) <= 1e-12
    mu = dg.moment_map(W)
    mu_k = dg.moment_map(dg.gauge_act(k, W))
    for a, ki, m in zip(mu_k, k, mu, strict=True):
        assert np.linalg.norm(a - ki @ m @ herm(ki)) <= 1e-12 * (1 + sq_norm(W))
    # K preserves the regularizer too
    assert abs(dg.regularizer(dg.gauge_act(k, W)) - dg.regularizer(W)) <= 1e-12 * sq_norm(W)


@settings(deadline=None)
@given(st.data())
def test_moment_map_is_derivative_of_regularizer_along_orbit(data):
    """d/dt R(exp(t xi).W)|_0 = <xi, mu(W)>, by central differences (any xi, not only Hermitian)."""
    d, W, is_complex, _ = data.draw(cases(min_depth=2))
    xi = data.draw(dst.lie_algebra_elements(d, complex=is_complex))
    h = 1e-5
    fd = (dg.regularizer(dg.gauge_exp(xi, W, h)) - dg.regularizer(dg.gauge_exp(xi, W, -h))) / (2 * h)
    expected = dg.inner(xi, dg.moment_map(W))
    size = (1 + dg.norm(xi)) ** 3 * sq_norm(W)
    assert abs(fd - expected) <= 1e-7 * size


def _eigen_closed_form(W, s):
    """R(exp(t s).W) for Hermitian s: 1/2 sum |W'_ab|^2 exp(2 t delta_ab) in eigenbases.

    Returns (coefficients, exponents) so that f(t) = 1/2 sum c exp(2 t delta) and
    f''(t) = 2 sum c delta^2 exp(2 t delta).
    """
    N = len(W)
    lam, U = [np.zeros(W[0].shape[1])], [np.eye(W[0].shape[1])]
    for si in s:
        ev, Ui = scipy.linalg.eigh(si)
        lam.append(ev)
        U.append(Ui)
    lam.append(np.zeros(W[-1].shape[0]))
    U.append(np.eye(W[-1].shape[0]))
    coeffs, deltas = [], []
    for i in range(1, N + 1):
        Wp = herm(U[i]) @ W[i - 1] @ U[i - 1]
        coeffs.append(np.abs(Wp).ravel() ** 2)
        deltas.append((lam[i][:, None] - lam[i - 1][None, :]).ravel())
    return np.concatenate(coeffs), np.concatenate(deltas)


@settings(deadline=None)
@given(st.data())
def test_regularizer_is_convex_along_hermitian_directions(data):
    """t -> R(exp(t s).W), s Hermitian: f''(0) = 2 ||A_W(s)||^2 and f'' >= 0 on a grid of t."""
    d, W, is_complex, _ = data.draw(cases(min_depth=2))
    s = data.draw(dst.lie_algebra_elements(d, scale=0.5, complex=is_complex, hermitian=True))
    c, delta = _eigen_closed_form(W, s)

    def f(t):
        return dg.regularizer(dg.gauge_exp(s, W, t))

    def f_closed(t):
        return 0.5 * float(np.sum(c * np.exp(2 * t * delta)))

    def f2_closed(t):
        return 2.0 * float(np.sum(c * delta**2 * np.exp(2 * t * delta)))

    dmax = float(np.max(np.abs(delta)))
    h = 1e-4
    # at t = 0: second difference, closed form and the infinitesimal action agree
    second = (f(h) - 2 * f(0.0) + f(-h)) / h**2
    exact = 2 * dg.norm(dg.infinitesimal_action(W, s)) ** 2
    tol0 = 1e-6 * (1 + dmax) ** 4 * f(0.0)
    assert abs(second - exact) <= tol0
    assert abs(f2_closed(0.0) - exact) <= 1e-11 * (1 + dmax) ** 2 * f(0.0)
    # along a grid: R matches the closed form, the second difference is >= 0 and matches f''
    for t in (-1.0, -0.4, 0.3, 1.0):
        ft = f(t)
        assert abs(ft - f_closed(t)) <= 1e-11 * ft
        sec = (f(t + h) - 2 * ft + f(t - h)) / h**2
        tol = 1e-6 * (1 + dmax) ** 4 * np.exp(2 * h * dmax) * ft
        assert sec >= -tol
        assert abs(sec - f2_closed(t)) <= tol


@settings(deadline=None)
@given(st.data())
def test_is_balanced(data):
    d = data.draw(dst.widths(min_depth=2, max_depth=4, max_width=4))
    is_complex = data.draw(st.booleans())
    W = data.draw(dst.balanced_weights(d, complex=is_complex))
    assert dg.is_balanced(W)
    assert dg.moment_norm(W) <= 1e-12 * sq_norm(W)
    # scaling one hidden layer by 2 breaks the balance: mu_1 becomes (4 - 1/4) W_1 W_1^*
    g = tuple((2.0 if i == 0 else 1.0) * np.eye(n) for i, n in enumerate(d[1:-1]))
    V = dg.gauge_act(g, W)
    assert not dg.is_balanced(V)
    assert np.linalg.norm(dg.moment_map(V)[0] - 3.75 * W[0] @ herm(W[0])) <= 1e-12 * sq_norm(V)
