"""Independent checks of the dense reference flows ``dln_git.testing.dense_flows``.

The flows are checked against things they do not compute themselves: the closed-form moment map
``mu_i = W_i W_i^* - W_{i+1}^* W_{i+1}`` and its exact decay laws (docs/math section 3), the
end-to-end product, the minimum of the regularizer on the fiber from the SVD of X, the N = 2
geometric-mean oracle, and vector fields rebuilt here column by column from the defining formulas
of ``A_W`` and ``dphi_W`` (not from the Kronecker matrices of ``dln_git.testing.dense``).
"""

import dataclasses
from functools import reduce

import numpy as np
import pytest
from scipy.linalg import sqrtm

from dln_git.testing import dense_flows as DF

# (widths, kind, seed): equal widths, expanding/stabiliser, one-hidden-layer funnel, deep funnel
# (where the fiber and orbit flows differ), complex, N = 4.
L2_INSTANCES = [
    ((2, 3, 2), "real", 0),
    ((3, 3, 3), "real", 1),
    ((2, 4, 2), "real", 2),
    ((3, 2, 1), "real", 3),
    ((1, 2, 3, 3), "real", 4),
    ((2, 3, 2), "complex", 5),
    ((2, 2, 2, 2, 2), "real", 6),
]
L2_TIMES = np.array([0.0, 0.1, 0.25, 0.5, 1.0, 2.0, 4.0, 7.0, 10.0])


# ---------------------------------------------------------------------------------------------
# Independent closed-form helpers (nothing here comes from dln_git.testing.dense)
# ---------------------------------------------------------------------------------------------


def random_weights(widths, kind="real", seed=0):
    rng = np.random.default_rng(seed)
    shapes = [(widths[i], widths[i - 1]) for i in range(1, len(widths))]
    if kind == "complex":
        return tuple(rng.standard_normal(s) + 1j * rng.standard_normal(s) for s in shapes)
    return tuple(rng.standard_normal(s) for s in shapes)


def product(W):
    """X = W_N ... W_1."""
    return reduce(lambda acc, Wi: Wi @ acc, W[1:], W[0])


def moment_map(W):
    """mu_i = W_i W_i^* - W_{i+1}^* W_{i+1}, i = 1..N-1."""
    return [W[i] @ W[i].conj().T - W[i + 1].conj().T @ W[i + 1] for i in range(len(W) - 1)]


def regularizer(W):
    return 0.5 * sum(np.linalg.norm(Wi) ** 2 for Wi in W)


def norm(mats):
    return np.sqrt(sum(np.linalg.norm(M) ** 2 for M in mats))


def diff_norm(U, V):
    return norm([a - b for a, b in zip(U, V, strict=True)])


def min_regularizer(X, N):
    """(N/2) sum_k s_k^{2/N} over the singular values of X (docs/math section 2)."""
    s = np.linalg.svd(X, compute_uv=False)
    return 0.5 * N * np.sum(s ** (2.0 / N))


def vec(mats):
    return np.concatenate([np.ravel(M) for M in mats])


def unvec(v, like):
    out, k = [], 0
    for M in like:
        out.append(v[k : k + M.size].reshape(M.shape))
        k += M.size
    return tuple(out)


def basis(shapes, dtype):
    """Standard basis of the tuples of matrices of the given shapes."""
    n = sum(int(np.prod(s)) for s in shapes)
    like = [np.zeros(s) for s in shapes]
    return [unvec(np.eye(n, dtype=dtype)[k], like) for k in range(n)]


def action(W, xi):
    """A_W(xi)_i = xi_i W_i - W_i xi_{i-1}, xi_0 = xi_N = 0."""
    d = [W[0].shape[1], *(Wi.shape[0] for Wi in W)]
    full = [np.zeros((d[0], d[0])), *xi, np.zeros((d[-1], d[-1]))]
    return tuple(full[i] @ W[i - 1] - W[i - 1] @ full[i - 1] for i in range(1, len(W) + 1))


def end_to_end_differential(W, dW):
    """dphi_W(dW) = sum_j (W_N..W_{j+1}) dW_j (W_{j-1}..W_1)."""
    N = len(W)
    total = 0
    for j in range(N):
        left = reduce(lambda acc, M: M @ acc, W[j + 1 :], np.eye(W[j].shape[0]))
        right = reduce(lambda acc, M: M @ acc, W[:j], np.eye(W[0].shape[1]))
        total = total + left @ dW[j] @ right
    return total


