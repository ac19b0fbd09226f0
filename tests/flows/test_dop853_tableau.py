"""The Dormand–Prince 8(5,3) tableau of ``dln_git.flows.dop853_tableau``, checked independently.

* The Runge–Kutta order conditions (Butcher): for every rooted tree ``t`` with at most 8 vertices
  the elementary weight ``Phi(t) = sum_i B_i g_i(t)`` equals ``1 / gamma(t)`` (200 conditions),
  with the trees generated here and ``g(t) = prod_children A g(child)``; and some order-9 condition
  fails (the order is exactly 8). The quadrature conditions ``sum_i B_i C_i^(k-1) = 1/k`` and
  the row sums ``sum_j A_ij = C_i`` are checked on their own as well.
* The stage (simplifying) conditions ``sum_j A_ij C_j^(k-1) = C_i^k / k``: which stages satisfy
  them up to which k (found by evaluating them; the test pins the pattern, holds at k and fails
  at k + 1).
* The embedded solutions: ``B - E5`` has order exactly 5 and ``B - E3`` order exactly 3; the
  error weights sum to 0.
* Empirical order of the plain explicit scheme on ``y' = (y_1 cos t, -2 t y_2^2)``, exact
  solution ``(exp(sin t), 1 / (1 + t^2))``: the error ratio at steps h and h/2 gives order >= 7.5.
* A cross-check against scipy's private copy of the coefficients (skipped when it is missing).

Tolerance of the algebraic conditions: 1e-13. The tableau is exact to 30 digits and each float64
coefficient is rounded by at most 1.1e-16 relative; the residuals evaluated in float64 are at
most 1.0e-15 (measured), while the largest residuals of the next order are 2.7e-5 (B, order 9),
4.5e-4 (``B - E5``, order 6) and 2.5e-2 (``B - E3``, order 4), and the failing stage conditions
at k + 1 are at least 1.1e-6: a test for failure uses the threshold 1e-9, far from both.
"""

from __future__ import annotations

from functools import cache

import numpy as np
import pytest

from dln_git.flows import dop853_tableau as tableau

TOL = 1e-13
#: A condition counts as failing above this residual (see the module docstring).
FAILS = 1e-9


@cache
def rooted_trees(n: int) -> tuple:
    """All rooted trees with ``n`` vertices, a tree being the sorted tuple of its subtrees."""
    if n == 1:
        return ((),)
    return tuple(sorted({tuple(sorted(forest)) for forest in _forests(n - 1)}))


def _forests(m: int):
    """Sequences of rooted trees with ``m`` vertices in all (each multiset several times)."""
    if m == 0:
        yield ()
        return
    for k in range(1, m + 1):
        for tree in rooted_trees(k):
            for rest in _forests(m - k):
                yield (tree, *rest)


def _order(tree) -> int:
    return 1 + sum(_order(child) for child in tree)


def _density(tree) -> int:
    """``gamma(t) = |t| prod gamma(children)``."""
    out = _order(tree)
    for child in tree:
        out *= _density(child)
    return out


def _stage_weights(tree, A) -> np.ndarray:
    """``g(t) = prod_children (A g(child))`` (elementwise), ``g(single vertex) = 1``."""
    out = np.ones(A.shape[0])
    for child in tree:
        out = out * (A @ _stage_weights(child, A))
    return out


def _order_residuals(b, A, n: int) -> np.ndarray:
    """``|b . g(t) - 1 / gamma(t)|`` over the rooted trees with ``n`` vertices."""
    return np.array([abs(b @ _stage_weights(t, A) - 1.0 / _density(t)) for t in rooted_trees(n)])


def _order_of(b, A) -> int:
    """The largest p <= 9 such that every order condition up to p holds within TOL."""
    for n in range(1, 10):
        if _order_residuals(b, A, n).max() > TOL:
            return n - 1
    return 9


def test_tree_generator_counts_the_rooted_trees():
    """OEIS A000081: 1, 1, 2, 4, 9, 20, 48, 115, 286 rooted trees with 1..9 vertices."""
    assert [len(rooted_trees(n)) for n in range(1, 10)] == [1, 1, 2, 4, 9, 20, 48, 115, 286]
    assert all(_order(t) == n for n in range(1, 8) for t in rooted_trees(n))
    # the tall tree [[[.]]] has density 4 * 3 * 2 * 1, the bushy tree [., ., .] has density 4
    assert _density(((((),),),)) == 24 and _density(((), (), ())) == 4


def test_shapes_and_structure():
    A, B, C = tableau.A, tableau.B, tableau.C
    assert tableau.N_STAGES == 12
    assert A.shape == (12, 12) and B.shape == C.shape == (12,)
    assert tableau.E3.shape == tableau.E5.shape == (13,)
    assert np.all(np.triu(A) == 0.0), "explicit: A strictly lower triangular"
    assert C[0] == 0.0 and C[-1] == 1.0
    assert np.all(B[1:5] == 0.0) and np.all(tableau.E5[1:5] == 0.0)
    # the first-same-as-last field at the new point has weight 0 in both estimators
    assert tableau.E3[12] == 0.0 and tableau.E5[12] == 0.0
    for array in (A, B, C, tableau.E3, tableau.E5, tableau.BHH):
        assert not array.flags.writeable


