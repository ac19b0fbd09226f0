"""Random losses of X for claims and tests: one of each kind of :mod:`dln_git.decomposition.losses`."""

from __future__ import annotations

import numpy as np

from ..core.weights import as_rng
from ..decomposition.losses import LinearRegression, Loss, MatrixCompletion, MatrixSensing, SquaredDistance

__all__ = ["LOSS_KINDS", "random_loss"]

LOSS_KINDS = ("distance", "regression", "sensing", "completion")


def _matrix(rng, shape, complex_: bool) -> np.ndarray:
    M = rng.standard_normal(shape)
    return M + 1j * rng.standard_normal(shape) if complex_ else M


def random_loss(shape, kind: str, rng=None, *, complex: bool = False) -> Loss:
    """A random loss of the given kind for X of ``shape = (d_N, d_0)``, of order-one scale.

    ``"distance"``: ``1/2 ||X - Y||^2``; ``"regression"``: ``d_0 + 3`` samples; ``"sensing"``:
    ``d_N d_0 + 2`` Gaussian measurements; ``"completion"``: each entry observed with
    probability 0.6 (at least one).
    """
    rng = as_rng(rng)
    rows, cols = shape
    if kind == "distance":
        return SquaredDistance(_matrix(rng, shape, complex))
    if kind == "regression":
        n = cols + 3
        return LinearRegression(_matrix(rng, (cols, n), complex), _matrix(rng, (rows, n), complex))
    if kind == "sensing":
        m = rows * cols + 2
        return MatrixSensing(_matrix(rng, (m, rows, cols), complex) / np.sqrt(rows * cols),
                             rng.standard_normal(m))
    if kind == "completion":
        mask = rng.random(shape) < 0.6
        mask.flat[rng.integers(mask.size)] = True
        return MatrixCompletion(_matrix(rng, shape, complex), mask)
    raise ValueError(f"kind must be one of {LOSS_KINDS}, got {kind!r}")
