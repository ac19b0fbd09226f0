"""Independent checks of the dense Kronecker reference ``dln_git.testing.dense``.

The reference is trusted only through checks that do not reuse its own construction: finite
differences of the end-to-end product and of the group action, closed-form formulas from
docs/math, projector identities and dimension counts.
"""

from functools import reduce

import numpy as np
import pytest
from scipy.linalg import expm

from dln_git.testing import dense as D

DTYPES = ["real", "complex"]
# depth 1, equal widths, funnels, expanding, stabiliser and bottleneck patterns
WIDTHS = [(3, 4), (1, 1), (2, 3, 4), (3, 2, 1), (1, 2, 3), (2, 4, 2), (3, 3, 3, 3), (2, 3, 1, 2)]
FD_STEP = 1e-6


def _rand(rng, shape, kind):
    if kind == "complex":
        return rng.standard_normal(shape) + 1j * rng.standard_normal(shape)
    return rng.standard_normal(shape)


def random_weights(widths, kind="real", seed=0):
    rng = np.random.default_rng(seed)
    return tuple(_rand(rng, s, kind) for s in D.weight_shapes(widths))


def product(W):
    """W_N ... W_1, computed directly."""
    return reduce(lambda acc, Wi: Wi @ acc, W[1:], W[0])


def group_action(W, xi, t):
    """(expm(t xi_i) W_i expm(-t xi_{i-1}))_i with xi_0 = xi_N = 0."""
    d = (W[0].shape[1], *(Wi.shape[0] for Wi in W))
    full = (np.zeros((d[0], d[0])), *xi, np.zeros((d[-1], d[-1])))
    return tuple(
        expm(t * full[i]) @ W[i - 1] @ expm(-t * full[i - 1]) for i in range(1, len(W) + 1)
    )


def central_difference(f, h=FD_STEP):
    return (f(h) - f(-h)) / (2 * h)


def assert_projector(P, atol=1e-10):
    np.testing.assert_allclose(P @ P, P, atol=atol)
    np.testing.assert_allclose(P, P.conj().T, atol=atol)


def realify(M):
    """Real matrix of a complex-linear map on C^n = R^n x R^n (z = x + iy -> [x; y])."""
    return np.block([[M.real, -M.imag], [M.imag, M.real]])


# ---------------------------------------------------------------------------------------------
# Vectorisation
# ---------------------------------------------------------------------------------------------


def test_row_major_vec_identity():
    rng = np.random.default_rng(1)
    A, M, B = _rand(rng, (2, 3), "complex"), _rand(rng, (3, 4), "complex"), rng.random((4, 5))
    np.testing.assert_allclose(np.kron(A, B.T) @ np.ravel(M), np.ravel(A @ M @ B), atol=1e-12)


@pytest.mark.parametrize("kind", DTYPES)
def test_flatten_unflatten_roundtrip(kind):
    widths = (2, 3, 4)
    W = random_weights(widths, kind, seed=2)
    v = D.flatten(W)
    assert v.shape == (2 * 3 + 3 * 4,)
    np.testing.assert_array_equal(v[:6], W[0].ravel())
    back = D.unflatten(v, D.weight_shapes(widths))
    for a, b in zip(W, back, strict=True):
        np.testing.assert_array_equal(a, b)
    assert D.lie_shapes(widths) == ((3, 3),)
    assert D.lie_shapes((3, 4)) == ()
    assert D.flatten(()).shape == (0,)
    with pytest.raises(ValueError, match="length"):
        D.unflatten(v[:-1], D.weight_shapes(widths))


# ---------------------------------------------------------------------------------------------
# Jacobian of the end-to-end map
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", DTYPES)
@pytest.mark.parametrize("widths", WIDTHS)
def test_jacobian_matches_finite_differences(widths, kind):
    W = random_weights(widths, kind, seed=3)
    shapes = D.weight_shapes(widths)
    J = D.dense_end_to_end_jacobian(W)
    n = sum(a * b for a, b in shapes)
    assert J.shape == (widths[-1] * widths[0], n)

    def directional(dW):
        return central_difference(
            lambda t: product(tuple(Wi + t * dWi for Wi, dWi in zip(W, dW, strict=True))).ravel()
        )

    # every column (real basis directions) ...
    for k in range(n):
        e = np.zeros(n)
        e[k] = 1.0
        np.testing.assert_allclose(J[:, k], directional(D.unflatten(e, shapes)), atol=1e-7)
    # ... and random (complex) directions, which also checks complex-linearity
    rng = np.random.default_rng(4)
    for _ in range(3):
        dW = tuple(_rand(rng, s, kind) for s in shapes)
        np.testing.assert_allclose(J @ D.flatten(dW), directional(dW), atol=1e-7)


