"""Counting the conservation laws of gradient flows by iterated Lie brackets.

Reference: Marcotte, Gribonval and Peyré, "Abide by the law and follow the flow: conservation laws
for gradient flows", NeurIPS 2023. Notation of docs/math sections 1 and 6.1.

The setting
-----------
The parameters ``theta`` live in ``R^D``; the model depends on them only through a polynomial
reparametrization ``phi(theta)``:

* linear network, widths ``(d_0, ..., d_N)``: ``phi(W) = X = W_N ... W_1`` (its ``d_N d_0``
  entries, each a sum of path products);
* ReLU network with one or two hidden layers, widths ``(d_0, n_1, d_out)`` or
  ``(d_0, n_1, n_2, d_out)``: activation patterns are locally constant, so on a region of
  parameter space where the pattern is fixed the network is linear on each neuron
  (``relu' in {0, 1}``); on the region where every neuron is active, ``phi`` collects the path
  products, one component per path: ``W_2[o, j] W_1[j, i]`` (the entries of the rank-one
  matrices ``w_out,j theta_in,j^T``), resp. ``W_3[o, k] W_2[k, j] W_1[j, i]``. With ``bias=True``
  every layer has a bias, an edge from a constant input, and the paths that start at a bias
  (``W_2[o, j] b_1[j]``, ``b_2[o]``, ...) are components too.

Every loss that factors through ``phi`` has its gradient in ``V(theta) = span{grad phi_k(theta)}``.
The number of independent conservation laws shared by all these gradient flows, near a generic
point, is ``D - dim Lie(V)(theta)``, where ``Lie(V)`` is the Lie algebra of vector fields generated
by the fields ``grad phi_k`` under ``[X, Y] = DY.X - DX.Y`` (Marcotte-Gribonval-Peyré). Expected
values: for linear networks the number of functionally independent entries of the moment map
``mu_i = W_i W_i^T - W_{i+1}^T W_{i+1}`` (the rank of its Jacobian at a generic point; equal to
``(N - 1) d (d + 1) / 2`` for equal widths ``d``), with one exception found here (a scalar
sub-network, see :func:`count_conservation_laws`); for ReLU networks one law per hidden neuron (the
imbalances ``D_j`` of docs/math section 6.1).

Complex weights (``complex=True``, linear networks). ``theta`` is then the vector of the real
and imaginary parts of the entries (``D = 2 sum_l d_l d_{l-1}`` real coordinates), the
components of ``phi`` are ``Re X[o, i]`` and ``Im X[o, i]``, and the gradient flows are those of
real losses of ``X`` in these real coordinates (the flows ``dW/dt = -grad L`` of complex
training). The count is the number of real conservation laws, ``D - dim_R Lie(V)(theta)``; the
expected value is the rank of the real Jacobian of the real and imaginary parts of the complex
moment map ``mu_i = W_i W_i^* - W_{i+1}^* W_{i+1}`` (``d_i^2`` real entries per hidden layer).
They agree on the patterns we checked (exact cross-check included) except when two width-1
layers are at distance 2 with a width >= 2 between them, e.g. ``(1, 2, 1)``: 5 laws against 4 (a
scalar complex sub-network with one hidden layer; the real exception needs two hidden layers).
ReLU networks have no complex version (the activation needs an order).

Budget. The work grows with the number of path terms of the generators (the product of the
widths), the number of parameters and, exponentially (``3^k``), with the bracket depth ``k``,
which is not known in advance. ``max_cost`` (default :data:`DEFAULT_MAX_COST`) bounds it in the
units of :mod:`dln_git.symbolic.conservation_iteration` (roughly 10^7-10^8 per second of one core):
before anything is built, the cost of the generators and of the first bracket level (which every
run needs) is estimated and a ``ValueError`` names the size and the limit if it does not fit;
during the run every chain of brackets is charged before it is evaluated, and when the budget is
spent the count stops with ``saturated=False``, ``stopped_by="max_cost"`` and a ``message``
(the rank found is then a lower bound, the count an upper bound).

The algorithm
-------------
The generators ``grad phi_k`` are stored exactly, as sparse polynomials (one row of variable
indices per term; every coefficient is 1 because each path visits every layer once).

1. Draw a random point ``theta``. Evaluate every generator there and keep a subset ``S_0`` whose
   values are a basis of ``V(theta)`` (pivoted QR).
2. Level ``l = 1, 2, ...``: for every field ``Y`` kept at level ``l - 1`` (a right-nested bracket
   ``[g_l, [..., [g_2, g_1]]]`` of elements of ``S_0``, stored as that chain of generators) and
   every ``g`` in ``S_0``, compute the *value* ``[g, Y](theta) = DY(theta)[g(theta)] -
   Dg(theta)[Y(theta)]``. Candidates whose values raise the rank of the span of the kept values
   are kept (pivoted QR of their components orthogonal to that span).
3. Stop when a level adds nothing (or the rank reaches ``D``): ``dim Lie(V)(theta)`` is the number
   of kept fields (at most ``D``).

Values of nested brackets without expanding them. Expanding ``[g, Y]`` as a polynomial is what
makes symbolic approaches slow: a depth-3 bracket of a depth-4 linear network of widths
``(2, 5, 5, 5, 2)`` has millions of monomials. Instead, a bracket is evaluated through
``[g, Z](x) = d/de Z(x + e g(x)) - d/de g(x + e Z(x))`` with an infinitesimal ``e`` (``e^2 = 0``):
the point ``x`` itself may carry infinitesimals, so the fields are evaluated in the algebra
``R[e_1, ..., e_n] / (e_1^2, ..., e_n^2)`` (multilinear "hyper-dual" numbers, ``2^n``
coefficients, product by subset convolution). A chain of ``k`` generators costs ``2k - 1``
generator evaluations with at most ``k`` infinitesimals, batched over all ``g`` in ``S_0``.
Because the fields are polynomials this is exact differentiation, not an approximation; the same
code runs in float arithmetic and in exact integer arithmetic (Python integers).

Why pruning by values at one point is correct. For any finite family of polynomial fields, the
rank of its values is the same (its maximum) on a dense open set of points; a random point lies in
all these sets (countably many families) with probability one. Around such a point ``theta``, a
field ``Y`` whose value lies in the span of the values of the kept fields ``S`` lies in the module
spanned by ``S`` over the smooth functions on a neighbourhood: ``Y = sum_j f_j S_j``. Then
``[g, Y] = sum_j (g f_j) S_j + f_j [g, S_j]``, so brackets of a discarded field are combinations of
kept fields and of brackets of kept fields. When the procedure stops, the module ``M`` spanned by
the kept fields therefore satisfies ``[g, M] ⊂ M`` for every ``g`` in ``S_0``. It contains every
generator (their values lie in ``span S_0(theta)``), and since ``[fA, hB] = fh[A, B] +
f(A h)B - h(B f)A`` the module generated by ``Lie(S_0)`` is closed under brackets and contains
the generators; so ``Lie(V)(theta) = Lie(S_0)(theta)``, which is spanned by right-nested brackets
``[g_1, [g_2, ..., g_k]]``, each in ``M`` by induction on ``k``. Hence ``Lie(V)(theta) =
span S(theta)`` exactly, at a generic point; the stopping rule is exact as well (a level adding
nothing means the closure above holds), not a heuristic. The only assumption is the genericity of
the point, the same one the theorem needs. It is checked by an independent exact run of the same
procedure in integer arithmetic (rank decisions by fraction-free elimination over the integers,
i.e. over the rationals) at a random integer point (as generic as a random rational point, by the
Schwartz-Zippel lemma; see ``_integer_point``).

Float rank decisions. A candidate value is divided by the size of the two terms it is the
difference of (``||DY[g]|| + ||Dg[Y]||``), so that cancellation cannot make rounding noise look
like a new direction, and kept when its residual orthogonal to the current span exceeds ``tol``.
The result reports the singular values of the kept (unit-normalized) values and the largest
residual among discarded candidates; their ratio is the gap that separates "kept" from
"dependent". A random point can land close to a locus where the values degenerate (measured: for
widths ``(3, 2, 1, 4, 1)`` a draw with ``W_4 W_3 = -0.003`` gave genuine residuals of 1e-7 and a
wrong float rank); the gap then collapses (below 1 there), so a new point is drawn while the gap
is below ``MIN_GAP`` (1e6), at most ``max_points`` times, and the best-separated run is reported.
With many generators (ReLU paths, ``m > D``), an LU factorization with partial pivoting first
orders the generator values so that likely independent ones are tested first (every value is
still tested).
"""

