"""Claims of the symbolic layer: the moment map derived from the action, the identities behind
the theory proved symbolically, and the count of conservation laws."""

from __future__ import annotations

from ..core import moment_map, norm, random_weights
from .registry import ClaimResult, register

_SMALL_WIDTHS = [(2, 2, 2), (2, 3, 2), (3, 2, 1), (1, 2, 3), (2, 2, 2, 2)]
_MEDIUM_WIDTHS = [*_SMALL_WIDTHS, (2, 4, 2), (3, 3, 3), (1, 2, 2, 1), (2, 3, 3, 2)]


def _widths(size):
    return _SMALL_WIDTHS if size == "small" else _MEDIUM_WIDTHS


@register(
    "symbolic.moment_map_matches",
    "The moment map derived from the action, d/dt R(exp(t xi).W)|_0 = <xi, mu>, is W_i W_i^* - W_{i+1}^* W_{i+1}"
    " exactly, and its lambdified form equals the numerical moment map.",
    section="1", tag="derived",
)
def _moment_map_matches(rng, size):
    from ..symbolic import derive_moment_map, lambdify_moment_map
    from ..symbolic.matrices import symbolic_weights
    from ..symbolic.moment_map import moment_map_closed_form

    worst, not_exact = 0.0, []
    for k, widths in enumerate(_widths(size)):
        cx = bool(k % 2)
        derived = derive_moment_map(widths, complex=cx)
        closed = moment_map_closed_form(symbolic_weights(widths, complex=cx))
        if any((d - c).expand() != d.zeros(*d.shape) for d, c in zip(derived, closed, strict=True)):
            not_exact.append(widths)
        f = lambdify_moment_map(widths, complex=cx)
        W = random_weights(widths, rng, complex=cx)
        num = moment_map(W)
        if num:
            diff = tuple(a - b for a, b in zip(f(W), num, strict=True))
            worst = max(worst, norm(diff) / norm(num))
    return ClaimResult(worst, 0.0, 1e-12, passed=worst <= 1e-12 and not not_exact,
                       detail=f"{len(_widths(size))} width patterns (real and complex); symbolic difference "
                       f"not exactly zero for: {not_exact or 'none'}")


@register(
    "symbolic.identities",
    "Symbolically, to exactly zero: phi is invariant along A_W(xi); Noether <grad_W E(phi), A_W(xi)> = 0 for any E;"
    " mu = A_W^*(W); d mu = 2 Herm(A_W^*(dW)); along dW = -A_W(xi), d mu = -2 Herm(A_W^* A_W xi)"
    " (= -2 mu on the L2 flow).",
    section="1-3", tag="derived",
)
def _identities(rng, size):
    from ..symbolic import prove_identities

    failed, total = [], 0
    for k, widths in enumerate(_widths(size)[:4] if size == "small" else _widths(size)):
        report = prove_identities(widths, complex=bool(k % 2))
        for ident in report.identities:
            total += 1
            if not ident.proved:
                failed.append(f"{ident.name} {widths}")
    return ClaimResult(len(failed), 0, 0, detail=f"{total} identities proved on {k + 1} width patterns; "
                       f"not proved: {failed or 'none'}")


@register(
    "symbolic.conservation_laws",
    "Conservation laws (D - dim Lie(V)(theta), Marcotte–Gribonval–Peyré): for linear networks as many as"
    " functionally independent moment-map entries (all widths >= 2; width-1 layers can add laws), for ReLU"
    " networks one per hidden neuron.",
    section="1, 6.1", tag="known",
)
def _conservation_laws(rng, size):
    from ..symbolic import count_conservation_laws

    n = 8 if size == "small" else 40
    mismatches, examples = 0, []
    for k in range(n):
        if k % 2 == 0:
            depth = int(rng.integers(2, 5))
            widths = tuple(int(d) for d in rng.integers(2, 5 if size == "small" else 6, size=depth + 1))
            result = count_conservation_laws(widths, "linear", rng)
        else:
            hidden = int(rng.integers(1, 3))
            widths = tuple(int(d) for d in rng.integers(2, 6 if size == "small" else 10, size=hidden + 2))
            result = count_conservation_laws(widths, "relu", rng)
        # a count stopped by its budget (saturated False) is an upper bound, not a check
        ok = result.matches and result.saturated and result.exact_matches is not False
        if not ok:
            mismatches += 1
            examples.append((widths, result.activation, result.count, result.expected, result.message))
    return ClaimResult(mismatches, 0, 0, detail=f"{n} random networks (half linear, half ReLU); "
                       f"mismatches: {examples[:3] or 'none'}")
