"""The result of :func:`dln_git.symbolic.conservation.count_conservation_laws`."""

from __future__ import annotations

import itertools
from dataclasses import dataclass

__all__ = ["MIN_GAP", "ConservationLawCount"]

MIN_GAP = 1e6  # below this kept/discarded separation a new random point is tried


def _scalar_subchain(widths) -> bool:
    """Two width-1 layers at distance >= 3 with every width between them >= 2."""
    ones = [i for i, d in enumerate(widths) if d == 1]
    return any(b - a >= 3 and all(widths[k] >= 2 for k in range(a + 1, b)) for a, b in itertools.pairwise(ones))


def _complex_scalar_subchain(widths) -> bool:
    """Complex weights: two width-1 layers at distance 2 with a width >= 2 between them."""
    ones = [i for i, d in enumerate(widths) if d == 1]
    return any(b - a == 2 and widths[a + 1] >= 2 for a, b in itertools.pairwise(ones))


@dataclass(frozen=True)
class ConservationLawCount:
    """Number of independent conservation laws of the gradient flows of a network.

    Attributes
    ----------
    widths, activation, bias, complex
        The network (``bias`` only for ReLU, ``complex`` only for linear networks).
    D : int
        Number of real parameters (twice the number of complex entries when ``complex``).
    count : int
        ``D - lie_rank``: the number of independent conservation laws.
    lie_rank : int
        ``dim Lie(V)(theta)`` at the random point (a lower bound if ``saturated`` is False).
    expected : int
        Linear: rank of the Jacobian of the moment-map entries at the same point; ReLU: number of
        hidden neurons.
    matches : bool
        ``count == expected``.
    generator_rank : int
        ``dim V(theta)``, the rank of the gradients of the components of ``phi``.
    ranks_by_depth : tuple of int
        Rank after the generators (depth 0) and after each bracket depth that added something.
    bracket_depth : int
        Deepest bracket nesting that raised the rank (0: ``V(theta)`` is already ``Lie(V)(theta)``).
    saturated : bool
        A bracket level added nothing (or the rank reached ``D``), so ``lie_rank`` is exact; False
        when ``max_bracket_depth`` or ``max_cost`` stopped the iteration first.
    n_candidates : int
        Number of bracket values ``[g, Y](theta)`` evaluated and tested.
    singular_values : tuple of float
        Singular values of the kept values (unit columns), largest first.
    largest_discarded : float
        Largest residual, orthogonal to the span kept when it was tested, of a discarded candidate
        (relative to the size of the terms it was computed from); 0.0 if none was discarded.
    singular_value_gap : float
        ``singular_values[-1] / largest_discarded`` (inf when nothing was discarded with a nonzero
        residual): how far "kept" is from "dependent".
    points_tried : int
        Random points tried: a new point is drawn while ``singular_value_gap < MIN_GAP`` (a point
        close to a degenerate locus), at most ``max_points``; the best-separated run is reported.
    well_conditioned : bool
        ``singular_value_gap >= MIN_GAP`` (1e6) at the reported point.
    exact_rank : int or None
        The same iteration in exact integer arithmetic at a random integer point (None when not
        computed).
    exact_matches : bool or None
        ``exact_rank == lie_rank`` (None when not computed).
    stopped_by : str
        Why the reported run stopped: ``"saturated"``, ``"max_bracket_depth"`` or ``"max_cost"``.
    cost : float
        Cost spent (all points and the exact run), in the units of ``max_cost``.
    message : str
        One line: what was reached, and why the count is not exact if it is not.
    """

    widths: tuple[int, ...]
    activation: str
    bias: bool
    complex: bool
    D: int
    count: int
    lie_rank: int
    expected: int
    matches: bool
    generator_rank: int
    ranks_by_depth: tuple[int, ...]
    bracket_depth: int
    saturated: bool
    n_candidates: int
    singular_values: tuple[float, ...]
    largest_discarded: float
    singular_value_gap: float
    points_tried: int
    well_conditioned: bool
    exact_rank: int | None
    exact_matches: bool | None
    stopped_by: str
    cost: float
    message: str

    def __str__(self) -> str:
        kind = " (complex weights)" if self.complex else ""
        net = f"{self.activation} network, widths {self.widths}{kind}" + (" with biases" if self.bias else "")
        why = "moment-map Jacobian rank" if self.activation == "linear" else "hidden neurons"
        lines = [
            f"Conservation laws of the gradient flows of a {net}: D = {self.D} parameters",
            f"  count = D - dim Lie(V)(theta) = {self.D} - {self.lie_rank} = {self.count}; "
            f"expected {self.expected} ({why}): {'match' if self.matches else 'MISMATCH'}",
        ]
        if self.activation == "linear" and not self.matches and self.complex and _complex_scalar_subchain(self.widths):
            lines.append(
                "  (known exception, complex weights: a scalar sub-network with one hidden layer of width >= 2 "
                "between width-1 layers has one more conservation law than the moment map provides)"
            )
        elif self.activation == "linear" and not self.matches and _scalar_subchain(self.widths):
            lines.append(
                "  (known exception: a scalar sub-network with >= 2 hidden layers between width-1 layers "
                "has more conservation laws than the moment map provides)"
            )
        lines.append(
            f"  rank by bracket depth {list(self.ranks_by_depth)} (dim V(theta) = {self.generator_rank}); "
            + (
                f"saturated at depth {self.bracket_depth}"
                if self.saturated
                else f"NOT saturated: stopped by {self.stopped_by} at depth {self.bracket_depth} "
                "(rank: lower bound, count: upper bound)"
            )
            + f"; {self.n_candidates} bracket values tested"
        )
        if self.singular_values:
            lines.append(
                f"  kept values: singular values {self.singular_values[0]:.3g} .. {self.singular_values[-1]:.3g}; "
                f"largest discarded residual {self.largest_discarded:.3g}; gap {self.singular_value_gap:.3g} "
                f"({'well separated' if self.well_conditioned else 'POORLY SEPARATED'}, "
                f"{self.points_tried} random point{'s' if self.points_tried > 1 else ''} tried)"
            )
        if self.exact_rank is None:
            lines.append("  exact rank: not computed")
        else:
            lines.append(
                f"  exact rank at an integer point: {self.exact_rank} "
                f"({'agrees' if self.exact_matches else 'DISAGREES'} with the float rank)"
            )
        if self.message:
            lines.append(f"  {self.message}")
        return "\n".join(lines)
