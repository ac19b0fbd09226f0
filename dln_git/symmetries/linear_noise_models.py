"""Noise equilibria of linear networks with label noise (docs/math section 6.2; Ziyin et al. 2024,
arXiv 2402.07193, sections 4-5). The theory for a general exponential symmetry is in
:mod:`dln_git.symmetries.noise_equilibria`; here are the models and their closed forms.

Model: per-sample loss ``l(W; x, y) = ||W_N ... W_1 x - y||^2`` with ``y = V x + e``. Hidden layer i
carries the GL(d_i) symmetry; a symmetric generator B of size d_i acts as
``W_i -> exp(sB) W_i``, ``W_{i+1} -> W_{i+1} exp(-sB)``, i.e. on ``theta = pack(W)`` by the symmetric
matrix ``A = (B (x) I) (+) (-(I (x) B))`` on the two blocks, and ``C = theta^T A theta = <B, mu_i>``
with ``mu_i = W_i W_i^T - W_{i+1}^T W_{i+1}`` the moment map (section 1).

Per-layer equilibrium (derivation). With ``P_j = W_j ... W_1`` (``P_0 = I``), ``Q_j = W_N ... W_{j+1}``
(``Q_N = I``), residual ``r = X x - y``, the per-sample gradients are ``G_j = 2 Q_j^T r (P_{j-1} x)^T``,
and ``g^T A g = <B, G_i G_i^T - G_{i+1}^T G_{i+1}>``. Hence ``tr(A Sigma) = <B, M_i>`` with::

    M_i = Cov[G_i G_i^T] - Cov[G_{i+1}^T G_{i+1}]   (centred second moments, a symmetric matrix),

and ``tr(A Sigma) = 0`` for every symmetric B iff ``M_i = 0``. Assume (a) x independent of e,
(b) ``E e = 0``, (c) realizable target at a minimum, ``X = W_N ... W_1 = V`` (so ``r = -e`` and the
mean gradient vanishes), (d) ``Sigma_x = E[x x^T]``, ``Sigma_e = E[e e^T]``. Then
``G_i G_i^T = 4 |P_{i-1} x|^2 Q_i^T e e^T Q_i`` and ``G_{i+1}^T G_{i+1} = 4 |Q_{i+1}^T e|^2 P_i x x^T P_i^T``
factor by independence, and ``M_i = 0`` reads::

    tr(Q_{i+1}^T Sigma_e Q_{i+1}) P_i Sigma_x P_i^T = tr(P_{i-1} Sigma_x P_{i-1}^T) Q_i^T Sigma_e Q_i.

For N = 2, i = 1 (``W_1 = W``, ``W_2 = U``) this is ``tr(Sigma_e) W Sigma_x W^T = tr(Sigma_x) U^T Sigma_e U``;
for scalars ``(u w x - y)^2`` it is ``w^2 = u^2``. We call the left side "forward" and the right side
"backward"; the mismatch of layer i is ``||forward - backward||_F / ||backward||_F``.

Two-layer equilibrium as a balanced point. Put ``W~ = sqrt(tr Sigma_e) W Sigma_x^{1/2}`` and
``U~ = sqrt(tr Sigma_x) Sigma_e^{1/2} U``. The relation becomes ``W~ W~^T = U~^T U~``: (U~, W~) is the
BALANCED point (mu = 0) of the reweighted product ``V~ = sqrt(tr Sigma_x tr Sigma_e) Sigma_e^{1/2} V Sigma_x^{1/2}``,
i.e. the minimiser on the fiber of the reweighted regulariser
``tr(Sigma_x) ||Sigma_e^{1/2} U||^2 + tr(Sigma_e) ||W Sigma_x^{1/2}||^2``. The reweighting commutes with the
GL(d) action, so the equilibrium on the orbit of (W_0, U_0) is ``g.(W_0, U_0)`` with the N = 2 oracle of
section 3: ``g = H^{1/2}``, ``H = P^{-1/2} (P^{1/2} Q P^{1/2})^{1/2} P^{-1/2}``, ``P = W~_0 W~_0^T``,
``Q = U~_0^T U~_0`` (unique up to O(d); g is symmetric positive definite, so ``g = exp(B*)`` and the
equilibrium lies on the one-parameter orbit of the symmetric generator ``B* = log g``).
"""

from __future__ import annotations

import numpy as np
import scipy.linalg

from ..core import balanced_from_end_to_end, gauge_act
from ..core.end_to_end import backward_products, forward_products
from ..core.linalg import pack, unpack
from ..core.validation import as_matrix, as_weights, widths_of
from .noise_equilibria import ExponentialSymmetry

