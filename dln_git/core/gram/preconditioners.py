"""Preconditioners of the Gram operator ``A_W^* A_W`` (see :meth:`GramOperator.preconditioner`).

docs/math section 2: the operator is block-tridiagonal with Sylvester diagonal blocks
``xi_i -> W_{i+1}^* W_{i+1} xi_i + xi_i W_i W_i^*``. ``"jacobi"`` inverts those blocks,
``"block_lu"`` is a symmetric block Gauss–Seidel sweep with diagonal Schur complements, and
``"balanced"`` is the pseudo-inverse of the diagonal balanced model in the frames of
:mod:`dln_git.core.gram.frames` (exact at balanced points).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ..linalg import herm
from ..regime import stabiliser_layers
from .balanced_model import _BalancedModel
from .frames import _Frames
from .solution import herm_part

#: Preconditioner kinds accepted by :meth:`GramOperator.preconditioner` (``"auto"``: see :func:`auto_kind`).
PRECONDITIONERS = ("jacobi", "block_lu", "balanced", "segments", "auto")
#: ``"auto"`` takes ``"segments"`` from this hidden width, with at least :data:`SEGMENTS_MIN_HIDDEN`
#: hidden layers.
SEGMENTS_MIN_WIDTH = 48
SEGMENTS_MIN_HIDDEN = 4


def auto_kind(widths) -> str:
    """The default preconditioner for ``widths``: ``"segments"`` for at least
    :data:`SEGMENTS_MIN_HIDDEN` hidden layers of which the widest has at least
    :data:`SEGMENTS_MIN_WIDTH` units, and no hidden layer with a generic stabiliser
    (:func:`dln_git.core.regime.stabiliser_layers`: there the operator is singular and its large
    kernel is often not computed, which the segments need projected out), else ``"block_lu"``.

    Measured on Gaussian weights, one BLAS thread, rtol 1e-10 (cold solves of ``A^*A xi = mu``
    and whole ``balance(method="l2")`` runs, whose warm-started solves need few iterations):

    * cold, N = 8: d = 64, 27 against 822 iterations, 0.28 s against about 1 s; N = 16, d = 48:
      117 against 4632 iterations, 4.5 s against 14 s; at d = 32 the segments are also faster
      (0.04 s against 0.10 s), at d = 16 both take the same time;
    * L2 flow: (64,)*9, 64-68 s against 87 s; but (32,)*9, 16.4 s against 12.4 s, and (64,)*5
      (three hidden layers), 6.9 s against 5.9 s: there the many small products of the segments
      cost more than the iterations they save.
    """
    widths = tuple(widths)
    hidden = list(widths)[1:-1]
    wide = bool(hidden) and max(hidden) >= SEGMENTS_MIN_WIDTH
    if len(hidden) < SEGMENTS_MIN_HIDDEN or not wide or stabiliser_layers(widths):
        return "block_lu"
    return "segments"


#: Kinds whose map a solve restricts to the range (the kernel projected out of M).
PROJECTED_KINDS = ("balanced", "segments")


def solve_kind(preconditioner, widths, kernel) -> tuple:
    """The preconditioner kind a Gram solve uses (``"auto"`` resolved by :func:`auto_kind`,
    callables kept) and a note for its message.

    ``"segments"`` needs the kernel projected out: where it is not computed (``kernel`` None) the
    transport spaces can meet a large kernel and the sweep map the range into it (PCG diverged on
    (10, 60, 60, 60, 60, 10)), so ``"block_lu"`` is used, whose pseudo-inverse keeps ``ker M``
    inside ``ker A_W``; the note says so.
    """
    if callable(preconditioner):
        return preconditioner, ""
    kind = auto_kind(widths) if preconditioner == "auto" else preconditioner
    if kind == "segments" and kernel is None:
        return "block_lu", "; block_lu used instead of segments"
    return kind, ""


@dataclass(frozen=True)
class _Preconditioner:
    """``r -> M r`` on tuples, with the same map on packed vectors (``on_packed``, no copies)."""

    on_tuples: Callable
    on_packed: Callable

    def __call__(self, r):
        return self.on_tuples(r)



def balanced_preconditioner(F: _Frames, hermitian: bool):
    """The ``"balanced"`` preconditioner: ``M^+`` of the diagonal balanced model of the weights
    ``F.Wt`` written in the frames ``F.E``, applied as ``E (M^+ (E^* r E)) E^*`` blockwise
    (no change of basis when the frames are the identity). ``hermitian``: the model of
    ``s -> Herm(A^*A s)`` on Hermitian s, and the Hermitian part of the result."""
    model = _BalancedModel(F.Wt, hermitian=bool(hermitian))
    if F.identity:
        base = model
    else:

        def base(r, _m=model, _E=F.E):
            y = _m(tuple(herm(E) @ x @ E for E, x in zip(_E, r, strict=True)))
            return tuple(E @ x @ herm(E) for E, x in zip(_E, y, strict=True))

    if hermitian:

        def M(r, _b=base):
            return tuple(herm_part(x) for x in _b(r))
    else:
        M = base
    if F.identity and model.packable:
        M = _Preconditioner(M, functools.partial(model.solve_packed, hermitian=bool(hermitian)))
    return M


def hermitian_form(base):
    """``r -> Herm(M^{-1} r)``: symmetric positive semi-definite on Hermitian tuples when the
    preconditioner ``base`` is Hermitian."""

    def M(r, _b=base):
        return tuple(herm_part(x) for x in _b(r))

    return M


def sylvester_preconditioner(W, kind: str):
    """The ``"jacobi"`` or ``"block_lu"`` preconditioner of the Gram operator of W, in the
    eigenbases of the Sylvester diagonal blocks (formulas in :meth:`GramOperator.preconditioner`)."""
    H = len(W) - 1
    U, V, D = [], [], []
    for k in range(H):
        p, Uk = np.linalg.eigh(W[k] @ herm(W[k]))
        q, Vk = np.linalg.eigh(herm(W[k + 1]) @ W[k + 1])
        U.append(Uk)
        V.append(Vk)
        D.append(q[:, None] + p[None, :])
    top = max((Dk.max() for Dk in D), default=1.0)
    lu = kind == "block_lu"
    A = [None] + [herm(V[k]) @ W[k] @ V[k - 1] for k in range(1, H)] if lu else []
    B = [None] + [herm(U[k]) @ W[k] @ U[k - 1] for k in range(1, H)] if lu else []
    Sinv = []
    for k in range(H):
        Sk = D[k]
        if lu and k > 0:
            coupling = (np.abs(A[k]) ** 2) @ Sinv[k - 1] @ (np.abs(B[k]) ** 2).T
            Sk = np.maximum(D[k] - coupling, 1e-2 * D[k])
        inv = np.zeros_like(Sk)
        keep = D[k] > 1e-13 * top
        inv[keep] = 1.0 / Sk[keep]
        Sinv.append(inv)

    def jacobi(r):
        return tuple(
            V[k] @ ((herm(V[k]) @ r[k] @ U[k]) * Sinv[k]) @ herm(U[k]) for k in range(H)
        )

    def block_lu(r):
        w = []
        for k in range(H):
            y = herm(V[k]) @ r[k] @ U[k]
            if k > 0:
                y = y + A[k] @ w[k - 1] @ herm(B[k])
            w.append(y * Sinv[k])
        x = w[:]
        for k in range(H - 2, -1, -1):
            x[k] = w[k] + (herm(A[k + 1]) @ x[k + 1] @ B[k + 1]) * Sinv[k]
        return tuple(V[k] @ x[k] @ herm(U[k]) for k in range(H))

    M = block_lu if lu else jacobi
    if H and len({w.shape[0] for w in W[:H]}) == 1:
        M = _Preconditioner(M, _stacked_sylvester(U, V, Sinv, A, B, lu))
    return M


def _stacked_sylvester(U, V, Sinv, A, B, lu: bool):
    """The ``"jacobi"`` / ``"block_lu"`` map of :func:`sylvester_preconditioner` on packed vectors,
    for equal hidden widths: the changes of basis as batched products on the ``(H, d, d)`` view
    (the same operations as on tuples, without packing and unpacking)."""
    H, d = len(U), U[0].shape[0]
    Us, Vs, S = np.stack(U), np.stack(V), np.stack(Sinv)
    Uh, Vh = np.conj(np.swapaxes(Us, 1, 2)), np.conj(np.swapaxes(Vs, 1, 2))
    Ah = [None] + [herm(a) for a in A[1:]] if lu else []
    Bh = [None] + [herm(b) for b in B[1:]] if lu else []

    def on_packed(v):
        Y = Vh @ v.reshape(H, d, d) @ Us
        if not lu:
            return (Vs @ (Y * S) @ Uh).reshape(-1)
        Y[0] *= S[0]
        for k in range(1, H):
            Y[k] += A[k] @ Y[k - 1] @ Bh[k]
            Y[k] *= S[k]
        for k in range(H - 2, -1, -1):
            Y[k] += (Ah[k + 1] @ Y[k + 1] @ B[k + 1]) * S[k]
        return (Vs @ Y @ Uh).reshape(-1)

    return on_packed
