"""The Gram operator ``A_W^* A_W`` on the Lie algebra and its minimum-norm solves.

docs/math section 2:
``(A_W^* A_W xi)_i = xi_i W_i W_i^* + W_{i+1}^* W_{i+1} xi_i``
``- W_i xi_{i-1} W_i^* - W_{i+1}^* xi_{i+1} W_{i+1}``,
block-tridiagonal with Sylvester diagonal blocks, complex-linear, self-adjoint and positive
semi-definite; singular exactly where W has a non-trivial stabiliser (``ker A^*A = ker A``).
docs/math section 3 (Newton balancing): ``Herm(A_W^* A_W s) = mu`` over Hermitian s
(:meth:`GramOperator.solve_hermitian`).
"""

from __future__ import annotations

import dataclasses

import numpy as np
from scipy.sparse.linalg import LinearOperator

from ..gauge import _action, _action_adjoint, lie_algebra_shapes
from ..linalg import herm, norm, pack, unpack
from ..options import check_options
from ..subspaces import FactoredSubspace, TooLargeError, stabiliser_subspace
from ..validation import _widths, as_lie_algebra, as_weights
from .frames import FRAME_KINDS, _check_bases, _compute_frames, _Frames, _frames_from_bases
from .kernels import HermitianKernel, hermitian_kernel
from .preconditioners import (
    PRECONDITIONERS,
    PROJECTED_KINDS,
    auto_kind,
    balanced_preconditioner,
    hermitian_form,
    solve_kind,
    sylvester_preconditioner,
)
from .segments import SegmentPreconditioner
from .solution import GramSolution, herm_part, pcg_min_norm
from .stacked import apply_stacked, gram_stacks


