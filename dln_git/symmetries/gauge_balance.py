"""Exact balancing of a homogeneous network onto the slice ``D = 0`` (docs/math section 6.1).

The torus acts by ``c_j = exp(u_j)``. Along the orbit, the squared norm of the parameters
(twice the regularizer R of the bias-augmented chain) is

``F(u) = sum_l sum_{j,k} W_l[j,k]^2 exp(2 (u_{l,j} - u_{l-1,k})) + sum_{l<L} sum_j b_l[j]^2 exp(2 u_{l,j})
(+ the output bias, constant)``, with ``u_0 = u_L = 0``:

a sum of exponentials of linear forms, hence convex (Kempf–Ness restricted to the torus), with
gradient ``dF/du_j = 2 D_j`` and Hessian ``4 K`` (K the torus Gram operator). Its minimisers are
exactly the balanced points ``D = 0``. If every neuron has nonzero incoming AND outgoing weights the
minimum is attained (follow incoming edges from the largest ``u_j`` back to the input, outgoing
edges from the smallest to the output: no direction of recession) and unique (F is strictly
convex then: its Hessian 4K is positive definite).

Three solvers, all working on ``u`` and returning ``rescale_neurons(net, exp(u))`` rebuilt from
the input (so f is unchanged to rounding):

* ``"newton"``: Newton on the equations ``r_j(u) = log ||theta_in,j||^2 - log ||w_out,j||^2 = 0``
  (the same zero set as ``D = 0``). Each ``log ||theta_in,j(u)||^2 = 2 u_j + logsumexp(...)`` is
  2u_j plus a log-sum-exp of the neighbours' log-scales, so the system is nearly linear: the
  Jacobian is ``J = 4 I - 2 diag(1/||theta_in||^2) C - 2 diag(1/||w_out||^2) C^T`` with C the
  entrywise squared weights between neighbouring hidden layers (block tridiagonal, solved by
  block elimination in ``O(sum_l d_l^3)``), weakly diagonally dominant and nonsingular when every
  neuron is balanceable. With one hidden layer ``J = 4 I`` and one step is exact. Backtracking on
  ``||r||^2`` globalises it (the Newton direction is a descent direction of ``||r||^2``).
* ``"enorm"``: Equi-normalization (Stock et al., ICLR 2019), block-coordinate descent on F: for
  each hidden layer in turn the closed form ``c_j = sqrt(||w_out,j|| / ||theta_in,j||)`` makes that
  layer exactly balanced given the others. One sweep = all hidden layers once.
* :func:`balance_one_hidden_layer`: the closed form, exact for one hidden layer.

Tolerance: ``max_j |D_j| <= tol * scale`` with ``scale = mean_j (||theta_in,j||^2 + ||w_out,j||^2) / 2``
over the hidden neurons of the returned network (the mean squared neuron norm; ``|D_j|`` is at
most ``2 scale`` times the number of neurons). Everything is computed on the parameters divided by
a power of two near their size, so any representable weight scale works; ``max_imbalance`` and
``scale`` are returned in the input's units (inf if their squares overflow float64, while
``relative_imbalance`` stays exact).

Zero neurons: a neuron whose incoming (weights and bias) or outgoing weights are all zero cannot be
balanced by rescaling (its ``D_j = ||theta_in,j||^2`` or ``-||w_out,j||^2`` only moves to 0 in
the limit c -> 0 or infinity). Such neurons are left unscaled and reported in ``unbalanceable``;
if their ``|D_j|`` exceeds the tolerance, ``converged`` is False and the message says so.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..core.options import Rule, check_options
from .homogeneous import HomogeneousNet
from .neuron_torus import _apply_scales, _check_net, _normalized, _sq_norms

__all__ = ["BalanceResult", "balance_neurons", "balance_one_hidden_layer"]

_TOL = Rule.relative_tolerance("the requested max|D| / scale, in (0, 1)")
_METHOD = Rule.choice("newton", "enorm", what="'newton' (log-scale Newton) or 'enorm' (layer sweeps)")
_MAXITER = Rule.count(1, "an iteration (sweep) cap", allow_none=True)


@dataclass(frozen=True)
class BalanceResult:
    """Outcome of balancing.

    Attributes
    ----------
    net : HomogeneousNet
        ``rescale_neurons(input, scales)``.
    converged : bool
        ``max|D| <= tol * scale`` reached on every neuron and the result is finite.
    message : str
    iterations : int
        Newton steps or ENorm sweeps taken (1 for the closed form, 0 if the input was balanced).
    max_imbalance : float
        ``max_j |D_j|`` of ``net`` (input units).
    scale : float
        ``mean_j (||theta_in,j||^2 + ||w_out,j||^2) / 2`` of ``net`` (input units).
    relative_imbalance : float
        ``max_imbalance / scale`` (0 when scale is 0).
    scales : tuple of ndarray
        The torus element ``c`` applied, one positive array per hidden layer.
    unbalanceable : tuple of ndarray
        Boolean masks of the neurons with zero incoming or zero outgoing weights (left unscaled).
    history : ndarray
        ``relative_imbalance`` before the first and after each iteration.
    method : str
    """

    net: HomogeneousNet
    converged: bool
    message: str
    iterations: int
    max_imbalance: float
    scale: float
    relative_imbalance: float
    scales: tuple
    unbalanceable: tuple
    history: np.ndarray
    method: str


def _split(v, sizes):
    offsets = np.cumsum([0, *sizes])
    return [v[offsets[i]:offsets[i + 1]] for i in range(len(sizes))]


def _measure(ins, outs):
    """``(max|D|, scale)`` at the working scale ((0, 0) without hidden neurons)."""
    if not ins:
        return 0.0, 0.0
    a, o = np.concatenate(ins), np.concatenate(outs)
    return float(np.max(np.abs(a - o))), float(np.mean(a + o) / 2.0)


def _rel(maxD, scale):
    return maxD / scale if scale > 0 else (0.0 if maxD == 0 else np.inf)


def _newton_direction(W, ins, outs, free, r):
    """Solve ``J delta = -r`` (block tridiagonal J, rows of fixed neurons replaced by ``4 delta_j = 0``)."""
    H = len(ins)
    inv_a = [np.where(f, 1.0 / np.where(f, a, 1.0), 0.0) for a, f in zip(ins, free, strict=True)]
    inv_o = [np.where(f, 1.0 / np.where(f, o, 1.0), 0.0) for o, f in zip(outs, free, strict=True)]
    lower = [None] + [-2.0 * inv_a[i][:, None] * (W[i] * W[i]) for i in range(1, H)]         # (d_i, d_{i-1})
    upper = [-2.0 * inv_o[i][:, None] * (W[i + 1] * W[i + 1]).T for i in range(H - 1)] + [None]  # (d_i, d_{i+1})
    S, F, g = [], [], []
    y = -r[0]
    Si = 4.0 * np.eye(ins[0].size)
    for i in range(H):
        if i > 0:
            Si = 4.0 * np.eye(ins[i].size) - lower[i] @ F[i - 1]
            y = -r[i] - lower[i] @ g[i - 1]
        S.append(Si)
        if i < H - 1:  # one factorisation for both right-hand sides
            sol = np.linalg.solve(Si, np.hstack([y[:, None], upper[i]]))
            g.append(sol[:, 0])
            F.append(sol[:, 1:])
        else:
            g.append(np.linalg.solve(Si, y))
            F.append(None)
    x = [None] * H
    x[H - 1] = g[H - 1]
    for i in range(H - 2, -1, -1):
        x[i] = g[i] - F[i] @ x[i + 1]
    return x


def _residual(ins, outs, free):
    with np.errstate(divide="ignore", invalid="ignore"):
        return [np.where(f, np.log(np.where(f, a, 1.0)) - np.log(np.where(f, o, 1.0)), 0.0)
                for a, o, f in zip(ins, outs, free, strict=True)]


def _result(net, W0, b0, s, u, free, tol, iterations, history, method, stalled):
    c = [np.exp(v) for v in u]
    W, b = _apply_scales(W0, b0, c)
    ins, outs = _sq_norms(W, b)
    maxD, scale = _measure(ins, outs)
    rel = _rel(maxD, scale)
    finite = all(np.isfinite(w).all() for w in W) and (b is None or all(np.isfinite(v).all() for v in b))
    out = net.replace(weights=tuple(w * s for w in W), biases=None if b is None else tuple(v * s for v in b))
    stuck = [np.abs(a - o)[~f] for a, o, f in zip(ins, outs, free, strict=True)]
    stuck_max = max((float(v.max()) for v in stuck if v.size), default=0.0)
    n_stuck = sum(int((~f).sum()) for f in free)
    converged = bool(finite and rel <= tol)
    if not finite:
        message = "the rescaled weights are not finite"
    elif converged:
        message = f"balanced: max|D| / scale = {rel:.2e} <= {tol:g} after {iterations} {method} iteration(s)"
    elif stuck_max > tol * scale:
        message = (f"{n_stuck} neuron(s) have zero incoming or zero outgoing weights and cannot be balanced by "
                   f"rescaling (their max|D| / scale = {_rel(stuck_max, scale):.2e}); left unscaled. "
                   f"max|D| / scale = {rel:.2e} > {tol:g}")
    elif stalled:
        message = f"stalled at max|D| / scale = {rel:.2e} > {tol:g} after {iterations} iteration(s) (rounding floor)"
    else:
        message = f"not converged: max|D| / scale = {rel:.2e} > {tol:g} after {iterations} iteration(s) (cap reached)"
    with np.errstate(over="ignore"):
        s2 = np.float64(s) * np.float64(s)
        maxD_in, scale_in = float(maxD * s2), float(scale * s2)
    return BalanceResult(net=out, converged=converged, message=message, iterations=iterations,
                         max_imbalance=maxD_in, scale=scale_in, relative_imbalance=rel, scales=tuple(c),
                         unbalanceable=tuple(~f for f in free), history=np.asarray([*history, rel]), method=method)


def balance_neurons(net: HomogeneousNet, tol: float = 1e-12, *, method: str = "newton",
                    max_iter: int | None = None) -> BalanceResult:
    """Rescale the hidden neurons so that ``max_j |D_j| <= tol * scale`` (see the module docstring).

    Parameters
    ----------
    net : HomogeneousNet
    tol : float
        Requested ``max|D| / scale``, in (0, 1).
    method : {"newton", "enorm"}
        Newton on the log-scales (few iterations, quadratic convergence) or ENorm layer sweeps
        (linear convergence).
    max_iter : int, optional
        Cap on Newton steps (default 100) or ENorm sweeps (default 100000).

    Returns
    -------
    BalanceResult
    """
    net = _check_net(net)
    tol, method, max_iter = check_options(tol=(tol, _TOL), method=(method, _METHOD), max_iter=(max_iter, _MAXITER))
    if max_iter is None:
        max_iter = 100 if method == "newton" else 100_000
    W0, b0, s = _normalized(net)
    sizes = net.hidden_widths
    u = [np.zeros(d) for d in sizes]
    if not sizes:
        return _result(net, W0, b0, s, u, [], tol, 0, [], method, False)
    ins, outs = _sq_norms(W0, b0)
    free = [(a > 0) & (o > 0) for a, o in zip(ins, outs, strict=True)]
    history, it, stalled = [], 0, False
    W, b = W0, b0
    while True:
        maxD, scale = _measure(ins, outs)
        rel = _rel(maxD, scale)
        # neurons that cannot be balanced do not count in the stopping rule (the result reports them)
        free_D = np.concatenate([(a - o)[f] for a, o, f in zip(ins, outs, free, strict=True)])
        free_rel = _rel(float(np.max(np.abs(free_D))) if free_D.size else 0.0, scale)
        if rel <= tol or free_rel <= tol or it >= max_iter or stalled:
            break
        history.append(rel)
        if method == "enorm":
            W, b = list(W), None if b is None else list(b)
            for i in range(len(sizes)):
                a_i = np.einsum("jk,jk->j", W[i], W[i]) + (b[i] ** 2 if b is not None else 0.0)
                o_i = np.einsum("mj,mj->j", W[i + 1], W[i + 1])
                step = np.where(free[i], 0.25 * (np.log(np.where(free[i], o_i, 1.0))
                                                 - np.log(np.where(free[i], a_i, 1.0))), 0.0)
                u[i] = u[i] + step
                c = np.exp(step)
                W[i] = W[i] * c[:, None]
                if b is not None:
                    b[i] = b[i] * c
                W[i + 1] = W[i + 1] / c[None, :]
            # measure on the network rebuilt from the input, exactly as the result is built
            W, b = _apply_scales(W0, b0, [np.exp(v) for v in u])
            ins, outs = _sq_norms(W, b)
        else:
            r = _residual(ins, outs, free)
            merit = sum(float(np.sum(v * v)) for v in r)
            delta = _newton_direction(W, ins, outs, free, r)
            t, accepted = 1.0, False
            for _ in range(40):
                u_try = [v + t * d for v, d in zip(u, delta, strict=True)]
                W_try, b_try = _apply_scales(W0, b0, [np.exp(v) for v in u_try])
                ins_t, outs_t = _sq_norms(W_try, b_try)
                r_t = _residual(ins_t, outs_t, free)
                if sum(float(np.sum(v * v)) for v in r_t) <= (1.0 - 1e-4 * t) * merit:
                    accepted = True
                    break
                t *= 0.5
            if not accepted:
                stalled = True
                it += 1
                continue
            u, W, b, ins, outs = u_try, W_try, b_try, ins_t, outs_t
        it += 1
    return _result(net, W0, b0, s, u, free, tol, it, history, method, stalled)


def balance_one_hidden_layer(net: HomogeneousNet, tol: float = 1e-12) -> BalanceResult:
    """Closed form for one hidden layer: ``c_j = sqrt(||w_out,j|| / ||theta_in,j||)`` makes every
    ``D_j = c_j^2 ||theta_in,j||^2 - ||w_out,j||^2 / c_j^2`` zero (neurons with a zero side are left).

    ``tol`` only decides the reported ``converged`` flag. Raises ValueError unless ``net.depth == 2``.
    """
    net = _check_net(net)
    (tol,) = check_options(tol=(tol, _TOL))
    if net.depth != 2:
        raise ValueError(f"balance_one_hidden_layer needs exactly one hidden layer (depth 2), got depth {net.depth}")
    W0, b0, s = _normalized(net)
    (a,), (o,) = _sq_norms(W0, b0)
    free = (a > 0) & (o > 0)
    u = np.where(free, 0.25 * (np.log(np.where(free, o, 1.0)) - np.log(np.where(free, a, 1.0))), 0.0)
    rel0 = _rel(*_measure([a], [o]))
    return _result(net, W0, b0, s, [u], [free], tol, 1, [rel0], "closed form", False)
