"""Arrays of other libraries (torch, JAX) as weights: stand-ins implementing only ``__array__`` or
only DLPack (``__dlpack__``/``__dlpack_device__``), delegating to a numpy array, go through
``dln_git.core`` validation, ``balance`` and ``dln_git.io`` exactly as the numpy arrays they hold,
and are copied (results never share memory with them)."""

from __future__ import annotations

import numpy as np
import pytest

import dln_git as dg
from dln_git.core.validation import as_matrix, as_weights
from dln_git.io import load_weights, save_weights


class ArrayOnly:
    """Like a CPU torch tensor seen through ``__array__`` (no DLPack)."""

    def __init__(self, a):
        self._a = a

    def __array__(self, dtype=None, copy=None):
        return self._a if dtype is None else self._a.astype(dtype)


class DLPackOnly:
    """Like a JAX array seen through DLPack only (no ``__array__``)."""

    def __init__(self, a):
        self._a = a

    def __dlpack__(self, **kwargs):
        return self._a.__dlpack__(**kwargs)

    def __dlpack_device__(self):
        return self._a.__dlpack_device__()


class Refusing:
    """Like a tensor that requires grad: both protocols raise."""

    def __dlpack__(self, **kwargs):
        raise RuntimeError("Can't export tensors that require gradient, use tensor.detach()")

    def __dlpack_device__(self):
        return (1, 0)

    def __array__(self, dtype=None, copy=None):
        raise RuntimeError("Can't call numpy() on Tensor that requires grad. Use tensor.detach().numpy() instead.")


@pytest.mark.parametrize("wrapper", [ArrayOnly, DLPackOnly])
@pytest.mark.parametrize("complex_", [False, True])
def test_balance_accepts_foreign_arrays_and_copies_them(wrapper, complex_):
    W = dg.random_weights((3, 4, 2, 5), rng=np.random.default_rng(0), complex=complex_)
    W = dg.gauge_act([np.diag([3.0, 0.5, 1.0, 2.0]), np.diag([0.2, 4.0])], W)  # away from balance
    wrapped = [wrapper(w) for w in W]
    expected = dg.balance(W)
    got = dg.balance(wrapped)
    assert got.converged and all(np.array_equal(a, b) for a, b in zip(got.weights, expected.weights, strict=True))
    assert all(a.dtype == (np.complex128 if complex_ else np.float64) for a in got.weights)
    for out in (*got.weights, *got.input_weights):
        assert not any(np.shares_memory(out, w) for w in W)
    before = [w.copy() for w in got.input_weights]
    for w in W:
        w *= 2  # the caller's tensors change afterwards: the result does not
    assert all(np.array_equal(a, b) for a, b in zip(got.input_weights, before, strict=True))


@pytest.mark.parametrize("wrapper", [ArrayOnly, DLPackOnly])
def test_validation_converts_dtype_and_save_weights_round_trips(tmp_path, wrapper):
    a = np.arange(6, dtype=np.float32).reshape(2, 3)
    m = as_matrix(wrapper(a), "W_1")
    assert m.dtype == np.float64 and np.array_equal(m, a) and not np.shares_memory(m, a)
    b = np.arange(6.0).reshape(3, 2)  # float64 already: still a copy (ArrayOnly returns its own buffer)
    assert not np.shares_memory(as_matrix(wrapper(b)), b)
    W = (np.arange(6.0).reshape(2, 3), np.ones((4, 2)))
    path = save_weights(tmp_path / "w.npz", [wrapper(w) for w in W])
    assert all(np.array_equal(x, y) for x, y in zip(load_weights(path), W, strict=True))
    with pytest.raises(ValueError, match="W_2 has shape"):
        as_weights([wrapper(W[0]), wrapper(np.ones((4, 3)))])
    with pytest.raises(ValueError, match="W_1 contains NaN"):
        as_weights([wrapper(np.array([[np.nan]]))])


def test_refusing_tensor_names_the_layer_and_both_protocols():
    with pytest.raises(TypeError, match=r"W_2 \(.*Refusing\) could not be read.*DLPack: .*require gradient.*"
                                        r"__array__: .*requires grad.*detach"):
        as_weights([np.ones((2, 2)), Refusing()])
