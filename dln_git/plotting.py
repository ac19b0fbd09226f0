"""One matplotlib style for every figure of dln-git (:mod:`dln_git.figures`, notebooks).

Conventions
-----------
* Measurements are coloured lines or markers from :data:`PALETTE`; the theory's prediction is
  drawn beside them in black, dashed (:func:`prediction_line`, :data:`PREDICTION_STYLE`), and its
  legend entry says what formula it is.
* Figures are built on :class:`matplotlib.figure.Figure` directly, never through ``pyplot``, so
  building them changes no global state and needs no display; :func:`save` renders the PNG with
  the Agg canvas and the PDF with matplotlib's PDF backend.
* Every axis is labelled with a formula or a unit; panels carry a bold letter (:func:`panel_label`).

Usage::

    from dln_git import plotting

    with plotting.style():
        fig, axes = plotting.figure(ncols=2)
        axes[0].semilogy(t, ratio, color=plotting.PALETTE["l2"], label="measured")
        plotting.prediction_line(axes[0], t, np.exp(-2 * t), label=r"$e^{-2t}$")
        paths = plotting.save(fig, "out", "fig_name", size="paper")
"""

from __future__ import annotations

import contextlib
import pathlib
from collections.abc import Iterator, Sequence

import matplotlib
import numpy as np
from matplotlib import cbook
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

__all__ = [
    "DPI",
    "FIGSIZE",
    "PALETTE",
    "PREDICTION_STYLE",
    "RC_PARAMS",
    "REGIME_COLORS",
    "SIZES",
    "apply_style",
    "category_colors",
    "check_size",
    "cycle_colors",
    "figure",
    "guide_line",
    "note",
    "panel_label",
    "prediction_line",
    "save",
    "style",
]

#: Build sizes: ``"paper"`` (full statistics, 200 dpi) and ``"smoke"`` (a few instances, 72 dpi, seconds).
SIZES = ("paper", "smoke")

#: PNG resolution per build size (the PDF is vector graphics).
DPI = {"paper": 200, "smoke": 72}

#: Okabe–Ito colour-blind safe palette, named by role.
PALETTE = {
    "l2": "#0072B2",  # blue: the L2 balancing flow
    "moment": "#D55E00",  # vermillion: the squared-moment-map flow
    "newton": "#009E73",  # green: geodesic Newton
    "scipy": "#CC79A7",  # purple: the dense scipy reference
    "finite_time": "#56B4E9",  # sky blue: the finite-time L2 form
    "measured": "#0072B2",
    "secondary": "#E69F00",  # orange
    "tertiary": "#F0E442",  # yellow
    "fiber": "#000000",
    "balanced": "#D55E00",
    "level": "#9A9A9A",  # level sets, guides
    "prediction": "#000000",
}

#: Colours of the width regimes (MATH.md section 2), used by every figure that compares them.
REGIME_COLORS = {
    "closed, equal widths": "#0072B2",
    "closed, excess width": "#56B4E9",
    "closed, bottleneck": "#009E73",
    "not closed": "#D55E00",
    "funnel": "#E69F00",
    "funnel, off-orbit": "#CC79A7",
    "complex": "#000000",
    "rank-deficient X": "#7F7F7F",
}

#: How a theoretical prediction is drawn.
PREDICTION_STYLE = {"color": "#000000", "linestyle": (0, (5, 3)), "linewidth": 1.3, "zorder": 5}

#: Figure sizes in inches (width of a two-column paper page is ~7 in).
FIGSIZE = {"wide": (7.0, 2.6), "wide_tall": (7.0, 3.2), "single": (3.4, 2.6), "square": (3.4, 3.2)}

#: The rc parameters of the style.
RC_PARAMS = {
    "font.size": 8.0,
    "axes.titlesize": 8.5,
    "axes.labelsize": 8.0,
    "legend.fontsize": 6.5,
    "xtick.labelsize": 7.0,
    "ytick.labelsize": 7.0,
    "axes.linewidth": 0.7,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.color": "#E4E4E4",
    "grid.linewidth": 0.5,
    "axes.axisbelow": True,
    "lines.linewidth": 1.1,
    "lines.markersize": 3.5,
    "legend.frameon": False,
    "legend.handlelength": 2.2,
    "xtick.direction": "out",
    "ytick.direction": "out",
    "xtick.major.size": 2.5,
    "ytick.major.size": 2.5,
    "xtick.minor.size": 1.5,
    "ytick.minor.size": 1.5,
    "mathtext.fontset": "dejavusans",
    "figure.dpi": 100,
    "savefig.bbox": "tight",
    "savefig.pad_inches": 0.03,
    "pdf.fonttype": 42,
    "axes.prop_cycle": matplotlib.cycler(
        color=["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000", "#7F7F7F"]
    ),
}


