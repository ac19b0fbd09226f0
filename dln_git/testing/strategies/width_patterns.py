"""Width tuples ``d = (d_0, ..., d_N)`` drawn by pattern: equal, wide, bottleneck, funnel, any.

:func:`widths` draws a pattern name and then builds widths of that kind directly (one
``_<pattern>_widths`` composite each); ``_feasibility`` skips patterns the bounds cannot hold.
"""

from __future__ import annotations

from collections.abc import Sequence

from hypothesis import strategies as st

from ._common import _check_int

__all__ = ["PATTERNS", "widths"]

#: The width patterns understood by :func:`widths`.
PATTERNS: tuple[str, ...] = ("equal", "wide", "bottleneck", "funnel", "any")


# ---------------------------------------------------------------------------------------------
# Widths
# ---------------------------------------------------------------------------------------------


def _feasibility(pattern: str, min_depth: int, max_depth: int, lo: int, hi: int) -> tuple[int, int] | str:
    """Depth range for ``pattern`` within the bounds, or a reason it is impossible."""
    if pattern in ("equal", "any"):
        return (min_depth, max_depth)
    n_lo = max(min_depth, 2)
    if n_lo > max_depth:
        return f"{pattern!r} needs depth >= 2 (a hidden layer), but max_depth = {max_depth}"
    if pattern == "wide":
        return (n_lo, max_depth)
    if pattern == "bottleneck":
        if max(lo + 1, 2) > hi:
            return (
                "'bottleneck' needs end widths >= 2 and a hidden width below them, "
                f"impossible with widths in [{lo}, {hi}]"
            )
        return (n_lo, max_depth)
    if pattern == "funnel":
        n_hi = min(max_depth, hi - lo)
        if n_lo > n_hi:
            return (
                f"'funnel' needs N + 1 >= {n_lo + 1} distinct widths in [{lo}, {hi}] "
                f"with depth in [{min_depth}, {max_depth}]"
            )
        return (n_lo, n_hi)
    raise ValueError(f"unknown width pattern {pattern!r}; known patterns: {PATTERNS}")


@st.composite
def _equal_widths(draw, n_lo: int, n_hi: int, lo: int, hi: int) -> tuple[int, ...]:
    N = draw(st.integers(n_lo, n_hi))
    w = draw(st.integers(lo, hi))
    return (w,) * (N + 1)


@st.composite
def _any_widths(draw, n_lo: int, n_hi: int, lo: int, hi: int) -> tuple[int, ...]:
    N = draw(st.integers(n_lo, n_hi))
    return tuple(draw(st.integers(lo, hi)) for _ in range(N + 1))


@st.composite
def _wide_widths(draw, n_lo: int, n_hi: int, lo: int, hi: int) -> tuple[int, ...]:
    N = draw(st.integers(n_lo, n_hi))
    # Keep the ends below the maximum so that some hidden layer can be strictly wider.
    end_hi = hi - 1 if lo < hi else hi
    d0 = draw(st.integers(lo, end_hi))
    dN = draw(st.integers(lo, end_hi))
    m = max(d0, dN)
    j = draw(st.integers(0, N - 2)) if m < hi else -1
    hidden = [draw(st.integers(m + 1 if k == j else m, hi)) for k in range(N - 1)]
    return (d0, *hidden, dN)


@st.composite
def _bottleneck_widths(draw, n_lo: int, n_hi: int, lo: int, hi: int) -> tuple[int, ...]:
    N = draw(st.integers(n_lo, n_hi))
    end_lo = max(lo + 1, 2)
    d0 = draw(st.integers(end_lo, hi))
    dN = draw(st.integers(end_lo, hi))
    m = min(d0, dN)
    j = draw(st.integers(0, N - 2))
    hidden = [draw(st.integers(lo, m - 1) if k == j else st.integers(lo, hi)) for k in range(N - 1)]
    return (d0, *hidden, dN)