def test_rows_sum_to_the_nodes():
    np.testing.assert_allclose(tableau.A.sum(axis=1), tableau.C, rtol=0, atol=TOL)


def test_quadrature_conditions_hold_to_order_8_only():
    """``sum_i B_i C_i^(k-1) = 1/k`` for k = 1..8; k = 9 fails (measured residual 2.7e-5)."""
    B, C = tableau.B, tableau.C
    residuals = np.array([B @ C ** (k - 1) - 1.0 / k for k in range(1, 10)])
    assert np.abs(residuals[:8]).max() <= TOL, residuals
    assert abs(residuals[8]) > FAILS, residuals


def test_all_order_conditions_up_to_order_8():
    """The 200 conditions of order <= 8 hold; among the 286 of order 9 some fail."""
    for n in range(1, 9):
        worst = _order_residuals(tableau.B, tableau.A, n).max()
        assert worst <= TOL, (n, worst)
    assert _order_residuals(tableau.B, tableau.A, 9).max() > FAILS


#: Largest k with ``sum_j A_ij C_j^(k-1) = C_i^k / k`` at stage i (1-based); stage 1 (c = 0)
#: satisfies all trivially. Found by evaluating the conditions for k = 1..8.
SIMPLIFYING_ORDER = {2: 1, 3: 3, 4: 3, 5: 3, 6: 5, 7: 5, 8: 5, 9: 5, 10: 5, 11: 5, 12: 5}


@pytest.mark.parametrize(("stage", "order"), sorted(SIMPLIFYING_ORDER.items()))
def test_stage_conditions(stage, order):
    A, C = tableau.A, tableau.C
    i = stage - 1

    def residual(k):
        return A[i] @ C ** (k - 1) - C[i] ** k / k

    assert max(abs(residual(k)) for k in range(1, order + 1)) <= TOL
    assert abs(residual(order + 1)) > FAILS


def test_first_stage_conditions_are_trivial():
    assert np.all(tableau.A[0] == 0.0) and tableau.C[0] == 0.0


def test_embedded_solutions_have_orders_5_and_3():
    """``B - E5`` (fifth-order estimator) has order exactly 5, ``B - E3`` (= BHH) exactly 3."""
    A, B = tableau.A, tableau.B
    fifth = B - tableau.E5[:12]
    third = B - tableau.E3[:12]
    np.testing.assert_allclose(third, tableau.BHH, rtol=0, atol=1e-16)
    assert _order_of(fifth, A) == 5
    assert _order_of(third, A) == 3
    assert _order_of(B, A) == 8


def test_error_weights_sum_to_zero():
    """Both estimate the difference of two consistent solutions: the weights sum to 0."""
    assert abs(tableau.E5.sum()) <= TOL
    assert abs(tableau.E3.sum()) <= TOL


def _field(t, y):
    return np.array([y[0] * np.cos(t), -2.0 * t * y[1] ** 2])


def _exact(t):
    return np.array([np.exp(np.sin(t)), 1.0 / (1.0 + t * t)])


def _explicit_rk_error(T: float, n: int) -> float:
    """Max-norm error at T of n steps of the explicit scheme (A, B, C) from the exact y(0)."""
    A, B, C = tableau.A, tableau.B, tableau.C
    h = T / n
    y = _exact(0.0)
    k = np.zeros((12, 2))
    for step in range(n):
        t = step * h
        for i in range(12):
            k[i] = _field(t + C[i] * h, y + h * (A[i, :i] @ k[:i]))
        y = y + h * (B @ k)
    return float(np.abs(y - _exact(T)).max())


def test_explicit_scheme_converges_with_order_8():
    """On [0, 2] at h = 1/4 and 1/8 the errors are 4.1e-11 and 1.6e-13 (ratio 263, observed
    order 8.04); the rounding of 16 steps (about 1e-15) is 100 times below the smaller one, and
    ``error / h^8`` is already steady from h = 2/5 on (2.78e-6, 2.70e-6, 2.63e-6 at h = 2/5,
    1/4, 1/8 for the first component)."""
    coarse, fine = _explicit_rk_error(2.0, 8), _explicit_rk_error(2.0, 16)
    observed = np.log2(coarse / fine)
    assert observed >= 7.5, (coarse, fine, observed)
    assert fine <= 1e-12


def test_matches_scipys_private_coefficients():
    """Cross-check only: scipy's DOP853 coefficients (a private module that may disappear)."""
    scipy_dop853 = pytest.importorskip("scipy.integrate._ivp.dop853_coefficients")
    n = tableau.N_STAGES
    assert scipy_dop853.N_STAGES == n
    pairs = {
        "A": (tableau.A, scipy_dop853.A[:n, :n]),
        "B": (tableau.B, scipy_dop853.B),
        "C": (tableau.C, scipy_dop853.C[:n]),
        "E3": (tableau.E3, scipy_dop853.E3),
        "E5": (tableau.E5, scipy_dop853.E5),
    }
    for name, (ours, theirs) in pairs.items():
        theirs = np.asarray(theirs, dtype=float)
        assert ours.shape == theirs.shape, name
        np.testing.assert_allclose(ours, theirs, rtol=1e-15, atol=0, err_msg=name)