@pytest.mark.parametrize("kind", DTYPES)
@pytest.mark.parametrize("widths", [(3, 4), (2, 3, 4), (3, 2, 1), (2, 3, 1, 2)])
def test_end_to_end_metric_closed_form(widths, kind):
    W = random_weights(widths, kind, seed=5)
    N = len(W)
    Z = _rand(np.random.default_rng(6), (widths[-1], widths[0]), kind)
    expected = np.zeros_like(Z, dtype=complex)
    for j in range(1, N + 1):
        L = product(W[j:]) if j < N else np.eye(widths[-1])
        R = product(W[: j - 1]) if j > 1 else np.eye(widths[0])
        expected += L @ L.conj().T @ Z @ R.conj().T @ R
    np.testing.assert_allclose(D.dense_end_to_end_metric(W) @ Z.ravel(), expected.ravel(),
                               atol=1e-10)


# ---------------------------------------------------------------------------------------------
# Infinitesimal action, Gram operator, moment map
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", DTYPES)
@pytest.mark.parametrize("widths", WIDTHS)
def test_infinitesimal_action_matches_group_action(widths, kind):
    W = random_weights(widths, kind, seed=7)
    lshapes = D.lie_shapes(widths)
    A = D.dense_infinitesimal_action(W)
    m = sum(a * b for a, b in lshapes)
    assert A.shape == (sum(a * b for a, b in D.weight_shapes(widths)), m)

    def directional(xi):
        return central_difference(lambda t: D.flatten(group_action(W, xi, t)))

    for k in range(m):
        e = np.zeros(m)
        e[k] = 1.0
        np.testing.assert_allclose(A[:, k], directional(D.unflatten(e, lshapes)), atol=1e-7)
    rng = np.random.default_rng(8)
    for _ in range(3):
        xi = tuple(_rand(rng, s, kind) for s in lshapes)
        np.testing.assert_allclose(A @ D.flatten(xi), directional(xi), atol=1e-7)


def test_depth_one_has_no_gauge():
    W = random_weights((3, 4), "complex", seed=9)
    assert D.dense_infinitesimal_action(W).shape == (12, 0)
    assert D.dense_gram(W).shape == (0, 0)
    assert D.dense_moment_map(W) == ()
    assert D.dense_stabiliser_dimension(W) == 0
    assert D.dense_orbit_dimension(W) == 0
    np.testing.assert_array_equal(D.dense_projection_orbit(W), np.zeros((12, 12)))


@pytest.mark.parametrize("kind", DTYPES)
@pytest.mark.parametrize("widths", WIDTHS)
def test_gauge_directions_lie_in_fiber(widths, kind):
    W = random_weights(widths, kind, seed=10)
    JA = D.dense_end_to_end_jacobian(W) @ D.dense_infinitesimal_action(W)
    np.testing.assert_allclose(JA, 0, atol=1e-12)


@pytest.mark.parametrize("kind", DTYPES)
@pytest.mark.parametrize("widths", WIDTHS)
def test_moment_map_closed_form(widths, kind):
    W = random_weights(widths, kind, seed=11)
    mu = D.dense_moment_map(W)
    assert len(mu) == len(W) - 1
    for i, mui in enumerate(mu):  # mu_{i+1} = W_{i+1} W_{i+1}^* - W_{i+2}^* W_{i+2}
        expected = W[i] @ W[i].conj().T - W[i + 1].conj().T @ W[i + 1]
        np.testing.assert_allclose(mui, expected, atol=1e-12)
        np.testing.assert_allclose(mui, mui.conj().T, atol=1e-12)


@pytest.mark.parametrize("kind", DTYPES)
def test_moment_map_is_derivative_of_regulariser_along_orbit(kind):
    # d/dt R(exp(t xi).W)|_0 = <xi, mu> = Re tr(xi^* mu), R = 1/2 sum ||W_i||^2
    widths = (2, 3, 4, 2)
    W = random_weights(widths, kind, seed=12)
    rng = np.random.default_rng(13)
    xi = tuple(_rand(rng, s, kind) for s in D.lie_shapes(widths))
    R = lambda t: 0.5 * sum(np.linalg.norm(Wi) ** 2 for Wi in group_action(W, xi, t))  # noqa: E731
    inner = np.real(np.vdot(D.flatten(xi), D.flatten(D.dense_moment_map(W))))
    np.testing.assert_allclose(central_difference(R), inner, rtol=1e-7)


@pytest.mark.parametrize("kind", DTYPES)
@pytest.mark.parametrize("widths", [(2, 3, 4), (3, 2, 1, 2), (2, 4, 4, 2)])
def test_gram_closed_form(widths, kind):
    W = random_weights(widths, kind, seed=14)
    N = len(W)
    rng = np.random.default_rng(15)
    xi = tuple(_rand(rng, s, kind) for s in D.lie_shapes(widths))
    full = (np.zeros((widths[0],) * 2), *xi, np.zeros((widths[-1],) * 2))
    expected = []
    for i in range(1, N):  # W_i = W[i-1], W_{i+1} = W[i]
        Wi, Wn = W[i - 1], W[i]
        expected.append(
            full[i] @ Wi @ Wi.conj().T + Wn.conj().T @ Wn @ full[i]
            - Wi @ full[i - 1] @ Wi.conj().T - Wn.conj().T @ full[i + 1] @ Wn
        )
    np.testing.assert_allclose(D.dense_gram(W) @ D.flatten(xi), D.flatten(expected), atol=1e-10)


