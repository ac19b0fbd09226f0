"""Width vocabulary and the regime of a given W (docs/math section 2).

For a hidden layer i, ``a_i = min(d_0..d_{i-1})`` and ``b_i = min(d_{i+1}..d_N)`` are the
widest bottlenecks on each side, ``r = min(d)`` the generic rank of X.

* funnel layer: ``min(a_i, b_i) < d_i < max(a_i, b_i)`` (only there does the fiber have
  directions that are not gauge directions);
* stabiliser layer: ``d_i > max(a_i, b_i)`` (the Gram operator is singular at generic W);
* generic orbits are closed iff every hidden layer with ``d_i > r`` has both neighbours equal
  to r.

:func:`regime` evaluates these facts *for the given W*: the bottlenecks become the ranks of the
partial products ``W_{i-1}..W_1`` and ``W_N..W_{i+1}``, the dimensions of orbit, fiber and
stabiliser are computed exactly (see :mod:`dln_git.core.subspaces`), and the orbit of W is
closed iff every ``W_i`` has rank equal to rank X (a balanced point has this property, and it
is an orbit invariant).
"""

from __future__ import annotations

import functools
import warnings
from dataclasses import dataclass, field

import numpy as np

from .end_to_end import backward_products, forward_products
from .errors import ConvergenceWarning
from .linalg import norm, numerical_rank
from .options import check_options
from .scaling import normalized
from .subspaces import differential_cokernel, stabiliser_subspace
from .validation import _widths, as_weights, as_widths

__all__ = [
    "Regime",
    "funnel_layers",
    "generic_orbits_closed",
    "regime",
    "stabiliser_layers",
]


def _bottlenecks(widths):
    return [
        (i, min(widths[:i]), min(widths[i + 1 :])) for i in range(1, len(widths) - 1)
    ]


def _funnels(widths, ab):
    return tuple(i for i, a, b in ab if min(a, b) < widths[i] < max(a, b))


def _stabilisers(widths, ab):
    return tuple(i for i, a, b in ab if widths[i] > max(a, b))


def funnel_layers(widths) -> tuple[int, ...]:
    """Hidden layers i (1-based) with ``min(a_i, b_i) < d_i < max(a_i, b_i)``."""
    widths = as_widths(widths)
    return _funnels(widths, _bottlenecks(widths))


def stabiliser_layers(widths) -> tuple[int, ...]:
    """Hidden layers i (1-based) with ``d_i > max(a_i, b_i)``."""
    widths = as_widths(widths)
    return _stabilisers(widths, _bottlenecks(widths))


def generic_orbits_closed(widths) -> bool:
    """Whether generic G-orbits are closed: every hidden ``d_i > r`` has ``d_{i-1} = d_{i+1} = r``."""
    widths = as_widths(widths)
    r = min(widths)
    return all(
        widths[i - 1] == r and widths[i + 1] == r
        for i in range(1, len(widths) - 1)
        if widths[i] > r
    )


@dataclass(frozen=True)
class Regime:
    """The geometric regime of a point W (see :func:`regime`)."""

    widths: tuple[int, ...]
    depth: int
    is_complex: bool
    rank_x: int
    generic_rank: int
    layer_ranks: tuple[int, ...]
    funnel_layers: tuple[int, ...]
    stabiliser_layers: tuple[int, ...]
    funnel_layers_generic: tuple[int, ...]
    stabiliser_layers_generic: tuple[int, ...]
    generic_orbits_closed: bool
    orbit_closed: bool
    lie_algebra_dim: int
    stabiliser_dim: int
    orbit_dim: int
    fiber_dim: int
    differential_rank: int
    _weights: tuple = field(default=(), repr=False, compare=False)

    @functools.cached_property
    def extra_fiber_component(self) -> float:
        """``||Pi_V(W) - P_W(W)|| / ||W||`` when the orbit is smaller than the fiber, else 0.

        What separates the fiber and orbit L2 flows. Computed on first access (two projections,
        each a Krylov solve of at most :data:`EXTRA_COMPONENT_MAXITER` iterations); NaN if a
        solve does not reach its tolerance within that budget (ill-conditioned X).
        """
        if self.orbit_dim >= self.fiber_dim or not self._weights:
            return 0.0
        W = self._weights
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", ConvergenceWarning)
            diff = [v - o for v, o in zip(_budgeted("vertical", W), _budgeted("orbit", W), strict=True)]
        if any(issubclass(w.category, ConvergenceWarning) for w in caught):
            return float("nan")
        wn = norm(W)
        return float(norm(diff) / wn) if wn > 0 else 0.0

    @property
    def rank_deficiency(self) -> int:
        """``min(d) - rank X`` (0 for generic X)."""
        return self.generic_rank - self.rank_x

    @property
    def orbit_is_fiber(self) -> bool:
        """Whether the gauge directions span the fiber's tangent space at W."""
        return self.orbit_dim == self.fiber_dim

    @property
    def summary(self) -> str:
        """A readable account of the regime."""
        lines = [
            f"widths {self.widths} (depth {self.depth}, {'complex' if self.is_complex else 'real'})",
            f"rank X = {self.rank_x} of generic {self.generic_rank}"
            + (f" (rank-deficient by {self.rank_deficiency})" if self.rank_deficiency else ""),
            f"funnel layers: {list(self.funnel_layers) or 'none'}"
            f" (width rule: {list(self.funnel_layers_generic) or 'none'})",
            f"stabiliser layers: {list(self.stabiliser_layers) or 'none'}"
            f" (width rule: {list(self.stabiliser_layers_generic) or 'none'})",
            f"dimensions: Lie algebra {self.lie_algebra_dim}, stabiliser {self.stabiliser_dim}, "
            f"orbit {self.orbit_dim}, fiber {self.fiber_dim}"
            + ("" if self.orbit_is_fiber else
               f" (fiber has {self.fiber_dim - self.orbit_dim} non-gauge directions)"),
            f"orbit of W {'closed' if self.orbit_closed else 'not closed'}; generic orbits "
            f"{'closed' if self.generic_orbits_closed else 'not closed'} for these widths",
        ]
        if not self.orbit_is_fiber and "extra_fiber_component" in self.__dict__:
            lines.append(
                f"component of W in the non-gauge fiber directions: "
                f"||Pi_V(W) - P_W(W)|| / ||W|| = {self.extra_fiber_component:.2e}"
            )
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.summary


