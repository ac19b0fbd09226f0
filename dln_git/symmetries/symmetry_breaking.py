"""Breaking the output symmetry of the initialisation, toward or away from the targets (MATH.md 6.4).

Maiti–Stoner–Halverson (arXiv 2106.00694, section 5) break the O(D) output symmetry of a
classifier's initialisation law with a last-layer mean and find that it helps only when the
mean output it creates points toward the mean of the targets. We reproduce this in spirit with a
one-hidden-layer ReLU net ``f(x) = W_2 relu(W_1 x + b_1) + b_2`` trained by full-batch gradient
descent on the mean squared error to

* one-hot targets ``e_y`` (mean ``1/C`` per output, classify by ``argmax f``), or
* one-cold targets ``1 - e_y`` (mean ``1 - 1/C``, classify by ``argmin f``).

Initialisation: ``W_1 ~ N(0, 2/d)`` (He), ``b_1 = b_2 = 0``, ``W_2 ~ N(mu, 1/H)`` with the mean ``mu``
chosen so that the initial output averaged over the training inputs equals ``shift * t_bar``
(``t_bar`` the targets' mean, ``mu = shift t_bar / sum_j mean_x h_j(x)``): ``shift = 0`` is the
symmetric law, ``shift > 0`` breaks toward the targets' mean, ``shift < 0`` away from it.

Measured (``dln_git/figures/fig14_duality.py``, paper size: digits, hidden 64, lr 0.05, 6 seeds sharing
data splits and weight noise across shifts, shifts -6..6): with one-cold targets breaking *away*
hurts and the harm grows with the shift (test accuracy at epoch 16: 0.36 at shift -6, 0.46 at -3,
0.50 at 0; at epoch 100: 0.816 vs 0.845); breaking *toward* by exactly the targets' mean (shift 1)
is as good as the symmetric law, at most 0.3 points better (0.500 vs 0.498 at epoch 16, 0.848 vs
0.845 at epoch 100, within the seeds' spread), and overshooting toward (shift 3, 6) hurts, less
than the same shift away (0.40 at +6 vs 0.36 at -6). With one-hot targets (mean 0.1, so the same
shifts move the outputs ten times less) no shift changes the accuracy by more than 0.3 points.
So: away hurts, toward does not hurt and barely helps here; a trainable output bias absorbs most
of a mean offset within tens of steps.

Data: the 8x8 digits scikit-learn ships (:func:`sklearn.datasets.load_digits`, nothing downloaded;
``pip install 'dln-git[digits]'``) or, with ``dataset="mixture"``, a seeded Gaussian mixture with
the same shape conventions.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..core.options import Rule, check_options
from ..core.weights import as_rng

__all__ = ["ClassificationData", "breaking_task", "load_data", "train_classifier"]


@dataclass(frozen=True)
class ClassificationData:
    """Standardised inputs and integer labels, split into train and test."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    n_classes: int
    name: str


def _digits():
    try:
        from sklearn.datasets import load_digits
    except ImportError:  # pragma: no cover - depends on the environment
        raise ImportError("the digits data set needs scikit-learn: pip install 'dln-git[digits]' "
                          "(or use dataset='mixture')") from None
    d = load_digits()
    return np.asarray(d.data, dtype=float), np.asarray(d.target, dtype=int)


def _mixture(rng, n=1500, dim=20, classes=10, spread=1.6):
    centres = spread * rng.standard_normal((classes, dim))
    y = rng.integers(0, classes, n)
    return centres[y] + rng.standard_normal((n, dim)), y


def load_data(dataset: str = "digits", *, test_fraction: float = 0.3, seed=0) -> ClassificationData:
    """The data set, standardised with the training split's mean and std, split at random by ``seed``."""
    (dataset, test_fraction) = check_options(
        dataset=(dataset, Rule.choice("digits", "mixture", what="the data set")),
        test_fraction=(test_fraction, Rule.relative_tolerance("the test fraction, in (0, 1)")))
    rng = as_rng(seed)
    x, y = _digits() if dataset == "digits" else _mixture(np.random.default_rng(12345))
    perm = rng.permutation(len(y))
    n_test = round(test_fraction * len(y))
    te, tr = perm[:n_test], perm[n_test:]
    mu, sd = x[tr].mean(axis=0), x[tr].std(axis=0)
    sd[sd == 0] = 1.0
    xs = (x - mu) / sd
    return ClassificationData(xs[tr], y[tr], xs[te], y[te], int(y.max()) + 1, dataset)


