"""Conservation-law counting: cost budget, complex weights, and the split modules' API."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

import dln_git as dg
from dln_git.symbolic import conservation, count_conservation_laws, hyperdual
from dln_git.symbolic.conservation import estimate_conservation_cost, moment_map_jacobian_rank


# ------------------------------------------------------------------------------------------ budget
@pytest.mark.parametrize("widths", [(30, 30, 30, 30, 30), (1, 300, 300, 300, 1), (200, 200)])
def test_huge_networks_are_refused_before_any_work(widths):
    pattern = r"widths \(.*\) \(linear\) need an estimated cost .* more than max_cost = 5e\+09"
    with pytest.raises(ValueError, match=pattern):
        count_conservation_laws(widths)


def test_refusal_names_the_limit_and_raising_it_proceeds():
    need = estimate_conservation_cost((2, 3, 2))
    with pytest.raises(ValueError, match=r"pass a larger max_cost="):
        count_conservation_laws((2, 3, 2), rng=0, max_cost=need / 2)
    r = count_conservation_laws((2, 3, 2), rng=0, max_cost=100 * need)
    assert r.saturated and r.stopped_by == "saturated" and 0 < r.cost <= 100 * need


def test_budget_stops_a_deep_bracket_iteration_with_a_flag_and_a_message():
    """(2, 5, 5, 1, 1, 3) needs brackets of depth 5; a budget just above the first level stops it
    early: not saturated, the rank a lower bound (the count an upper bound), the reason stated."""
    widths = (2, 5, 5, 1, 1, 3)
    full = count_conservation_laws(widths, rng=4, exact=False)
    assert full.saturated and full.bracket_depth >= 3
    limit = 2 * estimate_conservation_cost(widths)
    cut = count_conservation_laws(widths, rng=4, exact=True, max_cost=limit)
    assert not cut.saturated and cut.stopped_by == "max_cost"
    assert cut.lie_rank < full.lie_rank and cut.count > full.count
    assert cut.cost <= limit and cut.exact_rank is None
    assert "max_cost" in cut.message and "lower bound" in cut.message and "NOT saturated" in str(cut)


# ------------------------------------------------------------------------------------------ complex
def complex_two_layer_lie_rank(widths, seed: int = 5) -> int:
    """dim_R Lie(V)(theta) for complex phi = W_2 W_1 via the matrix Lie algebra of linear fields.

    Generators: the real gradients of Re X[o, i] = Re<E, X> and Im X[o, i] = Re<i E, X> with
    E = e_oi, i.e. (W_1, W_2) -> (W_2^* F, F W_1^*) for F = E, i E, written in real coordinates.
    """
    d0, d1, d2 = widths
    n1, n2 = d1 * d0, d2 * d1
    D = 2 * (n1 + n2)

    def to_complex(v):
        z = v[0::2] + 1j * v[1::2]
        return z[:n1].reshape(d1, d0), z[n1:].reshape(d2, d1)

    def to_real(W1, W2):
        z = np.concatenate([W1.ravel(), W2.ravel()])
        return np.stack([z.real, z.imag], axis=-1).ravel()

    gens = []
    for o, i in itertools.product(range(d2), range(d0)):
        for unit in (1.0, 1j):
            F = np.zeros((d2, d0), dtype=complex)
            F[o, i] = unit
            cols = []
            for e in np.eye(D):
                W1, W2 = to_complex(e)
                cols.append(to_real(W2.conj().T @ F, F @ W1.conj().T))
            gens.append(np.stack(cols, axis=1))
    basis: list[np.ndarray] = []

    def add(M) -> bool:
        stack = np.stack([b.ravel() for b in [*basis, M]])
        if np.linalg.matrix_rank(stack, tol=1e-9 * max(1.0, np.abs(stack).max())) > len(basis):
            basis.append(M)
            return True
        return False

    frontier = [A for A in gens if add(A)]
    while frontier:
        frontier = [M for M in (B @ A - A @ B for A in gens for B in frontier) if add(M)]
    theta = np.random.default_rng(seed).standard_normal(D)
    vals = np.stack([M @ theta for M in basis], axis=1)
    return int(np.linalg.matrix_rank(vals, tol=1e-9 * np.abs(vals).max()))


def fd_complex_moment_map_rank(widths, seed: int = 3) -> int:
    """Rank of the real Jacobian of (Re mu[i <= j], Im mu[i < j]) by central differences."""
    W = dg.random_weights(widths, seed, complex=True)
    cols = []
    for ell, w in enumerate(W):
        for a, b, unit in itertools.product(range(w.shape[0]), range(w.shape[1]), (1.0, 1j)):
            Wp, Wm = [x.copy() for x in W], [x.copy() for x in W]
            Wp[ell][a, b] += 0.5 * unit
            Wm[ell][a, b] -= 0.5 * unit
            parts = []
            for p, m in zip(dg.moment_map(Wp), dg.moment_map(Wm), strict=True):
                d = p - m
                parts += [d[np.triu_indices(d.shape[0])].real, d[np.triu_indices(d.shape[0], 1)].imag]
            cols.append(np.concatenate(parts))
    sv = np.linalg.svd(np.stack(cols, axis=1), compute_uv=False)
    return int(np.sum(sv > 1e-9 * sv[0]))


@pytest.mark.parametrize("widths", [(2, 2, 2), (2, 3, 2), (3, 2, 1), (1, 2, 1), (2, 1, 2)])
def test_complex_count_against_the_matrix_lie_algebra(widths):
    r = count_conservation_laws(widths, complex=True, rng=2)
    assert r.complex and r.D == 2 * (widths[0] * widths[1] + widths[1] * widths[2])
    assert r.lie_rank == complex_two_layer_lie_rank(widths) and r.exact_matches
    assert r.expected == fd_complex_moment_map_rank(widths)


@pytest.mark.parametrize("widths", [(2, 2, 2, 2), (1, 2, 2, 1), (2, 3, 4, 3)])
def test_complex_deeper_count_equals_the_moment_map_rank(widths):
    r = count_conservation_laws(widths, complex=True, rng=1)  # exact check where D <= 40
    assert r.matches and r.exact_matches is not False and r.expected == fd_complex_moment_map_rank(widths)


def test_complex_exception_is_explained_and_real_jacobian_rank_agrees():
    r = count_conservation_laws((1, 2, 1), complex=True, rng=0)
    assert r.count == r.expected + 1 and "complex weights: a scalar sub-network" in str(r)
    W = dg.random_weights((2, 3, 2), 1)
    assert moment_map_jacobian_rank(W) == moment_map_jacobian_rank(tuple(w + 0j for w in W)) - 3


@pytest.mark.parametrize(
    ("kwargs", "exc", "match"),
    [
        ({"activation": "relu", "complex": True}, ValueError, "complex=True is only supported"),
        ({"complex": 1}, TypeError, "complex must be True or False"),
        ({"max_cost": 0}, ValueError, r"max_cost = 0.0 is outside"),
        ({"max_cost": "big"}, TypeError, "max_cost must be a real number"),
        ({"max_points": 2.0}, TypeError, "max_points must be an integer"),
        ({"bias": 1}, TypeError, "bias must be True or False"),
    ],
)
def test_options_are_validated_by_name(kwargs, exc, match):
    with pytest.raises(exc, match=match):
        count_conservation_laws((2, 3, 2), **kwargs)


# ------------------------------------------------------------------------------------------ modules
def test_split_modules_keep_the_public_api():
    import dln_git.symbolic as sym

    for name in conservation.__all__:
        assert hasattr(conservation, name)
    assert sym.count_conservation_laws is conservation.count_conservation_laws
    assert sym.ConservationLawCount is conservation.ConservationLawCount
    assert sym.moment_map_jacobian_rank is conservation.moment_map_jacobian_rank


def test_chunked_subset_convolution_matches_the_definition(monkeypatch):
    rng = np.random.default_rng(0)
    n = 3
    a, b = rng.standard_normal((5, 4, 1 << n)), rng.standard_normal((5, 4, 1 << n))
    ref = np.zeros_like(a)
    for S in range(1 << n):
        for T in range(1 << n):
            if T & S == T:
                ref[..., S] += a[..., T] * b[..., S ^ T]
    np.testing.assert_allclose(hyperdual.dual_mul(a, b, n), ref, rtol=1e-13, atol=1e-13)
    monkeypatch.setattr(hyperdual, "MAX_TEMPORARY_ELEMENTS", 2 * 3**n)  # two rows per slice
    np.testing.assert_allclose(hyperdual.dual_mul(a, b, n), ref, rtol=1e-13, atol=1e-13)
