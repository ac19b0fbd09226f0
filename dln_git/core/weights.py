"""Random weights and orthonormal frames (randomness only through an explicit generator)."""

from __future__ import annotations

import numpy as np

from .options import Rule, check_options
from .validation import as_widths

__all__ = ["as_rng", "haar_orthonormal", "random_weights"]


def as_rng(rng) -> np.random.Generator:
    """``numpy.random.default_rng(rng)`` for a seed, a Generator, or None (fresh entropy)."""
    if isinstance(rng, np.random.Generator):
        return rng
    if rng is None or isinstance(rng, (int, np.integer, np.random.SeedSequence)):
        return np.random.default_rng(rng)
    raise TypeError(f"rng must be None, an integer seed or a numpy Generator, got {rng!r}")


def _gaussian(rng, shape, complex_: bool) -> np.ndarray:
    if complex_:
        return (rng.standard_normal(shape) + 1j * rng.standard_normal(shape)) / np.sqrt(2.0)
    return rng.standard_normal(shape)


def haar_orthonormal(n: int, k: int, rng=None, *, complex: bool = False) -> np.ndarray:
    """An ``n x k`` matrix with orthonormal columns, Haar-distributed (k <= n).

    QR of a Gaussian matrix with the signs (phases) of R's diagonal moved into Q.
    """
    n, k, complex = check_options(n=(n, Rule.count(0)), k=(k, Rule.count(0)), complex=complex)
    if k > n:
        raise ValueError(f"cannot have {k} orthonormal columns in dimension {n}")
    rng = as_rng(rng)
    if k == 0:
        return np.zeros((n, 0), dtype=np.complex128 if complex else np.float64)
    Q, R = np.linalg.qr(_gaussian(rng, (n, k), complex))
    d = np.diagonal(R).copy()
    d[d == 0] = 1.0
    return Q * (d / np.abs(d))


def random_weights(widths, rng=None, *, complex: bool = False, scale: float = 1.0):
    """Gaussian weights ``W_i`` with iid entries of variance ``scale^2 / d_{i-1}``.

    Parameters
    ----------
    widths : sequence of int
        ``(d_0, ..., d_N)``.
    rng : None, int or numpy.random.Generator
        Source of randomness (None: fresh entropy).
    complex : bool
        Complex Gaussian entries (real and imaginary parts each of variance 1/2 of the total).
    scale : float
        Overall scale of every layer.
    """
    widths = as_widths(widths)
    complex, scale = check_options(complex=complex, scale=scale)
    rng = as_rng(rng)
    return tuple(
        _gaussian(rng, (widths[i], widths[i - 1]), complex) * (scale / np.sqrt(widths[i - 1]))
        for i in range(1, len(widths))
    )