def _targets(y, C, coding):
    onehot = np.eye(C)[y]
    return onehot if coding == "one-hot" else 1.0 - onehot


def _accuracy(out, y, coding):
    pred = out.argmax(axis=1) if coding == "one-hot" else out.argmin(axis=1)
    return float(np.mean(pred == y))


def train_classifier(data: ClassificationData, *, coding: str, shift: float, hidden: int = 64, lr: float = 0.05,
                     epochs: int = 200, checkpoints=None, seed=0) -> list[dict]:
    """Train by full-batch GD on ``1/2 mean ||f(x) - t||^2``; one row per checkpoint epoch.

    Rows hold ``epoch``, ``train_loss``, ``test_accuracy``, ``train_accuracy``, ``init_output_mean``
    (the mean initial output, ``shift * t_bar`` by construction) and ``target_mean``.
    """
    if not isinstance(data, ClassificationData):
        raise TypeError(f"data must be ClassificationData, got {type(data).__name__}")
    (coding, shift, hidden, lr, epochs) = check_options(
        coding=(coding, Rule.choice("one-hot", "one-cold", what="the target coding")),
        shift=(shift, Rule("real", what="the initial output mean in units of the targets' mean")),
        hidden=(hidden, Rule.count(1, "the hidden width")), lr=lr,
        epochs=(epochs, Rule.count(0, "a number of epochs")))
    wanted = () if checkpoints is None else checkpoints
    checkpoints = sorted({0, epochs} | {int(c) for c in wanted if 0 <= c <= epochs})
    rng = as_rng(seed)
    X, C = data.x_train, data.n_classes
    T = _targets(data.y_train, C, coding)
    t_bar = float(T.mean())
    d = X.shape[1]
    W1 = rng.standard_normal((hidden, d)) * np.sqrt(2.0 / d)
    b1 = np.zeros(hidden)
    h_mean = np.maximum(X @ W1.T, 0).mean(axis=0).sum()
    mu = shift * t_bar / h_mean
    W2 = mu + rng.standard_normal((C, hidden)) / np.sqrt(hidden)
    b2 = np.zeros(C)
    rows = []
    n = X.shape[0]
    init_mean = float((np.maximum(X @ W1.T, 0) @ W2.T).mean())
    for epoch in range(epochs + 1):
        Z = X @ W1.T + b1
        H = np.maximum(Z, 0)
        out = H @ W2.T + b2
        err = out - T
        if epoch in checkpoints:
            test_out = np.maximum(data.x_test @ W1.T + b1, 0) @ W2.T + b2
            rows.append({"epoch": epoch, "train_loss": float(0.5 * np.mean(np.sum(err**2, axis=1))),
                         "train_accuracy": _accuracy(out, data.y_train, coding),
                         "test_accuracy": _accuracy(test_out, data.y_test, coding),
                         "init_output_mean": init_mean, "target_mean": t_bar})
        if epoch == epochs:
            break
        G = err / n
        gW2, gb2 = G.T @ H, G.sum(axis=0)
        GH = (G @ W2) * (Z > 0)
        gW1, gb1 = GH.T @ X, GH.sum(axis=0)
        W2 -= lr * gW2
        b2 -= lr * gb2
        W1 -= lr * gW1
        b1 -= lr * gb1
    if not all(np.isfinite(r["train_loss"]) for r in rows):
        raise FloatingPointError(f"training diverged at lr = {lr} (non-finite loss)")
    return rows


def breaking_task(point: dict) -> list[dict]:
    """Grid task for :func:`dln_git.experiments.run_grid`: ``point`` has ``dataset``, ``coding``, ``shift``,
    ``seed`` and optionally ``hidden``, ``lr``, ``epochs``, ``checkpoints`` (a tuple is not a table scalar,
    so pass ``n_checkpoints``: that many log-spaced epochs)."""
    epochs = int(point.get("epochs", 200))
    k = int(point.get("n_checkpoints", 6))
    checkpoints = np.unique(np.round(np.geomspace(1, max(epochs, 1), k)).astype(int))
    data = load_data(point["dataset"], seed=int(point["seed"]))
    return train_classifier(data, coding=point["coding"], shift=float(point["shift"]),
                            hidden=int(point.get("hidden", 64)), lr=float(point.get("lr", 0.05)), epochs=epochs,
                            checkpoints=checkpoints, seed=int(point["seed"]) + 1000)
