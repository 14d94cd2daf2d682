"""contiguous_transpose: values, layout, gradient, and where the Student-t energy uses it."""

from __future__ import annotations

import warnings

import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest

import pymc_ebm
from pymc_ebm._ops.layout import ContiguousTranspose, contiguous_transpose


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("order", ["C", "F"])
def test_contiguous_transpose_values_and_layout(dtype, order):
    x = pt.matrix("x", dtype=dtype)
    f = pytensor.function([x], contiguous_transpose(x))
    value = np.asarray(np.random.default_rng(0).standard_normal((5, 3)), dtype=dtype, order=order)
    out = f(value)
    np.testing.assert_array_equal(out, value.T)
    assert out.flags["C_CONTIGUOUS"]
    assert not np.shares_memory(out, value)


def test_gradient_of_filter_product_uses_the_filters_themselves():
    """``d/dv sum((v @ Wᵀ)²) = 2 (v Wᵀ) W`` takes ``W``, not the transpose of the copy."""
    W = pytensor.shared(np.arange(6.0).reshape(3, 2), "W")
    v = pt.matrix("v")
    grad = pt.grad(pt.sum(pt.dot(v, contiguous_transpose(W)) ** 2), v)
    f = pytensor.function([v], grad)
    value = np.array([[1.0, -2.0]])
    np.testing.assert_allclose(f(value), 2.0 * (value @ W.get_value().T) @ W.get_value())
    nodes = f.maker.fgraph.toposort()
    transposed_copies = [
        n
        for n in nodes
        if isinstance(n.op, pt.elemwise.DimShuffle)
        and n.inputs[0].owner is not None
        and isinstance(n.inputs[0].owner.op, ContiguousTranspose)
    ]
    assert sum(isinstance(n.op, ContiguousTranspose) for n in nodes) == 1
    assert not transposed_copies


def test_student_t_energy_and_gradient_unchanged_with_one_copy_of_the_filters():
    rng = np.random.default_rng(2)
    W, alpha = rng.standard_normal((7, 4)), rng.uniform(0.5, 2.0, 7)
    expert = pymc_ebm.StudentT(W, alpha)
    v = pt.matrix("v")
    energy = expert.energy(v)
    f = pytensor.function([v], [energy, pt.grad(pt.sum(energy), v)])
    value = rng.standard_normal((3, 4))
    s = value @ W.T
    np.testing.assert_allclose(f(value)[0], np.log1p(0.5 * s**2) @ alpha, rtol=1e-12)
    np.testing.assert_allclose(f(value)[1], (alpha * s / (1 + 0.5 * s**2)) @ W, rtol=1e-12)
    copies = [n for n in f.maker.fgraph.toposort() if isinstance(n.op, ContiguousTranspose)]
    assert len(copies) == 1


def test_student_t_gradient_emits_no_deprecation_from_the_package():
    """The Op implements PyTensor's ``pullback``: no FutureWarning about ``L_op``/``grad``."""
    expert = pymc_ebm.StudentT(np.array([[1.0, 0.5], [-0.3, 2.0]]), [2.0, 3.0])
    v = pt.matrix("v")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        grad = pt.grad(pt.sum(expert.energy(v)), [v, expert.W])
        pytensor.function([v], grad)(np.ones((2, 2)))
    ours = [
        str(w.message)
        for w in caught
        if issubclass(w.category, FutureWarning | DeprecationWarning)
        and ("ContiguousTranspose" in str(w.message) or "pymc_ebm" in str(w.filename))
    ]
    assert not ours, ours
