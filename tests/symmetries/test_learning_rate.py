"""The learning-rate experiment (MATH.md 6.1): initialisations, penalty, training, the scalar
sharpness fact, the grid table and its summary; each checked against an independent computation
(explicit norms and forward passes written out here, finite differences, closed forms)."""

from __future__ import annotations

import concurrent.futures as cf
import sys

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from dln_git.experiments import load_table
from dln_git.symmetries.homogeneous import homogeneous_net
from dln_git.symmetries.learning_rate import (
    balanced_init,
    imbalanced_init,
    random_relu_net,
    scalar_gd,
    scalar_sharpness,
    train,
)
from dln_git.symmetries.lr_data import LRData, digits, teacher_student
from dln_git.symmetries.lr_experiment import (
    COLUMNS,
    lr_points,
    lr_task,
    neuron_scale,
    penalty_weight,
    run_lr_experiment,
    summarize,
)


# ------------------------------------------------------------------------------------------------
# independent references
# ------------------------------------------------------------------------------------------------
def _forward(net, x):
    """ReLU forward pass written out (biases as columns)."""
    h = x
    for i, W in enumerate(net.weights):
        h = W @ h + (net.biases[i][:, None] if net.biases is not None else 0.0)
        if i < net.depth - 1:
            h = np.maximum(h, 0.0) if net.activation == "relu" else h
    return h


def _imbalance(net):
    """D_j = ||(W_l[j,:], b_l[j])||^2 - ||W_{l+1}[:, j]||^2 from explicit sums."""
    out = []
    for i in range(net.depth - 1):
        a = (net.weights[i] ** 2).sum(axis=1) + (net.biases[i] ** 2 if net.biases is not None else 0.0)
        out.append(a - (net.weights[i + 1] ** 2).sum(axis=0))
    return out


@st.composite
def _nets(draw):
    widths = draw(st.lists(st.integers(1, 5), min_size=3, max_size=4))
    seed = draw(st.integers(0, 2**31 - 1))
    scale = draw(st.sampled_from([1e-3, 1.0, 1e3]))
    rng = np.random.default_rng(seed)
    W = [scale * rng.standard_normal((widths[i + 1], widths[i])) for i in range(len(widths) - 1)]
    b = [scale * rng.standard_normal(w.shape[0]) for w in W]
    if draw(st.booleans()):  # a degenerate start: one neuron of the first hidden layer with zero input
        W[0][0] = 0.0
        b[0][0] = 0.0
    return homogeneous_net(W, b, "relu"), rng


# ------------------------------------------------------------------------------------------------
# initialisations
# ------------------------------------------------------------------------------------------------
@given(_nets(), st.sampled_from([0.5, 2.0]))
def test_imbalanced_init_keeps_the_function_and_moves_D(args, spread):
    net, rng = args
    moved = imbalanced_init(net, spread, rng)
    x = rng.standard_normal((net.widths[0], 7))
    ref = _forward(net, x)
    np.testing.assert_allclose(_forward(moved, x), ref, rtol=1e-12, atol=1e-12 * np.abs(ref).max() + 1e-300)
    assert moved.weights[0] is not net.weights[0]


def test_imbalanced_init_makes_D_large():
    net = balanced_init(random_relu_net((6, 20, 3), 0))
    moved = imbalanced_init(net, 1.5, 1)
    sq = sum(float((w ** 2).sum()) for w in net.weights)
    assert max(np.abs(d).max() for d in _imbalance(moved)) > 0.5 * sq / 20  # O(the mean neuron size) or more
    assert max(np.abs(d).max() for d in _imbalance(net)) <= 1e-13 * sq


@given(_nets())
def test_balanced_init_has_D_zero_and_the_same_function(args):
    net, rng = args
    bal = balanced_init(net)
    x = rng.standard_normal((net.widths[0], 5))
    ref = _forward(net, x)
    np.testing.assert_allclose(_forward(bal, x), ref, rtol=1e-10, atol=1e-10 * np.abs(ref).max() + 1e-300)
    for d, w_in, w_out in zip(_imbalance(bal), bal.weights[:-1], bal.weights[1:], strict=False):
        size = (w_in ** 2).sum(axis=1) + (w_out ** 2).sum(axis=0)
        live = ((w_in ** 2).sum(axis=1) > 0) & ((w_out ** 2).sum(axis=0) > 0)
        assert np.all(np.abs(d[live]) <= 1e-11 * size.max())


def test_one_hidden_layer_closed_form_is_exact():
    net = random_relu_net((4, 6, 2), 3)
    bal = balanced_init(net)
    p = np.sqrt((net.weights[0] ** 2).sum(1)) * np.sqrt((net.weights[1] ** 2).sum(0))  # the invariant P_j
    np.testing.assert_allclose((bal.weights[0] ** 2).sum(1), p, rtol=1e-14)
    np.testing.assert_allclose((bal.weights[1] ** 2).sum(0), p, rtol=1e-14)


