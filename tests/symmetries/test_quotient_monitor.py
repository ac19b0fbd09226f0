"""The monitor and staged learning: references independent of the code under test.

* The aligned-mode transition time against an ODE solve of ``da/dt = N a^{2-2/N} (s - a)`` (scipy's
  DOP853 with an event) and against the decomposition layer's oracle ``aligned_mode``.
* Crossing and rise times on a logistic curve with known closed forms.
* Recorded singular values against numpy's SVD of the training run's own X.
* Staged learning: from an aligned balanced small start the transition times read off ``s_k(X)``
  match the aligned-mode predictions (acceptance 5%; measured <= 4e-7 after refining the crossing);
  raw layer norms rise over several transitions; ``||mu||`` does not move at all (conserved).
"""

import numpy as np
import pytest
import scipy.integrate

from dln_git.decomposition import SquaredDistance, aligned_mode, loss_gradient, train
from dln_git.experiments import load_table, save_table
from dln_git.symmetries.monitor import (
    QuotientMonitor,
    crossing_time,
    max_rate_time,
    predicted_transition_time,
    record_training,
    rise_time,
)
from dln_git.symmetries.staged import staged_learning


@pytest.mark.parametrize("depth", [1, 2, 3, 4, 6])
@pytest.mark.parametrize(("s", "a0", "fraction"), [(3.0, 1e-3, 0.5), (1.0, 1e-6, 0.5), (2.0, 0.05, 0.9)])
def test_predicted_transition_time_matches_an_ode_solve_and_the_oracle(depth, s, a0, fraction):
    t_pred = predicted_transition_time(s, a0, depth, fraction)

    def f(t, a):
        return depth * np.abs(a) ** (2 - 2 / depth) * (s - a)

    def hit(t, a):
        return a[0] - fraction * s

    hit.terminal = True
    sol = scipy.integrate.solve_ivp(f, (0, 10 * t_pred + 10), [a0], method="DOP853", rtol=1e-12, atol=1e-14 * a0,
                                    events=hit)
    assert sol.t_events[0][0] == pytest.approx(t_pred, rel=1e-8)
    assert aligned_mode(s, a0, depth, t_pred) == pytest.approx(fraction * s, rel=1e-7)


def test_decomposition_oracle_at_very_small_starts():
    # aligned_mode (N >= 3) used to return the rest point long before the mode got there for a0 <= 1e-5
    # (its quadrature missed the 1/f peak at b ~ a0); it now agrees with the independent prediction
    for depth in (3, 4):
        t_pred = predicted_transition_time(1.0, 1e-6, depth)
        assert aligned_mode(1.0, 1e-6, depth, t_pred) == pytest.approx(0.5, rel=1e-6)


def test_predicted_transition_time_edge_cases_and_errors():
    assert predicted_transition_time(1.0, 0.6, 3) == 0.0
    with pytest.raises(ValueError, match="a0"):
        predicted_transition_time(1.0, 0.0, 3)
    with pytest.raises(ValueError, match="fraction"):
        predicted_transition_time(1.0, 0.1, 3, fraction=1.0)


def test_crossing_rise_and_max_rate_on_a_logistic_curve():
    k, t0 = 3.0, 2.0
    t = np.linspace(0, 6, 6001)
    y = 1 / (1 + np.exp(-k * (t - t0)))
    assert crossing_time(t, y, 0.5) == pytest.approx(t0, abs=1e-6)
    # rise_time normalises by the total change y_end - y_0: the levels are y_0 + f (y_end - y_0)
    levels = [y[0] + f * (y[-1] - y[0]) for f in (0.1, 0.9)]
    closed = [t0 + np.log(v / (1 - v)) / k for v in levels]  # the logistic's inverse
    assert rise_time(t, y) == pytest.approx(closed[1] - closed[0], rel=1e-6)
    assert max_rate_time(t, y) == pytest.approx(t0, abs=1e-3)
    assert np.isnan(crossing_time(t, y, 2.0)) and np.isnan(rise_time(t, np.ones_like(t)))
    with pytest.raises(ValueError, match="increase"):
        crossing_time(t[::-1], y, 0.5)


