"""Tests of ``dln_git.flows.newton_start``: the merged (coarse-to-fine) start of Newton balancing.

docs/math sections 2-3: ``mu_i = W_i W_i^* - W_{i+1}^* W_{i+1}``, the minimum ``(N/2) sum_k s_k^{2/N}``
of R on the fiber of X, the pairwise geometric mean ``H = P^{-1/2} (P^{1/2} Q P^{1/2})^{1/2} P^{-1/2}``,
and the balanced layers' Gram spectra ``s_k(X)^{2/N}``. References: plain-numpy helpers
(``flow_helpers``), ``scipy.linalg.sqrtm``, singular values of X in 50-digit arithmetic (mpmath),
and Newton balancing from the sweeps' start (``merged=False``, a different path to the same
Kempf–Ness orbit).
"""

from __future__ import annotations

import mpmath
import numpy as np
import pytest
import scipy.linalg
from flow_helpers import (
    conditioned_instance,
    gauge_act,
    gaussian_weights,
    moment,
    product,
    regularizer,
    tnorm,
    x_drift,
)
from hypothesis import given
from hypothesis import strategies as st

from dln_git import random_weights
from dln_git.flows import balance
from dln_git.flows.newton import newton_balance
from dln_git.flows.newton_start import merged_gauge, pair_gauge


def _no_coarse_solve(V):
    raise AssertionError("the coarse Newton solve was called")


def _gram_spectra(W):
    return [np.linalg.eigvalsh(w @ w.conj().T) for w in W]


def _balanced_spectrum(W, digits: int = 50):
    """``s_k(X)^{2/N}`` (ascending) from the singular values of X computed in ``digits`` digits."""
    with mpmath.workdps(digits):
        X = mpmath.eye(W[0].shape[1])
        for w in W:
            X = mpmath.matrix(w.tolist()) * X
        s = mpmath.svd_r(X, compute_uv=False) if not np.iscomplexobj(W[0]) else mpmath.svd_c(X, compute_uv=False)
        s = np.array(sorted(float(v) for v in s))
    return s ** (2.0 / len(W))


@pytest.mark.parametrize("cplx", [False, True])
def test_pair_gauge_is_the_geometric_mean(cplx):
    """g^* g is the geometric mean H of P^{-1} and Q (P = A A^*, Q = B^* B), so (g A, B g^{-1})
    is balanced with Gram spectrum the singular values of B A, and B A is kept."""
    rng = np.random.default_rng(5)
    A, B = gaussian_weights((5, 5, 5), rng, cplx)
    g, g_inv = pair_gauge(A, B)
    P, Q = A @ A.conj().T, B.conj().T @ B
    Ph = scipy.linalg.sqrtm(P)
    Ph_inv = np.linalg.inv(Ph)
    H = Ph_inv @ scipy.linalg.sqrtm(Ph @ Q @ Ph) @ Ph_inv
    assert np.linalg.norm(g.conj().T @ g - H) <= 1e-12 * np.linalg.norm(H)
    assert np.linalg.norm(g @ g_inv - np.eye(5)) <= 1e-13
    A2, B2 = g @ A, B @ g_inv
    assert tnorm(moment((A2, B2))) <= 1e-13 * regularizer((A2, B2))
    assert np.allclose(np.linalg.eigvalsh(A2 @ A2.conj().T), np.sort(np.linalg.svd(B @ A, compute_uv=False)),
                       rtol=1e-12, atol=0)
    assert np.linalg.norm(B2 @ A2 - B @ A) <= 1e-14 * np.linalg.norm(B @ A) * 10


def test_pair_gauge_refuses_singular_pairs():
    rng = np.random.default_rng(1)
    A, B = gaussian_weights((4, 4, 4), rng)
    A[:, 0] = A[:, 1]  # rank 3
    assert pair_gauge(A, B) is None
    assert pair_gauge(B, np.zeros((4, 4))) is None