def regime(W, rtol: float = 1e-10) -> Regime:
    """The regime of W: funnel and stabiliser layers, closedness, rank deficiency, dimensions.

    Every figure is computed for the given W, with numerical ranks counting singular values
    above ``rtol`` times the largest:

    * ``funnel_layers`` / ``stabiliser_layers``: the width rules with ``a_i``, ``b_i`` replaced
      by ``rank(W_{i-1}..W_1)`` and ``rank(W_N..W_{i+2})`` (equal to the rules at generic W,
      reported as ``*_generic``);
    * ``stabiliser_dim = dim ker A_W``, ``orbit_dim = rank A_W``,
      ``fiber_dim = dim ker dphi_W`` (exact factored kernels, no Jacobian);
    * ``orbit_closed``: every ``W_i`` has rank equal to rank X;
    * ``extra_fiber_component = ||Pi_V(W) - P_W(W)|| / ||W||`` when the orbit is smaller than
      the fiber (what separates the two L2 flows), else 0: computed on first access (it costs
      two projections), shown by ``summary`` once computed.

    Scale-invariant: W is brought to scale 1 first (every figure here is a rank or a dimension).
    Memory O(N d^2) beyond the input: kernels are computed in their factored form.
    """
    (rtol,) = check_options(rtol=rtol)
    W, _ = normalized(as_weights(W))
    widths = _widths(W)
    N = len(W)
    F = forward_products(W)
    B = backward_products(W)
    rank_F = [widths[0]] + [numerical_rank(F[j], rtol) for j in range(1, N + 1)]
    rank_B = [numerical_rank(B[j], rtol) for j in range(N)] + [widths[-1]]
    rank_x = rank_F[N]
    eff = [(i, rank_F[i - 1], rank_B[i + 1]) for i in range(1, N)]
    generic = _bottlenecks(widths)
    layer_ranks = tuple(numerical_rank(w, rtol) for w in W)
    stab = stabiliser_subspace(W, rtol).dim
    lie_dim = sum(d * d for d in widths[1:-1])
    coker = differential_cokernel(W, rtol).dim
    diff_rank = widths[0] * widths[-1] - coker
    fiber_dim = sum(widths[i] * widths[i - 1] for i in range(1, N + 1)) - diff_rank
    orbit_dim = lie_dim - stab
    return Regime(
        widths=widths,
        depth=N,
        is_complex=bool(np.iscomplexobj(W[0])),
        rank_x=rank_x,
        generic_rank=min(widths),
        layer_ranks=layer_ranks,
        funnel_layers=_funnels(widths, eff),
        stabiliser_layers=_stabilisers(widths, eff),
        funnel_layers_generic=_funnels(widths, generic),
        stabiliser_layers_generic=_stabilisers(widths, generic),
        generic_orbits_closed=generic_orbits_closed(widths),
        orbit_closed=all(r == rank_x for r in layer_ranks),
        lie_algebra_dim=lie_dim,
        stabiliser_dim=stab,
        orbit_dim=orbit_dim,
        fiber_dim=fiber_dim,
        differential_rank=diff_rank,
        _weights=W,
    )


#: Krylov iterations allowed to each projection behind :attr:`Regime.extra_fiber_component`.
EXTRA_COMPONENT_MAXITER = 500


def _budgeted(which, W):
    """``Pi_V(W)`` or ``P_W(W)`` with the Krylov solve capped at :data:`EXTRA_COMPONENT_MAXITER`."""
    from .projections import _horizontal, _orbit

    if which == "vertical":
        H = _horizontal(W, W, 1e-12, "regime", maxiter=EXTRA_COMPONENT_MAXITER)
        return [w - h for w, h in zip(W, H, strict=True)]
    return _orbit(W, W, 1e-12, "regime", maxiter=EXTRA_COMPONENT_MAXITER)
