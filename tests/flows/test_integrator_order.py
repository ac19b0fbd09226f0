"""Convergence order of the fixed-step schemes of ``dln_git.flows`` (RKMK / projected DP5(4): order 5).

Errors at ``t = T`` for four step sizes are measured against the dense ``solve_ivp`` reference
(DOP853, rtol 1e-13) and the slope of log(error) against log(h) is fitted.

For the squared-moment-map flow the fifth-order term of Dormand–Prince's error is so small on
this problem that the measured slope is about 6.5 at every measurable step size (errors from 1e-3
down to the rounding level), for the textbook weight-space DP5 as well (written out below, nothing
shared with the package). There the check is that the Lie-group scheme has at least order 5 and
the same observed order as the weight-space DP5 on the same problem; a lost order (e.g. a
truncated ``dexp^{-1}``, or a first-order gauge update) would show as a slope of 4 or less.
"""

from __future__ import annotations

import numpy as np
import pytest
from flow_helpers import gaussian_weights, loglog_slope, moment, product, rel_diff, x_drift

from dln_git.flows import l2_flow, moment_flow
from dln_git.testing.dense_flows import dense_l2_flow, dense_moment_flow

T = 1.0
DIVISIONS = np.array([8, 16, 32, 64])
STEPS = T / DIVISIONS


def _errors(run, ref, X0):
    errs = []
    for h in STEPS:
        res = run(h)
        assert res.reached_t_final, res.message
        assert res.steps == round(T / h)
        assert x_drift(res.weights, X0) <= 1e-12
        errs.append(rel_diff(res.weights, ref))
    return np.array(errs)


@pytest.mark.parametrize(("widths", "space", "method"), [((2, 3, 2), "orbit", "group"),
                                                         ((1, 2, 3, 3), "fiber", "projected")])
def test_l2_flow_is_fifth_order(widths, space, method):
    W = gaussian_weights(widths, np.random.default_rng(1))
    ref = dense_l2_flow(W, np.array([0.0, T]), space=space, method="DOP853", rtol=1e-13, atol=1e-15)
    assert ref.success, ref.message

    def run(h):
        res = l2_flow(W, T, space=space, step=h)
        assert res.method == method
        return res

    errs = _errors(run, ref.weights[-1], product(W))
    assert np.all(np.diff(errs) < 0), errs
    assert errs[-1] <= 1e-10
    slope = loglog_slope(STEPS, errs)
    assert abs(slope - 5.0) <= 0.3, (slope, errs)


# ---- the textbook Dormand–Prince 5th-order solution on the flattened weights -------------------

_A = ((), (1 / 5,), (3 / 40, 9 / 40), (44 / 45, -56 / 15, 32 / 9),
      (19372 / 6561, -25360 / 2187, 64448 / 6561, -212 / 729),
      (9017 / 3168, -355 / 33, 46732 / 5247, 49 / 176, -5103 / 18656))
_B = (35 / 384, 0.0, 500 / 1113, 125 / 192, -2187 / 6784, 11 / 84)


def _moment_velocity(W):
    """-A_W(mu(W)): (-(mu_i W_i - W_i mu_{i-1}))_i with mu_0 = mu_N = 0."""
    m = moment(W)
    N = len(W)
    out = []
    for i in range(N):
        v = np.zeros_like(W[i])
        if i < N - 1:
            v = v + m[i] @ W[i]
        if i > 0:
            v = v - W[i] @ m[i - 1]
        out.append(-v)
    return out


def _plain_dp5(W, t_final, n):
    h = t_final / n
    W = [np.array(w) for w in W]
    for _ in range(n):
        k = [_moment_velocity(W)]
        for j in range(1, 6):
            stage = [w + h * sum(a * kk[i] for a, kk in zip(_A[j], k, strict=True)) for i, w in enumerate(W)]
            k.append(_moment_velocity(stage))
        W = [w + h * sum(b * kk[i] for b, kk in zip(_B, k, strict=True)) for i, w in enumerate(W)]
    return tuple(W)


@pytest.mark.parametrize("widths", [(2, 3, 2), (2, 2, 2, 2)])
def test_moment_flow_order(widths):
    W = gaussian_weights(widths, np.random.default_rng(4))
    ref = dense_moment_flow(W, np.array([0.0, T]), method="DOP853", rtol=1e-13, atol=1e-15)
    assert ref.success, ref.message
    errs = _errors(lambda h: moment_flow(W, T, step=h), ref.weights[-1], product(W))
    plain = np.array([rel_diff(_plain_dp5(W, T, n), ref.weights[-1]) for n in DIVISIONS])
    assert np.all(np.diff(errs) < 0), errs
    assert errs[-1] <= 1e-9
    slope = loglog_slope(STEPS, errs)
    plain_slope = loglog_slope(STEPS, plain)
    assert slope >= 4.7, (slope, errs)
    assert abs(slope - plain_slope) <= 0.3, (slope, plain_slope, errs, plain)
