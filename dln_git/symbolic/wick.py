"""Exact correlators of Gaussian deep linear networks by Wick contraction (docs/math section 6.4).

A DLN ``f(x) = W_N ... W_1 x`` whose layers have iid entries ``N(m_l, v_l)`` has polynomial outputs,
so its n-point functions ``G^(n)_{i_1..i_n}(x_1..x_n) = E[f_{i_1}(x_1) ... f_{i_n}(x_n)]`` are
Gaussian-product moments. Layers are independent, so they are computed layer by layer on the
moment tensors ``T_l[a_1..a_n] = E[h_l(x_1)_{a_1} ... h_l(x_n)_{a_n}]``, ``T_0 = x_1 (x) ... (x) x_n``::

    T_l[a] = sum_b E[W[a_1,b_1] ... W[a_n,b_n]] T_{l-1}[b],

and Isserlis' theorem for non-centred Gaussians (Isserlis 1918; Wick 1950) gives the weight
moment as a sum over the *partial pairings* ``pi`` of ``{1..n}``::

    E[prod_k W[a_k, b_k]] = sum_pi  prod_{(p,q) in pi} v delta(a_p, a_q) delta(b_p, b_q)  *  m^{n - 2|pi|},

(unpaired factors contribute their mean). So ``T_l[a] = sum_pi v^|pi| m^(n-2|pi|) prod delta(a_p,a_q) S_pi``
with the scalar ``S_pi = sum_{b: b_p = b_q, (p,q) in pi} T_{l-1}[b]``. With ``m = 0`` only perfect
pairings remain and odd correlators vanish.

:func:`wick_correlator` does this in sympy with symbolic inputs, variances and means. The closed
forms below are a second, independent route (scalar recursions, not pairings):

* two-point function: ``K_l = E[h_l(x) h_l(x')^T] = alpha_l I + beta_l 1 1^T`` for ``l >= 1`` with
  ``alpha_1 = v_1 x.x'``, ``beta_1 = m_1^2 (1.x)(1.x')`` and, from ``E[W K W^T] = M K M^T + v tr(K) I``
  (``M = m 1 1^T``), ``alpha_l = v_l d (alpha + beta)``, ``beta_l = m_l^2 d (alpha + d beta)``, ``d = d_{l-1}``;
* four-point function, zero means: ``T_l = A d12 d34 + B d13 d24 + C d14 d23`` with
  ``(A, B, C)_1 = v_1^2 ((x1.x2)(x3.x4), (x1.x3)(x2.x4), (x1.x4)(x2.x3))`` and
  ``(A, B, C)_l = v_l^2 [[d^2, d, d], [d, d^2, d], [d, d, d^2]] (A, B, C)_{l-1}``.

Both work on numbers (numpy) and on sympy symbols.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from functools import cache

import numpy as np
import sympy

from dln_git.core.options import Rule, check_options
from dln_git.core.validation import as_widths

__all__ = [
    "WickCorrelator",
    "dln_four_point",
    "dln_two_point",
    "four_point_coefficients",
    "partial_pairings",
    "two_point_coefficients",
    "wick_correlator",
]

MAX_TENSOR_ENTRIES = 4096  # d^n per layer; beyond this the symbolic contraction takes minutes


@cache
def partial_pairings(n: int) -> tuple[tuple[tuple[int, int], ...], ...]:
    """All sets of disjoint pairs ``(p, q)``, ``p < q``, of ``{0..n-1}`` (the empty set included).

    Their number is the telephone number: 1, 1, 2, 4, 10, 26 for n = 0..5.
    """
    if n < 2:
        return ((),)
    out = list(partial_pairings(n - 1))  # n-1 unpaired
    for p in range(n - 1):  # n-1 paired with p
        rest = [k for k in range(n - 1) if k != p]
        for sub in partial_pairings(len(rest)):
            out.append((*sorted((rest[a], rest[b]) for a, b in sub), (p, n - 1)))
    return tuple(tuple(sorted(pi)) for pi in out)


@dataclass(frozen=True)
class WickCorrelator:
    """``G^(n)`` of a Gaussian DLN as a sympy array of shape ``(d_N,)*n``.

    ``inputs[k]`` is the column of symbols ``x{k+1}_{a}`` of point ``k``; ``variances[l]``, ``means[l]``
    the symbols ``v{l+1}``, ``m{l+1}`` (means are ``0`` when the law is centred).
    """

    tensor: sympy.Array
    inputs: tuple[sympy.Matrix, ...]
    variances: tuple[sympy.Symbol, ...]
    means: tuple

    def numeric(self, points, variances, means=None) -> np.ndarray:
        """Evaluate at numeric ``points`` (shape ``(n, d_0)``), ``variances``, ``means`` (per layer)."""
        points = np.asarray(points, dtype=float)
        subs = {}
        for xk, row in zip(self.inputs, points, strict=True):
            subs.update({s: float(v) for s, v in zip(xk, row, strict=True)})
        subs.update({s: float(v) for s, v in zip(self.variances, variances, strict=True)})
        if means is not None:
            subs.update({s: float(v) for s, v in zip(self.means, means, strict=True) if isinstance(s, sympy.Symbol)})
        flat = [float(sympy.sympify(e).xreplace(subs)) for e in self.tensor.reshape(len(self.tensor)).tolist()] \
            if self.tensor.rank() > 0 else [float(self.tensor.xreplace(subs))]
        return np.array(flat).reshape(self.tensor.shape)


def _contract(T: dict, d_in: int, d_out: int, n: int, v, m) -> dict:
    """One layer: ``T_l[a] = sum_pi v^|pi| m^(n-2|pi|) prod delta(a_p, a_q) S_pi``."""
    terms = []
    for pi in partial_pairings(n):
        if m == 0 and 2 * len(pi) != n:
            continue
        S = 0
        for b, val in T.items():
            if all(b[p] == b[q] for p, q in pi):
                S += val
        terms.append((pi, sympy.expand(v ** len(pi) * m ** (n - 2 * len(pi)) * S)))
    out = {}
    for a in itertools.product(range(d_out), repeat=n):
        out[a] = sympy.Add(*[c for pi, c in terms if all(a[p] == a[q] for p, q in pi)])
    return out


def wick_correlator(widths, n: int, *, mean: bool = False, simplify: bool = True) -> WickCorrelator:
    """The exact n-point function of a DLN with iid ``N(m_l, v_l)`` weights, by Wick contraction.

    Parameters
    ----------
    widths : sequence of int
        ``(d_0, ..., d_N)``.
    n : int
        The number of points, 1..6.
    mean : bool
        Symbolic means ``m_l`` (default: centred law, ``m_l = 0``).
    simplify : bool
        ``sympy.factor`` each entry (the polynomial is exact either way).
    """
    w = as_widths(widths)
    (n, mean, simplify) = check_options(n=(n, Rule("int", 1, 6, what="the number of points, 1..6")),
                                        mean=(mean, Rule.flag("symbolic means")),
                                        simplify=(simplify, Rule.flag("factor the entries")))
    if max(w) ** n > MAX_TENSOR_ENTRIES:
        raise ValueError(f"widths {w} with n = {n}: {max(w)}^{n} tensor entries per layer exceed "
                         f"MAX_TENSOR_ENTRIES = {MAX_TENSOR_ENTRIES}")
    xs = tuple(sympy.Matrix([sympy.Symbol(f"x{k + 1}_{a}", real=True) for a in range(w[0])]) for k in range(n))
    vs = tuple(sympy.Symbol(f"v{l + 1}", positive=True) for l in range(len(w) - 1))
    ms = tuple(sympy.Symbol(f"m{l + 1}", real=True) if mean else sympy.Integer(0) for l in range(len(w) - 1))
    T = {b: sympy.Mul(*[xs[k][b[k]] for k in range(n)]) for b in itertools.product(range(w[0]), repeat=n)}
    for layer in range(len(w) - 1):
        T = _contract(T, w[layer], w[layer + 1], n, vs[layer], ms[layer])
    D = w[-1]
    entries = [sympy.factor(T[a]) if simplify else T[a] for a in itertools.product(range(D), repeat=n)]
    return WickCorrelator(sympy.Array(entries, (D,) * n), xs, vs, ms)


# --- closed forms: scalar recursions (numbers or sympy symbols) -------------------------------------

def two_point_coefficients(widths, variances, means, x, x2):
    """``(alpha, beta)`` with ``G^(2)(x, x') = alpha I + beta 1 1^T`` (``alpha = v_1 x.x'``, ``beta =
    m_1^2 (1.x)(1.x')`` for one layer); scalar arithmetic only, so sympy inputs give exact formulas."""
    dot = sum(a * b for a, b in zip(x, x2, strict=True))
    alpha = variances[0] * dot
    beta = means[0] ** 2 * sum(x) * sum(x2)
    for layer in range(1, len(widths) - 1):
        d = widths[layer]
        alpha, beta = variances[layer] * d * (alpha + beta), means[layer] ** 2 * d * (alpha + d * beta)
    return alpha, beta


def four_point_coefficients(widths, variances, points):
    """``(A, B, C)`` with ``G^(4) = A d12 d34 + B d13 d24 + C d14 d23`` for a centred Gaussian DLN."""
    x1, x2, x3, x4 = points

    def dot(a, b):
        return sum(p * q for p, q in zip(a, b, strict=True))

    v = variances[0]
    A, B, C = v**2 * dot(x1, x2) * dot(x3, x4), v**2 * dot(x1, x3) * dot(x2, x4), v**2 * dot(x1, x4) * dot(x2, x3)
    for layer in range(1, len(widths) - 1):
        d, v = widths[layer], variances[layer]
        A, B, C = (v**2 * (d * d * A + d * B + d * C), v**2 * (d * A + d * d * B + d * C),
                   v**2 * (d * A + d * B + d * d * C))
    return A, B, C


def _numeric_law(widths, variances, means):
    w = as_widths(widths)
    v = np.asarray(variances, dtype=float)
    m = np.zeros(len(w) - 1) if means is None else np.asarray(means, dtype=float)
    if v.shape != (len(w) - 1,) or m.shape != (len(w) - 1,) or (v < 0).any():
        raise ValueError(f"variances (>= 0) and means need one value per layer ({len(w) - 1}), "
                         f"got shapes {v.shape} and {m.shape}")
    return w, v, m


def dln_two_point(widths, variances, x, x2, means=None) -> np.ndarray:
    """Numeric ``G^(2)(x, x')`` of a DLN with iid ``N(m_l, v_l)`` entries: ``alpha I + beta 1 1^T``."""
    w, v, m = _numeric_law(widths, variances, means)
    alpha, beta = two_point_coefficients(w, v, m, np.asarray(x, float), np.asarray(x2, float))
    return alpha * np.eye(w[-1]) + beta * np.ones((w[-1], w[-1]))


def dln_four_point(widths, variances, points) -> np.ndarray:
    """Numeric ``G^(4)(x_1..x_4)`` of a centred Gaussian DLN, shape ``(d_N,)*4``."""
    w, v, _ = _numeric_law(widths, variances, None)
    pts = np.asarray(points, dtype=float)
    if pts.shape != (4, w[0]):
        raise ValueError(f"points must have shape (4, {w[0]}), got {pts.shape}")
    A, B, C = four_point_coefficients(w, v, pts)
    eye = np.eye(w[-1])
    return (A * np.einsum("ij,kl->ijkl", eye, eye) + B * np.einsum("ik,jl->ijkl", eye, eye)
            + C * np.einsum("il,jk->ijkl", eye, eye))