def test_cubic_crossing_error_bounds_on_a_logistic_curve():
    # Interpolation error bounds at the root, divided by the slope y' there (0.84 here): linear
    # h^2/8 max|y''| / y' (max|y''| = k^2/(6 sqrt 3)), cubic (9/16) h^4 max|y^(4)| / 24 / y'
    # (max|y^(4)| <= k^4 / 8); both checked, and the cubic one is far smaller.
    k, t0, level = 4.0, 1.3, 0.3
    exact = t0 + np.log(level / (1 - level)) / k
    slope = k * level * (1 - level)
    for n in (41, 81, 161):
        t = np.linspace(0, 3, n)
        h = t[1] - t[0]
        y = 1 / (1 + np.exp(-k * (t - t0)))
        lin, cub = (abs(crossing_time(t, y, level, cubic=c) - exact) for c in (False, True))
        assert lin <= h**2 / 8 * k**2 / (6 * np.sqrt(3)) / slope
        assert cub <= 9 / 16 * h**4 * k**4 / 8 / 24 / slope
        assert cub < lin / 10


def test_record_training_rows_match_the_run_and_round_trip(tmp_path):
    rng = np.random.default_rng(0)
    W0 = tuple(0.3 * rng.standard_normal(s) for s in [(4, 3), (4, 4), (2, 4)])
    loss = SquaredDistance(rng.standard_normal((2, 3)))
    run = train(W0, loss, t_final=1.0, t_eval=np.linspace(0.1, 1, 10), record_weights=True, speeds=False)
    rows = record_training(run, loss, extra={"seed": 0})
    assert len(rows) == run.times.size
    for r, X, mu, R in zip(rows, run.X, run.mu_norm, run.regularizer, strict=True):
        s = np.linalg.svd(X, compute_uv=False)
        assert [r["sv_1"], r["sv_2"]] == pytest.approx(s, rel=1e-10)
        assert r["mu_norm"] == pytest.approx(mu, rel=1e-10) and r["R"] == pytest.approx(R, rel=1e-12)
        assert r["loss"] == pytest.approx(0.5 * np.sum((X - loss.Y) ** 2), rel=1e-12)
        assert r["balanced_norm"] ** 2 == pytest.approx(np.sum(s ** (2 / 3)), rel=1e-10)
    back = load_table(save_table(rows, tmp_path / "rows.csv"))
    assert back[3]["sv_1"] == pytest.approx(rows[3]["sv_1"], rel=1e-15)
    no_traj = train(W0, loss, t_final=0.5, speeds=False)
    with pytest.raises(ValueError, match="record_weights"):
        record_training(no_traj)


def test_monitor_in_a_hand_written_gd_loop():
    rng = np.random.default_rng(2)
    W = tuple(0.5 * rng.standard_normal(s) for s in [(3, 3), (3, 3)])
    loss = SquaredDistance(np.diag([2.0, 1.0, 0.5]))
    monitor = QuotientMonitor(loss)
    for k in range(50):
        monitor(0.05 * k, W)
        grads = loss_gradient(W, loss)
        W = tuple(w - 0.05 * g for w, g in zip(W, grads, strict=True))
    losses = monitor.column("loss")
    assert losses.size == 50 and losses[-1] < losses[0]
    with pytest.raises(KeyError):
        monitor.column("nope")