from __future__ import annotations

import math

import numpy as np

from ..core.options import Rule, check_options
from ..core.validation import as_weights, as_widths
from ..core.weights import as_rng
from .conservation_generators import (
    build_generators,
    generator_terms,
    integer_point,
    random_point,
    weights_of_point,
)
from .conservation_iteration import BLAS_WEIGHT, Budget, iterate
from .conservation_result import MIN_GAP, ConservationLawCount

__all__ = [
    "ACTIVATIONS",
    "DEFAULT_MAX_COST",
    "EXACT_MAX_D",
    "MIN_GAP",
    "ConservationLawCount",
    "count_conservation_laws",
    "estimate_conservation_cost",
    "moment_map_jacobian_rank",
]

ACTIVATIONS = ("linear", "relu")
EXACT_MAX_D = 40  # exact=None runs the exact check when D <= EXACT_MAX_D
#: Default cost budget of one count (units of :mod:`.conservation_iteration`, ~10^7-10^8 per second: minutes).
DEFAULT_MAX_COST = 5e9


def moment_map_jacobian_rank(W, *, rtol: float = 1e-9) -> int:
    """Rank at ``W`` of the real Jacobian of the independent real entries of every ``mu_k``.

    ``mu_k = W_k W_k^* - W_{k+1}^* W_{k+1}`` (docs/math section 1) is Hermitian: its entries
    ``i <= j`` (real weights), resp. the real parts of ``i <= j`` and the imaginary parts of
    ``i < j`` (complex weights), are its independent real entries. The differential along ``E``
    is ``E_k W_k^* + W_k E_k^* - E_{k+1}^* W_{k+1} - W_{k+1}^* E_{k+1}``, taken along every real
    coordinate (``E = e_ab`` and, for complex weights, ``E = i e_ab``). At a generic ``W`` the rank
    is the number of functionally independent entries of the moment map. Singular values below
    ``rtol`` times the largest count as zero.
    """
    W = as_weights(W)
    (rtol,) = check_options(rtol=rtol)
    N = len(W)
    if N == 1:
        return 0
    cx = np.iscomplexobj(W[0])
    upper = [np.triu_indices(w.shape[0]) for w in W[:-1]]
    strict = [np.triu_indices(w.shape[0], 1) for w in W[:-1]]
    columns = []
    for ell, w in enumerate(W):
        for a in range(w.shape[0]):
            for b in range(w.shape[1]):
                for unit in (1.0, 1j) if cx else (1.0,):
                    E = np.zeros_like(w)
                    E[a, b] = unit
                    col = []
                    for k in range(N - 1):
                        dmu = np.zeros((W[k].shape[0],) * 2, dtype=w.dtype)
                        if k == ell:
                            dmu += E @ w.conj().T + w @ E.conj().T
                        if k + 1 == ell:
                            dmu -= E.conj().T @ w + w.conj().T @ E
                        col.append(dmu[upper[k]].real)
                        if cx:
                            col.append(dmu[strict[k]].imag)
                    columns.append(np.concatenate(col))
    sv = np.linalg.svd(np.stack(columns, axis=1), compute_uv=False)
    if sv.size == 0 or sv[0] == 0:
        return 0
    return int(np.sum(sv > rtol * sv[0]))


