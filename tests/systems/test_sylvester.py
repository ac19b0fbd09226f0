"""The recursive blocked Lyapunov solver against scipy's solver and against its own residual."""

import numpy as np
import pytest
import scipy.linalg

from dln_git.systems.sylvester import BLOCK, lyapunov_schur, sylvester_schur


@pytest.mark.parametrize("n", [1, 5, BLOCK + 1, 2 * BLOCK + 37])
@pytest.mark.parametrize("cplx", [False, True])
def test_lyapunov_schur_matches_scipy(n, cplx):
    rng = np.random.default_rng(n + cplx)
    M = rng.standard_normal((n, n)) / np.sqrt(n)
    if cplx:
        M = M + 1j * rng.standard_normal((n, n)) / np.sqrt(n)
    A = M - (np.linalg.eigvals(M).real.max() + 0.3) * np.eye(n)
    R, _ = scipy.linalg.schur(A, output="complex" if cplx else "real")  # real: 2x2 blocks to split around
    F = rng.standard_normal((n, n))
    F = F @ F.T
    for adjoint in (False, True):
        X = lyapunov_schur(R, F, adjoint=adjoint)
        ref = scipy.linalg.solve_continuous_lyapunov(R.conj().T if adjoint else R, F)
        assert np.linalg.norm(X - ref) <= 1e-12 * np.linalg.norm(ref)
        res = (R.conj().T @ X + X @ R) if adjoint else (R @ X + X @ R.conj().T)
        assert np.linalg.norm(res - F) <= 1e-12 * np.linalg.norm(F)


def test_rectangular_sylvester():
    rng = np.random.default_rng(3)
    A = np.triu(rng.standard_normal((150, 150))) + 5 * np.eye(150)
    B = np.triu(rng.standard_normal((70, 70))) + 5 * np.eye(70)
    F = rng.standard_normal((150, 70))
    X = sylvester_schur(A, B, F)
    assert np.linalg.norm(A @ X + X @ B.T - F) <= 1e-12 * np.linalg.norm(F)
