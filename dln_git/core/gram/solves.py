"""The public entry points: :func:`gram_operator` and :func:`solve_gram` (scale-invariant).

docs/math section 2: the minimum-norm solution ``xi = (A_W^* A_W)^+ rhs``; since
``A_{cW}^* A_{cW} = c^2 A_W^* A_W`` the solve runs on weights rescaled to unit size.
"""

from __future__ import annotations

import dataclasses
import math
import warnings

import numpy as np

from ..errors import ConvergenceWarning
from ..options import check_options
from ..scaling import normalized, rescale, unit_scaled
from ..validation import _widths, as_lie_algebra, as_weights
from .operator import GramOperator
from .solution import GramSolution


def gram_operator(W, *, rank_rtol: float = 1e-10, bases=None, trivial_kernel: bool = False) -> GramOperator:
    """The Gram operator ``A_W^* A_W`` as a ``scipy.sparse.linalg.LinearOperator``.

    ``(A_W^* A_W xi)_i = xi_i W_i W_i^* + W_{i+1}^* W_{i+1} xi_i - W_i xi_{i-1} W_i^*
    - W_{i+1}^* xi_{i+1} W_{i+1}``, acting on ``pack(xi)`` (row-major ravels of
    ``xi_1, ..., xi_{N-1}`` concatenated). Shape ``(0, 0)`` for depth 1. ``bases``: frames for
    the ``"balanced"`` preconditioner, ``trivial_kernel``: see :class:`GramOperator`.
    """
    rank_rtol, trivial_kernel = check_options(rank_rtol=rank_rtol, trivial_kernel=trivial_kernel)
    return GramOperator(W, rank_rtol=rank_rtol, bases=bases, trivial_kernel=trivial_kernel)


def solve_gram(W, rhs, rtol: float = 1e-10, *, atol: float = 0.0, maxiter: int | None = None,
               rank_rtol: float = 1e-10, preconditioner="auto", x0=None) -> GramSolution:
    """Minimum-norm solution of ``A_W^* A_W xi = rhs``, matrix-free.

    Preconditioned conjugate gradients with a preconditioner of :meth:`GramOperator.preconditioner`:
    by default (``"auto"``) the transport-space corrections ``"segments"`` for four or more
    hidden layers of width 48 or more, else the symmetric block Gauss–Seidel ``"block_lu"``
    (``"jacobi"`` for block-Jacobi, ``"balanced"`` for the diagonal balanced model, nearly
    exact near balanced points). PCG
    returns the solution of least preconditioner-weighted norm, not the minimum Euclidean norm,
    so the stabiliser algebra
    ``ker A_W`` (computed exactly, see :func:`dln_git.core.subspaces.stabiliser_subspace`) is
    projected out of the rhs and of the result: the returned xi is ``(A_W^* A_W)^+ rhs``.

    Parameters
    ----------
    W : weights
    rhs : tuple of ndarray
        A Lie algebra element ``(r_1, ..., r_{N-1})`` (e.g. the moment map).
    rtol, atol : float
        Stop when ``||A_W^* A_W xi - rhs|| <= max(rtol ||rhs||, atol)`` (on the range part of rhs).
    x0 : tuple of ndarray, optional
        Warm start for the conjugate gradients.

    Returns
    -------
    GramSolution
        With ``singular``/``kernel_dim`` saying whether the operator is singular. A warning
        (:class:`ConvergenceWarning`) is issued if the tolerance was not reached.
    """
    rtol, atol, maxiter, rank_rtol = check_options(rtol=rtol, atol=atol, maxiter=maxiter, rank_rtol=rank_rtol)
    W = as_weights(W)
    rhs = as_lie_algebra(rhs, _widths(W), "rhs")
    # A_{cW}^* A_{cW} = c^2 A_W^* A_W and the solution is linear in rhs: solve at scale 1.
    Wn, s = normalized(W)
    rhs_unit, e = unit_scaled(rhs)
    log2_s = round(math.log2(s))  # s is a power of two; xi = 2^e xi_unit / s^2
    x0_unit = None if x0 is None else rescale(
        tuple(np.asarray(x) for x in as_lie_algebra(x0, _widths(W), "x0")), 2.0, 2 * log2_s - e, "x0")
    sol = GramOperator(Wn, rank_rtol=rank_rtol).solve(
        rhs_unit, rtol=rtol, maxiter=maxiter, atol=math.ldexp(atol, -e), preconditioner=preconditioner, x0=x0_unit,
    )
    sol = dataclasses.replace(sol, xi=rescale(sol.xi, 2.0, e - 2 * log2_s, "xi"))
    if not bool(np.isfinite(sol.residual)) or not all(np.isfinite(x).all() for x in sol.xi):
        sol = dataclasses.replace(sol, converged=False, message=sol.message + "; non-finite result")
    if not sol.converged:
        warnings.warn(f"solve_gram {sol.message}", ConvergenceWarning, stacklevel=2)
    return sol
