"""python-control (with slycot) as a differential oracle: Hankel singular values and balred.

python-control is a test dependency only (the ``test`` extra); it is imported at module level
so a missing install fails the run instead of skipping it.
"""

import control
import numpy as np
import pytest
import slycot  # noqa: F401  (balred's truncation needs it; fail loudly when absent)
from systems_helpers import dense_transfer

from dln_git.systems import balanced_truncation, hankel_singular_values, random_state_space


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("discrete", [False, True])
def test_hsv_match_control_hsvd(seed, discrete):
    rng = np.random.default_rng(seed)
    n = 8 + 6 * seed
    s = random_state_space(n, 3, 2, rng, dt=0.5 if discrete else None)
    ours = hankel_singular_values(s)
    cs = control.ss(s.A, s.B, s.C, s.D, 0.5 if discrete else 0)
    if discrete:  # control.hsvd is continuous-time only; its Gramians (slycot sb03md) work in both
        theirs = np.sqrt(np.abs(np.linalg.eigvals(control.gram(cs, "c") @ control.gram(cs, "o"))))
    else:
        theirs = np.real(control.hsvd(cs))
    # sqrt of a slightly negative rounding eigenvalue is nan in control.hsvd (and np.sort puts nan first
    # once reversed): those values are zero to the accuracy of its method
    theirs = np.sort(np.where(np.isfinite(theirs), theirs, 0.0))[::-1]
    # control.hsvd takes sqrt(eig(Wc Wo)): absolute accuracy ~ eps s_1^2 / s_k, so compare where s_k >= 1e-4 s_1
    keep = theirs >= 1e-4 * theirs[0]
    assert np.abs(ours[keep] - theirs[keep]).max() <= 1e-9 * ours[0]


@pytest.mark.parametrize("seed", range(4))
def test_reduced_transfer_function_matches_balred(seed):
    rng = np.random.default_rng(100 + seed)
    n, k = 10 + 10 * seed, 4
    s = random_state_space(n, 2, 3, rng)
    ours = balanced_truncation(s, k)
    theirs = control.balred(control.ss(s.A, s.B, s.C, s.D), k, method="truncate")
    pts = 1j * np.logspace(-2, 2, 15)
    G_theirs = np.moveaxis(np.asarray(theirs(pts)), -1, 0).reshape(len(pts), 3, 2)
    G_ours = dense_transfer(ours.system, pts)
    # both are the same reduced model up to a state-space similarity: transfer functions agree
    # to the accuracy of the balancing (~1e-12 s_1 measured; 1e-9 leaves room for conditioning)
    assert np.abs(G_ours - G_theirs).max() <= 1e-9 * ours.hsv[0]
