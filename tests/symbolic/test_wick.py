"""Wick contraction of Gaussian DLN correlators against a brute-force reference: the polynomial
``f_{i_1}(x_1)...f_{i_n}(x_n)`` in explicit weight symbols, expanded, averaged monomial by monomial with
the moments of ``N(m, v)`` (no pairings involved); and the closed-form scalar recursions."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import sympy

from dln_git.symbolic.matrices import symbolic_weights
from dln_git.symbolic.wick import (
    dln_four_point,
    dln_two_point,
    partial_pairings,
    wick_correlator,
)


def _gaussian_moment(k: int, m, v):
    """E[w^k] for w ~ N(m, v): sum_j C(k, j) m^(k-j) v^(j/2) (j-1)!! over even j."""
    return sum(math.comb(k, j) * m ** (k - j) * v ** (j // 2) * math.prod(range(j - 1, 0, -2))
               for j in range(0, k + 1, 2))


def _brute_force(wc, widths, index):
    """E[prod_k f_{i_k}(x_k)] by expanding in the weight symbols."""
    W = symbolic_weights(widths)
    n = len(index)
    prod = sympy.Integer(1)
    for k in range(n):
        f = sympy.Matrix(wc.inputs[k])
        for Wl in W:
            f = Wl * f
        prod *= f[index[k]]
    layer_of = {}
    for layer, Wl in enumerate(W):
        for s in Wl:
            layer_of[s] = layer
    poly = sympy.Poly(sympy.expand(prod), *layer_of)
    total = sympy.Integer(0)
    for powers, coeff in poly.terms():
        term = coeff
        for s, k in zip(poly.gens, powers, strict=True):
            if k:
                term *= _gaussian_moment(k, wc.means[layer_of[s]], wc.variances[layer_of[s]])
        total += term
    return sympy.expand(total)


def test_partial_pairings_are_the_telephone_numbers():
    tel = [1, 1]
    for n in range(2, 7):
        tel.append(tel[-1] + (n - 1) * tel[-2])  # independent recurrence T(n) = T(n-1) + (n-1) T(n-2)
    assert [len(partial_pairings(n)) for n in range(7)] == tel
    for n in range(7):
        pis = partial_pairings(n)
        assert len(set(pis)) == len(pis)
        for pi in pis:
            used = [k for pair in pi for k in pair]
            assert len(used) == len(set(used)) and all(0 <= k < n for k in used)


@pytest.mark.parametrize(("widths", "n", "mean"), [
    ((2, 2, 2), 2, True), ((2, 1, 2), 3, True), ((2, 2, 2), 4, False), ((1, 2, 1, 2), 2, True), ((2, 3), 1, True),
])
def test_wick_matches_brute_force_expectation(widths, n, mean):
    wc = wick_correlator(widths, n, mean=mean, simplify=False)
    for index in itertools.product(range(widths[-1]), repeat=n):
        assert sympy.expand(wc.tensor[index] - _brute_force(wc, widths, index)) == 0, index


def test_centred_odd_correlators_vanish_exactly():
    for n in (1, 3):
        wc = wick_correlator((2, 2, 2), n)
        assert all(e == 0 for e in wc.tensor.reshape(len(wc.tensor)).tolist())


def test_closed_forms_match_symbolic_wick_numerically():
    rng = np.random.default_rng(5)
    widths = (2, 3, 2, 2)
    v, m = rng.uniform(0.3, 1.5, 3), rng.uniform(-1, 1, 3)
    g2 = wick_correlator(widths, 2, mean=True, simplify=False)
    x = rng.standard_normal((2, 2))
    ref = g2.numeric(x, v, m)
    assert np.allclose(dln_two_point(widths, v, x[0], x[1], means=m), ref, rtol=1e-12, atol=0)
    g4 = wick_correlator(widths, 4, simplify=False)
    x4 = rng.standard_normal((4, 2))
    ref4 = g4.numeric(x4, v)
    assert np.allclose(dln_four_point(widths, v, x4), ref4, rtol=1e-12, atol=1e-14 * np.abs(ref4).max())


def test_two_point_closed_form_is_product_of_variances_times_widths():
    # centred DLN: G^(2) = prod_l v_l * prod_{hidden} d_l * (x . x') * I (an independent one-liner)
    rng = np.random.default_rng(1)
    widths = (3, 4, 5, 2)
    v = rng.uniform(0.2, 2.0, 3)
    x, y = rng.standard_normal((2, 3))
    expected = np.prod(v) * 4 * 5 * (x @ y) * np.eye(2)
    assert np.allclose(dln_two_point(widths, v, x, y), expected, rtol=1e-13)


def test_wick_validation():
    with pytest.raises(ValueError, match="n"):
        wick_correlator((2, 2), 0)
    with pytest.raises(ValueError, match="MAX_TENSOR_ENTRIES"):
        wick_correlator((9, 9, 9), 4)
    with pytest.raises(TypeError):
        wick_correlator((2, 2), 2, mean="yes")
    with pytest.raises(ValueError, match="one value per layer"):
        dln_two_point((2, 2, 2), [1.0], [1, 0], [0, 1])
    with pytest.raises(ValueError, match="points"):
        dln_four_point((2, 2), [1.0], np.ones((3, 2)))


def test_wick_matches_plain_monte_carlo():
    from dln_git.symmetries.architectures import NetworkFamily
    from dln_git.symmetries.correlators import _summarise, correlator, z_threshold

    widths, std = (2, 3, 2), (0.9, 0.7)
    fam = NetworkFamily("linear", widths, (0.0, 0.0), std, (0.0, 0.0), (0.0, 0.0))
    x = np.array([[0.6, 0.3], [0.5, -0.2], [0.4, 0.4], [0.7, 0.1]])
    est = correlator(fam, x, 60000, 8)
    exact = wick_correlator(widths, 4, simplify=False).numeric(x, np.square(std))
    assert _summarise(est.mean - exact, est.stderr, est.n_draws).z_equivalent <= z_threshold(1e-6)
    # one pairing pattern only (wrong combinatorics) is rejected
    eye = np.eye(2)
    wrong = exact[0, 0, 1, 1] * np.einsum("ij,kl->ijkl", eye, eye)
    assert _summarise(est.mean - wrong, est.stderr, est.n_draws).z_equivalent > z_threshold(1e-6)