def velocity(W, flow):
    """The vector field of each flow at W, rebuilt column by column from the defining maps."""
    dtype = np.result_type(*W, np.float64)
    w = vec(W)
    if flow == "moment":
        return -vec(action(W, moment_map(W)))
    if flow == "orbit":  # P_W w with A's columns A_W(e_k)
        lie = [(W[i].shape[0],) * 2 for i in range(len(W) - 1)]
        A = np.column_stack([vec(action(W, e)) for e in basis(lie, dtype)])
        return -(A @ (np.linalg.pinv(A, rcond=1e-10) @ w))
    # fiber: Pi_V w = w - J^+ J w with J's columns dphi_W(e_k)
    J = np.column_stack([np.ravel(end_to_end_differential(W, e)) for e in basis([Wi.shape for Wi in W], dtype)])
    return -(w - np.linalg.pinv(J, rcond=1e-10) @ (J @ w))


# ---------------------------------------------------------------------------------------------
# L2 flow (fiber and orbit)
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("space", ["fiber", "orbit"])
@pytest.mark.parametrize(("widths", "kind", "seed"), L2_INSTANCES)
def test_l2_flow_moment_decay_fixed_product_and_decreasing_regularizer(widths, kind, seed, space):
    W = random_weights(widths, kind, seed)
    flow = DF.dense_l2_flow(W, L2_TIMES, space=space)
    assert flow.success, flow.message
    np.testing.assert_array_equal(flow.times, L2_TIMES)
    assert len(flow.weights) == L2_TIMES.size
    assert all(Wt.dtype == (np.complex128 if kind == "complex" else np.float64) for Wt in flow.weights[-1])

    mu0, X0 = moment_map(W), product(W)
    R = np.array([regularizer(Wt) for Wt in flow.weights])
    for t, Wt in zip(flow.times, flow.weights, strict=True):
        # mu(W(t)) = exp(-2t) mu(W(0)) exactly (docs/math section 3)
        assert diff_norm(moment_map(Wt), [np.exp(-2 * t) * m for m in mu0]) <= 1e-8 * norm(mu0)
        # the end-to-end product is the fiber's label: it does not move
        assert np.linalg.norm(product(Wt) - X0) <= 1e-8 * np.linalg.norm(X0)
    # gradient flow of R: non-increasing, down to the minimum of R on the fiber
    assert np.all(np.diff(R) <= 1e-12 * R[0])
    assert R[-1] == pytest.approx(min_regularizer(X0, len(W)), rel=1e-7)


@pytest.mark.parametrize("flow_kind", ["fiber", "orbit", "moment"])
@pytest.mark.parametrize(
    ("widths", "kind", "seed"), [((3, 3, 3), "real", 0), ((1, 2, 3, 3), "real", 0), ((2, 3, 2), "complex", 1)]
)
def test_initial_velocity_matches_independent_vector_field(widths, kind, seed, flow_kind):
    """One-sided second-order difference of the trajectory against the vector field rebuilt here."""
    W = random_weights(widths, kind, seed)
    h = 2e-5
    t = np.array([0.0, h, 2 * h])
    if flow_kind == "moment":
        flow = DF.dense_moment_flow(W, t, rtol=1e-12, atol=1e-14)
    else:
        flow = DF.dense_l2_flow(W, t, space=flow_kind, rtol=1e-12, atol=1e-14)
    w0, w1, w2 = (vec(Wt) for Wt in flow.weights)
    measured = (-3 * w0 + 4 * w1 - w2) / (2 * h)
    expected = velocity(W, flow_kind)
    assert np.linalg.norm(measured - expected) <= 1e-6 * np.linalg.norm(expected)