@pytest.mark.parametrize(("N", "cplx"), [(2, False), (4, False), (8, False), (8, True)])
def test_merged_gauge_is_exact_on_powers_of_two(N, cplx):
    """For N = 2^m and well-conditioned merged products the recursion ends in pairs and balances W
    exactly, without any Newton step: R equals its minimum on the fiber, X is kept, and the
    returned pairs are inverse gauge elements whose action (an independent implementation,
    inverses by linear solves) gives the same weights."""
    W, X, s = conditioned_instance((4,) * (N + 1), 1e3, seed=N, gauge_cond=10.0, cplx=cplx)
    gauge = merged_gauge(W, _no_coarse_solve)
    assert gauge is not None and len(gauge) == N - 1
    for g, g_inv in gauge:
        assert np.linalg.norm(g @ g_inv - np.eye(4)) <= 1e-12
    Wb = gauge_act(W, [g for g, _ in gauge])
    assert tnorm(moment(Wb)) <= 1e-12 * regularizer(Wb)
    assert regularizer(Wb) == pytest.approx(0.5 * N * np.sum(s ** (2.0 / N)), rel=1e-12)
    assert x_drift(Wb, X) <= 1e-13


def test_merged_start_does_not_apply():
    """Odd depth, rectangular widths, or a rank-deficient layer: no merged gauge, and newton_balance
    takes the sweeps' start (the same run as with merged=False)."""
    rng = np.random.default_rng(2)
    odd = gaussian_weights((4,) * 4, rng)
    rectangular = gaussian_weights((3, 4, 4, 4, 3), rng)
    deficient = list(gaussian_weights((4,) * 5, rng))
    deficient[1] = deficient[1] @ np.diag([1.0, 1.0, 1.0, 0.0])
    for W in (odd, rectangular, tuple(deficient)):
        assert merged_gauge(W, _no_coarse_solve) is None
        run, ref = newton_balance(W), newton_balance(W, merged=False)
        assert not run.merged and run.iterations == ref.iterations
        assert tnorm([a - b for a, b in zip(run.weights, ref.weights, strict=True)]) == 0.0


@pytest.mark.parametrize(("N", "d", "seed", "coarse"), [(6, 5, 0, 3), (16, 6, 1, None), (32, 5, 2, 8)])
def test_merged_and_sweeps_starts_reach_the_same_orbit(N, d, seed, coarse):
    """Gaussian layers: merged down to pairs (N = 16 here), or to a coarsest network (depth 3 of
    N = 6, too ill-conditioned to merge further at N = 32) balanced by Newton and tracked. Both
    starts end balanced to tol with X kept, and their layer Gram spectra agree with each other and
    with ``s_k(X)^{2/N}`` from 50-digit singular values (invariants of the orbit: the merged start
    only applies gauge elements to W). Tolerance: a point with ``||mu|| <= 1e-12 R`` has Gram
    eigenvalues within about ``N ||mu||`` of the balanced ones (a sum of the N - 1 differences
    mu_i along the chain, each moving eigenvalues by at most ``||mu_i||``), relative to the
    smallest, times 10 for the rounding of the products."""
    W = gaussian_weights((d,) * (N + 1), np.random.default_rng(seed))
    X = product(W)
    run, ref = newton_balance(W), newton_balance(W, merged=False)
    assert run.merged and (None if run.coarse is None else len(run.coarse.weights)) == coarse
    target = _balanced_spectrum(W)
    for res in (run, ref):
        assert res.converged
        assert tnorm(moment(res.weights)) <= 1e-12 * regularizer(res.weights)
        assert x_drift(res.weights, X) <= 1e-13
    bound = 10 * N * 1e-12 * regularizer(ref.weights) / target[0]
    for a, b in zip(_gram_spectra(run.weights), _gram_spectra(ref.weights), strict=True):
        assert np.max(np.abs(a / b - 1)) <= bound
        assert np.max(np.abs(a / target - 1)) <= bound


