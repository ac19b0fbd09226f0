"""The ``"segments"`` preconditioner of the Gram operator: subspace corrections on transport spaces.

docs/math section 2. Far from balance the Gram operator ``A_W^* A_W`` is ill-conditioned
because of *near-stabilisers*: tuples with ``xi_i W_i ~ W_i xi_{i-1}`` on a run of layers. They
are not local to one hidden layer, so block-diagonal or Gauss–Seidel preconditioners miss them
(Gaussian weights, N = 8, d = 256: about 2000 PCG iterations). For a *segment* of hidden layers
``j..k`` the transport space is

``Z_jk = { xi : xi_i = T_i X S_i for j <= i <= k, 0 elsewhere }``,  ``X`` a ``d_j x d_k`` matrix,

with ``T_i = W_i ... W_{j+1}`` (``T_j = I``) and ``S_i = W_k ... W_{i+1}`` (``S_k = I``), hidden
layer i being the output of ``W_i``. Inside the segment ``T_i X S_i W_i = W_i T_{i-1} X S_{i-1}``,
so ``A_W`` of such a tuple lives on the two boundary layers only:
``(A_W xi)_j = X B_1`` and ``(A_W xi)_{k+1} = -B_2 X`` with ``B_1 = W_k ... W_j`` and
``B_2 = W_{k+1} ... W_{j+1}`` [derived]. The Gram operator restricted to ``Z_jk`` is therefore
the Sylvester operator ``X -> B_2^* B_2 X + X B_1 B_1^*``, inverted exactly in the singular
bases of ``B_1`` and ``B_2``: with ``B_2^* B_2 = E diag(kappa) E^*`` and
``B_1 B_1^* = F diag(lambda) F^*``,

``(Z^* A^*A Z)^+ R = E [(E^* R F) / (kappa_a + lambda_b)] F^*``

(zero on the coordinates whose Rayleigh quotient ``||A Z X||^2 / ||Z X||^2`` is below
``1e-12 max_i ||W_i||_F^2``, which span ``ker A_W ∩ Z_jk`` up to rounding, and on those whose
denominator is below ``1e-14`` of the largest, which Z maps to rounding noise). No inverse of
a layer or of a product is formed, so any widths and ranks are allowed. A one-layer segment
``j = k`` is the exact inverse of the diagonal Sylvester block.

The preconditioner is the symmetric multiplicative Schwarz method over the segments, starting
from block-Jacobi: with ``Q_s = Z_s (Z_s^* C Z_s)^+ Z_s^*`` (``C = A_W^* A_W``) and
``M_0`` block-Jacobi, ``M_s = (I - Q_s C) M_{s-1} (I - C Q_s) + Q_s``. Each ``M_s`` is symmetric
positive semi-definite, and exact on ``Z_s``. ``C Z_s X`` and ``Z_s^* C r`` touch only hidden
layers ``j-1, j, k, k+1`` (through the two boundary layers), so a segment of length L costs about
``4 (L + 1) + 16`` matrix products per application.

Measured (Gaussian weights ``G_i / sqrt(d)``, N = 8, rtol 1e-10, one BLAS thread,
``benchmarks/bench_gram_precond.py --scaling --kinds segments block_lu``): 21, 27, 42 PCG
iterations at d = 32, 64, 128 where ``"block_lu"`` takes 410, 822 and about 2000 at d = 256.
Deeper networks use segments of at most :data:`MAX_SEGMENT` hidden layers, which keeps the
memory at ``O(N MAX_SEGMENT^2 d^2)`` (the factors ``T_i E`` and ``S_i^* F`` of every segment).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..linalg import herm

#: Longest segment (in hidden layers) of the default family: every segment when ``N <= 8``.
MAX_SEGMENT = 7
#: Longest segment for warm-started solves (the L2 flow's, :class:`dln_git.flows.fields.L2Generator`),
#: which need few iterations, so that a cheaper application wins. Measured on whole
#: ``balance(method="l2")`` runs, Gaussian weights, one BLAS thread: (48,)*9, 24.4-26.5 s against
#: 29.1-30.6 s with :data:`MAX_SEGMENT` (8596 against 5492 PCG iterations in 649 solves); (64,)*9,
#: 35.3-36.5 s against 45.3-48.0 s. Cold solves prefer the longer segments (N = 8, d = 128: 90
#: against 42 iterations, 2.7 s against 2.3 s).
WARM_SEGMENT = 3
#: A coordinate of a transport space whose Rayleigh quotient ``||A Z X||^2 / ||Z X||^2`` is below this
#: fraction of ``max_i ||W_i||_F^2`` (a bound on ``||A^*A|| / 4``) is treated as part of ``ker A_W``.
ZERO_RTOL = 1e-12
#: ... and any coordinate below this fraction of the segment's largest ``kappa_a + lambda_b``.
TOP_RTOL = 1e-14


@dataclass(frozen=True)
class _Segment:
    """Transport space of hidden layers ``j..k`` (0-based): factors ``L_i = T_i E``,
    ``R_i = S_i^* F`` so that ``xi_i = L_i V R_i^*`` for coefficients V, the boundary products
    and the coefficient-wise pseudo-inverse of the restricted Gram operator."""

    j: int
    k: int
    left: tuple | np.ndarray  # a (n, d_j, d_j) stack where the widths are equal
    right: tuple | np.ndarray
    inv: np.ndarray
    B1: np.ndarray
    B2: np.ndarray
    E: np.ndarray
    F: np.ndarray


def _segment(W, j: int, k: int, scale: float) -> _Segment:
    T = [np.eye(W[j].shape[0], dtype=W[j].dtype)]
    for i in range(j + 1, k + 1):
        T.append(W[i] @ T[-1])
    S = [np.eye(W[k].shape[0], dtype=W[k].dtype)]
    for i in range(k, j, -1):
        S.append(S[-1] @ W[i])
    S.reverse()
    B1 = T[-1] @ W[j]
    B2 = W[k + 1] @ T[-1]
    F, s1, _ = np.linalg.svd(B1)
    _, s2, Vh = np.linalg.svd(B2)
    E = herm(Vh)
    lam = np.zeros(F.shape[0])
    lam[: s1.size] = s1 * s1
    kap = np.zeros(E.shape[0])
    kap[: s2.size] = s2 * s2
    den = kap[:, None] + lam[None, :]
    left, right = [t @ E for t in T], [herm(s) @ F for s in S]
    # ||Z (E e_a)(F e_b)^*||^2 = sum_i |L_i e_a|^2 |R_i e_b|^2: the size of each coordinate's tuple
    size = sum(np.sum(np.abs(L) ** 2, axis=0)[:, None] * np.sum(np.abs(R) ** 2, axis=0)[None, :]
               for L, R in zip(left, right, strict=True))
    top = float(den.max()) if den.size else 0.0
    # kernel coordinates (small Rayleigh quotient) and coordinates Z maps to ~0 (both tiny)
    keep = (den > ZERO_RTOL * scale * size) & (den > TOP_RTOL * top)
    inv = np.zeros_like(den)
    inv[keep] = 1.0 / den[keep]
    if len({m.shape for m in left + right}) == 1:  # equal widths: one stack each, no tuple copy
        left, right = np.stack(left), np.stack(right)
    return _Segment(j, k, tuple(left) if isinstance(left, list) else left,
                    tuple(right) if isinstance(right, list) else right, inv, B1, B2, E, F)


def _finite_segment(W, j: int, k: int, scale: float) -> _Segment | None:
    """:func:`_segment`, or None when its products leave the float64 range (layers of very
    different scales): the sweep then skips that space and stays symmetric positive semi-definite."""
    try:
        with np.errstate(over="ignore", invalid="ignore", under="ignore"):
            s = _segment(W, j, k, scale)
    except np.linalg.LinAlgError:
        return None
    parts = (*s.left, *s.right, s.inv, s.B1, s.B2)
    return s if all(np.all(np.isfinite(p)) for p in parts) else None


def default_segments(hidden: int, max_length: int = MAX_SEGMENT) -> list[tuple[int, int]]:
    """Segments ``(j, k)`` in sweep order: those of 2 to ``max_length`` hidden layers, shortest
    first, then the single layers ``(j, j)`` (exact Sylvester blocks).

    The sweep of :class:`SegmentPreconditioner` visits the list from its end, so the single layers
    act first and last, around the longer transports (Gaussian weights, N = 8: 21, 27, 42 PCG
    iterations at d = 32, 64, 128, against 33, 41, 67 without the single layers in the sweep).
    """
    pairs = [(j, k) for j in range(hidden) for k in range(j + 1, min(hidden, j + max_length))]
    return sorted(pairs, key=lambda p: (p[1] - p[0], p[0])) + [(j, j) for j in range(hidden)]


def _adjoints(stack: np.ndarray) -> np.ndarray:
    """The conjugate transposes of a stack (a view for real stacks)."""
    view = np.swapaxes(stack, 1, 2)
    return np.conj(view) if np.iscomplexobj(stack) else view


class SegmentPreconditioner:
    """``r -> M r`` for the Gram operator of W (module docstring): block-Jacobi followed by
    symmetric multiplicative corrections on the transport spaces of ``segments``.

    ``jacobi``: the block-Jacobi map on tuples (``GramOperator.preconditioner("jacobi")``); when
    it also has ``on_packed`` (equal hidden widths), :meth:`on_packed` runs on the ``(H, d, d)``
    view with the segment factors stacked (a few batched products per segment).
    """

    def __init__(self, W, jacobi, segments=None):
        self.W = tuple(W)
        H = len(self.W) - 1
        pairs = default_segments(H) if segments is None else list(segments)
        scale = max((float(np.linalg.norm(w)) ** 2 for w in self.W), default=0.0)
        self.segments = tuple(s for s in (_finite_segment(self.W, j, k, scale) for j, k in pairs) if s is not None)
        self.jacobi = jacobi
        self.hidden = H
        if getattr(jacobi, "on_packed", None) is not None and H:
            self.d = self.W[0].shape[0]
            self._stacks = tuple((s.left, _adjoints(s.left), s.right, _adjoints(s.right))
                                 for s in self.segments)
            self.on_packed = self._on_packed

    # -- one segment ------------------------------------------------------------------------
    def _coefficients(self, s: _Segment, r, stack=None) -> np.ndarray:
        """``(Z^* C Z)^+ Z^* r`` in the coordinates ``V`` of ``X = E V F^*``."""
        if stack is not None:
            _, Lh, R, _ = stack
            return (Lh @ r[s.j:s.k + 1] @ R).sum(axis=0) * s.inv
        acc = sum(herm(L) @ r[i] @ R for i, L, R in zip(range(s.j, s.k + 1), s.left, s.right, strict=True))
        return acc * s.inv

    def _lift(self, s: _Segment, V, r, sign: float, stack=None):
        """``r + sign Z V`` (in place on the list or stack r, which is returned)."""
        if stack is not None:
            L, _, _, Rh = stack
            r[s.j:s.k + 1] += sign * (L @ V @ Rh)
            return r
        for i, L, R in zip(range(s.j, s.k + 1), s.left, s.right, strict=True):
            r[i] = r[i] + sign * (L @ V @ herm(R))
        return r

    def _gram_of_lift(self, s: _Segment, V, r, sign: float):
        """``r + sign C Z V`` in place: ``A Z V`` is ``X B_1`` on layer j and ``-B_2 X`` on layer k + 1."""
        X = s.E @ V @ herm(s.F)
        a, b = X @ s.B1, s.B2 @ X
        W, j, k = self.W, s.j, s.k
        r[j] = r[j] + sign * (a @ herm(W[j]))
        if j >= 1:
            r[j - 1] = r[j - 1] - sign * (herm(W[j]) @ a)
        r[k] = r[k] + sign * (herm(W[k + 1]) @ b)
        if k + 1 < len(r):
            r[k + 1] = r[k + 1] - sign * (b @ herm(W[k + 1]))
        return r

    def _coefficients_of_gram(self, s: _Segment, x) -> np.ndarray:
        """``(Z^* C Z)^+ Z^* C x`` from the two boundary layers of ``A x``."""
        W, j, k = self.W, s.j, s.k
        Aj = x[j] @ W[j] - (W[j] @ x[j - 1] if j >= 1 else 0)
        Ak = (x[k + 1] @ W[k + 1] if k + 1 < len(x) else 0) - W[k + 1] @ x[k]
        R = Aj @ herm(s.B1) - herm(s.B2) @ Ak
        return (herm(s.E) @ R @ s.F) * s.inv

    # -- the preconditioner -----------------------------------------------------------------
    def _sweep(self, r, base, stacks):
        """``M_S r`` unrolled: ``M_s r = (I - Q_s C) M_{s-1}((I - C Q_s) r) + Q_s r`` for s = S..1."""
        coeffs = []
        for n in range(len(self.segments) - 1, -1, -1):
            s = self.segments[n]
            V = self._coefficients(s, r, stacks and stacks[n])
            coeffs.append(V)
            r = self._gram_of_lift(s, V, r, -1.0)
        x = base(r)
        for n, V in enumerate(reversed(coeffs)):
            s = self.segments[n]
            x = self._lift(s, V - self._coefficients_of_gram(s, x), x, 1.0, stacks and stacks[n])
        return x

    def __call__(self, r):
        out = self._sweep([np.array(x) for x in r], lambda y: list(self.jacobi(tuple(y))), None)
        return tuple(out)

    def _on_packed(self, v: np.ndarray) -> np.ndarray:
        H, d = self.hidden, self.d
        r = np.array(v).reshape(H, d, d)
        out = self._sweep(r, lambda y: self.jacobi.on_packed(y.reshape(-1)).reshape(H, d, d), self._stacks)
        return out.reshape(-1)