@st.composite
def _funnel_widths(draw, n_lo: int, n_hi: int, lo: int, hi: int) -> tuple[int, ...]:
    N = draw(st.integers(n_lo, n_hi))
    # Strictly increasing v_0 < ... < v_N in [lo, hi], each bounded so the rest still fit.
    v = [draw(st.integers(lo, hi - N))]
    for k in range(1, N + 1):
        v.append(draw(st.integers(v[-1] + 1, hi - (N - k))))
    widening = draw(st.booleans())
    return tuple(v) if widening else tuple(reversed(v))


_PATTERN_BUILDERS = {
    "equal": _equal_widths,
    "any": _any_widths,
    "wide": _wide_widths,
    "bottleneck": _bottleneck_widths,
    "funnel": _funnel_widths,
}


def widths(
    *,
    min_depth: int = 1,
    max_depth: int = 4,
    min_width: int = 1,
    max_width: int = 5,
    patterns: Sequence[str] | str = PATTERNS,
) -> st.SearchStrategy[tuple[int, ...]]:
    """Width tuples ``d = (d_0, ..., d_N)`` following a chosen pattern.

    A pattern name is drawn first (shrinking towards the first listed), then widths of that
    kind are built directly:

    ``"equal"``
        All widths the same.
    ``"wide"``
        Every hidden width ``>= max(d_0, d_N)``, and one strictly larger whenever the bounds
        allow it (``min_width < max_width``); that layer is a *stabiliser* layer (excess width).
    ``"bottleneck"``
        ``d_0, d_N >= 2`` and some hidden width ``< min(d_0, d_N)``.
    ``"funnel"``
        A strictly monotone sequence of length ``>= 3``, narrowing or widening, e.g.
        ``(3, 2, 1)``, ``(1, 2, 3)``, ``(4, 3, 2)``; every hidden layer is a funnel layer.
    ``"any"``
        Independent widths.

    Only ``"equal"`` and ``"any"`` produce depth 1 (the others need a hidden layer).

    Parameters
    ----------
    min_depth, max_depth : int
        Bounds on the depth ``N = len(d) - 1``, ``1 <= min_depth <= max_depth``.
    min_width, max_width : int
        Bounds on every width, ``1 <= min_width <= max_width``.
    patterns : sequence of str or str
        Patterns to draw from (a subset of :data:`PATTERNS`). Patterns that cannot be built
        within the bounds (e.g. ``"funnel"`` with ``max_depth = 1``) are skipped.

    Returns
    -------
    SearchStrategy[tuple[int, ...]]

    Raises
    ------
    ValueError
        For invalid bounds, an unknown pattern, or when none of the requested patterns can be
        built within the bounds.
    """
    min_depth = _check_int("min_depth", min_depth, 1)
    max_depth = _check_int("max_depth", max_depth, 1)
    min_width = _check_int("min_width", min_width, 1)
    max_width = _check_int("max_width", max_width, 1)
    if min_depth > max_depth:
        raise ValueError(f"min_depth = {min_depth} > max_depth = {max_depth}")
    if min_width > max_width:
        raise ValueError(f"min_width = {min_width} > max_width = {max_width}")
    if isinstance(patterns, str):
        patterns = (patterns,)
    patterns = tuple(dict.fromkeys(patterns))  # de-duplicate, keep order
    if not patterns:
        raise ValueError("patterns must not be empty")
    for p in patterns:
        if p not in _PATTERN_BUILDERS:
            raise ValueError(f"unknown width pattern {p!r}; known patterns: {PATTERNS}")

    branches = []
    reasons = []
    for p in patterns:
        feas = _feasibility(p, min_depth, max_depth, min_width, max_width)
        if isinstance(feas, str):
            reasons.append(feas)
        else:
            branches.append(_PATTERN_BUILDERS[p](feas[0], feas[1], min_width, max_width))
    if not branches:
        raise ValueError("no requested width pattern can be built within the bounds: " + "; ".join(reasons))
    return st.one_of(branches)