def test_fiber_and_orbit_flows_differ_on_a_deep_funnel_and_agree_elsewhere():
    """docs/math section 2: Pi_V(W) != P_W(W) on (1, 2, 3, 3) but Pi_V = P_W off funnels."""
    t = np.array([0.0, 0.5, 1.0])
    for widths, differ in [((1, 2, 3, 3), True), ((4, 3, 2, 1), True), ((3, 3, 3), False), ((3, 2, 1), False)]:
        W = random_weights(widths, "real", 0)
        fiber = DF.dense_l2_flow(W, t, space="fiber").weights[-1]
        orbit = DF.dense_l2_flow(W, t, space="orbit").weights[-1]
        gap = diff_norm(fiber, orbit) / norm(W)
        # and the same statement about the independently rebuilt vector fields at t = 0
        field_gap = np.linalg.norm(velocity(W, "fiber") - velocity(W, "orbit")) / norm(W)
        if differ:
            assert gap > 1e-4 and field_gap > 1e-4, (widths, gap, field_gap)
        else:
            assert gap < 1e-9 and field_gap < 1e-12, (widths, gap, field_gap)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_n2_limit_is_the_balanced_point_of_the_geometric_mean_oracle(seed):
    """N = 2 on (3, 3, 3): the limit W* satisfies W1* W1*^* = W2*^* W2*, W2* W1* = X,
    R(W*) = ||X||_* (= (N/2) sum s^{2/N} for N = 2), and W* = (U H^{1/2} W_1, W_2 H^{-1/2} U^*)
    with H the geometric mean of P = W_1 W_1^*, Q = W_2^* W_2 (docs/math section 3)."""
    W1, W2 = W = random_weights((3, 3, 3), "real", seed)
    flow = DF.dense_l2_flow(W, np.array([0.0, 15.0]), space="fiber")
    A, B = flow.weights[-1]
    scale = norm(W) ** 2
    X = W2 @ W1

    assert np.linalg.norm(A @ A.conj().T - B.conj().T @ B) <= 1e-9 * scale
    assert np.linalg.norm(B @ A - X) <= 1e-9 * np.linalg.norm(X)
    assert regularizer((A, B)) == pytest.approx(np.linalg.svd(X, compute_uv=False).sum(), rel=1e-9)

    P, Q = W1 @ W1.conj().T, W2.conj().T @ W2
    P_half = sqrtm(P)
    P_mhalf = np.linalg.inv(P_half)
    H = np.real_if_close(P_mhalf @ sqrtm(P_half @ Q @ P_half) @ P_mhalf)
    np.testing.assert_allclose(H @ P @ H, Q, atol=1e-9 * np.linalg.norm(Q))  # the oracle itself
    # A = U H^{1/2} W_1 for some unitary U  <=>  A^* A = W_1^* H W_1; likewise B B^* = W_2 H^{-1} W_2^*
    assert np.linalg.norm(A.conj().T @ A - W1.conj().T @ H @ W1) <= 1e-9 * scale
    assert np.linalg.norm(B @ B.conj().T - W2 @ np.linalg.inv(H) @ W2.conj().T) <= 1e-9 * scale


# ---------------------------------------------------------------------------------------------
# Squared-moment-map flow
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("widths", "kind", "seed"),
    [((2, 3, 2), "real", 0), ((3, 2, 1), "real", 1), ((1, 2, 3, 3), "real", 2), ((3, 3, 3), "complex", 3)],
)
def test_moment_flow_decreases_moment_norm_and_keeps_product(widths, kind, seed):
    W = random_weights(widths, kind, seed)
    t = np.linspace(0.0, 6.0, 25)
    flow = DF.dense_moment_flow(W, t)
    assert flow.success, flow.message
    np.testing.assert_array_equal(flow.times, t)
    X0 = product(W)
    m2 = np.array([norm(moment_map(Wt)) ** 2 for Wt in flow.weights])
    assert np.all(np.diff(m2) <= 1e-12 * m2[0])
    assert m2[-1] < 0.5 * m2[0]  # it does move
    for Wt in flow.weights:
        assert np.linalg.norm(product(Wt) - X0) <= 1e-8 * np.linalg.norm(X0)


@pytest.mark.parametrize(("widths", "seed"), [((3, 3, 3), 0), ((2, 2, 2, 2, 2), 0)])
def test_moment_flow_asymptotic_rate_on_closed_equal_width_orbits(widths, seed):
    """docs/math section 3: ||mu|| ~ exp(-c t), c = 4 (1 - cos(pi/N)) s_min(X)^{2/N}."""
    W = random_weights(widths, "real", seed)
    N = len(W)
    c = 4 * (1 - np.cos(np.pi / N)) * np.linalg.svd(product(W), compute_uv=False).min() ** (2 / N)
    t = np.array([0.0, 15.0, 20.0])
    flow = DF.dense_moment_flow(W, t)
    m = [norm(moment_map(Wt)) for Wt in flow.weights]
    assert m[-1] > 1e-9 * m[0]  # still far above the tolerance floor
    rate = np.log(m[1] / m[2]) / (t[2] - t[1])
    assert rate == pytest.approx(c, rel=1e-3)


# ---------------------------------------------------------------------------------------------
# Finite-time form of the orbit L2 flow
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("widths", "kind", "seed"),
    [((2, 2, 2), "real", 0), ((2, 2, 2), "real", 1), ((3, 3, 3), "real", 2), ((3, 3, 3), "complex", 3)],
)
def test_finite_time_form_on_closed_orbits(widths, kind, seed):
    W = random_weights(widths, kind, seed)
    t = np.array([0.25, 0.5, 1.0, 2.0])
    s = np.concatenate([[0.0], (1 - np.exp(-2 * t)) / 2, [0.5]])
    flow = DF.dense_l2_finite_time(W, s)
    assert flow.success, flow.message
    np.testing.assert_array_equal(flow.times, s)

    mu0, X0 = moment_map(W), product(W)
    for sk, Ws in zip(flow.times, flow.weights, strict=True):
        assert diff_norm(moment_map(Ws), [(1 - 2 * sk) * m for m in mu0]) <= 1e-8 * norm(mu0)
        assert np.linalg.norm(product(Ws) - X0) <= 1e-8 * np.linalg.norm(X0)
    W_end = flow.weights[-1]
    assert norm(moment_map(W_end)) <= 1e-10 * norm(mu0)  # balanced at s = 1/2
    assert regularizer(W_end) == pytest.approx(min_regularizer(X0, len(W)), rel=1e-10)

    # the same path as the orbit L2 flow, under s = (1 - exp(-2t))/2; its t = 15 point is the limit
    l2 = DF.dense_l2_flow(W, np.concatenate([[0.0], t, [15.0]]), space="orbit")
    for Ws, Wt in zip(flow.weights, l2.weights, strict=True):
        assert diff_norm(Ws, Wt) <= 1e-7 * norm(Wt)