@pytest.mark.parametrize(("widths", "seed"), [((8, 9, 10, 8), 0), ((10, 8, 9, 8, 10), 1), ((9, 10, 8, 9), 2)])
def test_staged_learning_aligned_matches_the_aligned_mode_prediction(widths, seed):
    rng = np.random.default_rng(seed)
    s = np.array([3.0, 2.0, 1.0]) * rng.uniform(0.8, 1.2)
    r = staged_learning(widths, s, 10 ** rng.uniform(-4, -2), rng)
    assert r.converged, r.message
    # acceptance: 5%; the aligned start follows the scalar flow exactly, so what is left is the
    # measurement (records refined by a restart around the crossing, cubic in log s_k) and rtol = 1e-8:
    # measured <= 4e-7 on the claim's seeds 0..60
    assert np.max(np.abs(r.relative_error)) <= 1e-5
    # (ii) raw norms blur: each raw 10-90% window holds several transitions and lasts longer than
    # any singular value's rise
    assert np.all(r.raw_transitions_inside >= 2)
    assert np.min(r.raw_rise) > 2 * np.max(r.quotient_rise)
    mu = np.array([row["mu_norm"] for row in r.rows])
    assert np.ptp(mu) <= 1e-6 * np.max(np.array([row["R"] for row in r.rows]))  # blind: conserved


def test_staged_learning_generic_depth_two_with_the_linearised_initial_value():
    # generic Gaussian small start, N = 2: a_eff = ||W_2^T u_k + W_1 v_k||^2 / 4 from the linear early
    # phase. Stated tolerance: the leading mode within 1% (measured <= 4.3e-3 on seeds 0..19). The later
    # modes are NOT within 5%: they interact with the modes already learned (measured up to 9% for
    # mode 2 and 24% for mode 3 on seeds 0..19), so only their resolution is asserted.
    for seed in range(3):
        r = staged_learning((8, 9, 8), [3.0, 2.0, 1.0], 1e-3, seed, init="generic")
        assert r.converged, r.message
        assert abs(r.relative_error[0]) <= 1e-2
        assert np.all(r.quotient_transitions_inside == 1) and np.all(r.raw_transitions_inside >= 2)


def test_staged_learning_generic_deep_start_is_resolved_but_not_timed():
    # generic Gaussian small start, N = 3: the early phase is a nonlinear homogeneous flow and the
    # mode's projection |u_k^T X_0 v_k| is no good initial value (timing errors of 11-83% measured on
    # seeds 0..19): the 5% acceptance holds only for aligned balanced starts. What still holds: the
    # transitions come in the order of s_k, each s_k(X) resolves its own one, each raw norm mixes two
    # or more.
    r = staged_learning((8, 9, 9, 8), [3.0, 2.0, 1.0], 1e-3, 0, init="generic", horizon=4.0)
    assert r.converged, r.message
    assert np.all(np.diff(r.measured) > 0)
    assert np.all(r.quotient_transitions_inside == 1) and np.all(r.raw_transitions_inside >= 2)


def test_staged_learning_rejects_bad_input():
    with pytest.raises(ValueError, match="decreasing"):
        staged_learning((4, 4, 4), [1.0, 2.0], 1e-3, 0)
    with pytest.raises(ValueError, match="a0"):
        staged_learning((4, 4, 4), [2.0, 1.0], [1e-3, 1e-2], 0)
    with pytest.raises(ValueError, match="init"):
        staged_learning((4, 4, 4), [2.0, 1.0], 1e-3, 0, init="other")
    with pytest.raises(ValueError, match="below"):
        staged_learning((4, 4, 4), [2.0, 1.0], 0.6, 0)


def test_record_training_of_gradient_descent():
    rng = np.random.default_rng(6)
    W0 = tuple(0.3 * rng.standard_normal(s) for s in [(3, 3), (3, 3), (3, 3)])
    loss = SquaredDistance(np.diag([2.0, 1.0, 0.5]))
    run = train(W0, loss, method="gd", eta=0.05, steps=40, record_every=5, record_weights=True, speeds=False)
    rows = record_training(run, loss)
    assert [r["t"] for r in rows] == pytest.approx(run.times)
    assert [r["loss"] for r in rows] == pytest.approx(run.data_loss, rel=1e-12)
