"""The one place that says how the package compiles its PyTensor functions.

Every function the package compiles (the :class:`~pymc_ebm.ShortRunHMC`
draw, the uni-gauss kernel, :class:`~pymc_ebm.BoxJump`,
:class:`~pymc_ebm.ModeJump`, the trainer's update, the energy helpers, the
AIS transition) asks :func:`compile_kwargs` for its ``pytensor.function``
keyword arguments. Those take the PyTensor ``mode`` of the package-level
backend unless the caller's own ``compile_kwargs`` name a ``mode``:

* ``"default"``: PyTensor's default mode (``pytensor.config.mode``), as
  without this module;
* ``"jax"``: PyTensor's ``"JAX"`` mode (as the registered mode
  ``"PYMC_EBM_JAX"``, whose functions return NumPy arrays), so the compiled
  functions are JIT-compiled JAX functions on whatever device JAX sees. It needs the
  optional extra ``pip install 'pymc-ebm[jax]'``.

The backend is read from the environment variable ``PYMC_EBM_BACKEND`` at
import, set with :func:`set_backend`, or set for a block with the context
manager :func:`backend`. It applies to objects built while it is in force
(functions are compiled in constructors).
"""

from __future__ import annotations

import functools
import importlib.util
import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np
import pytensor
from pytensor.compile.mode import Mode, predefined_modes, register_mode
from pytensor.link.jax.linker import JAXLinker

from pymc_ebm import compile_cache

__all__ = [
    "BACKENDS",
    "as_numpy_values",
    "backend",
    "compile_kwargs",
    "function",
    "get_backend",
    "set_backend",
    "shard_rows",
    "to_host",
    "uses_jax",
]


class NumPyJAXLinker(JAXLinker):
    """PyTensor's JAX linker, with outputs handed back as writable NumPy arrays.

    ``jax.Array`` outputs (read-only buffers once seen by NumPy) would reach
    PyMC's trace and functions compiled by other backends, which refuse them
    (Numba cannot type read-only buffers); so each output (updated shared
    variables included) is copied to host memory once per call
    (:func:`to_host`: in a run of several processes, the rows of an output
    split across processes come back as this process's own).
    """

    def fgraph_convert(self, *args: Any, **kwargs: Any) -> Any:
        """PyTensor's conversion, with reductions that keep their declared output dtype."""
        _reductions_in_output_dtype()
        return super().fgraph_convert(*args, **kwargs)

    def jit_compile(self, fn: Any) -> Any:
        """JIT-compile ``fn`` with JAX and copy its outputs to NumPy."""
        jitted = super().jit_compile(fn)

        def to_numpy(*args: Any) -> list[np.ndarray]:
            return [to_host(out) for out in jitted(*args)]

        return to_numpy


@functools.cache
def _reductions_in_output_dtype() -> None:
    """Make JAX reductions return the dtype PyTensor declares for them.

    PyTensor's JAX translation of a reduction (``Sum``, ``Prod``) casts the
    result to the accumulator's dtype: float64 for a float32 sum, whose
    PyTensor type is float32. Inside a ``Scan`` (the leapfrog steps) JAX then
    refuses the loop, whose carried state changes dtype, so nothing float32
    compiled under JAX. This wraps the translation once (for every JAX
    function compiled in this process) and casts the result to the node's
    output dtype; the sum itself is unchanged (JAX sums float32 in float32
    either way, before that cast).
    """
    from pytensor.link.jax.dispatch import jax_funcify
    from pytensor.tensor.elemwise import CAReduce

    translate = jax_funcify.dispatch(CAReduce)

    @jax_funcify.register(CAReduce)
    def _careduce_in_output_dtype(op: Any, node: Any = None, **kwargs: Any) -> Any:
        fn = translate(op, node=node, **kwargs)
        if node is None:
            return fn
        dtype = node.outputs[0].type.dtype

        def reduce(x: Any) -> Any:
            return fn(x).astype(dtype)

        return reduce


#: PyTensor's JAX mode (rewrites and all) with :class:`NumPyJAXLinker`.
JAX_MODE = "PYMC_EBM_JAX"
if JAX_MODE not in predefined_modes:
    register_mode(JAX_MODE, Mode(NumPyJAXLinker(), predefined_modes["JAX"].provided_optimizer))

#: Backend names and the PyTensor mode each compiles with (``None``: PyTensor's default).
BACKENDS: dict[str, str | None] = {"default": None, "jax": JAX_MODE}

_EXTRA_HINT = "install the optional extra: pip install 'pymc-ebm[jax]'"


