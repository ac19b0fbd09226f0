"""The end-to-end map, its differential, the adjoint of the differential and the metric.

Every claim is checked against an independent computation: ``numpy.linalg.multi_dot`` for the
product, central finite differences and the dense Kronecker Jacobian of
``dln_git.testing.dense`` for the differential, the inner-product identity and ``J^H`` for the
adjoint.
"""

from __future__ import annotations

import numpy as np
from core_helpers import cases, product, random_tuple
from hypothesis import given, settings

import dln_git as dg
from dln_git.testing import dense


def flat(mats) -> np.ndarray:
    return dense.flatten(mats)


def scale_of(W) -> float:
    """Product of the spectral norms: a bound on ||X|| and the natural size of rounding errors."""
    return float(np.prod([np.linalg.norm(w, 2) for w in W]))


@settings(deadline=None)
@given(cases())
def test_end_to_end_is_the_product(case):
    d, W, is_complex, _ = case
    X = dg.end_to_end(W)
    assert X.shape == (d[-1], d[0])
    assert np.iscomplexobj(X) == is_complex
    ref = product(W)
    assert np.linalg.norm(X - ref) <= 1e-13 * len(W) * scale_of(W) * np.sqrt(X.size)


@settings(deadline=None)
@given(cases())
def test_widths_of(case):
    d, W, _, _ = case
    assert dg.widths_of(W) == d


@settings(deadline=None)
@given(cases())
def test_differential_matches_dense_jacobian(case):
    d, W, is_complex, rng = case
    dW = random_tuple(rng, [w.shape for w in W], is_complex)
    got = dg.end_to_end_differential(W, dW)
    J = dense.dense_end_to_end_jacobian(W)
    ref = (J @ flat(dW)).reshape(d[-1], d[0])
    bound = 1e-12 * len(W) * np.linalg.norm(J, 2) * dg.norm(dW)
    assert np.linalg.norm(got - ref) <= bound


@settings(deadline=None)
@given(cases())
def test_differential_matches_central_differences(case):
    _d, W, is_complex, rng = case
    dW = random_tuple(rng, [w.shape for w in W], is_complex)
    dW = tuple(v / dg.norm(dW) for v in dW)  # unit direction
    h = 1e-5
    plus = product([w + h * v for w, v in zip(W, dW, strict=True)])
    minus = product([w - h * v for w, v in zip(W, dW, strict=True)])
    fd = (plus - minus) / (2 * h)
    got = dg.end_to_end_differential(W, dW)
    # phi is a polynomial of degree N: the central difference is exact up to h^2 times the
    # cubic term (bounded by prod(||W_i|| + 1)) and rounding eps * ||X|| / h.
    big = float(np.prod([np.linalg.norm(w, 2) + 1.0 for w in W]))
    assert np.linalg.norm(got - fd) <= 1e-7 * big


@settings(deadline=None)
@given(cases())
def test_differential_adjoint_is_the_adjoint(case):
    d, W, is_complex, rng = case
    dW = random_tuple(rng, [w.shape for w in W], is_complex)
    (Z,) = random_tuple(rng, [(d[-1], d[0])], is_complex)
    lhs = dg.inner((dg.end_to_end_differential(W, dW),), (Z,))
    adj = dg.end_to_end_differential_adjoint(W, Z)
    assert [a.shape for a in adj] == [w.shape for w in W]
    rhs = dg.inner(dW, adj)
    J = dense.dense_end_to_end_jacobian(W)
    size = np.linalg.norm(J, 2) * dg.norm(dW) * np.linalg.norm(Z)
    assert abs(lhs - rhs) <= 1e-12 * size
    # and it is J^H applied to vec(Z)
    ref = J.conj().T @ Z.ravel()
    assert np.linalg.norm(flat(adj) - ref) <= 1e-12 * np.linalg.norm(J, 2) * np.linalg.norm(Z)


