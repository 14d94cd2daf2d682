"""Compile each graph structure once: a cache of compiled PyTensor functions.

Most of the time of building a trainer or a step method goes into PyTensor's
rewrites and the backend's code generation, and two objects of the same
kind (two trainers that differ only in their seed, their initial
parameters or their learning rate, as in a comparison over seeds) build
graphs that differ only in the *values* of their shared variables. This
module compiles such a graph once: :func:`function` keys a graph by its
structure (its operations, its constants, the types of its inputs and
shared variables, the updates and the compile options), and a second graph
with the same key gets a copy of the first compiled function with its own
shared variables swapped in (PyTensor's ``Function.copy(swap=...)``: no
rewriting, no new code), so the copy reads and updates its own parameters.

Graphs whose parts cannot be compared (an operation without value
equality, a constant that is neither an array nor hashable, ``givens``)
are compiled as usual. The cache holds the :data:`MAX_ENTRIES` most
recently used structures; :func:`clear` empties it, :func:`set_enabled`
switches it off (also ``PYMC_EBM_FUNCTION_CACHE=0`` in the environment) and
:func:`info` counts hits and misses.
"""

from __future__ import annotations

import hashlib
import os
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from typing import Any, NamedTuple

import numpy as np
import pytensor
from pytensor.compile.sharedvalue import SharedVariable
from pytensor.graph.basic import Constant, Variable
from pytensor.graph.traversal import io_toposort

__all__ = ["MAX_ENTRIES", "CacheInfo", "clear", "function", "info", "set_enabled"]

MAX_ENTRIES = 256
"""Compiled structures kept (the least recently used is dropped first)."""

#: Keyword arguments that do not change the compiled function (applied to the copy, or ignored).
_NOT_KEYED = {"trust_input", "name", "random_seed"}
#: Keyword arguments under which a graph is not cached.
_NOT_CACHED = {"givens", "profile"}


class CacheInfo(NamedTuple):
    """Counts of :func:`function` calls: served by a copy, compiled, and structures held."""

    hits: int
    misses: int
    size: int


class _Unkeyable(Exception):
    """A part of the graph has no structural key: compile without the cache."""


#: key -> (compiled function, its shared variables in key order, the options it was built with)
_entries: OrderedDict[Any, tuple[Any, list[SharedVariable], dict[str, Any]]] = OrderedDict()
_counts = {"hits": 0, "misses": 0}
_enabled = os.environ.get("PYMC_EBM_FUNCTION_CACHE", "1") != "0"


def set_enabled(enabled: bool) -> None:
    """Switch the cache on or off (off: every call compiles; the cache is kept).

    Examples
    --------
    >>> from pymc_ebm import compile_cache
    >>> compile_cache.set_enabled(False)
    >>> compile_cache.set_enabled(True)
    """
    global _enabled
    if not isinstance(enabled, bool):
        raise TypeError(f"enabled must be a bool, got {type(enabled).__name__}")
    _enabled = enabled


def clear() -> None:
    """Drop every cached function and reset the counts.

    Examples
    --------
    >>> from pymc_ebm import compile_cache
    >>> compile_cache.clear()
    >>> compile_cache.info()
    CacheInfo(hits=0, misses=0, size=0)
    """
    _entries.clear()
    _counts.update(hits=0, misses=0)


def info() -> CacheInfo:
    """Hits, misses and the number of structures held.

    Examples
    --------
    >>> from pymc_ebm import compile_cache
    >>> isinstance(compile_cache.info().size, int)
    True
    """
    return CacheInfo(_counts["hits"], _counts["misses"], len(_entries))


def function(
    inputs: Sequence[Variable],
    outputs: Any,
    *,
    compiler: str = "pytensor",
    **kwargs: Any,
) -> pytensor.compile.Function:
    """``pytensor.function`` (or ``pymc.compile``), compiled once per graph structure.

    Parameters
    ----------
    inputs : sequence of Variable
        The explicit inputs (plain variables, no ``In``).
    outputs : Variable or sequence of Variable
        What the function returns.
    compiler : {"pytensor", "pymc"}, default "pytensor"
        ``"pymc"`` compiles with ``pymc.compile`` (PyMC's rewrites, random
        generators updated and reseeded; inside a model context its
        ``check_bounds`` is part of the key).
    **kwargs
        Keyword arguments of the compiler (``updates``, ``mode``, ...).

    Returns
    -------
    pytensor.compile.Function
        A new function, or a copy of a cached one that reads and updates
        this graph's shared variables.

    Examples
    --------
    >>> import numpy as np, pytensor, pytensor.tensor as pt
    >>> from pymc_ebm import compile_cache
    >>> x = pt.dvector("x")
    >>> fns = []
    >>> for value in (1.0, 2.0):
    ...     w = pytensor.shared(value)
    ...     fns.append(compile_cache.function([x], (w * x).sum()))
    >>> [float(f(np.ones(3))) for f in fns]
    [3.0, 6.0]
    """
    if compiler not in ("pytensor", "pymc"):
        raise ValueError(f"compiler must be 'pytensor' or 'pymc', got {compiler!r}")
    if not isinstance(inputs, list | tuple):
        raise TypeError(f"inputs must be a list or tuple, got {type(inputs).__name__}")
    compile_fn = _pymc_compile if compiler == "pymc" else pytensor.function
    if not _enabled or _NOT_CACHED & kwargs.keys():
        return compile_fn(inputs, outputs, **kwargs)
    try:
        key, shared = _key(inputs, outputs, kwargs, compiler)
    except _Unkeyable:
        return compile_fn(inputs, outputs, **kwargs)
    entry = _entries.get(key)
    if entry is None:
        _counts["misses"] += 1
        fn = compile_fn(inputs, outputs, **kwargs)
        _entries[key] = (fn, shared, dict(kwargs))  # the options stay alive: keyed by identity
        while len(_entries) > MAX_ENTRIES:
            _entries.popitem(last=False)
        return fn
    _counts["hits"] += 1
    _entries.move_to_end(key)
    cached, cached_shared, _ = entry
    present = {i.variable for i in cached.maker.inputs}
    swap = {
        old: new
        for old, new in zip(cached_shared, shared, strict=True)
        if old is not new and old in present
    }
    fn = cached.copy(swap=swap)
    fn.trust_input = bool(kwargs.get("trust_input", cached.trust_input))
    if compiler == "pymc":
        _reseed(inputs, outputs, kwargs.get("random_seed"))
    return fn