class GramOperator(LinearOperator):
    """``A_W^* A_W`` on the packed Lie algebra (row-major ravels of ``xi_1..xi_{N-1}``).

    Applied matrix-free as ``A_W^*(A_W(xi))`` (about 4N products of d x d matrices). Use
    ``.apply(xi)`` on tuples, ``.solve(rhs)`` for the minimum-norm solution, ``.kernel()`` for
    the stabiliser algebra, ``.apply_hermitian(s)`` / ``.solve_hermitian(rhs)`` for the Hermitian
    Newton system ``Herm(A_W^* A_W s) = rhs`` over Hermitian s.

    ``bases``: unitary frames ``(E_1, ..., E_{N-1})`` for the ``"balanced"`` preconditioner, instead
    of computing :func:`balanced_bases` of W (N - 1 eigendecompositions). Any unitary frames give
    a valid (symmetric positive semi-definite) preconditioner; good ones nearly diagonalise W.
    Frames of a nearby operator (``previous_op.balanced_bases()``) save the eigendecompositions
    but measured worse overall in a Newton loop (the model is exact only in fresh frames).

    ``frame_kind``: ``"polar"`` (default, :func:`balanced_bases`) or ``"qr"``: ``E_i`` the Q factor
    of ``W_i E_{i-1}`` instead of its polar factor (:func:`_qr_frame`), the same at balanced points
    and about half the cost (N - 2 QR factorisations instead of eigendecompositions), but a less
    accurate model away from balance (N = 8, d = 128, rtol 1e-10: 133 against 104 PCG iterations
    at c = 0.75, 20 against 16 at c = 0.1). For loose solves near balance (inexact Newton steps:
    the same PCG iterations at N = 8, d = 256) it is the cheaper choice.

    ``trivial_kernel=True``: the caller knows ``ker A_W = 0`` (not checked), e.g. along a gauge
    orbit ``g.W`` of a point where it was computed (``stab(g.W) = g stab(W) g^{-1}`` has constant
    dimension), which skips :func:`stabiliser_subspace` (2N - 2 SVDs of partial products) when
    no cheap certificate is available (see :meth:`kernel`).
    """

    def __init__(self, W, *, rank_rtol: float = 1e-10, bases=None, trivial_kernel: bool = False,
                 frame_kind: str = "polar"):
        rank_rtol, trivial_kernel = check_options(rank_rtol=rank_rtol, trivial_kernel=trivial_kernel)
        W = as_weights(W)
        self.weights = W
        self.widths = _widths(W)
        self.shapes = lie_algebra_shapes(self.widths)
        self.rank_rtol = rank_rtol
        n = sum(d * d for d, _ in self.shapes)
        super().__init__(dtype=W[0].dtype, shape=(n, n))
        self._precond: dict = {}
        self._kernel: FactoredSubspace | None = None
        self._kernel_error: str | None = None
        self._herm_kernel: dict = {}
        self._frames: _Frames | None = None
        self._inner: GramOperator | None = None
        self._trivial_kernel = bool(trivial_kernel)
        self._stacked = None
        if frame_kind not in FRAME_KINDS:
            raise ValueError(f"frame_kind must be one of {FRAME_KINDS}, got {frame_kind!r}")
        self._frame_kind = frame_kind
        if bases is not None and self.shapes:
            self._frames = _frames_from_bases(W, _check_bases(bases, self.widths))

    def apply(self, xi) -> tuple[np.ndarray, ...]:
        """``A_W^*(A_W(xi))`` for a tuple ``xi``."""
        return _action_adjoint(self.weights, _action(self.weights, xi))

    def apply_hermitian(self, s) -> tuple[np.ndarray, ...]:
        """``Herm(A_W^* A_W s)`` (``Herm(M) = (M + M^*)/2``), the Newton operator on Hermitian s.

        For Hermitian s it is self-adjoint and positive semi-definite for the real inner product
        ``<A, B> = Re tr(A^* B)`` (``<s', Herm(A^*A s)> = Re <A s', A s>``), with kernel
        ``ker A_W ∩ Hermitian``; it is real-linear, not complex-linear.
        """
        return tuple(herm_part(m) for m in self.apply(s))

    def _matvec(self, v):
        v = np.ravel(v)
        if not v.size:
            return v.copy()
        stacks = self._stacks()
        if stacks is not None:
            return apply_stacked(stacks, v)
        return pack(self.apply(unpack(v, self.shapes)))

    def _stacks(self):
        """The stacks of :func:`~dln_git.core.gram.stacked.gram_stacks` (cached), None for unequal
        hidden widths."""
        if self._stacked is None:
            self._stacked = gram_stacks(self.weights) or False
        return self._stacked or None

    def _rmatvec(self, v):
        return self._matvec(v)

    def _adjoint(self):
        return self

    def frames(self) -> _Frames:
        """Frames of the ``"balanced"`` preconditioner and the weights written in them (cached)."""
        if self._frames is None:
            self._frames = _compute_frames(self.weights, certify=not self._trivial_kernel, kind=self._frame_kind)
        return self._frames

    def balanced_bases(self) -> tuple[np.ndarray, ...]:
        """The frames ``E_i`` of the ``"balanced"`` preconditioner (see :func:`balanced_bases`)."""
        return self.frames().E if self.shapes else ()

    def in_frames(self) -> GramOperator:
        """The same operator written in the frames ``E``: the Gram operator of
        ``Wt = (E_1^* W_1, E_2^* W_2 E_1, ..., W_N E_{N-1})``, ``xi -> (E_i^* xi_i E_i)`` being
        unitary. Solving there makes the ``"balanced"`` preconditioner free of matrix products
        (per PCG iteration: one Gram application, about 4N products, instead of 8N)."""
        if self._inner is None:
            F = self.frames()
            if F.identity:
                self._inner = self
            else:
                inner = GramOperator(F.Wt, rank_rtol=self.rank_rtol, trivial_kernel=self._trivial_kernel)
                eye = tuple(np.eye(d, dtype=E.dtype) for d, E in zip(self.widths[1:-1], F.E, strict=True))
                inner._frames = _Frames(eye, inner.weights, F.cond, identity=True)
                self._inner = inner
        return self._inner

    def preconditioner(self, kind: str = "auto", *, hermitian: bool = False):
        """Preconditioner ``r -> M^{-1} r`` on tuples, built once per operator and kind.

        ``"jacobi"`` and ``"block_lu"`` work in the eigenbases of the diagonal (Sylvester) blocks
        ``xi -> Q_i xi + xi P_i``, ``P_i = W_i W_i^* = U_i diag(p) U_i^*``,
        ``Q_i = W_{i+1}^* W_{i+1} = V_i diag(q) V_i^*``, where block i is the diagonal
        ``D_i[a, b] = q_a + p_b`` on the coordinates ``V_i^* xi_i U_i``.

        * ``"jacobi"``: block-Jacobi, the exact inverse of every diagonal block.
        * ``"block_lu"``: symmetric block Gauss–Seidel ``M = (S + L) S^{-1} (S + L^*)``
          for the block-tridiagonal operator (L its lower blocks ``xi_{i-1} -> -W_i xi_{i-1} W_i^*``),
          with the Schur complements ``S_i = D_i - L_i S_{i-1}^{-1} L_i^*`` approximated by their
          diagonals in those eigenbases: ``S_i = D_i - |A_i|^2 S_{i-1}^{-1} (|B_i|^2)^T``
          (entrywise squares, ``A_i = V_i^* W_i V_{i-1}``, ``B_i = U_i^* W_i U_{i-1}``), kept above
          ``D_i / 100``. About half the CG iterations of block-Jacobi for 1.4 times the cost.
          Coordinates with ``D_i = 0`` (below 1e-13 of the largest) belong to ``ker A_W`` and are
          left out (pseudo-inverse), so M is symmetric positive semi-definite with
          ``ker M ⊆ ker A_W``.
        * ``"balanced"``: the Moore–Penrose inverse of the *diagonal balanced model*. In one
          unitary frame ``E_i`` per hidden space (:meth:`balanced_bases`: ``E_1`` the eigenbasis
          of ``W_1 W_1^* + W_2^* W_2``, then ``E_i`` the polar factor of ``W_i E_{i-1}``), with
          ``eta_i = E_i^* xi_i E_i``, the model keeps the diagonal of every block of the
          operator in the bases ``E_i ⊗ E_i``::

              (M eta)_i[j,k] = (a_i[k] + b_i[j]) eta_i[j,k] - t_i[j] conj(t_i[k]) eta_{i-1}[j,k]
                               - conj(t_{i+1}[j]) t_{i+1}[k] eta_{i+1}[j,k]

          with ``a_i[k] = ||W_i^* E_i e_k||^2``, ``b_i[j] = ||W_{i+1} E_i e_j||^2`` and
          ``t_i = diag(E_i^* W_i E_{i-1})`` (zero-padded for unequal widths): ``d^2`` independent
          tridiagonal systems of size N - 1, solved by a batched Thomas algorithm in ``O(N d^2)``
          plus four ``d x d`` products per hidden layer for the changes of basis. It is symmetric
          positive semi-definite for any frames (the exact Gram operator of the diagonal network
          ``t`` plus a non-negative diagonal, because ``(T T^*)[k,k] >= |T[k,k]|^2``). At a
          balanced point ``W_i = Q_i S^{1/N} Q_{i-1}^*`` these frames make ``W_i W_i^*``,
          ``W_{i+1}^* W_{i+1}`` and ``E_i^* W_i E_{i-1}`` diagonal (eigenvalues ``lambda``), the
          model is the operator (``eta_i (lambda_j + lambda_k) - sqrt(lambda_j lambda_k)
          (eta_{i-1} + eta_{i+1})``) and ``M^{-1} = (A_W^* A_W)^+`` exactly, also for repeated or
          zero singular values and unequal widths. Near balance it is nearly exact: PCG needs a
          handful of iterations. Zero coefficients and zero pivots of singular chains are
          handled as a pseudo-inverse (see ``_BalancedModel``).

        * ``"segments"``: block-Jacobi, then exact corrections on the transport spaces of runs of
          hidden layers, which hold the near-stabilisers (:mod:`dln_git.core.gram.segments`).
        * ``"auto"`` (default): :func:`~dln_git.core.gram.preconditioners.auto_kind`.

        ``hermitian=True``: the preconditioner of ``s -> Herm(A_W^* A_W s)`` on Hermitian s,
        mapping Hermitian to Hermitian. For ``"balanced"`` it inverts the Hermitian-restricted
        model (the diagonal coefficient averaged over ``(j, k) <-> (k, j)``, exact at balanced
        points); for the others it is ``Herm(M^{-1} r)``, which is symmetric positive
        semi-definite on Hermitian tuples because ``M^{-1}`` is Hermitian.
        """
        if kind not in PRECONDITIONERS:
            raise ValueError(f"preconditioner kind must be one of {PRECONDITIONERS}, got {kind!r}")
        if kind == "auto":
            kind = auto_kind(self.widths)
        key = (kind, bool(hermitian))
        if key not in self._precond:
            if kind == "balanced":
                M = balanced_preconditioner(self.frames(), hermitian)
            elif hermitian:
                M = hermitian_form(self.preconditioner(kind))
            elif kind == "segments":
                M = SegmentPreconditioner(self.weights, self.preconditioner("jacobi"))
            else:
                M = sylvester_preconditioner(self.weights, kind)
            self._precond[key] = M
        return self._precond[key]

    def _resolve_preconditioner(self, preconditioner, hermitian: bool):
        if callable(preconditioner):
            return preconditioner
        return self.preconditioner(preconditioner, hermitian=hermitian)

    def kernel(self) -> FactoredSubspace | None:
        """``ker A_W`` (the stabiliser algebra), or None if too large to compute densely.

        Fast path: when the frames are already computed and certify that every partial product
        ``W_i..W_1`` has full row rank (hidden widths non-increasing, ``prod_{i<N} cond(W_i)``
        below ``1e-2 / rank_rtol``), the kernel is ``{0}`` (``xi_i W_i..W_1 = 0`` forces
        ``xi_i = 0``) and :func:`stabiliser_subspace` (2N - 2 SVDs of partial products) is skipped.
        """
        if self._kernel is None and self._kernel_error is None:
            F = self._frames
            if self._trivial_kernel or (F is not None and F.cond is not None and F.cond <= 1e-2 / self.rank_rtol):
                dt = self.weights[0].dtype
                empty = tuple(np.zeros((d, 0), dtype=dt) for d in self.widths[1:-1])
                self._kernel = FactoredSubspace(empty, empty, np.zeros((0, 0), dtype=dt))
                return self._kernel
            try:
                self._kernel = stabiliser_subspace(self.weights, self.rank_rtol)
            except TooLargeError as exc:
                self._kernel_error = str(exc)
        return self._kernel

    def _solve_in_frames(self, method: str, rhs, x0, **kw) -> GramSolution:
        """Solve in the frames E (see :meth:`in_frames`) and map the solution back."""
        rhs = as_lie_algebra(rhs, self.widths, "rhs")
        inner = self.in_frames()
        E = self.frames().E

        def to(mats):
            return tuple(herm(e) @ m @ e for e, m in zip(E, mats, strict=True))

        if x0 is not None:
            x0 = to(as_lie_algebra(x0, self.widths, "x0"))
        sol = getattr(inner, method)(to(rhs), x0=x0, preconditioner="balanced", **kw)
        xi = tuple(e @ x @ herm(e) for e, x in zip(E, sol.xi, strict=True))
        if method == "solve_hermitian":
            xi = tuple(herm_part(x) for x in xi)
        return dataclasses.replace(sol, xi=xi)

    def hermitian_kernel(self, complex_: bool | None = None) -> HermitianKernel | None:
        """``ker A_W ∩ {Hermitian tuples}`` (real-linear; see :func:`hermitian_kernel`), or None
        if ``ker A_W`` or its Hermitian part is too large to compute densely.

        ``complex_``: complex Hermitian (default when W is complex) or real symmetric tuples. For
        real W and complex Hermitian tuples the kernel also contains ``i`` times the real
        antisymmetric elements of ``ker A_W``.
        """
        complex_ = np.iscomplexobj(self.weights[0]) if complex_ is None else bool(complex_)
        if complex_ not in self._herm_kernel:
            K = self.kernel()
            if K is None:
                self._herm_kernel[complex_] = (None, f"ker A_W not computed: {self._kernel_error}")
            else:
                try:
                    self._herm_kernel[complex_] = (hermitian_kernel(K, complex_, self.rank_rtol), None)
                except TooLargeError as exc:
                    self._herm_kernel[complex_] = (None, f"Hermitian part of ker A_W not computed: {exc}")
        return self._herm_kernel[complex_][0]

    @property
    def action_norm_bound(self) -> float:
        """Upper bound ``2 max_i ||W_i||_F`` of the operator norm of ``A_W`` (so ``||A^*A|| <= bound^2``)."""
        return 2.0 * max(float(np.linalg.norm(w)) for w in self.weights)

    def solve(
        self, rhs, rtol: float = 1e-10, maxiter: int | None = None, *, atol: float = 0.0,
        preconditioner="auto", x0=None, energy_rtol: float = 0.0,
    ) -> GramSolution:
        """Minimum-norm solution of ``A_W^* A_W xi = rhs`` (see :func:`solve_gram`).

        ``preconditioner``: a kind of :meth:`preconditioner` or a callable on tuples (symmetric
        positive semi-definite, e.g. one built on a nearby operator). ``x0``: warm start (a tuple
        like rhs, e.g. the solution at the previous iterate); the result is the same
        minimum-norm solution, in fewer iterations when x0 is close. ``energy_rtol``: past the
        residual threshold, go on until the velocity ``A_W(xi)`` is accurate to about that
        relative error (:func:`dln_git.core.krylov.pcg`).

        Default ``"auto"``: see :func:`~dln_git.core.gram.preconditioners.auto_kind` for the rule
        and its measurements. ``"segments"`` on a singular operator whose kernel is not computed
        falls back to ``"block_lu"`` (said in the message). ``"balanced"`` is not the default: its
        entrywise model misses the near-stabilisers that make ``A^*A`` ill-conditioned far from
        balance (Gaussian weights, d = 256: no convergence in 2000 iterations); near balance it wins
        on time (PCG runs in its frames, the preconditioner costs no matrix product).
        """
        rtol, atol, maxiter, energy_rtol = check_options(rtol=rtol, atol=atol, maxiter=maxiter,
                                                         energy_rtol=energy_rtol)
        if not self.shapes:
            as_lie_algebra(rhs, self.widths, "rhs")
            return GramSolution((), True, 0, 0.0, 0, False, True, 0.0, "depth 1: empty Lie algebra")
        if isinstance(preconditioner, str) and preconditioner == "balanced" and not self.frames().identity:
            return self._solve_in_frames("solve", rhs, x0, rtol=rtol, maxiter=maxiter, atol=atol,
                                         energy_rtol=energy_rtol)
        rhs = as_lie_algebra(rhs, self.widths, "rhs")
        dtype = np.result_type(self.dtype, *rhs)
        rhs = tuple(r.astype(dtype, copy=False) for r in rhs)
        K = self.kernel()
        kind, note = solve_kind(preconditioner, self.widths, K)
        missing = ("" if K is not None else f"kernel not computed ({self._kernel_error})") + note
        return pcg_min_norm(
            self.shapes,
            self._matvec, rhs, K, self._resolve_preconditioner(kind, hermitian=False),
            project_preconditioner=kind in PROJECTED_KINDS, rtol=rtol, atol=atol, maxiter=maxiter,
            x0=None if x0 is None else as_lie_algebra(x0, self.widths, "x0"), finish=np.array,
            kernel_name="stabiliser of dimension", missing_kernel=missing, energy_rtol=energy_rtol,
        )

    def solve_hermitian(
        self, rhs, rtol: float = 1e-10, *, atol: float = 0.0, maxiter: int | None = None, x0=None,
        preconditioner="balanced", verify: bool = True,
    ) -> GramSolution:
        """Minimum-norm Hermitian solution of the Newton system ``Herm(A_W^* A_W s) = rhs``.

        docs/math section 3: along ``exp(t s).W`` (s Hermitian), ``d mu = 2 Herm(A_W^* A_W s)``, so
        the geodesic Newton step ``W <- exp(-s/2).W`` solves this system with ``rhs = mu(W)``.
        The operator is real-linear, symmetric positive semi-definite on Hermitian tuples for
        ``<A, B> = Re tr(A^* B)``, with kernel ``ker A_W ∩ Hermitian`` (``ker A_W`` itself is not
        closed under ``^*``); it is solved by PCG over Hermitian tuples (real symmetric ones
        for real W and rhs) with the Hermitian form of ``preconditioner`` (default
        ``"balanced"``, exact at balanced points, see :meth:`preconditioner`; N = 8, d = 256:
        105 iterations against 456 for ``Herm(block_lu)`` on g.W_bal with c = 0.75, 16 against 15
        near balance at half the cost per iteration, 75 against more than 2000 on Gaussian
        weights). With ``"balanced"`` the iteration runs in the frames of the model (the operator
        of ``E^*.W``, see :meth:`in_frames`): one Gram application (about 4N matrix products)
        per iteration, plus N - 1 eigendecompositions to build the frames.

        Near balance the model is exact to first order, so ``s = M^+ mu`` with
        ``M = self.preconditioner("balanced", hermitian=True)`` (no Gram application at all) is
        itself a superlinearly convergent Newton step (measured: ||mu||/R 5e-3, 9e-4, 7e-5, 7e-7,
        1.5e-10 at d = 256).

        Minimum norm: the Hermitian kernel is computed densely from the factored ``ker A_W``
        (:meth:`hermitian_kernel`) when that is small enough, projected out of rhs and of the
        result; otherwise the message says it was not computed and ``min_norm`` is False.

        Parameters
        ----------
        rhs : tuple of Hermitian ndarray
            Raises ValueError if its skew-Hermitian part exceeds ``1e-8 ||rhs||`` (and
            ``1e-12 max_i ||W_i||_F^2``, the rounding level of a moment map); smaller skew parts
            are dropped.
        rtol, atol : float
            Stop when ``||Herm(A^*A s) - rhs|| <= max(rtol ||rhs||, atol)`` (range part of rhs).
        x0 : tuple of ndarray, optional
            Warm start (its Hermitian part is used).
        preconditioner : str or callable
            A kind of :meth:`preconditioner` (used with ``hermitian=True``) or a callable mapping
            Hermitian tuples to Hermitian tuples, symmetric positive semi-definite.
        verify : bool
            False: trust PCG's recursively updated residual (saves one Gram application; see
            :func:`dln_git.core.krylov.pcg`), for callers that check their own progress.

        Returns
        -------
        GramSolution
            ``xi`` is the Hermitian solution s; ``kernel_dim`` is the *real* dimension of
            ``ker A_W ∩ Hermitian`` (None if not computed) and ``singular`` says whether it is
            positive; ``rhs_outside_range`` is the relative part of rhs in that kernel.
        """
        rtol, atol, maxiter, verify = check_options(rtol=rtol, atol=atol, maxiter=maxiter, verify=verify)
        if not self.shapes:
            as_lie_algebra(rhs, self.widths, "rhs")
            return GramSolution((), True, 0, 0.0, 0, False, True, 0.0, "depth 1: empty Lie algebra")
        if isinstance(preconditioner, str) and preconditioner == "balanced" and not self.frames().identity:
            return self._solve_in_frames("solve_hermitian", rhs, x0, rtol=rtol, maxiter=maxiter, atol=atol,
                                         verify=verify)
        rhs = as_lie_algebra(rhs, self.widths, "rhs")
        dtype = np.result_type(self.dtype, *rhs)
        rhs = tuple(r.astype(dtype, copy=False) for r in rhs)
        rnorm = norm(rhs)
        skew = norm([0.5 * (r - herm(r)) for r in rhs])
        scale = max(float(np.linalg.norm(w)) ** 2 for w in self.weights)
        if skew > max(1e-8 * rnorm, 1e-12 * scale):
            raise ValueError(
                f"rhs must be Hermitian: its skew-Hermitian part has norm {skew:.3e} "
                f"(relative {skew / rnorm:.3e}); Herm(A^*A s) is always Hermitian"
            )
        rhs = tuple(herm_part(r) for r in rhs)
        rnorm = norm(rhs)
        complex_ = np.iscomplexobj(np.empty(0, dtype=dtype))
        HK = self.hermitian_kernel(complex_)
        kind, note = solve_kind(preconditioner, self.widths, HK)
        shapes = self.shapes
        return pcg_min_norm(
            self.shapes,
            lambda v: pack(self.apply_hermitian(unpack(v, shapes))), rhs, HK,
            self._resolve_preconditioner(kind, hermitian=True),
            project_preconditioner=kind in PROJECTED_KINDS, rtol=rtol, atol=atol, maxiter=maxiter,
            x0=None if x0 is None else [herm_part(x) for x in as_lie_algebra(x0, self.widths, "x0")],
            finish=herm_part, verify=verify,
            kernel_name="Hermitian kernel of real dimension",
            missing_kernel=("" if HK is not None else str(self._herm_kernel[complex_][1])) + note,
        )

