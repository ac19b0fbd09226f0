"""Input validation of the public functions: errors are raised early, with useful messages."""

from __future__ import annotations

import re

import numpy as np
import pytest

import dln_git as dg

W232 = (np.arange(6.0).reshape(3, 2) + 1.0, np.arange(6.0).reshape(2, 3) - 2.0)
MU232 = (np.eye(3),)


def _nan(shape, where=(0, 0), value=np.nan):
    M = np.ones(shape)
    M[where] = value
    return M


CASES = [
    # wrong number of dimensions
    ("end_to_end 1-D layer", dg.end_to_end, ((np.ones(3),),), ValueError,
     r"W_1 must be a 2-D array, got 1 dimension"),
    ("widths_of 3-D layer", dg.widths_of, ((np.ones((2, 2)), np.ones((2, 2, 2))),), ValueError,
     r"W_2 must be a 2-D array, got 3 dimension"),
    ("moment_map 0-D layer", dg.moment_map, ((np.float64(1.0),),), ValueError, r"W_1 must be a 2-D array"),
    ("end_to_end single matrix", dg.end_to_end, (np.ones((2, 2)),), TypeError,
     r"sequence of 2-D arrays.*single 2-D array"),
    ("end_to_end not a sequence", dg.end_to_end, (3.0,), TypeError, r"sequence of 2-D arrays"),
    # mismatched neighbouring shapes: the layer index and the expected shape are named
    ("end_to_end mismatch", dg.end_to_end, ((np.ones((2, 3)), np.ones((2, 3))),), ValueError,
     r"layer 2: W_2 has shape \(2, 3\).*expected shape \(2, 2\)"),
    ("widths_of mismatch at layer 3", dg.widths_of,
     ((np.ones((2, 1)), np.ones((4, 2)), np.ones((1, 3))),), ValueError,
     r"layer 3: W_3 has shape \(1, 3\).*expected shape \(1, 4\)"),
    ("moment_map mismatch", dg.moment_map, ((np.ones((3, 2)), np.ones((2, 2))),), ValueError,
     r"layer 2.*expected shape \(2, 3\)"),
    # NaN / inf
    ("moment_map NaN", dg.moment_map, ((_nan((2, 2)), np.ones((2, 2))),), ValueError,
     r"W_1 contains NaN or inf"),
    ("end_to_end inf", dg.end_to_end, ((np.ones((2, 2)), _nan((2, 2), value=np.inf)),), ValueError,
     r"W_2 contains NaN or inf"),
    ("regularizer complex NaN", dg.regularizer, ((np.array([[1 + 1j, complex(np.nan, 0)]]),),),
     ValueError, r"W_1 contains NaN or inf"),
    ("min_regularizer NaN", dg.min_regularizer, (_nan((2, 2)), 2), ValueError, r"X contains NaN or inf"),
    # empty input
    ("end_to_end no layer", dg.end_to_end, ([],), ValueError, r"W is empty.*at least one layer"),
    ("end_to_end empty tuple", dg.end_to_end, ((),), ValueError, r"W is empty"),
    ("widths_of zero-size layer", dg.widths_of, ((np.ones((0, 2)),),), ValueError,
     r"W_1 is empty \(shape \(0, 2\)\)"),
    ("min_regularizer empty X", dg.min_regularizer, (np.ones((2, 0)), 2), ValueError, r"X is empty"),
    # non-numeric dtypes
    ("end_to_end strings", dg.end_to_end, ((np.array([["a", "b"]]),),), TypeError,
     r"W_1 must be a numeric array, got dtype <U1"),
    ("end_to_end object", dg.end_to_end, ((np.array([[1.0, None]], dtype=object),),), TypeError,
     r"W_1 must be a numeric array, got dtype object"),
    ("moment_map bool", dg.moment_map, ((np.ones((2, 2)), np.ones((2, 2), dtype=bool)),), TypeError,
     r"W_2 must be a numeric array, got dtype bool"),
    ("end_to_end string sequence", dg.end_to_end, ("abc",), TypeError, r"sequence of 2-D arrays"),
    ("end_to_end ragged", dg.end_to_end, (([[1.0, 2.0], [3.0]],),), ValueError, r"W_1 is not a rectangular"),
    # gauge elements
    ("gauge_act singular g", dg.gauge_act, ((np.diag([1.0, 0.0, 1.0]),), W232), ValueError,
     r"g_1 is not invertible \(condition number"),
    ("gauge_act numerically singular g", dg.gauge_act, ((np.diag([1.0, 1e-16, 1.0]),), W232), ValueError,
     r"g_1 is not invertible"),
    ("gauge_act wrong shape g", dg.gauge_act, ((np.eye(2),), W232), ValueError,
     r"hidden layer 1: g_1 has shape \(2, 2\), expected \(3, 3\)"),
    ("gauge_act wrong number of g", dg.gauge_act, ((np.eye(3), np.eye(2)), W232), ValueError,
     r"g has 2 entries, expected 1"),
    ("gauge_exp inf t", dg.gauge_exp, ((np.eye(3),), W232, np.inf), ValueError, r"t = inf is not finite"),
    ("gauge_exp NaN xi", dg.gauge_exp, ((_nan((3, 3)),), W232), ValueError, r"xi_1 contains NaN or inf"),
    ("infinitesimal_action wrong xi", dg.infinitesimal_action, (W232, (np.eye(2),)), ValueError,
     r"xi_1 has shape \(2, 2\), expected \(3, 3\)"),
    ("infinitesimal_action_adjoint wrong V", dg.infinitesimal_action_adjoint,
     (W232, (np.ones((3, 2)), np.ones((3, 2)))), ValueError, r"layer 2: V_2 has shape \(3, 2\), expected \(2, 3\)"),
    # solve_gram / metric with wrong right-hand sides
    ("solve_gram wrong rhs shape", dg.solve_gram, (W232, (np.eye(2),)), ValueError,
     r"rhs_1 has shape \(2, 2\), expected \(3, 3\)"),
    ("solve_gram wrong rhs count", dg.solve_gram, (W232, (np.eye(3), np.eye(3))), ValueError,
     r"rhs has 2 entries, expected 1"),
    ("solve_gram NaN rhs", dg.solve_gram, (W232, (_nan((3, 3)),)), ValueError, r"rhs_1 contains NaN"),
    ("solve_end_to_end_metric wrong rhs", dg.solve_end_to_end_metric, (W232, np.ones((3, 3))), ValueError,
     r"rhs has shape \(3, 3\), expected the shape of X \(2, 2\)"),
    ("differential wrong dW", dg.end_to_end_differential, (W232, (np.ones((3, 2)),)), ValueError,
     r"dW has 1 layers, expected 2"),
    ("differential adjoint wrong Z", dg.end_to_end_differential_adjoint, (W232, np.ones((2, 3))), ValueError,
     r"Z has shape \(2, 3\), expected the shape of X \(2, 2\)"),
    ("project_vertical wrong V", dg.project_vertical, (W232, (np.ones((2, 3)), np.ones((2, 3)))), ValueError,
     r"layer 1: V_1 has shape \(2, 3\), expected \(3, 2\)"),
    ("project_orbit bool V", dg.project_orbit, (W232, (np.ones((3, 2), bool), np.ones((2, 3)))), TypeError,
     r"V_1 must be a numeric array"),
    # SVD chart
    ("balanced wrong X shape", dg.balanced_from_end_to_end, (np.ones((3, 3)), (2, 3, 2)), ValueError,
     r"X has shape \(3, 3\) but widths \(2, 3, 2\) need X of shape \(2, 2\)"),
    ("balanced narrow hidden", dg.balanced_from_end_to_end, (np.eye(3), (3, 2, 3)), ValueError,
     r"hidden layer 1 has width 2 < rank X = 3"),
    ("balanced 1-D X", dg.balanced_from_end_to_end, (np.ones(3), (3, 3, 1)), ValueError, r"X must be a 2-D"),
    ("balanced bad widths", dg.balanced_from_end_to_end, (np.ones((2, 2)), (2, -1, 2)), ValueError,
     r"widths\[1\] = -1 is not positive"),
    ("min_regularizer depth 0", dg.min_regularizer, (np.eye(2), 0), ValueError, r"depth N must be >= 1"),
    ("min_regularizer float depth", dg.min_regularizer, (np.eye(2), 2.0), TypeError, r"depth must be an integer"),
    # random weights / width rules with bad widths
    ("random_weights zero width", dg.random_weights, ((2, 0, 2),), ValueError,
     r"widths\[1\] = 0 is not positive"),
    ("random_weights one width", dg.random_weights, ((2,),), ValueError, r"depth N >= 1"),
    ("random_weights float width", dg.random_weights, ((2.5, 3),), TypeError, r"widths\[0\] = 2.5 is not an integer"),
    ("random_weights bool width", dg.random_weights, ((True, 3),), TypeError, r"widths\[0\] = True is not an integer"),
    ("random_weights string", dg.random_weights, ("23",), TypeError, r"sequence of positive integers"),
    ("random_weights int", dg.random_weights, (3,), TypeError, r"sequence of positive integers"),
    ("random_weights bad scale", dg.random_weights, ((2, 2),), ValueError, r"scale = -1.0"),
    ("random_weights bad rng", dg.random_weights, ((2, 2), "seed"), TypeError, r"rng must be None"),
    ("funnel_layers bad widths", dg.funnel_layers, ((3, 0, 1),), ValueError, r"not positive"),
    ("stabiliser_layers float", dg.stabiliser_layers, ((3, 2.0, 1),), TypeError, r"not an integer"),
    ("generic_orbits_closed short", dg.generic_orbits_closed, ((3,),), ValueError, r"depth N >= 1"),
    # misc
    ("is_balanced negative rtol", dg.is_balanced, (W232,), ValueError, r"rtol = -1"),
    ("haar_orthonormal k > n", dg.haar_orthonormal, (2, 3), ValueError, r"cannot have 3 orthonormal columns"),
    ("regime string", dg.regime, ("W",), TypeError, r"sequence of 2-D arrays"),
]

