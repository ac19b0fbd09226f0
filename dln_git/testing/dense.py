"""Dense Kronecker-product reference for small deep linear networks.

Everything here forms explicit matrices, so it is only meant for small widths: it is the
independent reference against which the matrix-free code in ``dln_git.core`` is tested. It
deliberately imports nothing from ``dln_git.core``.

Conventions
-----------
Weights ``W = (W_1, ..., W_N)``, ``W_i`` of shape ``(d_i, d_{i-1})``, real or complex; widths
``d = (d_0, ..., d_N)``. Lie algebra elements ``xi = (xi_1, ..., xi_{N-1})``, ``xi_i`` of shape
``(d_i, d_i)`` (hidden layers only, ``xi_0 = xi_N = 0``). A tuple of matrices is vectorised by
concatenating ``np.ravel(M)`` (row-major) of each matrix, so that
``vec(A M B) = kron(A, B.T) @ vec(M)``. ``^*`` / ``^H`` is the conjugate transpose and the inner
product is ``<A, B> = Re tr(A^* B)``; all maps are complex-linear, so the complex orthogonal
projectors below are also the real orthogonal projectors for that inner product.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = [
    "dense_end_to_end_jacobian",
    "dense_end_to_end_metric",
    "dense_fiber_dimension",
    "dense_gram",
    "dense_infinitesimal_action",
    "dense_moment_map",
    "dense_orbit_dimension",
    "dense_projection_horizontal",
    "dense_projection_orbit",
    "dense_projection_vertical",
    "dense_stabiliser_dimension",
    "flatten",
    "lie_shapes",
    "numerical_rank",
    "orthonormal_range_basis",
    "unflatten",
    "weight_shapes",
]


# ---------------------------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------------------------


def _check_weights(W: Sequence[np.ndarray]) -> tuple[tuple[np.ndarray, ...], tuple[int, ...]]:
    """Validate weights and return them as arrays together with the widths ``(d_0, ..., d_N)``."""
    if isinstance(W, np.ndarray) or len(W) == 0:
        raise ValueError("W must be a non-empty sequence of 2-D arrays (W_1, ..., W_N)")
    W = tuple(np.asarray(Wi) for Wi in W)
    for i, Wi in enumerate(W, start=1):
        if Wi.ndim != 2:
            raise ValueError(f"W_{i} must be a 2-D array, got shape {Wi.shape}")
    for i in range(1, len(W)):
        if W[i].shape[1] != W[i - 1].shape[0]:
            raise ValueError(
                f"shape mismatch: W_{i + 1} has shape {W[i].shape} but W_{i} has shape "
                f"{W[i - 1].shape} (need W_{i + 1}.shape[1] == W_{i}.shape[0])"
            )
    widths = (W[0].shape[1], *(Wi.shape[0] for Wi in W))
    return W, widths


def _dtype(W: Sequence[np.ndarray]) -> np.dtype:
    return np.result_type(*W, np.float64)


def _check_widths(widths: Sequence[int]) -> tuple[int, ...]:
    widths = tuple(int(d) for d in widths)
    if len(widths) < 2 or any(d < 0 for d in widths):
        raise ValueError(f"widths must be (d_0, ..., d_N) with N >= 1 and d_i >= 0, got {widths}")
    return widths


def weight_shapes(widths: Sequence[int]) -> tuple[tuple[int, int], ...]:
    """Shapes of the weights, ``((d_1, d_0), (d_2, d_1), ..., (d_N, d_{N-1}))``."""
    d = _check_widths(widths)
    return tuple((d[i], d[i - 1]) for i in range(1, len(d)))


def lie_shapes(widths: Sequence[int]) -> tuple[tuple[int, int], ...]:
    """Shapes of a Lie algebra element, ``((d_1, d_1), ..., (d_{N-1}, d_{N-1}))``."""
    d = _check_widths(widths)
    return tuple((d[i], d[i]) for i in range(1, len(d) - 1))


def flatten(mats: Sequence[np.ndarray]) -> np.ndarray:
    """Concatenate ``np.ravel(M)`` (row-major) of each matrix, in order.

    Parameters
    ----------
    mats : sequence of array_like
        Matrices ``(M_1, ..., M_k)``; an empty sequence gives an empty vector.

    Returns
    -------
    ndarray
        ``[vec(M_1); ...; vec(M_k)]`` with ``vec = np.ravel`` (C order).
    """
    mats = [np.asarray(M) for M in mats]
    if not mats:
        return np.zeros(0)
    return np.concatenate([np.ravel(M) for M in mats])


def unflatten(v: np.ndarray, shapes: Sequence[tuple[int, int]]) -> tuple[np.ndarray, ...]:
    """Inverse of :func:`flatten`: split ``v`` into matrices of the given shapes (row-major).

    Raises
    ------
    ValueError
        If ``v`` is not 1-D or its length is not ``sum(prod(shape))``.
    """
    v = np.asarray(v)
    sizes = [int(np.prod(s)) for s in shapes]
    if v.ndim != 1 or v.size != sum(sizes):
        raise ValueError(f"v has shape {v.shape}, expected a 1-D array of length {sum(sizes)}")
    offsets = np.cumsum([0, *sizes])
    return tuple(
        v[offsets[k] : offsets[k + 1]].reshape(s) for k, s in enumerate(shapes)
    )


def orthonormal_range_basis(M: np.ndarray, rtol: float = 1e-10) -> np.ndarray:
    """Orthonormal basis of ``range(M)`` from the SVD ``M = U S V^*``.

    Returns the columns of ``U`` whose singular values exceed ``rtol * s_max`` (shape
    ``(m, rank)``; ``(m, 0)`` for a zero matrix or one with no columns).
    """
    M = np.asarray(M)
    if M.ndim != 2:
        raise ValueError(f"M must be 2-D, got shape {M.shape}")
    if M.size == 0:
        return np.zeros((M.shape[0], 0), dtype=np.result_type(M, np.float64))
    U, s, _ = np.linalg.svd(M, full_matrices=False)
    return U[:, : _rank_from_singular_values(s, rtol)]


def _rank_from_singular_values(s: np.ndarray, rtol: float) -> int:
    if s.size == 0 or s[0] == 0:
        return 0
    return int(np.count_nonzero(s > rtol * s[0]))


def numerical_rank(M: np.ndarray, rtol: float = 1e-10) -> int:
    """Number of singular values of ``M`` larger than ``rtol * s_max`` (0 for an empty matrix)."""
    M = np.asarray(M)
    if M.ndim != 2:
        raise ValueError(f"M must be 2-D, got shape {M.shape}")
    if M.size == 0:
        return 0
    return _rank_from_singular_values(np.linalg.svd(M, compute_uv=False), rtol)


def _range_projector(M: np.ndarray, rtol: float) -> np.ndarray:
    Q = orthonormal_range_basis(M, rtol)
    return Q @ Q.conj().T


# ---------------------------------------------------------------------------------------------
# Dense operators
# ---------------------------------------------------------------------------------------------


def dense_end_to_end_jacobian(W: Sequence[np.ndarray]) -> np.ndarray:
    r"""Matrix of the differential of the end-to-end map ``phi(W) = W_N...W_1``.

    .. math::

        d\phi_W(dW) = \sum_{j=1}^N (W_N \cdots W_{j+1})\, dW_j\, (W_{j-1} \cdots W_1),

    (empty products are identities), so with ``L_j = W_N ... W_{j+1}`` and
    ``R_j = W_{j-1} ... W_1`` the ``j``-th column block is ``kron(L_j, R_j.T)``.

    Returns
    -------
    J : ndarray, shape ``(d_N d_0, sum_i d_i d_{i-1})``
        ``J @ flatten(dW) == flatten(dphi_W(dW))``.
    """
    W, d = _check_weights(W)
    N, dtype = len(W), _dtype(W)
    # right[j] = W_j ... W_1 (right[0] = I_{d_0}); left[j] = W_N ... W_{j+1} (left[N] = I_{d_N}).
    right = [np.eye(d[0], dtype=dtype)]
    for Wi in W:
        right.append(Wi @ right[-1])
    left = [np.eye(d[N], dtype=dtype)]
    for Wi in reversed(W):
        left.append(left[-1] @ Wi)
    left = left[::-1]
    return np.hstack([np.kron(left[j], right[j - 1].T) for j in range(1, N + 1)])


def dense_infinitesimal_action(W: Sequence[np.ndarray]) -> np.ndarray:
    r"""Matrix of the infinitesimal gauge action ``A_W``.

    .. math::

        A_W(\xi)_i = \xi_i W_i - W_i \xi_{i-1}, \qquad i = 1, \dots, N,
        \quad \xi_0 = \xi_N = 0,

    so block ``(i, i)`` is ``kron(I_{d_i}, W_i.T)`` and block ``(i, i-1)`` is
    ``-kron(W_i, I_{d_{i-1}})``.

    Returns
    -------
    A : ndarray, shape ``(sum_i d_i d_{i-1}, sum_{i=1}^{N-1} d_i^2)``
        ``A @ flatten(xi) == flatten(A_W(xi))``; zero columns when ``N = 1``.
    """
    W, d = _check_weights(W)
    N, dtype = len(W), _dtype(W)
    row_off = np.cumsum([0, *(d[i] * d[i - 1] for i in range(1, N + 1))])
    col_off = np.cumsum([0, *(d[i] ** 2 for i in range(1, N))])  # col block k <-> xi_k
    A = np.zeros((row_off[-1], col_off[-1]), dtype=dtype)
    for i in range(1, N + 1):
        rows = slice(row_off[i - 1], row_off[i])
        Wi = W[i - 1]
        if i <= N - 1:  # xi_i W_i
            A[rows, col_off[i - 1] : col_off[i]] = np.kron(np.eye(d[i], dtype=dtype), Wi.T)
        if i >= 2:  # -W_i xi_{i-1}
            A[rows, col_off[i - 2] : col_off[i - 1]] = -np.kron(Wi, np.eye(d[i - 1], dtype=dtype))
    return A


def dense_gram(W: Sequence[np.ndarray]) -> np.ndarray:
    r"""Gram operator ``A_W^* A_W`` on flattened Lie algebra elements, ``A^H A``.

    .. math::

        (A_W^* A_W \xi)_i = \xi_i W_i W_i^* + W_{i+1}^* W_{i+1} \xi_i
            - W_i \xi_{i-1} W_i^* - W_{i+1}^* \xi_{i+1} W_{i+1}.
    """
    A = dense_infinitesimal_action(W)
    return A.conj().T @ A


def dense_end_to_end_metric(W: Sequence[np.ndarray]) -> np.ndarray:
    r"""``J J^H``: the operator ``dphi_W dphi_W^*`` on flattened ``d_N x d_0`` matrices.

    .. math::

        d\phi\, d\phi^*(Z) = \sum_j (W_N \cdots W_{j+1})(W_N \cdots W_{j+1})^*\, Z\,
            (W_{j-1} \cdots W_1)^* (W_{j-1} \cdots W_1).
    """
    J = dense_end_to_end_jacobian(W)
    return J @ J.conj().T


def dense_projection_horizontal(W: Sequence[np.ndarray], rtol: float = 1e-10) -> np.ndarray:
    r"""Orthogonal projector ``Pi_H`` onto the horizontal space ``H_W = range(dphi_W^*)``.

    ``Pi_H = Q Q^H`` with ``Q`` an orthonormal basis of ``range(J^H)`` (equivalently
    ``J^H (J J^H)^+ J``); a matrix on flattened weights.
    """
    return _range_projector(dense_end_to_end_jacobian(W).conj().T, rtol)


def dense_projection_vertical(W: Sequence[np.ndarray], rtol: float = 1e-10) -> np.ndarray:
    r"""Orthogonal projector ``Pi_V = I - Pi_H`` onto the fiber tangent ``V_W = ker dphi_W``."""
    P_H = dense_projection_horizontal(W, rtol)
    return np.eye(P_H.shape[0], dtype=P_H.dtype) - P_H


def dense_projection_orbit(W: Sequence[np.ndarray], rtol: float = 1e-10) -> np.ndarray:
    r"""Orthogonal projector ``P_W`` onto the orbit tangent ``O_W = range(A_W)``.

    ``P_W = Q Q^H`` with ``Q`` an orthonormal basis of ``range(A)`` (equivalently
    ``A (A^H A)^+ A^H``); the zero matrix when ``N = 1``.
    """
    return _range_projector(dense_infinitesimal_action(W), rtol)


def dense_moment_map(W: Sequence[np.ndarray]) -> tuple[np.ndarray, ...]:
    r"""Moment map computed as ``mu = A_W^*(W)``, i.e. ``unflatten(A^H @ flatten(W))``.

    This is a deliberately different route from the closed form
    ``mu_i = W_i W_i^* - W_{i+1}^* W_{i+1}``, ``i = 1, ..., N-1``, for cross-checking it.
    Returns an empty tuple when ``N = 1``.
    """
    W, d = _check_weights(W)
    A = dense_infinitesimal_action(W)
    return unflatten(A.conj().T @ flatten(W), lie_shapes(d))


def dense_stabiliser_dimension(W: Sequence[np.ndarray], rtol: float = 1e-10) -> int:
    """Dimension of ``ker A_W`` (the stabiliser Lie algebra): ``sum_{i=1}^{N-1} d_i^2 - rank A``."""
    A = dense_infinitesimal_action(W)
    return A.shape[1] - numerical_rank(A, rtol)


def dense_fiber_dimension(W: Sequence[np.ndarray], rtol: float = 1e-10) -> int:
    """Dimension of ``ker dphi_W`` (the fiber tangent): ``sum_i d_i d_{i-1} - rank J``."""
    J = dense_end_to_end_jacobian(W)
    return J.shape[1] - numerical_rank(J, rtol)


def dense_orbit_dimension(W: Sequence[np.ndarray], rtol: float = 1e-10) -> int:
    """Dimension of the orbit tangent ``range(A_W)``: ``rank A``."""
    return numerical_rank(dense_infinitesimal_action(W), rtol)
