"""Hypothesis strategies for deep linear networks.

Every strategy here is built *constructively*: matrices are products of Haar-random
orthonormal (unitary) factors and bounded spectra, and width patterns are assembled from
bounded integer draws, so nothing is ever rejected (no ``assume``, no rejecting ``.filter``).
The orthonormal factors come from an integer seed drawn by Hypothesis and fed to
``numpy.random.default_rng``; the singular values are drawn by Hypothesis itself as bounded
floats, so shrinking acts on the quantities that matter (widths, spectra, scale factors).

Conventions (see ``MATH.md``, section 1): widths ``d = (d_0, ..., d_N)`` are a tuple of positive
ints with depth ``N >= 1``; weights ``W = (W_1, ..., W_N)`` are a tuple of ``float64`` (or
``complex128``) arrays, ``W_i`` of shape ``(d_i, d_{i-1})``; Lie algebra elements
``xi = (xi_1, ..., xi_{N-1})`` and gauge elements ``g = (g_1, ..., g_{N-1})`` are tuples of square
``d_i x d_i`` arrays, one per hidden layer (empty tuples when ``N = 1``). ``^*`` is the conjugate
transpose.

Wherever a strategy takes ``widths`` it accepts either a fixed tuple (validated at once) or a
Hypothesis strategy of tuples (combined with ``flatmap``).

The strategies live in submodules by the object they build, all re-exported here:

- ``factors_and_spectra``: :func:`haar_orthonormal`, :func:`spectra`;
- ``width_patterns``: :func:`widths`, :data:`PATTERNS`;
- ``weights_and_end_to_end``: :func:`weights`, :func:`end_to_end_matrices`,
  :func:`balanced_weights`, :func:`balanced_weights_with_end_to_end`;
- ``gauge_and_lie_algebra``: :func:`gauge_elements`, :func:`lie_algebra_elements`;
- ``hard_weights``: :func:`rescaled_weights`, :func:`unbalanced_weights`,
  :func:`degenerate_weights`, :data:`DEGENERACIES`;
- ``_common``: argument checks and the seed strategy shared by all of them.

Examples
--------
>>> import numpy as np
>>> from hypothesis import given, settings
>>> from hypothesis import strategies as st
>>> from dln_git.testing import strategies as dst
>>> @settings(max_examples=20, deadline=None)
... @given(dst.balanced_weights(dst.widths(patterns=("equal", "wide")), cond=100.0))
... def test_balanced(W):
...     for A, B in zip(W[:-1], W[1:]):
...         assert np.allclose(A @ A.conj().T, B.conj().T @ B)
>>> test_balanced()

Pairing weights with a matching gauge element:

>>> pair = dst.widths(max_depth=3).flatmap(
...     lambda d: st.tuples(dst.weights(d), dst.gauge_elements(d)))
"""

from __future__ import annotations

# Names of the former single-module ``strategies.py`` (imports and private helpers included)
# stay reachable here, so code that reached into it keeps working.
import math  # noqa: F401
from collections.abc import Callable, Sequence  # noqa: F401
from typing import Any  # noqa: F401

import numpy as np  # noqa: F401
from hypothesis import strategies as st  # noqa: F401

from ...core.weights import haar_orthonormal as _core_haar  # noqa: F401
from ._common import (  # noqa: F401
    _SEEDS,
    WidthsLike,
    _check_cond,
    _check_int,
    _check_scale,
    _check_widths,
    _dtype,
    _is_int,
    _with_widths,
)
from .factors_and_spectra import _spectrum_bounds, _svd_product, haar_orthonormal, spectra  # noqa: F401
from .gauge_and_lie_algebra import gauge_elements, lie_algebra_elements
from .hard_weights import DEGENERACIES, degenerate_weights, rescaled_weights, unbalanced_weights  # noqa: F401
from .weights_and_end_to_end import (
    balanced_weights,
    balanced_weights_with_end_to_end,
    end_to_end_matrices,
    weights,
)
from .width_patterns import (  # noqa: F401
    _PATTERN_BUILDERS,
    PATTERNS,
    _any_widths,
    _bottleneck_widths,
    _equal_widths,
    _feasibility,
    _funnel_widths,
    _wide_widths,
    widths,
)

__all__ = [
    "PATTERNS",
    "balanced_weights",
    "balanced_weights_with_end_to_end",
    "degenerate_weights",
    "end_to_end_matrices",
    "gauge_elements",
    "haar_orthonormal",
    "lie_algebra_elements",
    "rescaled_weights",
    "spectra",
    "unbalanced_weights",
    "weights",
    "widths",
]