__all__ = [
    "dln_layer_symmetry",
    "equilibrium_mismatch",
    "equilibrium_sides",
    "layer_noise_imbalance",
    "product_dataset",
    "scalar_equilibrium",
    "scalar_model_symmetry",
    "two_layer_equilibrium",
    "two_layer_equilibrium_factorisation",
]


def _psd(S, name: str, d: int | None = None) -> np.ndarray:
    S = as_matrix(S, name)
    if np.iscomplexobj(S):
        raise TypeError(f"{name} must be real")
    if S.shape[0] != S.shape[1] or (d is not None and S.shape[0] != d):
        raise ValueError(f"{name} must be square of size {d if d is not None else 'n'}, got shape {S.shape}")
    if np.linalg.norm(S - S.T) > 1e-12 * np.linalg.norm(S):
        raise ValueError(f"{name} must be symmetric")
    if np.linalg.eigvalsh(S).min() < -1e-12 * np.linalg.norm(S, 2):
        raise ValueError(f"{name} must be positive semi-definite")
    return (S + S.T) / 2


def _real_weights(W):
    W = as_weights(W)
    if any(np.iscomplexobj(w) for w in W):
        raise TypeError("W must be real for the noise-equilibrium models")
    return W


# --------------------------------------------------------------------------------------------
# per-sample gradients of ||X x - y||^2 and the layer symmetry
# --------------------------------------------------------------------------------------------
def _per_sample_grads(W, Xd, Yd):
    """``G_j[k] = 2 Q_j^T r_k (P_{j-1} x_k)^T`` for all samples k; returns a list of (n, d_j, d_{j-1})."""
    F, Bk = forward_products(W), backward_products(W)
    Xend = F[-1]
    R = Xend @ Xd - Yd  # (d_N, n)
    out = []
    for j in range(1, len(W) + 1):
        act = Xd if F[j - 1] is None else F[j - 1] @ Xd  # (d_{j-1}, n)
        back = R if Bk[j] is None else Bk[j].T @ R  # (d_j, n)
        out.append(2.0 * np.einsum("ik,jk->kij", back, act))
    return out


def _data(W, Xd, Yd):
    d = widths_of(W)
    Xd, Yd = as_matrix(Xd, "Xd"), as_matrix(Yd, "Yd")
    if Xd.shape[0] != d[0] or Yd.shape[0] != d[-1] or Xd.shape[1] != Yd.shape[1]:
        raise ValueError(f"Xd must be (d_0, n) = ({d[0]}, n) and Yd (d_N, n) = ({d[-1]}, n) with the same n; "
                         f"got {Xd.shape} and {Yd.shape}")
    return Xd, Yd


def _check_layer(layer, N):
    if isinstance(layer, bool) or not isinstance(layer, (int, np.integer)) or not 1 <= layer <= N - 1:
        raise ValueError(f"layer must be a hidden layer index in 1..{N - 1}, got {layer!r}")
    return int(layer)


def dln_layer_symmetry(W, Xd, Yd, layer: int, B) -> tuple[ExponentialSymmetry, np.ndarray]:
    """The exponential symmetry of hidden layer ``layer`` with generator B, on ``theta = pack(W)``.

    Returns ``(sym, theta)``: ``sym.A`` is the dense symmetric matrix of
    ``(W_i, W_{i+1}) -> (B W_i, -W_{i+1} B)`` (zero on the other layers) and the per-sample loss is
    ``||W_N ... W_1 x_k - y_k||^2`` for the columns of ``Xd`` (d_0 x n), ``Yd`` (d_N x n).
    """
    W = _real_weights(W)
    d = widths_of(W)
    i = _check_layer(layer, len(W))
    Xd, Yd = _data(W, Xd, Yd)
    B = as_matrix(B, "B")
    if B.shape != (d[i], d[i]) or np.linalg.norm(B - B.T) > 1e-12 * np.linalg.norm(B):
        raise ValueError(f"B must be symmetric of shape {(d[i], d[i])}, got shape {B.shape}")
    shapes = [w.shape for w in W]
    sizes = np.cumsum([0] + [r * c for r, c in shapes])
    A = np.zeros((sizes[-1], sizes[-1]))
    A[sizes[i - 1]:sizes[i], sizes[i - 1]:sizes[i]] = np.kron(B, np.eye(d[i - 1]))  # W_i -> B W_i
    A[sizes[i]:sizes[i + 1], sizes[i]:sizes[i + 1]] = -np.kron(np.eye(d[i + 1]), B)  # W_{i+1} -> -W_{i+1} B

    def grads(theta, idx):
        Wt = unpack(theta, shapes)
        Gs = _per_sample_grads(Wt, Xd[:, idx], Yd[:, idx])
        return np.concatenate([G.reshape(len(idx), -1) for G in Gs], axis=1)

    return ExponentialSymmetry(A, grads, Xd.shape[1], name=f"DLN layer {i}"), pack(W)


