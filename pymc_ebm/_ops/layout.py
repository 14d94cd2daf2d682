"""A transposed copy of a matrix in row-major (C) order, for faster filter products.

``pt.dot(v, W.T)`` hands BLAS the filters ``W`` as a transposed operand. In
float32 the OpenBLAS that PyTensor's Numba backend calls (SciPy's) runs that
product (``sgemm`` with one transposed operand) about 15 % slower than the same
product on a row-major copy of ``Wᵀ`` (no transposed operand). The copy costs
one pass over ``W`` per call of the compiled function; inside a
``pytensor.scan`` (a leapfrog trajectory) it is computed once, outside the
loop, while the product runs at every step. The gradient ``g W`` still uses
``W`` itself: the transpose of :func:`contiguous_transpose` is rewritten to
its input.
"""

from __future__ import annotations

import numpy as np
import pytensor.tensor as pt
from pytensor.graph.basic import Apply
from pytensor.graph.op import Op
from pytensor.graph.rewriting.basic import node_rewriter
from pytensor.tensor.rewriting.basic import register_canonicalize, register_specialize
from pytensor.tensor.variable import TensorVariable

__all__ = ["contiguous_transpose"]


class ContiguousTranspose(Op):
    """``Wᵀ`` of a matrix as a new row-major (C-contiguous) array."""

    __props__ = ()

    def make_node(self, x) -> Apply:
        x = pt.as_tensor_variable(x)
        if x.ndim != 2:
            raise ValueError(f"contiguous_transpose takes a matrix, got {x.ndim} dimensions")
        out = pt.tensor(dtype=x.dtype, shape=x.type.shape[::-1])
        return Apply(self, [x], [out])

    def perform(self, node, inputs, output_storage) -> None:
        output_storage[0][0] = np.array(inputs[0].T, order="C", copy=True)

    def infer_shape(self, node, shapes):
        return [shapes[0][::-1]]

    def pullback(self, inputs, outputs, cotangents):
        """``x̄ = ȳᵀ``: the cotangent of the copy, transposed back."""
        return [cotangents[0].T]

    if not hasattr(Op, "pullback"):  # pragma: no cover - PyTensor without ``pullback``
        L_op = pullback


_contiguous_transpose = ContiguousTranspose()


def contiguous_transpose(x: TensorVariable) -> TensorVariable:
    """``x.T`` computed into a new row-major array.

    Parameters
    ----------
    x : TensorVariable
        A matrix, shape ``(m, n)``.

    Returns
    -------
    TensorVariable
        Its transpose, shape ``(n, m)``, C-contiguous.

    Examples
    --------
    >>> import numpy as np, pytensor, pytensor.tensor as pt
    >>> x = pt.matrix("x")
    >>> f = pytensor.function([x], contiguous_transpose(x))
    >>> out = f(np.arange(6.0).reshape(2, 3))
    >>> out.tolist(), bool(out.flags["C_CONTIGUOUS"])
    ([[0.0, 3.0], [1.0, 4.0], [2.0, 5.0]], True)
    """
    return _contiguous_transpose(x)


@register_canonicalize
@register_specialize
@node_rewriter([pt.basic.DimShuffle])
def local_transpose_of_contiguous_transpose(fgraph, node):
    """``contiguous_transpose(x).T → x`` (the gradient of ``v @ contiguous_transpose(W)``)."""
    op = node.op
    inner = node.inputs[0].owner
    if (
        inner is not None
        and isinstance(inner.op, ContiguousTranspose)
        and getattr(op, "new_order", None) == (1, 0)
    ):
        return [inner.inputs[0]]
    return None


def _register_numba() -> None:
    try:
        from pytensor.link.numba.dispatch import basic as numba_basic
        from pytensor.link.numba.dispatch.basic import register_funcify_default_op_cache_key
    except ImportError:  # pragma: no cover - numba is a PyTensor dependency
        return

    @register_funcify_default_op_cache_key(ContiguousTranspose)
    def numba_funcify_contiguous_transpose(op, node, **kwargs):
        @numba_basic.numba_njit
        def contiguous_transpose_impl(x):
            if x.T.flags.c_contiguous:  # never return a view of the input
                return x.T.copy()
            return np.ascontiguousarray(x.T)

        return contiguous_transpose_impl, 1


def _register_jax() -> None:
    try:
        from pytensor.link.jax.dispatch import jax_funcify
    except ImportError:  # pragma: no cover - JAX is optional
        return

    @jax_funcify.register(ContiguousTranspose)
    def jax_funcify_contiguous_transpose(op, **kwargs):
        def contiguous_transpose_impl(x):
            return x.T

        return contiguous_transpose_impl


_register_numba()
_register_jax()