# ------------------------------------------------------------------------------------------------
# the penalty arms (the penalty and its gradient are tested in test_gauge_penalty.py)
# ------------------------------------------------------------------------------------------------
def test_penalty_weight_of_the_arms():
    assert penalty_weight("none", 0.1, 5.0) == 0.0
    assert penalty_weight("rho=0.3", 0.1, 5.0) == 0.3
    assert penalty_weight("critical", 0.1, 5.0) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="arm"):
        penalty_weight("strong", 0.1, 5.0)
    net = random_relu_net((3, 4, 1), 0)
    k0 = max((net.weights[0] ** 2).sum(1) + net.biases[0] ** 2 + (net.weights[1] ** 2).sum(0))
    assert neuron_scale(net) == pytest.approx(k0, rel=1e-14)


# ------------------------------------------------------------------------------------------------
# the scalar fact and a tiny training run against it
# ------------------------------------------------------------------------------------------------
def test_scalar_sharpness_closed_form_against_the_dense_hessian():
    rng = np.random.default_rng(0)
    for _ in range(20):
        a, c, y = rng.standard_normal(3) * 2
        H = np.array([[c * c, 2 * a * c - y], [2 * a * c - y, a * a]])  # d^2/d(a,c)^2 of 1/2 (ac - y)^2
        assert scalar_sharpness(a, c, y) == pytest.approx(np.linalg.eigvalsh(H)[-1], rel=1e-12)
    y = 3.0
    assert scalar_sharpness(np.sqrt(y), np.sqrt(y), y) == pytest.approx(2 * y, rel=1e-14)
    assert scalar_sharpness(2 * np.sqrt(y), np.sqrt(y) / 2, y) == pytest.approx(4.25 * y, rel=1e-14)


def test_scalar_gd_leaves_a_sharp_minimum_and_lands_on_a_flat_enough_one():
    y = 2.0
    a, c = 2 * np.sqrt(y), np.sqrt(y) / 2  # on the minimum set, sharpness 4.25 y
    s = a * a + c * c
    lr = 1.1 * 2 / s  # above the edge of this minimum, below 1/|y| (the balanced one's)
    r = scalar_gd(a + 1e-8 / c, c, y, lr, 400)
    assert abs(r[10]) > 3 * abs(r[0])  # unstable here: the residual grows by |1 - lr s| = 1.2
    assert abs(r[-1]) < 1e-12  # converged elsewhere on the minimum set


def _scalar_data(y):
    x = np.ones((1, 1))
    return LRData("scalar", "regression", x, np.array([[y]]), x, np.array([[y]]), 1)


@pytest.mark.parametrize("factor, stable", [(0.95, True), (1.05, False)])
def test_linear_scalar_net_is_stable_exactly_below_one_over_y(factor, stable):
    """1/2 (a c - y)^2 as a linear network with widths (1, 1, 1): every minimum has sharpness
    a^2 + c^2 >= 2|y| (closed form), so GD from near the balanced minimum converges for lr < 1/|y|
    and cannot settle (the loss leaves 10x its start) above."""
    y = 1.7
    r0 = np.sqrt(y) * (1 + 1e-3)
    net = homogeneous_net([[[r0]], [[np.sqrt(y)]]], activation="linear")
    run = train(net, _scalar_data(y), lr=factor / y, steps=600)
    assert run.stable is stable and run.converged is stable
    if stable:
        assert run.final_loss < 1e-20
    else:
        assert run.divergence_step > 0 and "diverged" in run.message


# ------------------------------------------------------------------------------------------------
# training
# ------------------------------------------------------------------------------------------------
def test_train_records_the_loss_and_detects_blow_up():
    data = teacher_student(40, 10, d_in=4, teacher_hidden=3, rng=1)
    net = balanced_init(random_relu_net((4, 8, 1), 2))
    run = train(net, data, lr=0.05, steps=30)
    ref = 0.5 * np.sum((_forward(net, data.x_train) - data.y_train) ** 2) / data.x_train.shape[1]
    assert run.losses[0] == pytest.approx(ref, rel=1e-12)
    assert run.stable and run.losses.size == 31 and run.final_loss < run.losses[0]
    bad = train(net, data, lr=50.0, steps=30)
    assert not bad.stable and 0 < bad.divergence_step <= 30 and bad.losses.size == bad.divergence_step + 1


