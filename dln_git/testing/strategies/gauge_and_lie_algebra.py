"""Elements of the gauge group and of its Lie algebra, one square matrix per hidden layer.

:func:`gauge_elements` draws invertible ``g_i`` with ``cond(g_i) <= cond`` (orthogonal/unitary
when ``cond = 1``), :func:`lie_algebra_elements` bounded ``xi_i`` (optionally Hermitian).
"""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

from ._common import _SEEDS, WidthsLike, _check_cond, _check_scale, _dtype, _with_widths
from .factors_and_spectra import _svd_product, haar_orthonormal, spectra

__all__ = ["gauge_elements", "lie_algebra_elements"]


def gauge_elements(
    widths: WidthsLike, *, cond: float = 10.0, complex: bool = False
) -> st.SearchStrategy[tuple[np.ndarray, ...]]:
    """Gauge group elements ``g = (g_1, ..., g_{N-1})``, ``g_i`` invertible ``d_i x d_i``.

    ``g_i = U_i diag(s_i) V_i^*`` with ``U_i, V_i`` Haar orthogonal (unitary) and ``s_i`` drawn by
    :func:`spectra` with ``scale = 1``: singular values in ``[1/sqrt(cond), sqrt(cond)]`` (around 1),
    so ``cond(g_i) <= cond``. Empty tuple when ``N = 1``.

    Parameters
    ----------
    widths : tuple of int or SearchStrategy of tuples
        ``(d_0, ..., d_N)``; only the hidden widths ``d_1..d_{N-1}`` are used.
    cond : float, default 10.0
        Bound on each ``cond(g_i)``, ``>= 1`` (``cond = 1`` gives orthogonal/unitary elements,
        i.e. the compact subgroup K).
    complex : bool, default False
        ``complex128`` elements of ``GL(d_i, C)`` instead of ``float64`` ones of ``GL(d_i, R)``.

    Returns
    -------
    SearchStrategy[tuple[numpy.ndarray, ...]]
    """
    cond = _check_cond(cond)

    def build(d: tuple[int, ...]) -> st.SearchStrategy:
        hidden = d[1:-1]

        @st.composite
        def _gauge(draw) -> tuple[np.ndarray, ...]:
            seed = draw(_SEEDS)
            svals = [draw(spectra(n, cond=cond, scale=1.0)) for n in hidden]
            rng = np.random.default_rng(seed)
            out = []
            for n, s in zip(hidden, svals, strict=True):
                U = haar_orthonormal(rng, n, n, complex)
                V = haar_orthonormal(rng, n, n, complex)
                out.append(_svd_product(U, s, V).astype(_dtype(complex), copy=False))
            return tuple(out)

        return _gauge()

    return _with_widths(widths, build)


def lie_algebra_elements(
    widths: WidthsLike,
    *,
    scale: float = 1.0,
    complex: bool = False,
    hermitian: bool = False,
) -> st.SearchStrategy[tuple[np.ndarray, ...]]:
    """Lie algebra elements ``xi = (xi_1, ..., xi_{N-1})``, ``xi_i`` square of size ``d_i``.

    A seed and one factor ``t_i in [0, scale]`` per hidden layer are drawn; ``xi_i = t_i M_i`` with
    ``M_i`` having independent entries uniform in ``[-1, 1]`` (complex: real and imaginary parts
    uniform in ``[-1/sqrt 2, 1/sqrt 2]``), so every entry has modulus ``<= scale``. Shrinking
    sends the factors to 0 (the zero element). Empty tuple when ``N = 1``.

    Parameters
    ----------
    widths : tuple of int or SearchStrategy of tuples
        ``(d_0, ..., d_N)``; only the hidden widths are used.
    scale : float, default 1.0
        Bound on the modulus of every entry, ``>= 0``.
    complex : bool, default False
        ``complex128`` instead of ``float64``.
    hermitian : bool, default False
        Return ``(M + M^*)/2`` (real symmetric in the real case); entries stay bounded by
        ``scale``.

    Returns
    -------
    SearchStrategy[tuple[numpy.ndarray, ...]]
    """
    scale = _check_scale(scale, allow_zero=True)

    def build(d: tuple[int, ...]) -> st.SearchStrategy:
        hidden = d[1:-1]

        @st.composite
        def _lie(draw) -> tuple[np.ndarray, ...]:
            seed = draw(_SEEDS)
            factors = [draw(st.floats(0.0, scale, allow_nan=False, allow_infinity=False)) for _ in hidden]
            rng = np.random.default_rng(seed)
            out = []
            for n, t in zip(hidden, factors, strict=True):
                if complex:
                    bound = 1.0 / np.sqrt(2.0)
                    M = rng.uniform(-bound, bound, (n, n)) + 1j * rng.uniform(-bound, bound, (n, n))
                else:
                    M = rng.uniform(-1.0, 1.0, (n, n))
                if hermitian:
                    M = 0.5 * (M + M.conj().T)
                out.append(np.ascontiguousarray(t * M, dtype=_dtype(complex)))
            return tuple(out)

        return _lie()

    return _with_widths(widths, build)