# ---------------------------------------------------------------------------------------------
# Edge cases and input validation
# ---------------------------------------------------------------------------------------------


def test_trivial_requests_and_depth_one():
    W = random_weights((2, 3, 2), "real", 0)
    flow = DF.dense_l2_flow(W, np.array([0.0]))
    assert flow.nfev == 0 and flow.success and len(flow.weights) == 1
    assert diff_norm(flow.weights[0], W) == 0
    with pytest.raises(dataclasses.FrozenInstanceError):
        flow.nfev = 3  # type: ignore[misc]

    # s_eval need not contain 0: the integration still starts at W(0)
    late = DF.dense_l2_finite_time(W, np.array([0.2, 0.5]))
    full = DF.dense_l2_finite_time(W, np.array([0.0, 0.2, 0.5]))
    assert diff_norm(late.weights[0], full.weights[1]) <= 1e-10 * norm(W)

    # N = 1: the fiber is a point and there is no gauge group, so every flow stays put
    (W1,) = W1_tuple = random_weights((3, 2), "complex", 1)
    for flow in (
        DF.dense_l2_flow(W1_tuple, np.array([0.0, 1.0]), space="fiber"),
        DF.dense_l2_flow(W1_tuple, np.array([0.0, 1.0]), space="orbit"),
        DF.dense_moment_flow(W1_tuple, np.array([0.0, 1.0])),
        DF.dense_l2_finite_time(W1_tuple, np.array([0.0, 0.5])),
    ):
        assert flow.success
        assert np.linalg.norm(flow.weights[-1][0] - W1) <= 1e-14 * np.linalg.norm(W1)


W_OK = random_weights((2, 3, 2), "real", 0)


@pytest.mark.parametrize(
    "call",
    [
        lambda: DF.dense_l2_flow(W_OK, np.array([0.1, 1.0])),  # does not start at 0
        lambda: DF.dense_l2_flow(W_OK, np.array([0.0, 2.0, 1.0])),  # decreasing
        lambda: DF.dense_l2_flow(W_OK, np.array([0.0, 1.0, 1.0])),  # repeated
        lambda: DF.dense_l2_flow(W_OK, np.array([[0.0, 1.0]])),  # not 1-D
        lambda: DF.dense_l2_flow(W_OK, np.array([])),  # empty
        lambda: DF.dense_l2_flow(W_OK, np.array([0.0, np.inf])),  # not finite
        lambda: DF.dense_l2_flow(W_OK, np.array([0.0, 1.0]), space="horizontal"),  # unknown space
        lambda: DF.dense_l2_flow(W_OK, np.array([0.0, 1.0]), rank_rtol=0.0),
        lambda: DF.dense_moment_flow(W_OK, np.array([-1.0, 0.0, 1.0])),
        lambda: DF.dense_l2_finite_time(W_OK, np.array([0.0, 0.6])),  # beyond 1/2
        lambda: DF.dense_l2_finite_time(W_OK, np.array([-0.1, 0.2])),  # negative
        lambda: DF.dense_l2_finite_time(W_OK, np.array([0.0, 0.3, 0.2])),  # decreasing
        lambda: DF.dense_l2_flow((np.ones((2, 3)), np.ones((2, 3))), np.array([0.0, 1.0])),  # shapes
        lambda: DF.dense_l2_flow((np.ones(3),), np.array([0.0, 1.0])),  # not 2-D
        lambda: DF.dense_l2_flow((), np.array([0.0, 1.0])),  # empty W
        lambda: DF.dense_l2_flow(np.ones((2, 2)), np.array([0.0, 1.0])),  # a bare array, not a tuple
        lambda: DF.dense_moment_flow((np.array([[np.nan]]), np.ones((1, 1))), np.array([0.0, 1.0])),
    ],
)
def test_bad_input_raises_value_error(call):
    with pytest.raises(ValueError):
        call()