# ---------------------------------------------------------------------------------------------
# Projectors
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", DTYPES)
@pytest.mark.parametrize("widths", WIDTHS)
def test_projector_properties(widths, kind):
    W = random_weights(widths, kind, seed=16)
    J = D.dense_end_to_end_jacobian(W)
    P_H = D.dense_projection_horizontal(W)
    P_V = D.dense_projection_vertical(W)
    P_O = D.dense_projection_orbit(W)
    for P in (P_H, P_V, P_O):
        assert_projector(P)
    np.testing.assert_allclose(P_H + P_V, np.eye(J.shape[1]), atol=1e-12)
    np.testing.assert_allclose(J @ P_V, 0, atol=1e-10)
    np.testing.assert_allclose(P_H @ J.conj().T, J.conj().T, atol=1e-10)  # range(J^H) kept
    np.testing.assert_allclose(P_V @ P_O, P_O, atol=1e-10)  # range(P_orbit) in range(P_V)
    A = D.dense_infinitesimal_action(W)
    np.testing.assert_allclose(P_O @ A, A, atol=1e-10)
    assert round(np.trace(P_V).real) == D.dense_fiber_dimension(W)
    assert round(np.trace(P_O).real) == D.dense_orbit_dimension(W)


def test_complex_projector_is_the_real_projector():
    # For <A,B> = Re tr(A^* B), the real orthogonal projector onto range(J^H) (a real subspace of
    # R^{2n}) is the realification of the complex one.
    W = random_weights((2, 3, 2), "complex", seed=17)
    Jr = realify(D.dense_end_to_end_jacobian(W))
    Q = D.orthonormal_range_basis(Jr.T)
    np.testing.assert_allclose(Q @ Q.T, realify(D.dense_projection_horizontal(W)), atol=1e-10)


# ---------------------------------------------------------------------------------------------
# Dimension counts (docs/math section 2)
# ---------------------------------------------------------------------------------------------


def _n2_stabiliser_formula(widths):
    d0, d1, d2 = widths
    return max(d1 - d0, 0) * max(d1 - d2, 0)


@pytest.mark.parametrize("kind", DTYPES)
@pytest.mark.parametrize(
    "widths", [(2, 4, 2), (3, 3, 3), (1, 3, 1), (1, 2, 2), (2, 3, 4), (3, 1, 3), (2, 5, 3)]
)
def test_stabiliser_dimension_n2_formula(widths, kind):
    W = random_weights(widths, kind, seed=18)
    assert D.dense_stabiliser_dimension(W) == _n2_stabiliser_formula(widths)
    assert D.dense_stabiliser_dimension(random_weights((2, 4, 2), kind, seed=19)) == 4


@pytest.mark.parametrize("kind", DTYPES)
def test_funnel_orbit_one_short_of_fiber(kind):
    W = random_weights((3, 2, 1), kind, seed=20)
    assert D.dense_fiber_dimension(W) == 5  # 8 weights - rank 3
    assert D.dense_orbit_dimension(W) == D.dense_fiber_dimension(W) - 1


@pytest.mark.parametrize("kind", DTYPES)
@pytest.mark.parametrize("widths", [(2, 4, 2), (3, 3, 3), (2, 4, 4, 2), (1, 2, 2), (3, 1, 3)])
def test_orbit_equals_fiber_off_funnels(widths, kind):
    W = random_weights(widths, kind, seed=21)
    assert D.dense_orbit_dimension(W) == D.dense_fiber_dimension(W)
    np.testing.assert_allclose(D.dense_projection_orbit(W), D.dense_projection_vertical(W),
                               atol=1e-8)


def test_rank_helpers():
    rng = np.random.default_rng(22)
    M = rng.standard_normal((5, 2)) @ rng.standard_normal((2, 4))
    assert D.numerical_rank(M) == 2
    Q = D.orthonormal_range_basis(M)
    assert Q.shape == (5, 2)
    np.testing.assert_allclose(Q.T @ Q, np.eye(2), atol=1e-12)
    np.testing.assert_allclose(Q @ Q.T @ M, M, atol=1e-12)
    assert D.numerical_rank(np.zeros((3, 3))) == 0
    assert D.orthonormal_range_basis(np.zeros((3, 0))).shape == (3, 0)


# ---------------------------------------------------------------------------------------------
# Input validation
# ---------------------------------------------------------------------------------------------


def test_input_validation():
    with pytest.raises(ValueError, match="shape mismatch"):
        D.dense_end_to_end_jacobian((np.ones((3, 2)), np.ones((2, 2))))
    with pytest.raises(ValueError, match="2-D"):
        D.dense_infinitesimal_action((np.ones(3),))
    with pytest.raises(ValueError, match="non-empty"):
        D.dense_moment_map(())
    with pytest.raises(ValueError, match="widths"):
        D.weight_shapes((3,))