@given(
    N=st.sampled_from([4, 6, 8, 12]),
    d=st.integers(1, 5),
    cond=st.sampled_from([1.0, 1e2, 1e5]),
    gauge_cond=st.sampled_from([1.0, 10.0, 100.0]),
    cplx=st.booleans(),
    scale=st.sampled_from([2.0**-480, 1.0, 2.0**480]),
    seed=st.integers(0, 2**16),
)
def test_newton_from_the_merged_start(N, d, cond, gauge_cond, cplx, scale, seed):
    """g.W_bal for a random gauge element g (also close to the identity: already balanced; and
    strongly unbalanced), at scales 1e-144..1e144 (X itself not representable; through ``balance``,
    which runs Newton at scale 1): balanced to tol, R reaches its minimum on the fiber, and the
    product of the input layers is kept to rounding (compared after dividing the result by the
    exact power of two ``scale``)."""
    W, _, s = conditioned_instance((d,) * (N + 1), cond, seed=seed, gauge_cond=gauge_cond, cplx=cplx)
    res = balance(tuple(w * scale for w in W), method="newton", tol=1e-12)
    assert res.converged, res.message
    Wb = tuple(w / scale for w in res.weights)
    assert tnorm(moment(Wb)) <= 1e-12 * regularizer(Wb)
    assert regularizer(Wb) == pytest.approx(0.5 * N * np.sum(s ** (2.0 / N)), rel=1e-10)
    assert x_drift(Wb, product(W)) <= 1e-12


def test_ill_conditioned_top_pair_goes_to_the_coarse_newton():
    """Gaussian (8,)*17, seed 0: the two products of 8 layers are mergeable (cond 8e7, 2e5) but
    their product (cond 4e12) is too ill-conditioned for the pair gauge, so the depth-2 network is
    balanced by Newton; the result is balanced, keeps X, and has the sweeps' start's invariants."""
    W = random_weights((8,) * 17, 0)
    run, ref = newton_balance(W), newton_balance(W, merged=False)
    assert run.merged and run.converged and len(run.coarse.weights) == 2
    assert tnorm(moment(run.weights)) <= 1e-12 * regularizer(run.weights)
    assert x_drift(run.weights, product(W)) <= 1e-13
    bound = 10 * 16 * 1e-12 * regularizer(ref.weights) / np.linalg.eigvalsh(ref.weights[0] @ ref.weights[0].T)[0]
    for a, b in zip(_gram_spectra(run.weights), _gram_spectra(ref.weights), strict=True):
        assert np.max(np.abs(a / b - 1)) <= bound


@pytest.mark.parametrize("widths", [(8,) * 5, (6,) * 9])
def test_balancing_a_balanced_network_leaves_it_in_place(widths):
    """The merged start drops the unitary part of its gauge: balance is idempotent, and a small
    gauge perturbation of a balanced point moves the result by about as much (continuity)."""
    from dln_git import balance, random_weights
    from dln_git.core import gauge_act, moment_map

    W = balance(random_weights(widths, 2), method="newton").weights
    again = balance(W, method="newton").weights
    assert max(np.linalg.norm(a - b) / np.linalg.norm(b) for a, b in zip(again, W, strict=True)) <= 1e-12
    rng = np.random.default_rng(0)
    eps = 1e-6
    g = [np.eye(w.shape[0]) + eps * rng.standard_normal((w.shape[0], w.shape[0])) for w in W[:-1]]
    near = gauge_act(g, W)
    res = balance(near, method="newton").weights
    moved = max(np.linalg.norm(a - b) / np.linalg.norm(b) for a, b in zip(res, W, strict=True))
    assert moved <= 100 * eps
    assert np.linalg.norm(np.concatenate([m.ravel() for m in moment_map(res)])) <= 1e-10 * sum(
        np.linalg.norm(w) ** 2 for w in res)