@settings(deadline=None)
@given(cases())
def test_inner_is_real_trace(case):
    """``dg.inner`` is ``Re tr(A^* B)`` summed over layers (checked by traces)."""
    _, W, is_complex, rng = case
    V = random_tuple(rng, [w.shape for w in W], is_complex)
    ref = sum(np.trace(a.conj().T @ b).real for a, b in zip(W, V, strict=True))
    assert abs(dg.inner(W, V) - ref) <= 1e-12 * dg.norm(W) * dg.norm(V)
    assert abs(dg.norm(V) ** 2 - sum(np.linalg.norm(v) ** 2 for v in V)) <= 1e-12 * dg.norm(V) ** 2
    assert np.array_equal(dg.pack(V), flat(V))
    back = dg.unpack(dg.pack(V), [v.shape for v in V])
    assert all(np.array_equal(a, b) for a, b in zip(back, V, strict=True))


@settings(deadline=None)
@given(cases())
def test_end_to_end_metric_matches_dense(case):
    d, W, is_complex, rng = case
    M = dg.end_to_end_metric(W)
    n = d[0] * d[-1]
    assert M.shape == (n, n)
    dtype = np.complex128 if is_complex else np.float64
    mat = M @ np.eye(n, dtype=dtype)
    ref = dense.dense_end_to_end_metric(W)
    scale = np.linalg.norm(ref, 2)
    assert np.linalg.norm(mat - ref) <= 1e-12 * n * scale
    # .apply on matrices agrees with the vectorised operator
    (Z,) = random_tuple(rng, [(d[-1], d[0])], is_complex)
    assert np.linalg.norm(M.apply(Z).ravel() - ref @ Z.ravel()) <= 1e-12 * n * scale * np.linalg.norm(Z)


@settings(deadline=None)
@given(cases())
def test_end_to_end_metric_self_adjoint_psd(case):
    d, W, is_complex, rng = case
    M = dg.end_to_end_metric(W)
    Y, Z = random_tuple(rng, [(d[-1], d[0])] * 2, is_complex)
    scale = float(np.prod([np.linalg.norm(w, 2) for w in W])) ** 2 * len(W)
    size = scale * np.linalg.norm(Y) * np.linalg.norm(Z)
    assert abs(dg.inner((M.apply(Y),), (Z,)) - dg.inner((Y,), (M.apply(Z),))) <= 1e-12 * size
    # PSD: <Z, M Z> = ||dphi^*(Z)||^2 >= 0 (computed through the adjoint, a second route)
    q = dg.inner((Z,), (M.apply(Z),))
    adj = dg.end_to_end_differential_adjoint(W, Z)
    assert q >= -1e-12 * scale * np.linalg.norm(Z) ** 2
    assert abs(q - dg.norm(adj) ** 2) <= 1e-11 * scale * np.linalg.norm(Z) ** 2
    n = d[0] * d[-1]
    dtype = np.complex128 if is_complex else np.float64
    mat = M @ np.eye(n, dtype=dtype)
    assert np.linalg.norm(mat - mat.conj().T) <= 1e-12 * n * scale
    assert np.linalg.eigvalsh(0.5 * (mat + mat.conj().T)).min() >= -1e-12 * n * scale


@settings(deadline=None)
@given(cases(max_depth=4, max_width=4))
def test_solve_end_to_end_metric_residual(case):
    """Consistent right-hand sides dphi(V) are solved; the residual is checked densely."""
    _d, W, is_complex, rng = case
    V = random_tuple(rng, [w.shape for w in W], is_complex)
    rhs = dg.end_to_end_differential(W, V)
    sol = dg.solve_end_to_end_metric(W, rhs)
    assert sol.converged
    Md = dense.dense_end_to_end_metric(W)
    res = np.linalg.norm(Md @ sol.Z.ravel() - rhs.ravel())
    assert res <= 1e-10 * max(np.linalg.norm(rhs), 1e-300)
    assert abs(sol.residual - res / max(np.linalg.norm(rhs), 1e-300)) <= 1e-9
    # dphi^*(Z) does not depend on which solution was taken: it is Pi_H(V) (dense projector)
    PH = dense.dense_projection_horizontal(W)
    ref = PH @ flat(V)
    J = dense.dense_end_to_end_jacobian(W)
    s = np.linalg.svd(J, compute_uv=False)
    r = dense.numerical_rank(J)
    cond = s[0] / s[r - 1] if r else 1.0
    got = flat(dg.end_to_end_differential_adjoint(W, sol.Z))
    assert np.linalg.norm(got - ref) <= 1e-9 * cond**2 * dg.norm(V)
