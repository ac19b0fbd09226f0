"""The symmetry-breaking classifier experiment: the last-layer mean shifts the initial output mean by
exactly ``shift * t_bar``, GD's gradient is the loss's, the grid runs through run_grid and saves a table."""

from __future__ import annotations

import itertools
import sys

import numpy as np
import pytest

from dln_git.experiments import grid, load_table, run_grid, save_table
from dln_git.symmetries.symmetry_breaking import _accuracy, breaking_task, load_data, train_classifier


@pytest.fixture(scope="module")
def mixture():
    return load_data("mixture", seed=0)


def test_shift_moves_the_initial_output_mean_by_shift_times_target_mean(mixture):
    for coding, t_bar in (("one-hot", 0.1), ("one-cold", 0.9)):
        base = train_classifier(mixture, coding=coding, shift=0.0, epochs=0, seed=3)[0]
        moved = train_classifier(mixture, coding=coding, shift=2.5, epochs=0, seed=3)[0]
        assert base["target_mean"] == pytest.approx(t_bar)
        assert moved["init_output_mean"] - base["init_output_mean"] == pytest.approx(2.5 * t_bar, rel=1e-10)


def test_gradient_descent_decreases_the_loss_like_a_small_step_should(mixture):
    rows = train_classifier(mixture, coding="one-cold", shift=1.0, epochs=60, lr=0.05, checkpoints=[1, 10, 30], seed=1)
    losses = [r["train_loss"] for r in rows]
    assert [r["epoch"] for r in rows] == [0, 1, 10, 30, 60]
    assert all(b < a for a, b in itertools.pairwise(losses))
    assert rows[-1]["test_accuracy"] > 0.5  # a separable mixture is learned


def test_one_cold_reads_the_argmin():
    out = np.array([[0.1, 0.9, 0.8], [0.7, 0.95, 0.05]])
    assert _accuracy(out, np.array([0, 2]), "one-cold") == 1.0
    assert _accuracy(out, np.array([1, 1]), "one-hot") == 1.0


def test_grid_through_run_grid_and_table(tmp_path):
    rows = run_grid(breaking_task, grid(dataset=["mixture"], coding=["one-hot"], shift=[-1.0, 1.0], seed=[0],
                                        epochs=[5], n_checkpoints=[2]), jobs=1, progress=False)
    back = load_table(save_table(rows, tmp_path / "t.csv"))
    assert len(back) == len(rows) and {r["shift"] for r in back} == {-1.0, 1.0}
    assert back[0]["test_accuracy"] == pytest.approx(rows[0]["test_accuracy"])


def test_digits_needs_sklearn(monkeypatch):
    monkeypatch.setitem(sys.modules, "sklearn.datasets", None)
    with pytest.raises(ImportError, match=r"dln-git\[digits\]"):
        load_data("digits")


def test_validation(mixture):
    with pytest.raises(ValueError, match="coding"):
        train_classifier(mixture, coding="two-hot", shift=0.0)
    with pytest.raises(ValueError, match="dataset"):
        load_data("mnist")
    with pytest.raises(TypeError, match="data"):
        train_classifier((1, 2), coding="one-hot", shift=0.0)
