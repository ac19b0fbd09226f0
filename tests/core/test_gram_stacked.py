"""The batched (stacked) paths of the Gram operator for equal hidden widths.

``GramOperator`` applies ``A_W^* A_W`` on packed vectors as six batched products when every hidden
layer has the same width, and the ``"jacobi"`` / ``"block_lu"`` preconditioners act on packed
vectors without unpacking. Checked against the dense Gram matrix (``dln_git.testing.dense``) and
against the preconditioners' own tuple form (the loop over layers of MATH.md section 2).
"""

from __future__ import annotations

import numpy as np
import pytest

import dln_git as dg
from dln_git.core.gram import GramOperator
from dln_git.testing import dense

PATTERNS = [(3, 4, 4, 4, 2), (5, 3, 3, 6), (2, 3, 2), (1, 2, 2, 2, 2, 1)]


@pytest.mark.parametrize("widths", PATTERNS)
@pytest.mark.parametrize("is_complex", [False, True])
def test_stacked_matvec_matches_dense(widths, is_complex):
    W = dg.random_weights(widths, 7, complex=is_complex)
    op = GramOperator(W)
    assert op._stacks() is not None
    G = dense.dense_gram(W)
    rng = np.random.default_rng(1)
    v = rng.standard_normal(op.shape[0]) + (1j * rng.standard_normal(op.shape[0]) if is_complex else 0)
    assert np.linalg.norm(op.matvec(v) - G @ v) <= 1e-13 * np.linalg.norm(G, 2) * np.linalg.norm(v)


@pytest.mark.parametrize("widths", PATTERNS)
@pytest.mark.parametrize("kind", ["jacobi", "block_lu"])
@pytest.mark.parametrize("is_complex", [False, True])
def test_packed_preconditioner_equals_tuple_form(widths, kind, is_complex):
    W = dg.random_weights(widths, 3, complex=is_complex)
    op = GramOperator(W)
    M = op.preconditioner(kind)
    rng = np.random.default_rng(2)
    v = rng.standard_normal(op.shape[0]) + (1j * rng.standard_normal(op.shape[0]) if is_complex else 0)
    ref = dg.pack(M(dg.unpack(v, op.shapes)))
    assert np.linalg.norm(M.on_packed(v) - ref) <= 1e-14 * np.linalg.norm(ref)


def test_unequal_hidden_widths_use_the_tuple_path():
    W = dg.random_weights((3, 4, 2, 3), 0)
    op = GramOperator(W)
    assert op._stacks() is None
    v = np.random.default_rng(0).standard_normal(op.shape[0])
    G = dense.dense_gram(W)
    assert np.linalg.norm(op.matvec(v) - G @ v) <= 1e-13 * np.linalg.norm(G, 2) * np.linalg.norm(v)
    assert not hasattr(op.preconditioner("block_lu"), "on_packed")
