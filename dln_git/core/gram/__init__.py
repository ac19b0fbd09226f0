"""The Gram operator ``A_W^* A_W`` on the Lie algebra and its minimum-norm solver.

docs/math section 2:
``(A_W^* A_W xi)_i = xi_i W_i W_i^* + W_{i+1}^* W_{i+1} xi_i``
``- W_i xi_{i-1} W_i^* - W_{i+1}^* xi_{i+1} W_{i+1}``,
block-tridiagonal with Sylvester diagonal blocks, complex-linear, self-adjoint and positive
semi-definite; singular exactly where W has a non-trivial stabiliser (``ker A^*A = ker A``).

docs/math section 3 (Newton balancing): ``Herm(A_W^* A_W s) = mu`` over Hermitian s
(:meth:`GramOperator.solve_hermitian`), with kernel ``ker A_W ∩ Hermitian``.

Preconditioners: block-Jacobi, symmetric block Gauss–Seidel, and the diagonal balanced model
(exact at balanced points, see :meth:`GramOperator.preconditioner`).

Modules
-------
``frames``
    unitary frames of the hidden spaces (polar / QR factors, :func:`balanced_bases`);
``balanced_model``
    the diagonal balanced model and its batched pseudo-inverse;
``kernels``
    ``ker A_W ∩ Hermitian`` (:class:`HermitianKernel`, :func:`hermitian_kernel`);
``preconditioners``
    the ``"jacobi"``, ``"block_lu"`` and ``"balanced"`` preconditioners;
``solution``
    :class:`GramSolution` and the minimum-norm PCG driver;
``operator``
    :class:`GramOperator`;
``solves``
    :func:`gram_operator` and :func:`solve_gram`.

Every name of the former single module ``dln_git.core.gram`` is importable from here, and
assigning one of the module-level settings on this package (e.g.
``MAX_HERMITIAN_KERNEL_SOURCE``, as tests do with ``monkeypatch.setattr``) also sets it in the
submodule that reads it.
"""

from __future__ import annotations

import sys
import types

from . import balanced_model as balanced_model
from . import frames as frames
from . import kernels as kernels
from . import operator as operator
from . import preconditioners as preconditioners
from . import solution as solution
from . import solves as solves
from .balanced_model import _ZERO_DIAG_RTOL as _ZERO_DIAG_RTOL
from .balanced_model import _ZERO_PIVOT_RTOL as _ZERO_PIVOT_RTOL
from .balanced_model import _BalancedModel as _BalancedModel
from .balanced_model import _sq_norms as _sq_norms
from .frames import _POLAR_EIGH_MAX_COND as _POLAR_EIGH_MAX_COND
from .frames import FRAME_KINDS as FRAME_KINDS
from .frames import _check_bases as _check_bases
from .frames import _compute_frames as _compute_frames
from .frames import _Frames as _Frames
from .frames import _frames_from_bases as _frames_from_bases
from .frames import _gram_cond as _gram_cond
from .frames import _polar_factor as _polar_factor
from .frames import _qr_frame as _qr_frame
from .frames import _reorthonormalise as _reorthonormalise
from .frames import balanced_bases
from .kernels import MAX_HERMITIAN_KERNEL_SOURCE as MAX_HERMITIAN_KERNEL_SOURCE
from .kernels import HermitianKernel, hermitian_kernel
from .operator import GramOperator
from .preconditioners import PRECONDITIONERS as PRECONDITIONERS
from .preconditioners import _Preconditioner as _Preconditioner
from .solution import GramSolution
from .solution import _convergence_message as _convergence_message
from .solution import _range_projected as _range_projected
from .solution import herm_part as herm_part
from .solves import gram_operator, solve_gram

__all__ = [
    "GramOperator",
    "GramSolution",
    "HermitianKernel",
    "balanced_bases",
    "gram_operator",
    "hermitian_kernel",
    "solve_gram",
]

#: The module-level settings and helpers re-exported here, each with the submodules that use it.
_HOMES: dict[str, tuple[types.ModuleType, ...]] = {
    "MAX_HERMITIAN_KERNEL_SOURCE": (kernels,),
    "_ZERO_DIAG_RTOL": (balanced_model,),
    "_ZERO_PIVOT_RTOL": (balanced_model,),
    "_POLAR_EIGH_MAX_COND": (frames,),
    "PRECONDITIONERS": (preconditioners, operator),
    "FRAME_KINDS": (frames, operator),
}


class _GramPackage(types.ModuleType):
    """The package module: setting a name listed in ``_HOMES`` also sets it where it is read."""

    def __setattr__(self, name, value):
        for home in _HOMES.get(name, ()):
            setattr(home, name, value)
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _GramPackage
