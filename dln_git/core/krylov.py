"""Preconditioned conjugate gradients for Hermitian positive semi-definite systems.

Written out (rather than ``scipy.sparse.linalg.cg``) to report the true residual, restart
once the recursive residual drifts, and return diagnostics.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

__all__ = ["ENERGY_RESIDUAL_FLOOR", "KrylovResult", "pcg"]

#: With ``energy_rtol``, the iteration stops at this fraction of the residual threshold even if the
#: energy estimate is not yet small (it cannot fall much further in floating point).
ENERGY_RESIDUAL_FLOOR = 1e-3


@dataclass(frozen=True)
class KrylovResult:
    x: np.ndarray
    converged: bool
    iterations: int
    residual: float  # true relative residual ||b - A x|| / ||b||


def pcg(
    apply_A: Callable[[np.ndarray], np.ndarray],
    b: np.ndarray,
    apply_M: Callable[[np.ndarray], np.ndarray],
    rtol: float,
    maxiter: int | None = None,
    restarts: int = 3,
    atol: float = 0.0,
    x0: np.ndarray | None = None,
    verify: bool = True,
    energy_rtol: float = 0.0,
) -> KrylovResult:
    """Solve ``A x = b`` (A Hermitian PSD, b in its range) by PCG from ``x = x0`` (default 0).

    Stops when the recursively updated residual is below ``max(rtol ||b||, atol)``; then checks
    the true residual and restarts (at most ``restarts`` times) if it is not. ``atol`` lets a
    caller measure accuracy on its own scale when b itself is rounding noise.
    ``KrylovResult.residual`` is the true residual divided by ``||b||``; ``converged`` refers to
    the combined threshold.

    ``x0`` is a warm start (e.g. the solution of a nearby system): the iteration starts from the
    residual ``b - A x0`` and returns after 0 iterations if that is already below the threshold.
    It costs one extra application of A. When ``||b|| <= atol`` the answer is ``x = 0`` whatever
    ``x0`` is.

    ``verify=False`` trusts the recursively updated residual: no final application of A and no
    restart, and ``KrylovResult.residual`` is the recursive residual (it matches the true one to
    rounding after a few iterations; for callers that measure their own progress, such as an
    inexact Newton iteration).

    ``energy_rtol > 0`` adds a second condition: the iteration goes on past the residual
    threshold until also ``<r, M r> <= energy_rtol^2 Re <x, b>``, or until the residual is
    :data:`ENERGY_RESIDUAL_FLOOR` times the threshold. The energy-norm error is
    ``||x - x*||_A^2 = <r, A^+ r>`` and ``Re <x, b> = ||x||_A^2`` at the solution, so with M
    close to ``A^+`` this bounds ``||A^{1/2}(x - x*)|| / ||A^{1/2} x||`` by about ``energy_rtol``
    (within the square root of the condition number of MA, which a good preconditioner keeps
    small). Where ``A = B^* B``, that is the relative error of ``B x``: for a Gram solve, the
    error of the velocity ``A_W(xi)``, which a residual threshold controls only up to
    ``1/sqrt(lambda_min)`` on ill-conditioned operators. The estimate misses residual in the
    kernel of M (a pseudo-inverse preconditioner), hence the residual threshold is kept.
    """
    n = b.size
    if maxiter is None:
        maxiter = min(2 * n + 20, 5000)
    bnorm = np.linalg.norm(b)
    dtype = np.result_type(b, np.float64) if x0 is None else np.result_type(b, x0, np.float64)
    x = np.zeros_like(b, dtype=dtype)
    if bnorm <= atol:
        return KrylovResult(x, True, 0, 0.0 if bnorm == 0.0 else 1.0)
    threshold = max(rtol * bnorm, atol)
    if x0 is None:
        r = b.astype(x.dtype, copy=True)
    else:
        x0 = np.ravel(np.asarray(x0))
        if x0.shape != b.shape:
            raise ValueError(f"x0 has {x0.size} entries, expected {b.size}")
        x += x0
        r = (b - apply_A(x)).astype(x.dtype, copy=False)
    it = 0
    true_abs = bnorm
    energy2 = energy_rtol**2
    floor = threshold * ENERGY_RESIDUAL_FLOOR if energy2 > 0.0 else threshold

    def done(rnorm: float, rz: float | None) -> bool:
        """Residual at the floor, or at the threshold with the energy estimate small (or not asked)."""
        if rnorm <= floor:
            return True
        if rnorm > threshold:
            return False
        return energy2 == 0.0 or (rz is not None and rz <= energy2 * np.vdot(x, b).real)

    for _ in range(restarts + 1):
        z = apply_M(r)
        p = z.copy()
        rz = np.vdot(r, z).real
        while it < maxiter and rz > 0.0 and not done(np.linalg.norm(r), rz):
            Ap = apply_A(p)
            pAp = np.vdot(p, Ap).real
            if pAp <= 0.0:
                break
            alpha = rz / pAp
            x += alpha * p
            r -= alpha * Ap
            it += 1
            if done(np.linalg.norm(r), None):
                break  # converged: the next search direction (one application of M) is not needed
            z = apply_M(r)
            rz_new = np.vdot(r, z).real
            p = z + (rz_new / rz) * p
            rz = rz_new
        if not verify:
            true_abs = np.linalg.norm(r)
            break
        r = b - apply_A(x)
        true_abs = np.linalg.norm(r)
        if true_abs <= threshold or it >= maxiter:
            break
    return KrylovResult(x, bool(true_abs <= threshold), it, float(true_abs / bnorm))
