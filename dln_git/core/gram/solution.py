"""The Gram solution record and the minimum-norm preconditioned-CG driver behind every solve.

docs/math section 2: ``A_W^* A_W xi = rhs`` is solvable for ``rhs`` in the range (``mu = A_W^*(W)``
always is); PCG does not return the minimum-norm solution by itself, so the kernel is projected
out of the right-hand side, of the preconditioner and of the result.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..krylov import pcg
from ..linalg import herm, norm, pack, unpack


@dataclass(frozen=True)
class GramSolution:
    """Result of :func:`solve_gram`, :meth:`GramOperator.solve` and
    :meth:`GramOperator.solve_hermitian`.

    Attributes
    ----------
    xi : tuple of ndarray
        The minimum-norm solution of ``A_W^* A_W xi = rhs`` (when ``min_norm``); for
        ``solve_hermitian`` the minimum-norm Hermitian s with ``Herm(A_W^* A_W s) = rhs``, and
        ``kernel_dim`` is then the real dimension of ``ker A_W ∩ Hermitian``.
    converged : bool
        Whether the true relative residual is below ``rtol``.
    iterations : int
        Preconditioned conjugate-gradient iterations.
    residual : float
        ``||A_W^* A_W xi - rhs_range|| / ||rhs||`` where ``rhs_range`` is the part of rhs in the
        range of the operator (converged: the numerator is below ``max(rtol ||rhs||, atol)``).
    kernel_dim : int or None
        ``dim ker A_W`` (the stabiliser dimension), None if it was too large to compute.
    singular : bool or None
        ``kernel_dim > 0``.
    min_norm : bool
        Whether the kernel component was projected out (the solution is then the minimum-norm one).
    rhs_outside_range : float
        ``||P_ker rhs|| / ||rhs||``: non-zero means the system was inconsistent and was solved in
        the least-squares sense (mu = A_W^*(W) is always in the range).
    message : str
    """

    xi: tuple[np.ndarray, ...]
    converged: bool
    iterations: int
    residual: float
    kernel_dim: int | None
    singular: bool | None
    min_norm: bool
    rhs_outside_range: float
    message: str


def herm_part(M: np.ndarray) -> np.ndarray:
    """``Herm(M) = (M + M^*) / 2``."""
    return 0.5 * (M + herm(M))


def _convergence_message(converged: bool, iterations: int, residual: float, rtol: float, atol: float) -> str:
    if converged:
        return f"converged in {iterations} iterations"
    return (
        f"did not converge: relative residual {residual:.2e} > rtol {rtol:.1e}"
        + (f" (atol {atol:.1e})" if atol else "")
        + f" after {iterations} iterations"
    )



def _range_projected(M, K):
    """``r -> P M(P r)`` with ``P = I - P_K`` the projection onto the range of the operator.

    The one-sided frames of the balanced model cannot hold ``ker A_W`` exactly away from balanced
    points (``ker W_{i+1}`` and ``range(W_i)^⊥`` differ there), so the model has coefficients of
    order ``delta^2`` on directions at distance ``delta`` from the kernel; its inverse then maps
    range vectors to components of size ``1/delta`` along the kernel, which ruins the
    conditioning (measured: PCG stalls near balanced points of (2, 4, 4, 2)-type patterns). The
    congruence ``P M P`` removes those components and stays symmetric positive semi-definite.
    """

    def projected(r):
        r = tuple(x - k for x, k in zip(r, K.project(r), strict=True))
        y = M(r)
        return tuple(x - k for x, k in zip(y, K.project(y), strict=True))

    return projected



def pcg_min_norm(shapes, matvec, rhs, K, M, *, project_preconditioner, rtol, atol, maxiter, x0, finish,
                  kernel_name, missing_kernel, verify: bool = True, energy_rtol: float = 0.0) -> GramSolution:
    """PCG on the range of a PSD operator with kernel K, then K projected out: the min-norm solution.

    ``shapes``: the Lie algebra block shapes; ``rhs`` and ``x0`` are tuples; ``finish`` maps each
    solution block (e.g. to its Hermitian part); ``K`` None means the kernel was not computed
    (``missing_kernel`` says why). ``energy_rtol``: see :func:`dln_git.core.krylov.pcg`.
    """
    rnorm = norm(rhs)
    outside = 0.0
    if K is not None and K.dim > 0 and rnorm > 0:
        rk = K.project(rhs)
        outside = norm(rk) / rnorm
        rhs = tuple(r - k for r, k in zip(rhs, rk, strict=True))
    if project_preconditioner and K is not None and K.dim > 0:
        M = _range_projected(M, K)
    res = pcg(
        matvec,
        pack(rhs),
        getattr(M, "on_packed", None) or (lambda v: pack(M(unpack(v, shapes)))),
        rtol=0.0,
        atol=max(rtol * rnorm, atol),
        maxiter=maxiter,
        x0=None if x0 is None else pack(x0),
        verify=verify,
        energy_rtol=energy_rtol,
    )
    xi = tuple(finish(m) for m in unpack(res.x, shapes))
    if K is not None and K.dim > 0:
        xi = tuple(x - k for x, k in zip(xi, K.project(xi), strict=True))
    residual = res.residual * norm(rhs) / rnorm if rnorm else 0.0
    kdim = None if K is None else K.dim
    parts = [_convergence_message(res.converged, res.iterations, residual, rtol, atol)]
    if kdim is None:
        parts.append(f"{missing_kernel}: solution is not min-norm")
    elif kdim > 0:
        parts.append(f"operator singular: {kernel_name} {kdim} projected out")
    if outside > 1e-8:
        parts.append(f"rhs has {outside:.2e} of its norm outside the range (least squares)")
    finite = bool(np.isfinite(residual)) and all(np.isfinite(x).all() for x in xi)
    if not finite:
        parts.insert(0, "non-finite solution")
    return GramSolution(
        xi, bool(res.converged) and finite, res.iterations, float(residual), kdim,
        None if kdim is None else kdim > 0, K is not None, float(outside), "; ".join(parts),
    )
