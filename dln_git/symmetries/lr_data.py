"""Data sets of the learning-rate experiment (docs/math section 6.1): a seeded teacher–student
regression and the handwritten digits scikit-learn ships, both with samples as COLUMNS
(``x`` of shape ``(d_0, n)``, as :mod:`dln_git.symmetries.homogeneous`).

* :func:`teacher_student` — inputs ``x ~ N(0, I)``, targets ``y = f_T(x) + noise`` of a random
  one-hidden-layer ReLU teacher ``f_T(x) = V relu(U x + b)`` with ``U_jk ~ N(0, 2/d_0)``,
  ``V_ij ~ N(0, 1/h_T)``, ``b_j ~ N(0, 0.1^2)``.
* :func:`digits` — :func:`sklearn.datasets.load_digits` (1797 images of 8x8 pixels, 10 classes,
  shipped inside scikit-learn: nothing is downloaded), the optional ``digits`` extra
  (``pip install 'dln-git[digits]'``).

Both are split into train and test by a seeded permutation and standardised with the TRAIN
statistics: ``x <- (x - mean_train) / std_train`` per input coordinate (a coordinate constant on
the train set, e.g. an always-blank pixel, is only centred).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..core.options import Rule, check_options

__all__ = ["LRData", "digits", "load_lr_data", "teacher_student"]

TASKS = ("regression", "classification")


@dataclass(frozen=True)
class LRData:
    """A train/test split with samples as columns.

    Attributes
    ----------
    name : str
        ``"teacher"`` or ``"digits"``.
    task : {"regression", "classification"}
        Regression targets are float arrays ``(d_L, n)`` (loss: MSE ``1/(2n)||f(x) - y||^2``);
        classification targets are integer labels ``(n,)`` (loss: softmax cross-entropy).
    x_train, y_train, x_test, y_test : ndarray
    n_outputs : int
        ``d_L``: the output dimension (the number of classes for classification).
    """

    name: str
    task: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    n_outputs: int

    @property
    def n_inputs(self) -> int:
        return int(self.x_train.shape[0])


def _split_standardise(x: np.ndarray, y: np.ndarray, n_train: int, rng: np.random.Generator):
    """Seeded permutation split (samples are columns), inputs standardised by the train statistics."""
    n = x.shape[1]
    perm = rng.permutation(n)
    tr, te = perm[:n_train], perm[n_train:]
    mean = x[:, tr].mean(axis=1, keepdims=True)
    std = x[:, tr].std(axis=1, keepdims=True)
    std = np.where(std > 0, std, 1.0)
    xs = (x - mean) / std
    return xs[:, tr].copy(), y[..., tr].copy(), xs[:, te].copy(), y[..., te].copy()


def teacher_student(n_train: int = 200, n_test: int = 200, *, d_in: int = 10, teacher_hidden: int = 8,
                    d_out: int = 1, noise: float = 0.1, rng=0) -> LRData:
    """Regression on a random ReLU teacher ``y = V relu(U x + b) + noise * N(0, I)``.

    Parameters
    ----------
    n_train, n_test : int
        Sample counts (drawn together, then split by a seeded permutation).
    d_in, teacher_hidden, d_out : int
        Input dimension, teacher width, output dimension.
    noise : float
        Standard deviation of the additive Gaussian label noise (>= 0).
    rng : int or numpy.random.Generator
        The seed of the teacher, the inputs, the noise and the split.
    """
    n_train, n_test, d_in, teacher_hidden, d_out = check_options(
        n_train=(n_train, Rule.count(1, "train samples")), n_test=(n_test, Rule.count(1, "test samples")),
        d_in=(d_in, Rule.count(1, "input dimension")), teacher_hidden=(teacher_hidden, Rule.count(1, "teacher width")),
        d_out=(d_out, Rule.count(1, "output dimension")))
    (noise,) = check_options(noise=(noise, Rule.nonnegative("label-noise standard deviation")))
    rng = np.random.default_rng(rng)
    U = rng.standard_normal((teacher_hidden, d_in)) * np.sqrt(2.0 / d_in)
    b = 0.1 * rng.standard_normal(teacher_hidden)
    V = rng.standard_normal((d_out, teacher_hidden)) / np.sqrt(teacher_hidden)
    n = n_train + n_test
    x = rng.standard_normal((d_in, n))
    y = V @ np.maximum(U @ x + b[:, None], 0.0) + noise * rng.standard_normal((d_out, n))
    xtr, ytr, xte, yte = _split_standardise(x, y, n_train, rng)
    return LRData("teacher", "regression", xtr, ytr, xte, yte, d_out)


def _load_sklearn_digits():
    try:
        from sklearn.datasets import load_digits
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(
            "the digits data set needs scikit-learn (it ships the data; nothing is downloaded): "
            "install the optional extra with  pip install 'dln-git[digits]'") from exc
    return load_digits()


def digits(n_train: int = 1000, *, rng=0) -> LRData:
    """The 8x8 handwritten digits of scikit-learn (1797 samples, 64 inputs, 10 classes).

    ``n_train`` samples (seeded permutation) train, the rest test; pixels standardised by the
    train statistics. Labels are ``int64`` arrays of shape ``(n,)``. Needs the ``digits`` extra
    (``pip install 'dln-git[digits]'``); ImportError naming it otherwise.
    """
    (n_train,) = check_options(n_train=(n_train, Rule("int", 1, 1796, what="train samples, 1..1796")))
    data = _load_sklearn_digits()
    x = np.asarray(data.data, dtype=np.float64).T
    labels = np.asarray(data.target, dtype=np.int64)
    xtr, ytr, xte, yte = _split_standardise(x, labels, n_train, np.random.default_rng(rng))
    return LRData("digits", "classification", xtr, ytr, xte, yte, 10)


def load_lr_data(name: str, rng=0, **kwargs) -> LRData:
    """``teacher_student(rng=rng, **kwargs)`` for ``name="teacher"``, ``digits(rng=rng, **kwargs)`` for ``"digits"``."""
    (name,) = check_options(name=(name, Rule.choice("teacher", "digits", what="the data set")))
    return teacher_student(rng=rng, **kwargs) if name == "teacher" else digits(rng=rng, **kwargs)
