"""Losses of the end-to-end map, ``E(X) -> (value, grad E(X))`` (docs/math section 4).

The gradient is for the real inner product ``<A, B> = Re tr(A^* B)``: ``dE = <grad E(X), dX>``,
so complex X works unchanged. Data losses are sums over samples ``E = c sum_k e_k(X)`` with a
fixed normalisation c; a minibatch ``b`` gives the unbiased estimate
``E_b = c (n / |b|) sum_{k in b} e_k`` (:meth:`DataLoss.batch`), which is what SGD steps on.

* :class:`SquaredDistance`   ``E = 1/2 ||X - Y||^2``,                  ``grad = X - Y``
* :class:`LinearRegression`  ``E = 1/(2n) ||X A - B||^2``,             ``grad = (X A - B) A^* / n``
* :class:`MatrixSensing`     ``E = 1/(2m) sum_k (<A_k, X> - y_k)^2``,  ``grad = 1/m sum_k r_k A_k``
* :class:`MatrixCompletion`  ``E = 1/2 sum_{(i,j) in Omega} |X_ij - Y_ij|^2``, ``grad = P_Omega(X - Y)``
* :class:`CallableLoss`      any user function ``E(X) -> (value, grad)``, checked at every call.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ..core.validation import as_matrix

__all__ = [
    "CallableLoss",
    "DataLoss",
    "LinearRegression",
    "Loss",
    "MatrixCompletion",
    "MatrixSensing",
    "SquaredDistance",
    "as_loss",
]


class Loss:
    """A smooth loss of the end-to-end map X of a fixed shape ``(d_N, d_0)``.

    Subclasses implement :meth:`_evaluate`; calling the loss validates X and returns
    ``(value, grad)``.
    """

    shape: tuple[int, int]

    def __call__(self, X) -> tuple[float, np.ndarray]:
        X = as_matrix(X, "X")
        if X.shape != self.shape:
            raise ValueError(f"{type(self).__name__} expects X of shape {self.shape}, got {X.shape}")
        return self._evaluate(X)

    def _evaluate(self, X: np.ndarray) -> tuple[float, np.ndarray]:  # pragma: no cover - abstract
        raise NotImplementedError

    def value(self, X) -> float:
        """``E(X)``."""
        return self(X)[0]

    def gradient(self, X) -> np.ndarray:
        """``grad E(X)``, shape of X."""
        return self(X)[1]


class SquaredDistance(Loss):
    """``E(X) = 1/2 ||X - Y||_F^2``, ``grad E = X - Y``."""

    def __init__(self, Y):
        self.Y = as_matrix(Y, "Y")
        self.shape = self.Y.shape

    def _evaluate(self, X):
        R = X - self.Y
        return 0.5 * float(np.vdot(R, R).real), R


class DataLoss(Loss):
    """A loss that is a normalised sum over ``n_samples`` samples, with minibatches for SGD."""

    n_samples: int

    def batch(self, indices) -> Loss:
        """The unbiased minibatch loss ``c (n/|b|) sum_{k in b} e_k`` for sample indices ``b``."""
        idx = np.asarray(indices)
        if idx.ndim != 1 or idx.size == 0 or not np.issubdtype(idx.dtype, np.integer):
            raise ValueError(f"batch indices must be a non-empty 1-D integer array, got {indices!r}")
        if idx.min() < 0 or idx.max() >= self.n_samples:
            raise ValueError(f"batch indices must lie in [0, {self.n_samples}), got min {idx.min()} max {idx.max()}")
        return self._batch(idx)

    def _batch(self, idx: np.ndarray) -> Loss:  # pragma: no cover - abstract
        raise NotImplementedError


class LinearRegression(DataLoss):
    """``E(X) = 1/(2n) ||X A - B||_F^2`` on data ``A`` (``d_0 x n`` inputs), ``B`` (``d_N x n`` targets).

    ``grad E = (X A - B) A^* / n``. With whitened inputs (``A A^* = n I``) this is
    ``1/2 ||X - B A^*/n||^2`` up to a constant (the setting of Saxe, McClelland & Ganguli 2014).
    """

    def __init__(self, A, B, *, _scale: float | None = None):
        self.A = as_matrix(A, "A (inputs, d_0 x n)")
        self.B = as_matrix(B, "B (targets, d_N x n)")
        if self.A.shape[1] != self.B.shape[1]:
            raise ValueError(f"A has {self.A.shape[1]} samples (columns) but B has {self.B.shape[1]}")
        self.n_samples = self.A.shape[1]
        self.shape = (self.B.shape[0], self.A.shape[0])
        self._c = 1.0 / self.n_samples if _scale is None else _scale

    def _evaluate(self, X):
        R = X @ self.A - self.B
        return 0.5 * self._c * float(np.vdot(R, R).real), self._c * (R @ self.A.conj().T)

    def _batch(self, idx):
        return LinearRegression(self.A[:, idx], self.B[:, idx], _scale=1.0 / idx.size)


class MatrixSensing(DataLoss):
    """``E(X) = 1/(2m) sum_k (<A_k, X> - y_k)^2`` with measurement matrices ``A_k`` (shape ``(m, d_N, d_0)``).

    ``<A_k, X> = Re tr(A_k^* X)``; ``grad E = 1/m sum_k (<A_k, X> - y_k) A_k``.
    """

    def __init__(self, measurements, y, *, _scale: float | None = None):
        A = np.asarray(measurements)
        if A.ndim != 3:
            raise ValueError(f"measurements must have shape (m, d_N, d_0), got shape {A.shape}")
        self.A = np.stack([as_matrix(a, f"measurement {k}") for k, a in enumerate(A)])
        self.y = np.asarray(y, dtype=float)
        if self.y.shape != (A.shape[0],):
            raise ValueError(f"y must have shape ({A.shape[0]},) (one value per measurement), got {self.y.shape}")
        if not np.all(np.isfinite(self.y)):
            raise ValueError("y contains NaN or inf")
        self.n_samples = A.shape[0]
        self.shape = A.shape[1:]
        self._flat = self.A.reshape(self.n_samples, -1)
        self._c = 1.0 / self.n_samples if _scale is None else _scale

    def _evaluate(self, X):
        r = (self._flat.conj() @ X.ravel()).real - self.y
        grad = (self._c * r @ self._flat).reshape(self.shape)
        return 0.5 * self._c * float(r @ r), grad

    def _batch(self, idx):
        return MatrixSensing(self.A[idx], self.y[idx], _scale=1.0 / idx.size)


class MatrixCompletion(DataLoss):
    """``E(X) = 1/2 sum_{(i,j) in Omega} |X_ij - Y_ij|^2`` over the observed entries ``Omega = {mask}``.

    ``grad E = P_Omega(X - Y)``; the samples are the observed entries (a minibatch of entries is
    rescaled by ``|Omega| / |b|``). Entries of ``Y`` outside the mask are ignored (they may be NaN).
    """

    def __init__(self, Y, mask, *, _scale: float = 1.0):
        mask = np.asarray(mask)
        if mask.dtype != np.bool_:
            raise TypeError(f"mask must be a boolean array, got dtype {mask.dtype}")
        Y = np.asarray(Y)
        if Y.shape != mask.shape or Y.ndim != 2:
            raise ValueError(f"Y {Y.shape} and mask {mask.shape} must be 2-D arrays of the same shape")
        if not mask.any():
            raise ValueError("mask observes no entry")
        self.Y = as_matrix(np.where(mask, Y, 0), "Y (observed entries)")
        self.mask = mask
        self.shape = mask.shape
        self.rows, self.cols = np.nonzero(mask)
        self.n_samples = self.rows.size
        self._c = _scale

    def _evaluate(self, X):
        R = np.where(self.mask, X - self.Y, 0)
        value = 0.5 * self._c * float(np.vdot(R, R).real)
        return value, (R if self._c == 1.0 else self._c * R)

    def _batch(self, idx):
        mask = np.zeros(self.shape, dtype=bool)
        mask[self.rows[idx], self.cols[idx]] = True
        return MatrixCompletion(self.Y, mask, _scale=self.n_samples / idx.size)


class CallableLoss(Loss):
    """A user function ``E(X) -> (value, grad)`` for X of the given shape, checked at every call."""

    def __init__(self, function: Callable, shape):
        if not callable(function):
            raise TypeError(f"loss must be callable, got {type(function).__name__}")
        shape = tuple(int(s) for s in shape)
        if len(shape) != 2 or min(shape) < 1:
            raise ValueError(f"shape must be (d_N, d_0) with positive entries, got {shape}")
        self.function = function
        self.shape = shape

    def _evaluate(self, X):
        out = self.function(X)
        if not (isinstance(out, tuple) and len(out) == 2):
            raise TypeError("a loss callable must return (value, grad)")
        value, grad = out
        value = float(np.real(value))
        if not np.isfinite(value):
            raise ValueError(f"the loss returned a non-finite value {value}")
        grad = as_matrix(grad, "the loss's gradient")
        if grad.shape != X.shape:
            raise ValueError(f"the loss's gradient has shape {grad.shape}, expected the shape of X {X.shape}")
        return value, grad


def as_loss(loss, shape) -> Loss:
    """``loss`` as a :class:`Loss` for X of ``shape``: a Loss is checked, a callable wrapped."""
    shape = tuple(shape)
    if isinstance(loss, Loss):
        if tuple(loss.shape) != shape:
            raise ValueError(f"the loss is for X of shape {tuple(loss.shape)}, but the network's X has shape {shape}")
        return loss
    if callable(loss):
        return CallableLoss(loss, shape)
    raise TypeError(f"loss must be a dln_git Loss or a callable E(X) -> (value, grad), got {type(loss).__name__}")