# keyword arguments for the few cases that need them
KWARGS = {
    "random_weights bad scale": {"scale": -1.0},
    "is_balanced negative rtol": {"rtol": -1.0},
}


@pytest.mark.parametrize(("name", "func", "args", "exc", "match"), CASES, ids=[c[0] for c in CASES])
def test_invalid_input_raises(name, func, args, exc, match):
    with pytest.raises(exc, match=match):
        func(*args, **KWARGS.get(name, {}))


def test_messages_are_specific():
    """The mismatch message names both shapes and the expected number of columns."""
    with pytest.raises(ValueError) as info:
        dg.end_to_end((np.ones((4, 3)), np.ones((5, 4)), np.ones((2, 6))))
    msg = str(info.value)
    assert "layer 3" in msg
    assert "W_3 has shape (2, 6)" in msg
    assert "W_2 has shape (5, 4)" in msg
    assert re.search(r"must have 5 columns", msg)
    assert "(2, 5)" in msg


@pytest.mark.parametrize(
    "W",
    [
        ([[1, 2], [3, 4]], [[1, 0]]),  # nested lists of ints
        (np.array([[1, 2], [3, 4]], dtype=np.int32), np.array([[1.0, 0.0]], dtype=np.float32)),
        (np.array([[1, 2], [3, 4]], dtype=np.complex64), np.array([[1, 0]])),  # mixed: all complex
    ],
    ids=["lists", "int32-float32", "complex64-int"],
)
def test_valid_numeric_inputs_are_accepted(W):
    X = dg.end_to_end(W)
    ref = np.asarray(W[1], dtype=np.complex128) @ np.asarray(W[0], dtype=np.complex128)
    assert np.allclose(X, ref)
    assert X.dtype in (np.float64, np.complex128)
    assert dg.widths_of(W) == (2, 2, 1)
    mu = dg.moment_map(W)
    A0 = np.asarray(W[0], dtype=np.complex128)
    A1 = np.asarray(W[1], dtype=np.complex128)
    assert np.allclose(mu[0], A0 @ A0.conj().T - A1.conj().T @ A1)
    if any(np.iscomplexobj(np.asarray(w)) for w in W):
        assert all(np.iscomplexobj(m) for m in dg.gauge_exp((np.eye(2),), W, 0.1))


def test_inputs_are_not_modified():
    W = tuple(w.copy() for w in W232)
    before = tuple(w.copy() for w in W)
    g = (np.diag([2.0, 1.0, 0.5]),)
    dg.gauge_act(g, W)
    dg.gauge_exp((np.eye(3),), W, 0.3)
    dg.project_vertical(W, W)
    dg.project_orbit(W, W)
    dg.solve_gram(W, dg.moment_map(W))
    dg.end_to_end(W)[0, 0] = 123.0  # the returned X is a copy
    assert all(np.array_equal(a, b) for a, b in zip(W, before, strict=True))


@pytest.mark.parametrize("fn", [dg.stabiliser_subspace, dg.differential_cokernel, dg.regime])
def test_subspace_functions_validate_their_input(fn):
    with pytest.raises(ValueError, match="layer 2"):
        fn((np.ones((3, 2)), np.ones((2, 4))))
    with pytest.raises(ValueError, match="NaN or inf"):
        fn((np.full((2, 2), np.nan), np.ones((2, 2))))