def scalar_model_symmetry(x, y, u: float, w: float) -> tuple[ExponentialSymmetry, np.ndarray]:
    """``l = (u w x_k - y_k)^2`` with ``theta = (u, w)``, ``A = diag(1, -1)`` (``u -> e^s u``, ``w -> e^{-s} w``),
    ``C = u^2 - w^2``. Returns ``(sym, theta)``."""
    x, y = np.asarray(x, dtype=float).ravel(), np.asarray(y, dtype=float).ravel()
    if x.size != y.size or x.size == 0 or not (np.isfinite(x).all() and np.isfinite(y).all()):
        raise ValueError(f"x and y must be finite vectors of the same positive length, got {x.size} and {y.size}")

    def grads(theta, idx):
        uu, ww = theta
        r = uu * ww * x[idx] - y[idx]
        return np.stack([2 * r * ww * x[idx], 2 * r * uu * x[idx]], axis=1)

    theta = np.array([u, w], dtype=float)
    if not np.isfinite(theta).all():
        raise ValueError("u and w must be finite")
    return ExponentialSymmetry(np.diag([1.0, -1.0]), grads, x.size, name="scalar (u w x - y)^2"), theta


def scalar_equilibrium(u: float, w: float) -> tuple[float, float]:
    """The noise equilibrium on the orbit ``(e^s u, e^{-s} w)``: ``|u*| = |w*| = sqrt(|u w|)`` (signs kept).

    From ``tr(A Sigma) = 4 (w^2 - u^2) Var(r x)`` (r = u w x - y is constant on the orbit)."""
    m = np.sqrt(abs(u)) * np.sqrt(abs(w))
    return float(np.copysign(m, u)), float(np.copysign(m, w))


def product_dataset(xs, es, V) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """All pairs ``(x_a, V x_a + e_b)`` of the columns of ``xs`` (d_x x m) and the centred columns of
    ``es`` (d_y x p): an empirical law in which x and e are exactly independent and ``E e = 0``, so
    every ``W`` with ``W_N...W_1 = V`` is an exact minimum. Returns ``(Xd, Yd, Sigma_x, Sigma_e)``."""
    xs, es, V = as_matrix(xs, "xs"), as_matrix(es, "es"), as_matrix(V, "V")
    if V.shape != (es.shape[0], xs.shape[0]):
        raise ValueError(f"V must have shape {(es.shape[0], xs.shape[0])}, got {V.shape}")
    es = es - es.mean(axis=1, keepdims=True)
    m, p = xs.shape[1], es.shape[1]
    Xd = np.repeat(xs, p, axis=1)
    Yd = V @ Xd + np.tile(es, (1, m))
    return Xd, Yd, xs @ xs.T / m, es @ es.T / p


def layer_noise_imbalance(W, Xd, Yd, layer: int) -> np.ndarray:
    """``M_i = Cov[G_i G_i^T] - Cov[G_{i+1}^T G_{i+1}]`` over the dataset (centred per-sample gradients):
    ``tr(A_B Sigma) = <B, M_i>`` for every symmetric generator B of hidden layer i (no assumption)."""
    W = _real_weights(W)
    i = _check_layer(layer, len(W))
    Xd, Yd = _data(W, Xd, Yd)
    Gs = _per_sample_grads(W, Xd, Yd)
    Gi, Gn = Gs[i - 1] - Gs[i - 1].mean(axis=0), Gs[i] - Gs[i].mean(axis=0)
    n = Xd.shape[1]
    return np.einsum("kab,kcb->ac", Gi, Gi) / n - np.einsum("kba,kbc->ac", Gn, Gn) / n