def estimate_conservation_cost(
    widths, activation: str = "linear", *, bias: bool = False, complex: bool = False
) -> float:
    """Cost that every count of this network needs at least (units of ``max_cost``).

    Building the generators (``T`` path terms of degree ``L - 1`` for ``L`` layers, about 100
    units per stored index: sorting and indexing) and the first bracket level: ``s = min(m, D)``
    chains, each evaluated at a batch of ``s`` points (``3 s T / m`` products) and tested against
    the span (``4 s D^2`` flops), and for linear networks the singular values of the ``rows x D``
    moment-map Jacobian (``rows D min(rows, D)`` flops); flops are weighted by ``BLAS_WEIGHT``.
    Deeper levels come on top and are charged as they run.
    """
    widths = as_widths(widths)
    activation, bias, complex = check_options(
        activation=(activation, Rule.choice(*ACTIVATIONS, what="the activation of the network")),
        bias=(bias, Rule.flag("whether every ReLU layer has a bias")),
        complex=complex,
    )
    m, T = generator_terms(widths, activation, bias, complex)
    L = len(widths) - 1
    D = sum(widths[i] * widths[i - 1] + (widths[i] if bias else 0) for i in range(1, L + 1)) * (2 if complex else 1)
    s = min(m, D)
    per_generator = T / m * max(L - 2, 1)
    cost = 100.0 * T * L + s * (3.0 * s * per_generator + BLAS_WEIGHT * 4 * s * D * D + T / m * L)
    if activation == "linear":  # the expected count: SVD of the moment-map Jacobian, rows x D
        rows = sum(d * d if complex else d * (d + 1) // 2 for d in widths[1:-1])
        cost += BLAS_WEIGHT * (rows * D * min(rows, D) + D**3)  # and of the kept values, D x rank
    return cost


def _message(run, exact_stopped: bool, budget: Budget) -> str:
    spent = f"cost {budget.spent:.3g} of max_cost = {budget.limit:.3g}"
    if run.stopped_by == "max_cost":
        msg = (
            f"stopped by max_cost after bracket depth {run.bracket_depth} ({spent}): lie_rank {run.rank} is a "
            "lower bound and count an upper bound; pass a larger max_cost= to finish"
        )
    elif run.stopped_by == "max_bracket_depth":
        msg = f"stopped at max_bracket_depth = {run.bracket_depth}: lie_rank is a lower bound ({spent})"
    else:
        msg = f"saturated at bracket depth {run.bracket_depth} ({spent})"
    if exact_stopped:
        msg += "; the exact cross-check did not fit in max_cost and was not completed (exact_rank None)"
    return msg


def count_conservation_laws(
    widths,
    activation: str = "linear",
    rng=None,
    *,
    bias: bool = False,
    complex: bool = False,
    exact: bool | None = None,
    max_bracket_depth: int | None = None,
    tol: float = 1e-9,
    max_points: int = 5,
    max_cost: float = DEFAULT_MAX_COST,
) -> ConservationLawCount:
    """Count the independent conservation laws of the gradient flows of a network.

    ``count = D - dim Lie(V)(theta)`` at a random point ``theta``, where ``V`` is spanned by the
    gradients of the components of the reparametrization ``phi`` (module docstring;
    Marcotte-Gribonval-Peyré, NeurIPS 2023).

    Parameters
    ----------
    widths : sequence of int
        Linear: ``(d_0, ..., d_N)``, ``N >= 1``. ReLU: ``(d_0, n_1, d_out)`` or
        ``(d_0, n_1, n_2, d_out)`` (one or two hidden layers).
    activation : {"linear", "relu"}
    rng : None, int or numpy.random.Generator
        Source of the random points.
    bias : bool
        ReLU only: every layer has a bias (an edge from a constant input).
    complex : bool
        Linear only: complex weights; counts the real conservation laws in the ``D`` real
        coordinates (module docstring).
    exact : bool or None
        Also run the iteration in exact integer arithmetic at a random integer point. None: only
        when ``D <= EXACT_MAX_D`` (40).
    max_bracket_depth : int or None
        Stop after this many bracket levels (0: ``V`` alone). None: until a level adds nothing,
        which always happens within ``D`` levels.
    tol : float
        Float rank threshold on residuals relative to the size of the computation, in (0, 1).
    max_points : int
        Random points to try at most: while the gap between kept and discarded values is below
        ``MIN_GAP`` (the point is close to a locus where the rank drops or the values nearly
        cancel), a fresh point is drawn; the run with the largest gap is reported.
    max_cost : float
        Cost budget of the whole count (every point and the exact run; module docstring, roughly
        10^7-10^8 units per second). Networks whose unavoidable cost
        (:func:`estimate_conservation_cost`) exceeds it are refused before any work.

    Returns
    -------
    ConservationLawCount
        ``saturated`` False (and ``message`` says why) when ``max_bracket_depth`` or ``max_cost``
        stopped the iteration.

    Raises
    ------
    ValueError
        Unknown activation, bad widths (non-positive, too few, or not 1-2 hidden layers for
        ReLU), ``bias`` with a linear network, ``complex`` with ReLU, negative
        ``max_bracket_depth``, bad ``tol``, ``max_points`` or ``max_cost``, or a network whose
        estimated cost exceeds ``max_cost`` (the message names both).
    TypeError
        Non-integer widths, ``max_bracket_depth`` or ``max_points``, non-boolean
        ``exact``/``bias``/``complex``, bad ``rng``.

    Notes
    -----
    The moment map is always conserved, so for linear networks ``count >= expected``. Equality
    holds for every width pattern we swept (all 1405 patterns of depth 2-4 with widths 1-4, and
    widths 1-5 at depth 2, exact cross-check included) except one family: two width-1 layers
    (``d_0`` and ``d_N`` count) at distance >= 3 with every width between them >= 2, i.e. a scalar
    sub-network with two or more hidden layers. There the end-to-end map of the sub-network is a
    scalar ``s``, every flow inside it is a time change of the flow of ``grad s``, and there are
    more laws than the moment map gives; e.g. ``(1, 2, 2, 1)``: 7 laws (``D - 1``, since ``V`` is one
    line) against a moment-map Jacobian rank of 6. ``matches`` is then False and ``__str__``
    says why. ``exact=True`` gets slow as D grows (seconds from D ~ 70): it is a cross-check for
    small networks.
    """
    if isinstance(activation, str):
        activation = activation.lower()
    (activation, bias, complex_, exact, max_bracket_depth, tol, max_points, max_cost) = check_options(
        activation=(activation, Rule.choice(*ACTIVATIONS, what="the activation of the network")),
        bias=(bias, Rule.flag("whether every ReLU layer has a bias")),
        complex=complex,
        exact=(exact, Rule("bool", allow_none=True, what="None, True or False: the exact cross-check")),
        max_bracket_depth=(max_bracket_depth, Rule.count(0, "a number of bracket levels", allow_none=True)),
        tol=(tol, Rule.relative_tolerance("the float rank threshold, in (0, 1)")),
        max_points=(max_points, Rule.count(1, "a number of random points")),
        max_cost=(max_cost, Rule.positive("the cost budget of the count")),
    )
    widths = as_widths(widths)
    if activation == "relu" and len(widths) not in (3, 4):
        raise ValueError(
            f"relu networks need widths (d_0, n_1, d_out) or (d_0, n_1, n_2, d_out) (one or two "
            f"hidden layers), got {widths} ({len(widths) - 2} hidden layers)"
        )
    if bias and activation == "linear":
        raise ValueError("bias=True is only supported for activation='relu' (phi = W_N ... W_1 has no bias)")
    if complex_ and activation == "relu":
        raise ValueError("complex=True is only supported for activation='linear' (ReLU needs real pre-activations)")
    rng = as_rng(rng)
    needed = estimate_conservation_cost(widths, activation, bias=bias, complex=complex_)
    if needed > max_cost:
        m, T = generator_terms(widths, activation, bias, complex_)
        raise ValueError(
            f"count_conservation_laws: widths {widths} ({activation}{', complex' if complex_ else ''}) need an "
            f"estimated cost of at least {needed:.3g} ({T} generator terms, {m} generators), more than "
            f"max_cost = {max_cost:.3g} (roughly 1e7-1e8 per second); pass a larger max_cost= to proceed anyway"
        )

    budget = Budget(max_cost)
    budget.charge(100.0 * generator_terms(widths, activation, bias, complex_)[1] * (len(widths) - 1))  # the build
    gens = build_generators(widths, activation, bias, complex_)
    D = gens.D
    best = None
    points_tried = 0
    while points_tried < max_points:
        points_tried += 1
        x_try = random_point(widths, bias, rng, complex_)
        run_try = iterate(gens, x_try, max_bracket_depth, tol, budget)
        sv_try = np.linalg.svd(run_try.kept_values, compute_uv=False)
        gap_try = float(sv_try[-1]) / run_try.largest_discarded if run_try.largest_discarded > 0 else math.inf
        finished = run_try.stopped_by != "max_cost"
        if best is None or (finished and (best[1].stopped_by == "max_cost" or gap_try > best[3])):
            best = (x_try, run_try, sv_try, gap_try)
        if gap_try >= MIN_GAP or not finished:
            break
    x, run, sv, gap = best

    if activation == "linear":
        expected = moment_map_jacobian_rank(weights_of_point(x, widths, complex_))
    else:
        expected = int(sum(widths[1:-1]))

    do_exact = D <= EXACT_MAX_D if exact is None else exact
    exact_rank, exact_stopped = None, False
    if do_exact and run.stopped_by != "max_cost":
        exact_run = iterate(gens, integer_point(D, rng), max_bracket_depth, tol, budget)
        exact_stopped = exact_run.stopped_by == "max_cost"
        exact_rank = None if exact_stopped else exact_run.rank

    count = D - run.rank
    return ConservationLawCount(
        widths=widths,
        activation=activation,
        bias=bias,
        complex=complex_,
        D=D,
        count=count,
        lie_rank=run.rank,
        expected=expected,
        matches=count == expected,
        generator_rank=run.generator_rank,
        ranks_by_depth=run.ranks_by_depth,
        bracket_depth=run.bracket_depth,
        saturated=run.saturated,
        n_candidates=run.n_candidates,
        singular_values=tuple(float(v) for v in sv),
        largest_discarded=float(run.largest_discarded),
        singular_value_gap=float(gap),
        points_tried=points_tried,
        well_conditioned=gap >= MIN_GAP,
        exact_rank=exact_rank,
        exact_matches=None if exact_rank is None else exact_rank == run.rank,
        stopped_by=run.stopped_by,
        cost=budget.spent,
        message=_message(run, exact_stopped, budget),
    )
