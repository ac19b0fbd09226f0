"""Width vocabulary (funnel / stabiliser / closed generic orbits) and ``regime(W)`` against dense
ranks of the Jacobian J of phi and of the infinitesimal action A, over every width pattern with
widths 1..4 at depths 2 and 3 (an exhaustive loop), plus random deeper patterns.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import dln_git as dg
from dln_git.testing import dense
from dln_git.testing import strategies as dst


def gaussian_weights(widths, rng, is_complex):
    """Generic weights drawn here (not with the package's random_weights)."""
    out = []
    for i in range(1, len(widths)):
        M = rng.standard_normal((widths[i], widths[i - 1]))
        if is_complex:
            M = M + 1j * rng.standard_normal(M.shape)
        out.append(M)
    return tuple(out)


def rule_layers(widths):
    """docs/math section 2, written out independently: (funnels, stabilisers, closed)."""
    r = min(widths)
    funnels, stabs, closed = [], [], True
    for i in range(1, len(widths) - 1):
        a, b = min(widths[:i]), min(widths[i + 1 :])
        if min(a, b) < widths[i] < max(a, b):
            funnels.append(i)
        if widths[i] > max(a, b):
            stabs.append(i)
        if widths[i] > r and not (widths[i - 1] == r and widths[i + 1] == r):
            closed = False
    return tuple(funnels), tuple(stabs), closed


def dense_dims(W):
    A = dense.dense_infinitesimal_action(W)
    J = dense.dense_end_to_end_jacobian(W)
    rank_a = dense.numerical_rank(A)
    rank_j = dense.numerical_rank(J)
    return {
        "lie": A.shape[1],
        "orbit": rank_a,
        "stabiliser": A.shape[1] - rank_a,
        "fiber": J.shape[1] - rank_j,
        "rank_j": rank_j,
    }


def all_patterns(depth, max_width=4):
    return list(itertools.product(range(1, max_width + 1), repeat=depth + 1))


def check_pattern(widths, W):
    dims = dense_dims(W)
    funnels, stabs, closed = rule_layers(widths)
    # the package's width vocabulary is the rule of docs/math
    assert dg.funnel_layers(widths) == funnels
    assert dg.stabiliser_layers(widths) == stabs
    assert dg.generic_orbits_closed(widths) == closed
    # range(A_W) = ker dphi exactly off funnels; strictly smaller on funnels (dense ranks)
    if funnels:
        assert dims["orbit"] < dims["fiber"], (widths, dims)
    else:
        assert dims["orbit"] == dims["fiber"], (widths, dims)
    # stabiliser rule: Gram singular iff a stabiliser layer exists
    assert (dims["stabiliser"] > 0) == bool(stabs), (widths, dims)
    if len(widths) == 3:
        d0, d1, d2 = widths
        assert dims["stabiliser"] == max(d1 - d0, 0) * max(d1 - d2, 0)
    sol = dg.solve_gram(W, dg.moment_map(W))
    assert sol.singular == bool(stabs)
    assert sol.kernel_dim == dims["stabiliser"]
    # regime(W) agrees with the dense dimensions and with the rules at generic W
    reg = dg.regime(W)
    assert reg.widths == widths
    assert reg.depth == len(widths) - 1
    assert reg.is_complex == bool(np.iscomplexobj(W[0]))
    assert reg.lie_algebra_dim == dims["lie"]
    assert reg.orbit_dim == dims["orbit"]
    assert reg.stabiliser_dim == dims["stabiliser"]
    assert reg.fiber_dim == dims["fiber"]
    assert reg.differential_rank == dims["rank_j"]
    assert reg.orbit_is_fiber == (not funnels)
    X = np.linalg.multi_dot(list(reversed(W))) if len(W) > 1 else W[0]
    rank_x = np.linalg.matrix_rank(X)
    layer_ranks = tuple(int(np.linalg.matrix_rank(w)) for w in W)
    assert reg.rank_x == rank_x == min(widths)
    assert reg.generic_rank == min(widths)
    assert reg.rank_deficiency == 0
    assert reg.layer_ranks == layer_ranks
    assert reg.funnel_layers == reg.funnel_layers_generic == funnels
    assert reg.stabiliser_layers == reg.stabiliser_layers_generic == stabs
    # closedness rule: generic_orbits_closed(widths) == regime(W).orbit_closed at random W,
    # and the invariant "every layer has rank = rank X" computed here
    assert reg.generic_orbits_closed == closed
    assert reg.orbit_closed == closed == all(r == rank_x for r in layer_ranks), widths
    # extra fiber component: ||Pi_V(W) - P_W(W)|| / ||W|| with the dense projectors
    w = dense.flatten(W)
    extra = np.linalg.norm(
        dense.dense_projection_vertical(W) @ w - dense.dense_projection_orbit(W) @ w
    ) / np.linalg.norm(w)
    if funnels:
        assert abs(reg.extra_fiber_component - extra) <= 1e-8
    else:
        assert reg.extra_fiber_component == 0.0
        assert extra <= 1e-8
    assert isinstance(reg.summary, str) and str(widths) in str(reg)


@pytest.mark.parametrize("depth", [2, 3])
def test_width_rules_over_all_patterns_real(depth):
    rng = np.random.default_rng(1000 + depth)
    for widths in all_patterns(depth):
        check_pattern(widths, gaussian_weights(widths, rng, is_complex=False))


@pytest.mark.parametrize("depth", [2, 3])
def test_width_rules_over_all_patterns_complex(depth):
    rng = np.random.default_rng(2000 + depth)
    patterns = all_patterns(depth)
    if depth == 3:
        patterns = patterns[::3]  # a third of them, to keep the runtime modest
    for widths in patterns:
        check_pattern(widths, gaussian_weights(widths, rng, is_complex=True))


@settings(deadline=None)
@given(st.data())
def test_width_rules_random_deeper_patterns(data):
    widths = data.draw(dst.widths(min_depth=2, max_depth=5, max_width=4))
    is_complex = data.draw(st.booleans())
    W = data.draw(dst.weights(widths, complex=is_complex))
    check_pattern(widths, W)


@pytest.mark.parametrize(
    ("widths", "funnels", "stabs", "closed"),
    [
        ((3, 2, 1), (1,), (), False),
        ((1, 2, 3), (1,), (), False),
        ((4, 3, 2, 3, 4), (1, 3), (), False),
        ((1, 2, 3, 3), (1,), (), False),
        ((784, 256, 10), (1,), (), False),
        ((2, 4, 2), (), (1,), True),
        ((2, 4, 4, 2), (), (1, 2), False),
        ((1, 3, 1), (), (1,), True),
        ((3, 3, 3), (), (), True),
        ((3, 4, 3, 3), (), (1,), True),
        ((3, 1, 3), (), (), True),
        ((1, 2, 2), (), (), False),  # docs/math lists it as a stabiliser example: it is not one
        ((5,), None, None, None),
    ],
    ids=str,
)
def test_named_examples(widths, funnels, stabs, closed):
    if funnels is None:
        with pytest.raises(ValueError, match="depth N >= 1"):
            dg.funnel_layers(widths)
        return
    assert dg.funnel_layers(widths) == funnels
    assert dg.stabiliser_layers(widths) == stabs
    assert dg.generic_orbits_closed(widths) == closed


def test_funnel_321_is_one_dimension_short():
    rng = np.random.default_rng(7)
    for is_complex in (False, True):
        W = gaussian_weights((3, 2, 1), rng, is_complex)
        dims = dense_dims(W)
        assert dims["fiber"] - dims["orbit"] == 1  # (complex dimensions in the complex case)
        reg = dg.regime(W)
        assert reg.fiber_dim - reg.orbit_dim == 1


@settings(deadline=None)
@given(st.data())
def test_regime_of_rank_deficient_points(data):
    """Balanced points over a rank-deficient X: the dimensions are still the dense ones."""
    widths = data.draw(dst.widths(min_depth=2, max_depth=4, min_width=2, max_width=4))
    rank = data.draw(st.integers(1, min(widths) - 1)) if min(widths) > 1 else 1
    is_complex = data.draw(st.booleans())
    W = data.draw(dst.balanced_weights(widths, rank=rank, complex=is_complex))
    reg = dg.regime(W)
    dims = dense_dims(W)
    assert reg.rank_x == rank
    assert reg.rank_deficiency == min(widths) - rank
    assert reg.layer_ranks == (rank,) * (len(widths) - 1)
    assert reg.orbit_closed  # every layer has rank = rank X at a balanced point
    assert reg.orbit_dim == dims["orbit"]
    assert reg.stabiliser_dim == dims["stabiliser"]
    assert reg.fiber_dim == dims["fiber"]
    assert reg.differential_rank == dims["rank_j"]
    sol = dg.solve_gram(W, dg.moment_map(W))
    assert sol.kernel_dim == dims["stabiliser"]