def equilibrium_sides(W, Sigma_x, Sigma_e, layer: int) -> tuple[np.ndarray, np.ndarray]:
    """``(forward, backward) = (tr(Q_{i+1}^T Se Q_{i+1}) P_i Sx P_i^T, tr(P_{i-1} Sx P_{i-1}^T) Q_i^T Se Q_i)``.

    Equal at a noise equilibrium under the assumptions of the module docstring; the population
    form of ``M_i = 4 (backward - forward)`` at a realizable minimum."""
    W = _real_weights(W)
    d = widths_of(W)
    i = _check_layer(layer, len(W))
    Sx, Se = _psd(Sigma_x, "Sigma_x", d[0]), _psd(Sigma_e, "Sigma_e", d[-1])
    F, Bk = forward_products(W), backward_products(W)
    Pi, Pm = F[i], (np.eye(d[0]) if F[i - 1] is None else F[i - 1])
    Qi, Qn = Bk[i], (np.eye(d[-1]) if Bk[i + 1] is None else Bk[i + 1])
    forward = np.trace(Qn.T @ Se @ Qn) * (Pi @ Sx @ Pi.T)
    backward = np.trace(Pm @ Sx @ Pm.T) * (Qi.T @ Se @ Qi)
    return forward, backward


def equilibrium_mismatch(W, Sigma_x, Sigma_e) -> np.ndarray:
    """Per hidden layer, ``||forward - backward||_F / ||backward||_F`` (0 at the equilibrium)."""
    W = _real_weights(W)
    out = []
    for i in range(1, len(W)):
        f, b = equilibrium_sides(W, Sigma_x, Sigma_e, i)
        nb = np.linalg.norm(b)
        out.append(np.linalg.norm(f - b) / nb if nb > 0 else np.inf)
    return np.array(out)


def _sqrtm_psd(S):
    lam, E = np.linalg.eigh(S)
    return (E * np.sqrt(np.clip(lam, 0, None))) @ E.T, (E / np.sqrt(lam)) @ E.T if lam.min() > 0 else None


def two_layer_equilibrium(W, U, Sigma_x, Sigma_e) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The noise equilibrium on the GL(d) orbit of ``(W, U)`` (``U W = V``): returns ``(W*, U*, g)`` with
    ``(W*, U*) = g.(W, U) = (g W, U g^{-1})``, g symmetric positive definite (module docstring).

    Needs ``Sigma_x``, ``Sigma_e`` positive definite and ``W Sigma_x W^T``, ``U^T Sigma_e U`` invertible.
    """
    W, U = _real_weights((W, U))
    Sx, Se = _psd(Sigma_x, "Sigma_x", W.shape[1]), _psd(Sigma_e, "Sigma_e", U.shape[0])
    Rx, Rx_inv = _sqrtm_psd(Sx)
    Re, Re_inv = _sqrtm_psd(Se)
    if Rx_inv is None or Re_inv is None:
        raise ValueError("Sigma_x and Sigma_e must be positive definite for the two-layer equilibrium")
    Wt = np.sqrt(np.trace(Se)) * W @ Rx
    Ut = np.sqrt(np.trace(Sx)) * Re @ U
    P, Q = Wt @ Wt.T, Ut.T @ Ut
    Ph, Ph_inv = _sqrtm_psd(P)
    if Ph_inv is None or np.linalg.matrix_rank(Q) < Q.shape[0]:
        raise ValueError("W Sigma_x W^T and U^T Sigma_e U must be invertible (hidden width <= rank of the product)")
    H = Ph_inv @ _sqrtm_psd(Ph @ Q @ Ph)[0] @ Ph_inv
    g = _sqrtm_psd((H + H.T) / 2)[0]
    Ws, Us = gauge_act((g,), (W, U))
    return Ws, Us, g


def two_layer_equilibrium_factorisation(V, hidden: int, Sigma_x, Sigma_e, rng=None) -> tuple[np.ndarray, np.ndarray]:
    """An equilibrium ``(W*, U*)`` on the fiber ``U W = V`` (hidden width ``hidden >= rank V``): the
    SVD-chart balanced point of the reweighted ``V~`` mapped back (module docstring). ``rng`` picks the
    O(d) representative (None: the canonical one)."""
    V = as_matrix(V, "V")
    Sx, Se = _psd(Sigma_x, "Sigma_x", V.shape[1]), _psd(Sigma_e, "Sigma_e", V.shape[0])
    Rx, Rx_inv = _sqrtm_psd(Sx)
    Re, Re_inv = _sqrtm_psd(Se)
    if Rx_inv is None or Re_inv is None:
        raise ValueError("Sigma_x and Sigma_e must be positive definite")
    a, b = np.sqrt(np.trace(Se)), np.sqrt(np.trace(Sx))
    Vt = a * b * Re @ V @ Rx
    Wt, Ut = balanced_from_end_to_end(Vt, (V.shape[1], hidden, V.shape[0]), rng)
    return Wt @ Rx_inv / a, Re_inv @ Ut / b


def symmetric_log(g) -> np.ndarray:
    """``log g`` for symmetric positive definite g (the generator B* with ``exp(B*) = g``)."""
    return np.real(scipy.linalg.logm(g))
