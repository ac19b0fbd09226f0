"""Haar-random orthonormal factors and bounded spectra, the two ingredients of every matrix.

:func:`haar_orthonormal` gives ``n x k`` matrices with orthonormal (unitary) columns,
:func:`spectra` sorted singular values in ``[scale / sqrt(cond), scale * sqrt(cond)]``;
``_svd_product`` assembles ``U diag(s) V^*`` from them.
"""

from __future__ import annotations

import math

import numpy as np
from hypothesis import strategies as st

from ...core.weights import haar_orthonormal as _core_haar
from ._common import _check_cond, _check_int, _check_scale

__all__ = ["haar_orthonormal", "spectra"]


# ---------------------------------------------------------------------------------------------
# Random orthonormal factors
# ---------------------------------------------------------------------------------------------


def haar_orthonormal(
    rng: np.random.Generator | int | None, n: int, k: int, complex: bool = False
) -> np.ndarray:
    """Haar-random ``n x k`` matrix with orthonormal columns (:func:`dln_git.haar_orthonormal`, rng first).

    The QR factorisation of a Gaussian matrix, with the phases of ``R``'s diagonal moved into
    ``Q`` (the "sign fix") so that the distribution is exactly Haar on the Stiefel manifold.

    Parameters
    ----------
    rng : numpy.random.Generator or int or None
        Source of randomness; an int (or None) is passed to ``numpy.random.default_rng``.
    n, k : int
        Shape of the result, ``0 <= k <= n``.
    complex : bool, default False
        Unitary columns (``complex128``) instead of real orthonormal ones (``float64``).

    Returns
    -------
    numpy.ndarray
        ``Q`` of shape ``(n, k)`` with ``Q^* Q = I_k``.

    Raises
    ------
    ValueError
        If ``k > n`` or either is negative.
    """
    n = _check_int("n", n, 0)
    k = _check_int("k", k, 0)
    if k > n:
        raise ValueError(f"cannot have k = {k} orthonormal columns in dimension n = {n}")
    return _core_haar(n, k, np.random.default_rng(rng), complex=complex)


def _svd_product(U: np.ndarray, s: np.ndarray, V: np.ndarray) -> np.ndarray:
    """``U diag(s) V^*`` (with ``s`` of length ``U.shape[1] == V.shape[1]``)."""
    return (U * s[np.newaxis, :]) @ V.conj().T


# ---------------------------------------------------------------------------------------------
# Spectra and matrices
# ---------------------------------------------------------------------------------------------


def _spectrum_bounds(cond: float, scale: float) -> tuple[float, float]:
    root = math.sqrt(cond)
    lo = scale / root
    hi = scale * root
    # Guard against rounding so that hi / lo <= cond holds in floating point as well.
    while hi / lo > cond:
        hi = math.nextafter(hi, 0.0)
    return lo, hi


def spectra(n: int, *, cond: float = 10.0, scale: float = 1.0) -> st.SearchStrategy[np.ndarray]:
    """``n`` singular values in ``[scale / sqrt(cond), scale * sqrt(cond)]``, sorted descending.

    Each value is an independent bounded float drawn by Hypothesis (so shrinking is
    meaningful). The interval's endpoints are not forced into the sample, so ``cond`` is an
    *upper bound* on ``max / min``, not its exact value.

    Parameters
    ----------
    n : int
        Number of values, ``n >= 0`` (``n = 0`` gives an empty array).
    cond : float, default 10.0
        Bound on the ratio of the largest to the smallest value, ``cond >= 1`` (1 gives
        ``n`` copies of ``scale``).
    scale : float, default 1.0
        Geometric centre of the interval, ``> 0``.

    Returns
    -------
    SearchStrategy[numpy.ndarray]
        ``float64`` arrays of shape ``(n,)``, positive, non-increasing.
    """
    n = _check_int("n", n, 0)
    cond = _check_cond(cond)
    scale = _check_scale(scale)
    lo, hi = _spectrum_bounds(cond, scale)
    values = st.floats(min_value=lo, max_value=hi, allow_nan=False, allow_infinity=False)
    return st.lists(values, min_size=n, max_size=n).map(
        lambda s: np.array(sorted(s, reverse=True), dtype=np.float64).reshape(n)
    )
