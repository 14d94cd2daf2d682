"""Compiler-level PyTensor Ops of the package (private).

* :func:`~pymc_ebm._ops.log1p.log1p`: a ``log1p`` that the Numba backend
  vectorises (registered with llvmlite), used by the Student-t experts.
* :func:`~pymc_ebm._ops.layout.contiguous_transpose`: a transpose that is
  materialised row-major, with the rewrites that keep it so.

The energies import them from here; nothing outside the package should.
"""

from pymc_ebm._ops.layout import ContiguousTranspose, contiguous_transpose
from pymc_ebm._ops.log1p import log1p

__all__ = ["ContiguousTranspose", "contiguous_transpose", "log1p"]
