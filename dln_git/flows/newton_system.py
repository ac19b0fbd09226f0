"""The Hermitian Newton system of geodesic Newton balancing (MATH.md sections 2-3) in O(N d^3) per PCG step.

The Newton direction of :func:`dln_git.flows.newton.newton_balance` is the minimum-norm Hermitian
solution s of ``Herm(A_W^* A_W s) = mu(W)``, solved inexactly by PCG with the ``"balanced"`` model
in QR frames (:class:`dln_git.core.gram.GramOperator`, ``frame_kind="qr"``). Two things made its
cost grow faster than the depth N:

* the minimum-norm solve needs ``ker A_W ∩ Hermitian``; without a cheap certificate the core
  computes ``ker A_W`` densely from the numerical ranks of the partial products ``W_i..W_1``,
  whose condition numbers grow exponentially with depth (Gaussian layers, d = 32: cond ``1e35``
  at N = 32), so the candidate space and its Kronecker constraint system grow with N
  (1 ms at N = 16, 60 ms at N = 32) although the kernel is ``{0}``.
  :func:`stabiliser_is_trivial` certifies ``ker A_W = 0`` from the layers one at a time;
* every Gram application and change of frame went layer by layer through Python (about 4N
  small products, each with its own call overhead). With equal hidden widths and a certified
  trivial kernel, :func:`newton_direction` runs the same PCG (same frames, same preconditioner,
  same operator, same stopping rule: the same iterates up to rounding) on stacks of layers:
  one Gram application is four batched products of shape ``(N - 2, d, d)``.

Other widths, and singular chains of the model, take the core's general path unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..core.gram import GramOperator, _BalancedModel, _compute_frames
from ..core.krylov import pcg
from ..core.linalg import herm

__all__ = ["FULL_RANK_MAX_COND", "NewtonDirection", "StackedGram", "newton_direction", "stabiliser_is_trivial"]

#: Whether :func:`newton_direction` may use the stacked solve (tests switch it off to compare with
#: the general path).
STACKED = True
#: Largest condition number of a layer for :func:`stabiliser_is_trivial` to count it as of full rank.
FULL_RANK_MAX_COND = 1e5


def stabiliser_is_trivial(W, max_cond: float = FULL_RANK_MAX_COND) -> bool:
    """A certificate of ``ker A_W = {0}`` from the layers alone (True: certified; False: unknown).

    ``A_W(xi) = 0`` reads ``xi_i W_i = W_i xi_{i-1}`` for i = 1..N with ``xi_0 = xi_N = 0``. If
    ``W_1..W_m`` have full row rank, ``xi_1 W_1 = 0`` forces ``xi_1 = 0`` and by induction
    ``xi_1 = .. = xi_m = 0``; if ``W_{m+2}..W_N`` have full column rank, ``W_N xi_{N-1} = 0``
    forces ``xi_{N-1} = 0`` and backwards ``xi_{m+1} = .. = xi_{N-1} = 0``. So ``ker A_W = 0``
    as soon as such an m exists (m = 0..N-1); for square layers, when all layers but at most one
    are invertible.

    A layer counts as of full rank when its condition number is at most ``max_cond``, far from
    the rank threshold ``1e-10`` of :func:`dln_git.core.stabiliser_subspace` (nearly singular
    layers are left to that dense computation). Each layer is judged alone, not the partial
    products, whose conditioning grows exponentially with depth. Cost: at most N singular-value
    computations of single layers. The kernel dimension is constant along a gauge orbit
    (``ker A_{g.W} = g ker A_W g^{-1}``), so one certificate holds along a Newton iteration.
    """
    N = len(W)
    if N == 1:
        return True

    def full(w: np.ndarray, rows: bool) -> bool:
        m, n = w.shape
        if m == 0 or n == 0 or ((m > n) if rows else (m < n)):
            return m == 0 if rows else n == 0  # a zero-dimensional side is trivially of full rank
        s = np.linalg.svd(w, compute_uv=False)
        return bool(s[-1] > 0 and s[0] <= max_cond * s[-1])

    prefix = 0  # W_1..W_prefix have full row rank
    while prefix < N - 1 and full(W[prefix], rows=True):
        prefix += 1
    # m = prefix is the best choice: W_{m+2}..W_N (indices prefix + 1 .. N - 1) of full column rank
    return all(full(W[j], rows=False) for j in range(prefix + 1, N))


class StackedGram:
    """``eta -> Herm(A_W^* A_W eta)`` on stacks ``eta`` of shape ``(N - 1, d, d)`` (equal hidden widths d).

    With ``V = A_W(eta)``, ``V_i = eta_i W_i - W_i eta_{i-1}`` (``eta_0 = eta_N = 0``) and
    ``(A_W^* V)_i = V_i W_i^* - W_{i+1}^* V_{i+1}`` (MATH.md section 1): the interior layers
    ``W_2..W_{N-1}`` (stacked) cost two batched products each way, the end layers contribute
    ``eta_1 W_1 W_1^*`` and ``W_N^* W_N eta_{N-1}`` (their Gram matrices are formed once).
    Hermitian ``eta`` give Hermitian results, exactly so in floating point.
    """

    def __init__(self, W):
        self.head = W[0] @ herm(W[0])
        self.tail = herm(W[-1]) @ W[-1]
        d = self.head.shape[0]
        dtype = np.result_type(*W)
        self.inner = np.stack(W[1:-1]) if len(W) > 2 else np.zeros((0, d, d), dtype=dtype)
        self.inner_h = np.ascontiguousarray(herm_stack(self.inner))
        self._work: dict = {}

    def _buffers(self, shape, dtype):
        key = (shape, np.dtype(dtype))
        if key not in self._work:  # reused: fresh temporaries of this size cost more than the products
            inner = (max(shape[0] - 1, 0), *shape[1:])
            self._work[key] = (np.empty(shape, dtype), np.empty(inner, dtype), np.empty(inner, dtype))
        return self._work[key]

    def __call__(self, eta: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        """The operator on the stack ``eta``, written into ``out`` if given (else a new array)."""
        dtype = np.result_type(eta, self.inner)
        G, V, T = self._buffers(eta.shape, dtype)
        if self.inner.shape[0]:
            np.matmul(eta[1:], self.inner, out=V)
            np.matmul(self.inner, eta[:-1], out=T)
            V -= T
            np.matmul(V, self.inner_h, out=G[1:])
        np.matmul(eta[0], self.head, out=G[0])
        if self.inner.shape[0]:
            np.matmul(self.inner_h, V, out=T)
            G[:-1] -= T
        G[-1] += self.tail @ eta[-1]
        out = np.empty(eta.shape, dtype) if out is None else out
        np.add(G, herm_stack(G), out=out)
        out *= 0.5
        return out


def herm_stack(A: np.ndarray) -> np.ndarray:
    """Conjugate transpose of every matrix of a stack (a view for real arrays)."""
    At = np.swapaxes(A, -1, -2)
    return At.conj() if np.iscomplexobj(A) else At


@dataclass(frozen=True)
class NewtonDirection:
    """A Newton direction s (Hermitian tuple), PCG iterations, whether the solve reached its
    tolerance, its message, and whether ``ker A_W = 0`` is now known."""

    s: tuple
    iterations: int
    converged: bool
    message: str
    trivial_kernel: bool


def newton_direction(W, mu, rtol: float, *, trivial_kernel: bool) -> NewtonDirection:
    """Inexact minimum-norm Hermitian solution of ``Herm(A_W^* A_W s) = mu``, relative residual ``rtol``.

    PCG in the QR frames of W with the Hermitian ``"balanced"`` model as preconditioner and no
    final true-residual check (the Newton iteration measures ``||mu||`` itself), as
    ``GramOperator(W, frame_kind="qr").solve_hermitian(mu, rtol, verify=False)``. With
    ``trivial_kernel`` (``ker A_W = 0`` known), equal hidden widths and a model without singular
    chains it runs on stacks (:class:`StackedGram`); otherwise through the core.
    """
    H = len(W) - 1
    widths = {w.shape[0] for w in W[:-1]}
    if STACKED and trivial_kernel and H >= 1 and len(widths) == 1:
        F = _compute_frames(W, certify=False, kind="qr")
        model = _BalancedModel(F.Wt, hermitian=True)
        if model.packable:
            return _stacked_solve(F, model, mu, rtol)
    gram = GramOperator(W, trivial_kernel=trivial_kernel, frame_kind="qr")
    sol = gram.solve_hermitian(mu, rtol=rtol, verify=False)
    if not trivial_kernel:
        K = gram.in_frames().kernel()  # ker of the frames' gauge of W: the same dimension
        trivial_kernel = K is not None and K.dim == 0
    return NewtonDirection(sol.xi, sol.iterations, bool(sol.converged), sol.message, trivial_kernel)


def _stacked_solve(F, model: _BalancedModel, mu, rtol: float) -> NewtonDirection:
    E = np.stack(F.E)
    Eh = herm_stack(E)
    rhs = Eh @ np.stack(mu) @ E
    rhs = 0.5 * (rhs + herm_stack(rhs))
    gram = StackedGram(F.Wt)
    shape = rhs.shape

    result = np.empty(shape, dtype=np.result_type(rhs, gram.inner))

    def matvec(v):  # PCG is done with the previous product when it asks for the next one
        return gram(v.reshape(shape), out=result).reshape(-1)

    def precondition(v):
        return model.solve_packed(v, hermitian=True)

    b = rhs.reshape(-1)
    res = pcg(matvec, b, precondition, rtol=0.0, atol=rtol * float(np.linalg.norm(b)), verify=False)
    eta = res.x.reshape(shape)
    s = E @ eta @ Eh
    s = 0.5 * (s + herm_stack(s))
    finite = bool(np.all(np.isfinite(s)))
    message = (f"PCG {'converged' if res.converged else 'did not converge'} in {res.iterations} iterations "
               f"(relative residual {res.residual:.1e}, requested {rtol:.1e})")
    if not finite:
        message = "non-finite solution; " + message
    return NewtonDirection(tuple(s), res.iterations, bool(res.converged) and finite, message, True)