def _check(name: str) -> str:
    if name not in BACKENDS:
        raise ValueError(f"backend must be one of {sorted(BACKENDS)}, got {name!r}")
    if name == "jax" and importlib.util.find_spec("jax") is None:
        raise ImportError(f"the JAX backend needs JAX, which is not installed; {_EXTRA_HINT}")
    return name


_current: str = _check(os.environ.get("PYMC_EBM_BACKEND", "default") or "default")


def get_backend() -> str:
    """Name of the backend in force (``"default"`` or ``"jax"``).

    Examples
    --------
    >>> import pymc_ebm
    >>> pymc_ebm.get_backend() in pymc_ebm.backends.BACKENDS
    True
    """
    return _current


def set_backend(name: str) -> None:
    """Set the package-level backend for everything compiled from now on.

    Parameters
    ----------
    name : {"default", "jax"}
        ``"jax"`` compiles with PyTensor's JAX mode.

    Raises
    ------
    ValueError
        For an unknown name.
    ImportError
        For ``"jax"`` when JAX is not installed (the message names the extra).

    Examples
    --------
    >>> import pymc_ebm
    >>> previous = pymc_ebm.get_backend()
    >>> pymc_ebm.set_backend("default")
    >>> pymc_ebm.get_backend()
    'default'
    >>> pymc_ebm.set_backend(previous)
    """
    global _current
    _current = _check(name)


@contextmanager
def backend(name: str) -> Iterator[str]:
    """Use backend ``name`` inside a ``with`` block, then restore the previous one.

    Examples
    --------
    >>> import pymc_ebm
    >>> with pymc_ebm.backend("default"):
    ...     pymc_ebm.compile_kwargs()
    {}
    """
    global _current
    previous = _current
    _current = _check(name)
    try:
        yield _current
    finally:
        _current = previous


def compile_kwargs(kwargs: dict[str, Any] | None = None) -> dict[str, Any]:
    """``pytensor.function`` keyword arguments: ``kwargs`` plus the backend's ``mode``.

    A ``mode`` in ``kwargs`` wins over the package-level backend.

    Examples
    --------
    >>> import pymc_ebm
    >>> with pymc_ebm.backend("default"):
    ...     pymc_ebm.compile_kwargs({"mode": "FAST_RUN", "trust_input": True})
    {'mode': 'FAST_RUN', 'trust_input': True}
    """
    out = dict(kwargs or {})
    mode = BACKENDS[_current]
    if mode is not None:
        out.setdefault("mode", mode)
    return out


def function(
    inputs: Sequence[Any], outputs: Any, *, compiler: str = "pytensor", **kwargs: Any
) -> pytensor.compile.Function:
    """``pytensor.function(inputs, outputs, **kwargs)`` in the backend's mode.

    Compiled once per graph structure (:mod:`pymc_ebm.compile_cache`): a
    graph that differs from an earlier one only in the values of its shared
    variables gets a copy of that function, reading its own variables.
    ``compiler="pymc"`` compiles with ``pymc.compile`` instead.

    Examples
    --------
    >>> import pytensor.tensor as pt
    >>> from pymc_ebm.backends import function
    >>> x = pt.dvector("x")
    >>> float(function([x], (x**2).sum())([1.0, 2.0]))
    5.0
    """
    return compile_cache.function(inputs, outputs, compiler=compiler, **compile_kwargs(kwargs))


def as_numpy_values(shared: Sequence[Any]) -> None:
    """Give shared variables written by a JAX function writable NumPy values again.

    A function compiled in JAX mode leaves its updates as read-only arrays,
    which functions compiled by other backends (Numba) refuse; this copies
    such values once (a no-op for writable NumPy values).

    Examples
    --------
    >>> import numpy as np, pytensor
    >>> x = pytensor.shared(np.zeros(2))
    >>> value = np.ones(2)
    >>> value.flags.writeable = False
    >>> x.set_value(value, borrow=True)
    >>> as_numpy_values([x])
    >>> x.get_value(borrow=True).flags.writeable
    True
    """
    for variable in shared:
        value = variable.get_value(borrow=True)
        if not (isinstance(value, np.ndarray) and value.flags.writeable):
            variable.set_value(np.array(value), borrow=True)


