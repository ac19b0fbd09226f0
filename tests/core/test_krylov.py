"""PCG's stopping rules (``dln_git.core.krylov.pcg``), against dense solutions."""

from __future__ import annotations

import numpy as np
import pytest

from dln_git.core.krylov import ENERGY_RESIDUAL_FLOOR, pcg


def _ill_conditioned(seed: int, n: int = 60, cond: float = 1e3):
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
    # b = A x* with B x* = U c spread over all singular directions (like a velocity A_W(xi)):
    # b = V diag(s) c is small along the small ones, where a residual threshold is blind
    return B, A, (lambda r: M @ r), V @ (s * rng.standard_normal(n))


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("energy_rtol", [1e-8, 1e-9])
def test_energy_criterion_bounds_the_error_of_B_x(seed, energy_rtol):
    """Past the residual threshold (rtol 1e-7) PCG goes on until ``<r, M r>`` is small, and then
    ``||B(x - x*)|| <= C energy_rtol ||B x*||``, x* the dense solution; C = 10 allows for
    ``sqrt(cond(M A))`` (about 2-3 here), since ``<r, M r>`` estimates ``<r, A^{-1} r>`` only
    within it. The residual threshold alone leaves ``B x`` several times less accurate."""
    B, A, M, b = _ill_conditioned(seed)
    x_star = np.linalg.solve(A, b)

    def err(x):
        return np.linalg.norm(B @ (x - x_star)) / np.linalg.norm(B @ x_star)

    res = pcg(lambda v: A @ v, b, M, rtol=1e-7, energy_rtol=energy_rtol)
    plain = pcg(lambda v: A @ v, b, M, rtol=1e-7)
    assert res.converged and plain.converged
    assert err(res.x) <= 10 * energy_rtol
    assert err(plain.x) > 3 * err(res.x)  # the rule decided
    assert res.iterations > plain.iterations
    floor = pcg(lambda v: A @ v, b, M, rtol=1e-7, energy_rtol=1e-150)  # never met: the residual floor stops it
    assert floor.converged and floor.residual <= 1e-7 * ENERGY_RESIDUAL_FLOOR * 1.01


def test_energy_criterion_off_by_default_and_at_zero_rhs():
    _, A, M, b = _ill_conditioned(0, n=20, cond=1e3)
    a = pcg(lambda v: A @ v, b, M, rtol=1e-10)
    c = pcg(lambda v: A @ v, b, M, rtol=1e-10, energy_rtol=0.0)
    assert a.iterations == c.iterations and np.array_equal(a.x, c.x)
    z = pcg(lambda v: A @ v, np.zeros(20), M, rtol=1e-10, energy_rtol=1e-6)
    assert z.converged and not np.any(z.x)
