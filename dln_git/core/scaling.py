"""Scale-invariant internals: every homogeneous function works on weights of scale about 1.

Everything in the core is homogeneous in W: for ``c > 0``

* ``X(cW) = c^N X(W)``, ``dphi_{cW} = c^{N-1} dphi_W``, ``mu(cW) = c^2 mu(W)``, ``R(cW) = c^2 R(W)``;
* ``A_{cW} = c A_W`` (so the Gram operator scales by ``c^2``), the end-to-end metric by
  ``c^{2(N-1)}``;
* the projections ``Pi_V``, ``Pi_H``, ``P_W``, the ranks, kernels and the regime do not depend
  on ``c`` at all.

Evaluated naively, ``c = 1e-100`` makes ``W_i W_i^*`` underflow to 0 (every W looks balanced)
and ``c = 1e60`` overflows the metric. So public functions divide W by a power of two
``s ~ (prod_i ||W_i||_F)^{1/N}`` (the geometric mean of the nonzero layer norms: exact in
floating point, and it keeps ``X`` of size about ``||X(W)|| / s^N ~ 1``), compute at scale 1,
and multiply the answer by the right power of ``s``. Where that power of ``s`` times the answer
is not representable in float64, :func:`rescale` raises a ``ValueError`` naming the quantity,
instead of returning inf or 0.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

__all__ = ["ldexp_all", "normalized", "rescale", "safe_norm", "scale_of", "unit_scaled"]


def safe_norm(A) -> float:
    """Frobenius norm of an array or a tuple of arrays, without overflow or underflow.

    ``np.linalg.norm`` squares the entries: it returns inf for entries above ~1e154 and loses
    everything below ~1e-162. Here the entries are divided by the largest magnitude first.
    """
    mats = [np.asarray(a) for a in (A if isinstance(A, (tuple, list)) else (A,))]
    m = max((float(np.max(np.abs(a))) if a.size else 0.0) for a in mats) if mats else 0.0
    if m == 0.0 or not math.isfinite(m):
        return m
    e = math.frexp(m)[1]  # divide by 2^e exactly (1/m itself overflows for subnormal m)
    total = sum(float(np.vdot(q, q).real) for q in ldexp_all(mats, -e))
    return math.ldexp(math.sqrt(total), e)


def scale_of(W: Sequence[np.ndarray]) -> float:
    """A power of two ``s`` near the geometric mean of the nonzero ``||W_i||_F`` (1 if all are 0)."""
    logs = [math.log2(n) for n in (safe_norm(w) for w in W) if n > 0.0]
    if not logs:
        return 1.0
    return math.ldexp(1.0, round(sum(logs) / len(logs)))


def normalized(W: Sequence[np.ndarray]) -> tuple[tuple[np.ndarray, ...], float]:
    """``(W / s, s)`` with ``s = scale_of(W)``: new arrays (never views of W), exact division."""
    s = scale_of(W)
    return tuple(w / s for w in W), s


def unit_scaled(mats) -> tuple[tuple[np.ndarray, ...], int]:
    """``(mats * 2^-e, e)`` with ``2^e`` the power of two nearest ``||mats||`` (e = 0 for zero).

    For data linear in the answer (a right-hand side, a tangent vector): exact, and safe where
    ``1 / ||mats||`` itself would overflow (subnormal data).
    """
    n = safe_norm(tuple(mats))
    e = 0 if n == 0.0 else math.frexp(n)[1]
    return ldexp_all(mats, -e), e


def ldexp_all(mats, e: int) -> tuple[np.ndarray, ...]:
    """``2^e * mats`` for each array (real and imaginary parts separately): exact, new arrays."""
    return tuple(np.ldexp(m.real, e) + 1j * np.ldexp(m.imag, e) if np.iscomplexobj(m)
                 else np.ldexp(np.asarray(m), e) for m in map(np.asarray, mats))


def rescale(value, s: float, power: float, what: str):
    """``s**power * value`` (an array, a tuple of arrays or a float), checked to be representable.

    Raises
    ------
    ValueError
        If the factor or the result overflows, or underflows a nonzero value to zero: the
        quantity ``what`` is not representable in float64 at this scale.
    """
    log2_factor = power * math.log2(s)
    if log2_factor == 0.0:
        return value
    try:
        factor = 2.0 ** log2_factor
    except OverflowError:
        factor = math.inf
    mats = value if isinstance(value, (tuple, list)) else (value,)
    big = max((safe_norm(np.asarray(v)) for v in mats), default=0.0)
    if big == 0.0:
        return value
    if factor == 0.0 or not math.isfinite(factor) or not math.isfinite(big * factor) or big * factor == 0.0:
        raise ValueError(
            f"{what} is not representable in float64 at this scale of W: its norm would be "
            f"2^{log2_factor + math.log2(big):.0f} (the weights' scale is 2^{math.log2(s):.0f}); "
            f"rescale the weights"
        )
    if isinstance(value, tuple):
        return tuple(factor * v for v in value)
    if isinstance(value, list):
        return [factor * v for v in value]
    return factor * value