def uses_jax(kwargs: dict[str, Any]) -> bool:
    """Whether ``pytensor.function`` keyword arguments compile a JAX function.

    Examples
    --------
    >>> import pymc_ebm
    >>> from pymc_ebm.backends import uses_jax
    >>> uses_jax({"mode": "JAX"}), uses_jax({})
    (True, False)
    """
    mode = kwargs.get("mode")
    if isinstance(mode, str):
        return mode in ("JAX", JAX_MODE)
    return isinstance(getattr(mode, "linker", None), JAXLinker)


def shard_rows(x: np.ndarray, axis: int = 0, *, local: bool = False) -> Any:
    """With several JAX devices, ``x`` split along ``axis`` across them.

    Data parallelism by JAX sharding: the returned ``jax.Array`` holds an
    equal block of rows on each device (a one-dimensional mesh, axis
    ``"rows"``); a function compiled in JAX mode that gets it runs each
    device's block there, keeps the rows of its outputs split, and leaves the
    replicated parameters (NumPy inputs) and the reductions over rows
    (gradients, sums) to XLA.

    In one process the devices are those ``jax.devices()`` lists, and ``x``
    comes back unchanged without JAX, with one device, or when its length
    along ``axis`` is not a multiple of the number of devices (it then runs
    on the first device).

    In a run of several processes (after ``jax.distributed.initialize``,
    ``jax.process_count() > 1``), ``x`` is this process's own rows: the
    returned global array (``jax.make_array_from_process_local_data``) stacks
    the rows of every process in process order, split across all devices of
    all processes, so that means over rows are means over every process's
    rows. Each process must pass the same number of rows, a multiple of its
    number of local devices (``ValueError`` otherwise), and must hold the
    same parameters (every process builds them with the same seed); the
    outputs of the compiled function that keep rows come back as this
    process's rows (:class:`NumPyJAXLinker`). With ``local=True`` the rows
    stay on this process's own devices (``jax.local_devices()``), as for
    independent chains. Callers pass only inputs of functions compiled in JAX
    mode (:func:`uses_jax`).

    Parameters
    ----------
    x : ndarray
        Rows along ``axis`` (chains, minibatch rows), this process's own.
    axis : int, default 0
        The axis of the rows.
    local : bool, default False
        Split across this process's devices only (the same as ``False`` in
        a single process).

    Returns
    -------
    ndarray or jax.Array

    Examples
    --------
    >>> import numpy as np, pymc_ebm
    >>> from pymc_ebm.backends import shard_rows
    >>> shard_rows(np.zeros((4, 2))).shape  # split only where JAX sees several devices
    (4, 2)
    """
    if importlib.util.find_spec("jax") is None:
        return x
    import jax

    across_processes = not local and jax.process_count() > 1
    sharding = _row_sharding(np.ndim(x), axis, across_processes)
    n_local = jax.local_device_count()
    if across_processes:
        if np.shape(x)[axis] % n_local:
            raise ValueError(
                f"each process must pass a multiple of its {n_local} local devices in rows, "
                f"got {np.shape(x)[axis]}"
            )
        return jax.make_array_from_process_local_data(sharding, np.asarray(x))
    if n_local == 1 or np.shape(x)[axis] % n_local:
        return x
    return jax.device_put(x, sharding)


@functools.cache
def _row_sharding(ndim: int, axis: int, across_processes: bool) -> Any:
    import jax
    from jax.sharding import Mesh, NamedSharding, PartitionSpec

    devices = jax.devices() if across_processes else jax.local_devices()
    mesh = Mesh(np.array(devices), ("rows",))
    spec = [None] * ndim
    spec[axis] = "rows"
    return NamedSharding(mesh, PartitionSpec(*spec))


def to_host(out: Any) -> np.ndarray:
    """A JAX output as a writable NumPy array: this process's part where it spans processes.

    A fully replicated or single-process output is copied whole; an output
    split across the devices of several processes (rows from
    :func:`shard_rows`) comes back as the blocks this process holds, in
    order along the split axis, i.e. this process's own rows.

    Examples
    --------
    >>> import numpy as np
    >>> from pymc_ebm.backends import to_host
    >>> to_host(np.ones(2)).flags.writeable
    True
    """
    if getattr(out, "is_fully_addressable", True) or out.is_fully_replicated:
        return np.array(out)
    shards = {_start(s.index): s.data for s in out.addressable_shards}  # replicas dropped
    axis = next(i for i, n in enumerate(out.sharding.shard_shape(out.shape)) if n != out.shape[i])
    return np.concatenate([np.array(shards[k]) for k in sorted(shards)], axis=axis)


def _start(index: tuple[slice, ...]) -> tuple[int, ...]:
    return tuple(s.start or 0 for s in index)
