"""Unitary frames of the hidden spaces in which the Gram operator is nearly entrywise.

docs/math section 2: at a balanced point ``W_i = Q_i S^{1/N} Q_{i-1}^*`` the frames ``E_i`` built
here (``E_1`` an eigenbasis of ``W_1 W_1^* + W_2^* W_2``, then ``E_i`` the polar or QR factor of
``W_i E_{i-1}``) make every ``E_i^* W_i E_{i-1}`` diagonal, so the Gram operator written in them
is the diagonal balanced model of :mod:`dln_git.core.gram.balanced_model`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..linalg import herm
from ..validation import as_weights

#: Frame constructions for the ``"balanced"`` preconditioner (see :class:`GramOperator`).
FRAME_KINDS = ("polar", "qr")

#: The polar factor is computed from an eigendecomposition of ``A^* A`` (about half the cost of
#: an SVD) when ``cond(A)`` is at most this, from an SVD otherwise.
_POLAR_EIGH_MAX_COND = 1e3


def _reorthonormalise(E: np.ndarray) -> np.ndarray:
    """One Newton–Schulz step ``E (3 I - E^* E) / 2`` (squares the unitarity defect)."""
    return E @ (1.5 * np.eye(E.shape[1]) - 0.5 * (herm(E) @ E))


def _polar_factor(A: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    """A unitary ``E`` (shape ``(m, m)``, ``m = A.shape[0]``) with ``E^* A`` Hermitian PSD on its
    leading square block, and the singular values of A when A is square (else None).

    ``m == n``: the polar factor ``U V^*`` of ``A = U s V^*`` (unique when A is invertible),
    computed as ``A V diag(lambda)^{-1/2} V^*`` from ``A^* A = V diag(lambda) V^*`` when A is well
    conditioned (then re-orthonormalised by one Newton–Schulz step), else by an SVD.
    ``m > n``: ``[U_n V^*, U_perp]`` (``E^* A = [V s V^*; 0]``). ``m < n``: the polar factor of the
    leading ``m x m`` block ``A[:, :m]`` (the trailing columns are the weakest directions of the
    previous layer). Zero singular values leave the factor free on them; any completion is fine.
    """
    m, n = A.shape
    if m == 0:
        return np.zeros((0, 0), dtype=A.dtype), None
    if n == 0:
        return np.eye(m, dtype=A.dtype), None
    square = m == n
    if m < n:
        A = A[:, :m]
        n = m
    if square:
        C = herm(A) @ A
        lam, V = np.linalg.eigh(0.5 * (C + herm(C)))
        if lam[-1] > 0 and lam[0] >= lam[-1] / _POLAR_EIGH_MAX_COND**2:
            E = ((A @ V) * lam ** -0.5) @ herm(V)
            sv = np.sqrt(lam[::-1])
            return (_reorthonormalise(E) if lam[0] < 1e-2 * lam[-1] else E), sv
    U, sv, Vh = np.linalg.svd(A, full_matrices=m > n)
    E = U.copy()
    E[:, :n] = U[:, :n] @ Vh
    return E, (sv if square else None)


def _qr_frame(A: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A unitary ``E`` (shape ``(m, m)``, ``m = A.shape[0]``) and ``T = E^* A``, upper triangular
    with a real non-negative diagonal on its leading square block.

    ``m >= n``: the complete QR factorisation ``A = E T`` (Householder, stable for any A);
    ``m < n``: that of the leading ``m x m`` block ``A[:, :m]`` (as for :func:`_polar_factor`).
    At a balanced point (``A = Q [S; 0] R`` with R unitary commuting with the diagonal S) it gives
    the same diagonal ``T = [S; 0]`` as the polar factor. About half the cost of the polar factor
    (no eigendecomposition), but T is triangular instead of Hermitian, which leaves the
    ``"balanced"`` model a little less accurate away from balance.
    """
    m, n = A.shape
    if m == 0 or n == 0:
        return np.eye(m, dtype=A.dtype), A.copy()
    k = min(m, n)
    E, R = np.linalg.qr(A[:, :k], mode="complete" if m > n else "reduced")
    d = np.diagonal(R)
    mag = np.abs(d)
    phase = np.where(mag > 0, d / np.where(mag > 0, mag, 1.0), 1.0)
    E[:, :k] *= phase
    if m < n:
        return E, herm(E) @ A
    R[:k] *= phase.conj()[:, None]
    return E, R


def _gram_cond(G: np.ndarray) -> float | None:
    """``sqrt(cond(G))`` for a Gram matrix ``G = A^* A`` (the condition number of A), None when its
    smallest eigenvalue is below ``1e-12`` of the largest (then not trusted above rounding)."""
    lam = np.linalg.eigvalsh(0.5 * (G + herm(G)))
    return float(np.sqrt(lam[-1] / lam[0])) if lam[0] >= 1e-12 * lam[-1] > 0 else None