def test_penalty_drives_D_towards_zero_and_sgd_is_seeded():
    data = teacher_student(40, 10, d_in=4, teacher_hidden=3, rng=1)
    net = imbalanced_init(balanced_init(random_relu_net((4, 8, 1), 2)), 1.0, 3)
    d0 = max(np.abs(d).max() for d in _imbalance(net))
    run = train(net, data, lr=0.01, steps=100, rho=penalty_weight("critical", 0.01, neuron_scale(net)))
    assert run.stable and run.imbalance_final < 1e-2 * d0
    one = train(net, data, lr=0.01, steps=10, batch_size=8, rng=5)
    two = train(net, data, lr=0.01, steps=10, batch_size=8, rng=5)
    three = train(net, data, lr=0.01, steps=10, batch_size=8, rng=6)
    np.testing.assert_array_equal(one.losses, two.losses)
    assert not np.array_equal(one.losses, three.losses)


def test_train_validates_its_input():
    data = teacher_student(10, 5, d_in=2, rng=0)
    net = random_relu_net((2, 3, 1), 0)
    with pytest.raises(ValueError, match="lr"):
        train(net, data, lr=-1.0, steps=3)
    with pytest.raises(ValueError, match="batch_size"):
        train(net, data, lr=0.1, steps=3, batch_size=11)
    with pytest.raises(TypeError, match="net"):
        train(net.weights, data, lr=0.1, steps=3)
    with pytest.raises(ValueError, match="spread"):
        imbalanced_init(net, -1.0, 0)
    with pytest.raises(ValueError, match="y = nan"):
        scalar_sharpness(1.0, 1.0, float("nan"))
    with pytest.raises(TypeError, match="a must be a real number"):
        scalar_gd("1", 1.0, 1.0, 0.1, 3)
    with pytest.raises(ValueError, match="steps"):
        scalar_gd(1.0, 1.0, 1.0, 0.1, 0)


# ------------------------------------------------------------------------------------------------
# data
# ------------------------------------------------------------------------------------------------
def test_digits_split_is_standardised_and_seeded():
    d = digits(300, rng=4)
    assert d.x_train.shape == (64, 300) and d.x_test.shape == (64, 1497) and d.y_train.dtype == np.int64
    np.testing.assert_allclose(d.x_train.mean(axis=1), 0.0, atol=1e-12)
    std = d.x_train.std(axis=1)
    assert np.all((np.abs(std - 1) < 1e-12) | (std == 0))
    np.testing.assert_array_equal(digits(300, rng=4).y_test, d.y_test)


def test_digits_without_scikit_learn_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "sklearn.datasets", None)
    with pytest.raises(ImportError, match=r"dln-git\[digits\]"):
        digits(100)


# ------------------------------------------------------------------------------------------------
# the grid, the table and the summary
# ------------------------------------------------------------------------------------------------
def test_grid_table_and_summary_round_trip(tmp_path):
    points = lr_points(datasets=("teacher",), lrs=[1e-3, 100.0], seeds=[0, 1], arms=("none", "critical"), steps=5)
    with cf.ThreadPoolExecutor(2) as ex:
        rows = run_lr_experiment(points, tmp_path / "t.csv", executor=ex, progress=False)
    assert len(rows) == len(points) == 16
    back = load_table(tmp_path / "t.csv")
    assert set(back[0]) == set(COLUMNS)
    assert [r["stable"] for r in back] == [r["stable"] for r in rows]
    assert all(r["stable"] for r in back if r["lr"] == 1e-3) and not any(r["stable"] for r in back if r["lr"] == 100.0)
    summary = summarize(back)
    assert summary["edges"][("teacher", "imbalanced", "none")] == {0: 1e-3, 1: 1e-3}
    c = summary["counts"][("teacher", "balanced", "critical")]
    assert c["seeds"] == 2 and c["wider"] + c["same"] + c["narrower"] == 2
    assert lr_task(points[0]) == {k: v for k, v in rows[0].items() if k not in points[0]}


def test_figure_writes_its_table_and_redraws_from_it(tmp_path, monkeypatch):
    from dln_git.figures import fig10_relu_learning_rate as fig

    monkeypatch.setitem(fig.PARAMS, "smoke", {**fig.PARAMS["smoke"], "seeds": 1, "lrs": (-2.0, 1.0, 3), "steps": 10})
    paths = fig.make(tmp_path / "a", size="smoke")
    assert [p.suffix for p in paths] == [".png", ".pdf"] and all(p.exists() for p in paths)
    table = tmp_path / "a" / fig.TABLE
    rows = load_table(table)
    assert set(rows[0]) == set(COLUMNS) and len(rows) == 2 * 2 * 3 * 1 * 3

    def no_training(*args, **kwargs):
        raise AssertionError("drawing from a saved table must not train")

    monkeypatch.setattr(fig, "compute", no_training)
    again = fig.make(tmp_path / "b", size="smoke", table=table)
    assert all(p.exists() for p in again) and not (tmp_path / "b" / fig.TABLE).exists()
