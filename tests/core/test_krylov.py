"""PCG's stopping rules (``dln_git.core.krylov.pcg``), against dense solutions."""

from __future__ import annotations

import numpy as np
import pytest

from dln_git.core.krylov import pcg


def _ill_conditioned(seed: int, n: int = 60, cond: float = 1e6):
    """``A = B^T B`` with ``B = U diag(s) V^T``, s from 1 to 1/cond (``cond(A) = cond^2``), and a
    preconditioner of the kind PCG is used with: the exact inverse of a model whose singular
    values are off by random factors in [0.6, 1.4], so ``M A`` is well conditioned (eigenvalues
    in [0.5, 2.8]) but not I."""
    rng = np.random.default_rng(seed)
    U, _ = np.linalg.qr(rng.standard_normal((n, n)))
    V, _ = np.linalg.qr(rng.standard_normal((n, n)))
    s = np.geomspace(1.0, 1.0 / cond, n)
    B = (U * s) @ V.T
    A = B.T @ B
    lam = (s * rng.uniform(0.6, 1.4, n)) ** 2
    M = (V / lam) @ V.T
    return B, A, (lambda r: M @ r), rng.standard_normal(n)


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("energy_rtol", [1e-4, 1e-8])
def test_energy_criterion_bounds_the_error_of_B_x(seed, energy_rtol):
    """With an unreachable residual threshold, ``energy_rtol`` alone stops PCG (converged) with
    ``||B(x - x*)|| <= C energy_rtol ||B x*||``, x* the dense solution; C = 10 allows for
    ``sqrt(cond(M A))`` (about 2-3 here), since ``<r, M r>`` estimates ``<r, A^{-1} r>`` only
    within it. The same iterations without the rule are not converged."""
    B, A, M, b = _ill_conditioned(seed)
    b = A @ b  # in the range
    x_star = np.linalg.solve(A, b)
    res = pcg(lambda v: A @ v, b, M, rtol=1e-300, energy_rtol=energy_rtol, maxiter=2000)
    assert res.converged
    err = np.linalg.norm(B @ (res.x - x_star)) / np.linalg.norm(B @ x_star)
    assert err <= 10 * energy_rtol
    assert err > 1e-3 * energy_rtol  # it stopped early, rather than running to rounding
    plain = pcg(lambda v: A @ v, b, M, rtol=1e-300, maxiter=res.iterations, verify=False)
    assert not plain.converged  # without the energy rule the same iterations are not "converged"


def test_energy_criterion_off_by_default_and_at_zero_rhs():
    _, A, M, b = _ill_conditioned(0, n=20, cond=1e3)
    b = A @ b
    a = pcg(lambda v: A @ v, b, M, rtol=1e-10)
    c = pcg(lambda v: A @ v, b, M, rtol=1e-10, energy_rtol=0.0)
    assert a.iterations == c.iterations and np.array_equal(a.x, c.x)
    z = pcg(lambda v: A @ v, np.zeros(20), M, rtol=1e-10, energy_rtol=1e-6)
    assert z.converged and not np.any(z.x)