@dataclass(frozen=True)
class _Frames:
    """Unitary frames ``E_i`` of the hidden spaces and the weights in those frames.

    ``Wt = (E_1^* W_1, E_2^* W_2 E_1, ..., W_N E_{N-1})`` (the unitary gauge transform ``E^*.W``,
    whose Gram operator is ``E^* (A_W^* A_W) E`` blockwise). ``cond``: an upper bound
    ``prod_{i<N} cond(W_i)`` of the condition numbers of the partial products ``W_i..W_1`` when
    every hidden layer is no wider than the one before and the singular values are known (then
    ``ker A_W = 0`` as soon as ``cond < 1/rank_rtol``), else None.
    """

    E: tuple[np.ndarray, ...]
    Wt: tuple[np.ndarray, ...]
    cond: float | None
    identity: bool = False


def _compute_frames(W, certify: bool = True, kind: str = "polar") -> _Frames:
    """The frames of :func:`balanced_bases` (``kind="qr"``: QR factors, see :func:`_qr_frame`, in
    place of polar factors) and the weights in them; ``certify=False`` skips the condition-number
    certificate ``cond``, for callers that know ``ker A_W``."""
    H = len(W) - 1
    P1 = W[0] @ herm(W[0])
    M1 = P1 + herm(W[1]) @ W[1]
    _, U = np.linalg.eigh(0.5 * (M1 + herm(M1)))
    E = [np.ascontiguousarray(U[:, ::-1])]
    Wt = [herm(E[0]) @ W[0]]
    d1, d0 = W[0].shape
    # from eigenvalues of W_1 W_1^*: only trusted while lambda_min is well above rounding
    cond = _gram_cond(P1) if certify and d1 <= d0 and d1 else None
    for h in range(1, H):
        A = W[h] @ E[h - 1]
        if kind == "qr":
            Eh, T = _qr_frame(A)
            square = A.shape[0] == A.shape[1] and A.size
            ratio = _gram_cond(herm(T) @ T) if cond is not None and square else None
        else:
            Eh, sv = _polar_factor(A)
            T = herm(Eh) @ A
            ratio = (float(sv[0] / sv[-1]) if sv[-1] > 0 else np.inf) if sv is not None and sv.size else None
        E.append(Eh)
        Wt.append(T)
        cond = cond * ratio if cond is not None and ratio is not None else None
    Wt.append(W[H] @ E[H - 1])
    return _Frames(tuple(E), tuple(Wt), cond)


def _frames_from_bases(W, bases) -> _Frames:
    E = tuple(bases)
    H = len(E)
    Wt = [herm(E[0]) @ W[0]]
    Wt += [herm(E[h]) @ W[h] @ E[h - 1] for h in range(1, H)]
    Wt.append(W[H] @ E[H - 1])
    return _Frames(E, tuple(Wt), None)


def balanced_bases(W) -> tuple[np.ndarray, ...]:
    """Unitary frames ``E_1..E_{N-1}`` of the hidden spaces in which the Gram operator is nearly
    entrywise (exactly so at balanced points).

    ``E_1`` diagonalises ``W_1 W_1^* + W_2^* W_2`` (eigenvalues in decreasing order; using both
    sides of the first hidden layer measured 15 instead of 19 PCG iterations near balance), then
    ``E_i = polar factor of W_i E_{i-1}`` (see :func:`_polar_factor` for unequal widths), which
    makes ``T_i = E_i^* W_i E_{i-1}`` Hermitian positive semi-definite. At a balanced point
    ``W_i = Q_i S^{1/N} Q_{i-1}^*`` this gives ``E_i = [Q_i R, Q_i^perp]`` with R unitary commuting
    with S, so every ``T_i`` is exactly diagonal, even for repeated singular values (X = I):
    unlike independent eigenbases of ``W_i W_i^*``, the propagated frames stay aligned.
    Cost: N - 1 Hermitian eigendecompositions and about 6 (N - 2) matrix products (SVDs for
    ill-conditioned or non-square layers).
    """
    W = as_weights(W)
    if len(W) == 1:
        return ()
    return _compute_frames(W).E


def _check_bases(bases, widths) -> tuple[np.ndarray, ...]:
    H = len(widths) - 2
    bases = tuple(np.asarray(b) for b in bases)
    if len(bases) != H:
        raise ValueError(f"bases has {len(bases)} entries, expected {H} (one per hidden layer)")
    out = []
    for i, b in enumerate(bases, start=1):
        if b.shape != (widths[i], widths[i]):
            raise ValueError(f"bases[{i - 1}] has shape {b.shape}, expected {(widths[i], widths[i])}")
        defect = np.linalg.norm(herm(b) @ b - np.eye(b.shape[0])) if b.size else 0.0
        if defect > 1e-6:
            raise ValueError(f"bases[{i - 1}] is not unitary (||E^* E - I|| = {defect:.2e})")
        out.append(_reorthonormalise(b) if defect > 1e-14 else b)
    return tuple(out)