def _pymc_compile(inputs: Sequence[Variable], outputs: Any, **kwargs: Any) -> Any:
    from pymc.pytensorf import compile as pm_compile

    return pm_compile(inputs, outputs, **kwargs)


def _reseed(inputs: Sequence[Variable], outputs: Any, random_seed: Any) -> None:
    """What ``pymc.compile`` does to the generators of a new graph: reseed them."""
    from pymc.pytensorf import collect_default_updates, reseed_rngs

    rngs = list(collect_default_updates(inputs=list(inputs), outputs=_as_list(outputs)))
    if rngs and random_seed is not False:
        reseed_rngs(rngs, random_seed)


def _as_list(outputs: Any) -> list[Variable]:
    return list(outputs) if isinstance(outputs, list | tuple) else [outputs]


def _updates(kwargs: dict[str, Any]) -> list[tuple[Variable, Variable]]:
    updates = kwargs.get("updates") or []
    return list(updates.items()) if isinstance(updates, dict) else list(updates)


def _key(
    inputs: Sequence[Variable], outputs: Any, kwargs: dict[str, Any], compiler: str
) -> tuple[Any, list[SharedVariable]]:
    """The structural key of a graph, and its shared variables in key order."""
    inputs = list(inputs)
    if not all(isinstance(v, Variable) and not isinstance(v, SharedVariable) for v in inputs):
        raise _Unkeyable
    outs = _as_list(outputs)
    updates = _updates(kwargs)
    ids: dict[Variable, int] = {v: i for i, v in enumerate(inputs)}
    shared: list[SharedVariable] = []
    parts: list[Any] = [("inputs", tuple(_type_key(v) for v in inputs))]

    def ref(v: Variable) -> Any:
        if v in ids:
            return ids[v]
        if isinstance(v, SharedVariable):
            ids[v] = len(ids)
            shared.append(v)
            parts.append(("shared", _type_key(v)))
            return ids[v]
        if isinstance(v, Constant):
            ids[v] = len(ids)
            parts.append(("constant", _type_key(v), _data_key(v.data)))
            return ids[v]
        raise _Unkeyable  # a free variable that is not an input: pytensor.function refuses it

    graph_outputs = [*outs, *(expr for _, expr in updates)]
    for node in io_toposort(inputs, graph_outputs):
        args = tuple(ref(v) for v in node.inputs)
        _check_hashable(node.op)
        parts.append(("apply", node.op, args))
        for out in node.outputs:
            ids[out] = len(ids)
    parts.append(("outputs", tuple(ref(v) for v in outs)))
    parts.append(("updates", tuple((ref(target), ref(expr)) for target, expr in updates)))
    options = []
    for name, value in sorted(kwargs.items()):
        if name in _NOT_KEYED or name == "updates":
            continue
        options.append((name, _option_key(value)))
    parts.append(("options", compiler, tuple(options), _config_key(compiler)))
    return tuple(parts), shared


def _type_key(v: Variable) -> Any:
    _check_hashable(v.type)
    return v.type


def _check_hashable(obj: Any) -> None:
    """Ops and types without value equality (default ``object`` hashing) are not keyed."""
    if type(obj).__hash__ is object.__hash__:
        raise _Unkeyable
    try:
        hash(obj)
    except TypeError:
        raise _Unkeyable from None


def _data_key(data: Any) -> Any:
    if isinstance(data, np.ndarray | np.generic):
        array = np.ascontiguousarray(data)
        digest = hashlib.sha256(array.tobytes()).hexdigest()
        return ("array", array.dtype.str, array.shape, digest)
    if data is None or isinstance(data, bool | int | float | str | bytes | slice):
        return ("value", type(data).__name__, repr(data))
    raise _Unkeyable


def _option_key(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, Iterable):
        raise _Unkeyable
    _check_hashable(value)
    # a Mode object: the cache entry keeps it alive, so its identity is stable
    return ("object", id(value))


def _config_key(compiler: str) -> Any:
    config = (pytensor.config.mode, pytensor.config.linker, pytensor.config.floatX)
    if compiler != "pymc":
        return config
    try:
        from pymc.model import modelcontext

        check_bounds = modelcontext(None).check_bounds
    except TypeError:
        check_bounds = True
    return (*config, check_bounds)