def check_size(size: str) -> str:
    """Validate a build size (``"paper"`` or ``"smoke"``)."""
    if size not in SIZES:
        raise ValueError(f"size must be one of {SIZES}, got {size!r}")
    return size


def apply_style() -> None:
    """Set the dln-git style globally (``matplotlib.rcParams``); prefer :func:`style` in libraries."""
    matplotlib.rcParams.update(RC_PARAMS)


@contextlib.contextmanager
def style() -> Iterator[None]:
    """Context manager: the dln-git style inside, the caller's rcParams restored afterwards."""
    with matplotlib.rc_context(RC_PARAMS):
        yield


def figure(ncols: int = 1, nrows: int = 1, *, figsize: tuple[float, float] | str | None = None, **subplot_kw):
    """A :class:`~matplotlib.figure.Figure` (Agg canvas, no pyplot) and a flat array of its axes.

    ``figsize`` is a size in inches or a key of :data:`FIGSIZE` (default: ``"wide"`` for two or
    more columns, ``"single"`` otherwise). Uses the constrained layout. Call inside :func:`style`.
    """
    if figsize is None:
        figsize = "wide" if ncols > 1 else "single"
    if isinstance(figsize, str):
        figsize = FIGSIZE[figsize]
    fig = Figure(figsize=figsize, layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(nrows, ncols, squeeze=False, **subplot_kw)
    return fig, axes.ravel()


def save(fig: Figure, out_dir, name: str, *, size: str = "paper") -> list[pathlib.Path]:
    """Write ``out_dir/name.png`` (Agg, :data:`DPI` ``[size]``) and ``out_dir/name.pdf``; return both paths.

    The figure is laid out once (its layout engine, constrained by default, runs while the PNG is
    rendered and is then frozen, so the PDF has the same geometry); both are cropped to their
    content (``bbox_inches="tight"``), so a legend wider than the figure is not cut. Metadata
    that changes from run to run (creation date, software version) is left out, so a rebuild with
    the same numbers gives the same files.
    """
    check_size(size)
    out_dir = pathlib.Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    if not isinstance(fig.canvas, FigureCanvasAgg):
        FigureCanvasAgg(fig)
    png = out_dir / f"{name}.png"
    pdf = out_dir / f"{name}.pdf"
    fig.savefig(png, dpi=DPI[size], format="png", bbox_inches="tight", metadata={"Software": None})
    fig.set_layout_engine("none")
    fig.savefig(pdf, format="pdf", bbox_inches="tight",
                metadata={"CreationDate": None, "Producer": None, "Creator": None})
    return [png, pdf]


def prediction_line(ax, x, y, *, label: str | None = None, **kwargs):
    """Draw the theory's prediction ``y(x)`` in :data:`PREDICTION_STYLE` (black, dashed)."""
    kw = {**PREDICTION_STYLE, **cbook.normalize_kwargs(kwargs, Line2D)}
    (line,) = ax.plot(x, y, label=label, **kw)
    return line


def guide_line(ax, x, y, *, label: str | None = None, **kwargs):
    """A grey dotted guide (a reference slope, a fitted constant): not a prediction of the theory."""
    kw = {"color": PALETTE["level"], "linestyle": ":", "linewidth": 1.1, "zorder": 4,
          **cbook.normalize_kwargs(kwargs, Line2D)}
    (line,) = ax.plot(x, y, label=label, **kw)
    return line


def panel_label(ax, letter: str, title: str | None = None) -> None:
    """Left-aligned axes title ``(letter) title`` with the letter in bold."""
    text = r"$\bf{(" + letter + r")}$"
    ax.set_title(text if title is None else f"{text} {title}", loc="left")


def note(ax, text: str, *, loc: str = "lower left") -> None:
    """A short annotation inside the axes corner ``loc`` (``"lower left"``, ``"upper right"``, ...)."""
    v, h = loc.split()
    x = 0.03 if h == "left" else 0.97
    y = 0.04 if v == "lower" else 0.96
    ax.text(x, y, text, transform=ax.transAxes, ha=h, va="bottom" if v == "lower" else "top",
            fontsize=6.5, color="#333333",
            bbox={"boxstyle": "round,pad=0.25", "facecolor": "white", "edgecolor": "none", "alpha": 0.8})


def category_colors(n: int) -> list:
    """``n`` distinct colours for unordered categories (width patterns, methods): tab10, then tab20."""
    if n < 0:
        raise ValueError(f"n must be non-negative, got {n}")
    cmap = matplotlib.colormaps["tab10" if n <= 10 else "tab20"]
    return [cmap(k % cmap.N) for k in range(n)]


def cycle_colors(n: int, cmap: str = "viridis", lo: float = 0.05, hi: float = 0.85) -> Sequence:
    """``n`` colours sampled from a perceptually uniform colormap (for ordered families)."""
    cm = matplotlib.colormaps[cmap]
    return [cm(v) for v in np.linspace(lo, hi, max(n, 1))]
