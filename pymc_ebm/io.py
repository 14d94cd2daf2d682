"""Saving energies to ``.npz`` files and loading them without pickle.

Format ``pymc_ebm.energy/3`` (written by :func:`save`): a JSON header
``__spec__`` listing every distinct energy of the structure once
(:func:`~pymc_ebm.energies.base.unique_parts`: class, constructor arguments
with placeholder parameter values from ``Energy.structure_kwargs``, parts as
indices of earlier entries, so that a factor used twice comes back as one
object) and the unconstrained parameters ``energy.get_params()``, one array
``params.<name>`` each, in their own dtype. :func:`load` rebuilds the
structure, then restores the parameters with ``set_params``: the round trip
is bit-exact, extreme values included, and tied parameters stay tied. Files
of format ``pymc_ebm.energy/2`` (the structure as a tree) and
``pymc_ebm.energy/1`` (constructor arguments with constrained values) still
load.

One rule names the file, both ways (NumPy's): a path that does not end in
``.npz`` gets the suffix, so ``save(energy, "model")`` writes ``model.npz``
and ``load("model")`` reads it.
"""

from __future__ import annotations

import inspect
import json
import os
import zipfile
import zlib
from typing import Any

import numpy as np

from pymc_ebm.energies.base import ENERGY_CLASSES, Energy, is_energy_list, unique_parts

__all__ = ["load", "save"]

_FORMAT = "pymc_ebm.energy/3"
_FORMAT_V2 = "pymc_ebm.energy/2"
_FORMAT_V1 = "pymc_ebm.energy/1"
_FORMATS = (_FORMAT, _FORMAT_V2, _FORMAT_V1)
_PARAM_PREFIX = "params."
_SUFFIX = ".npz"
_NPY_MAGIC = b"\x93NUMPY"
_ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")  # a zip archive's first entry, or an empty one
# what a damaged archive raises while it is opened or a member is read
_ARCHIVE_ERRORS = (zipfile.BadZipFile, zlib.error, EOFError, OSError)


def _file_name(path: Any) -> str:
    if not isinstance(path, str | os.PathLike):
        raise TypeError(f"path must be a str or os.PathLike, got {type(path).__name__}")
    name = os.fspath(path)
    if not isinstance(name, str):
        raise TypeError(f"path must name a file with a str, got {type(name).__name__}")
    return name


def _with_suffix(name: str) -> str:
    return name if name.endswith(_SUFFIX) else name + _SUFFIX


# -- save ---------------------------------------------------------------------
def _check_registered(energy: Energy) -> str:
    name = type(energy).__name__
    if ENERGY_CLASSES.get(name) is not type(energy):
        raise ValueError(
            f"cannot save a {type(energy).__module__}.{name}: another energy class is "
            f"registered under the name {name!r} ({ENERGY_CLASSES[name].__module__}), and "
            "load() would rebuild that one. Give the class another name."
        )
    return name


def _describe(
    energy: Energy, index: dict[int, int], arrays: dict[str, np.ndarray]
) -> dict[str, Any]:
    """One entry of the header: class, arguments, and the parts as indices of earlier entries."""
    prefix = f"energies.{len(index)}."
    spec: dict[str, Any] = {"class": _check_registered(energy), "arrays": {}}
    for key, value in energy.structure_kwargs().items():
        if is_energy_list(value):
            spec.setdefault("parts", {})[key] = [index[id(part)] for part in value]
        elif isinstance(value, list | tuple) and all(isinstance(a, np.ndarray) for a in value):
            names = [f"{prefix}{key}.{i}" for i in range(len(value))]
            arrays.update(zip(names, value, strict=True))
            spec.setdefault("array_lists", {})[key] = names
        elif isinstance(value, int | float | str | bool) or value is None:
            spec.setdefault("scalars", {})[key] = value
        else:
            arrays[prefix + key] = np.asarray(value)
            spec["arrays"][key] = prefix + key
    return spec


def save(energy: Energy, path: str | os.PathLike) -> None:
    """Save an energy's structure and exact parameter values to a compressed ``.npz`` file.

    The parameters are stored on their unconstrained scale
    (``energy.get_params()``, in their dtype), so :func:`load` gives them
    back bit for bit, however extreme (``log_sigma = -30``, ``logit_pi = 50``).
    A part used several times (``a * a``) is stored once and loads as one
    object, its parameters shared as before.

    Parameters
    ----------
    energy : Energy
        Any energy, combinations included.
    path : str or os.PathLike
        Target file; ``.npz`` is appended when the name does not end with it
        (as NumPy does, and as :func:`load` expects). An existing file is
        overwritten; an existing directory is refused.

    Raises
    ------
    TypeError
        When ``energy`` is not an :class:`~pymc_ebm.energies.base.Energy` or
        ``path`` is not a path.
    ValueError
        When ``path`` (or ``path + ".npz"``) is an existing directory.

    Examples
    --------
    >>> import numpy as np, tempfile, os, pymc_ebm
    >>> experts = pymc_ebm.Gaussian(np.zeros((2, 3)), np.ones((2, 3)))
    >>> path = os.path.join(tempfile.mkdtemp(), "experts")
    >>> pymc_ebm.save(experts, path)  # writes experts.npz
    >>> pymc_ebm.load(path).n_experts
    2
    """
    if not isinstance(energy, Energy):
        raise TypeError(f"energy must be an Energy, got {type(energy).__name__}")
    name = _file_name(path)
    target = _with_suffix(name)
    for candidate in dict.fromkeys((name, target)):
        if os.path.isdir(candidate):
            raise ValueError(
                f"path {candidate!r} is an existing directory; give a file name, such as "
                f"{os.path.join(candidate, 'energy.npz')!r}"
            )
    arrays: dict[str, np.ndarray] = {}
    index: dict[int, int] = {}
    energies = []
    for part in unique_parts(energy):
        energies.append(_describe(part, index, arrays))
        index[id(part)] = len(index)
    values = energy.get_params()
    params = {}
    for param in energy.param_names:  # tied parameters once
        params[param] = _PARAM_PREFIX + param
        arrays[_PARAM_PREFIX + param] = values[param]
    header = json.dumps({"format": _FORMAT, "energies": energies, "params": params})
    np.savez_compressed(target, __spec__=np.array(header), **arrays)


# -- load ---------------------------------------------------------------------
class _File:
    """The open archive, with checked reads: every failure is a ValueError naming the file."""

    def __init__(self, name: str, data: Any) -> None:
        self.name = name
        self.data = data

    def invalid(self, what: str) -> ValueError:
        return ValueError(f"{self.name} is not a pymc_ebm energy file: {what}")

    def damaged(self, what: str) -> ValueError:
        return ValueError(f"{self.name} is a damaged pymc_ebm energy file: {what}")

    def read(self, key: Any) -> np.ndarray:
        """A stored numeric array."""
        if not isinstance(key, str) or key not in self.data.files:
            raise self.damaged(f"the header refers to an array {key!r} that the file lacks")
        try:
            array = self.data[key]
        except _ARCHIVE_ERRORS as err:
            raise self.damaged(
                f"array {key!r} cannot be read ({type(err).__name__}: {err})"
            ) from None
        except ValueError:  # object arrays, stored with pickle: never read
            raise self.damaged(f"array {key!r} holds Python objects, not numbers") from None
        if array.dtype.kind not in "biuf":
            raise self.damaged(f"array {key!r} holds {array.dtype} values, not numbers")
        return array

    def header(self) -> dict[str, Any]:
        if "__spec__" not in self.data.files:
            raise self.invalid("it has no __spec__ header (it was not written by pymc_ebm.save)")
        try:
            raw = self.data["__spec__"]
        except _ARCHIVE_ERRORS + (ValueError,) as err:
            raise self.damaged(
                f"its header cannot be read ({type(err).__name__}: {err})"
            ) from None
        if raw.dtype.kind not in "US" or raw.ndim != 0:
            raise self.invalid(f"its __spec__ is a {raw.dtype} array, not a JSON text")
        try:
            text = raw.item()
            header = json.loads(text if isinstance(text, str) else text.decode())
        except (ValueError, UnicodeDecodeError) as err:
            raise self.invalid(f"its __spec__ header is not valid JSON ({err})") from None
        if not isinstance(header, dict):
            raise self.invalid(f"its header is a JSON {type(header).__name__}, not an object")
        if header.get("format") not in _FORMATS:
            raise self.invalid(
                f"format {header.get('format')!r}; this version reads {', '.join(_FORMATS)}"
            )
        return header

    def entry(self, mapping: dict[str, Any], key: str, kind: type | tuple, where: str) -> Any:
        """``mapping[key]``, checked to be of ``kind``."""
        if key not in mapping:
            raise self.damaged(f"{where} lacks the entry {key!r}")
        if not isinstance(mapping[key], kind):
            raise self.damaged(f"{where}: entry {key!r} is malformed")
        return mapping[key]

    def build(self, spec: Any, parts: dict[str, list[Energy]], where: str) -> Energy:
        """An energy from one header entry, its parts already built."""
        if not isinstance(spec, dict):
            raise self.damaged(f"{where} is not a JSON object")
        name = self.entry(spec, "class", str, where)
        if name not in ENERGY_CLASSES:
            raise self.damaged(
                f"{where} names the energy class {name!r}, which is not one of "
                f"{sorted(ENERGY_CLASSES)}"
            )
        cls = ENERGY_CLASSES[name]
        kwargs: dict[str, Any] = {}
        scalars = spec.get("scalars", {})
        arrays = self.entry(spec, "arrays", dict, where) if "arrays" in spec else {}
        lists = spec.get("array_lists", {})
        if not isinstance(scalars, dict) or not isinstance(lists, dict):
            raise self.damaged(f"{where}: its arguments are malformed")
        for key, value in scalars.items():
            if not (isinstance(value, int | float | str | bool) or value is None):
                raise self.damaged(f"{where}: argument {key!r} is malformed")
            kwargs[key] = value
        for key, array_name in arrays.items():
            kwargs[key] = self.read(array_name)
        for key, names in lists.items():
            if not isinstance(names, list):
                raise self.damaged(f"{where}: argument {key!r} is malformed")
            kwargs[key] = [self.read(array_name) for array_name in names]
        kwargs.update(parts)
        try:
            inspect.signature(cls).bind(**kwargs)
        except TypeError:
            takes = ", ".join(inspect.signature(cls).parameters)
            raise self.damaged(
                f"{where} names the class {name!r}, whose constructor takes ({takes}), but the "
                f"file stores the arguments ({', '.join(kwargs)})"
            ) from None
        try:
            return cls(**kwargs)
        except (TypeError, ValueError, IndexError, KeyError) as err:
            raise self.damaged(f"the stored arguments do not fit {name}: {err}") from err

    def tree(self, spec: Any, where: str = "the header's energy") -> Energy:
        """Formats 1 and 2: the structure as a tree, parts inside their combination."""
        parts: dict[str, list[Energy]] = {}
        if isinstance(spec, dict) and "experts_arg" in spec:
            key = self.entry(spec, "experts_arg", str, where)
            children = self.entry(spec, "experts", list, where)
            parts[key] = [
                self.tree(child, f"{where}, part {i}") for i, child in enumerate(children)
            ]
        return self.build(spec, parts, where)

    def table(self, specs: Any) -> Energy:
        """Format 3: each distinct energy once, parts as indices of earlier entries."""
        if not isinstance(specs, list) or not specs:
            raise self.damaged("the header's list of energies is missing or empty")
        built: list[Energy] = []
        for i, spec in enumerate(specs):
            where = f"the header's energy {i}"
            refs = spec.get("parts", {}) if isinstance(spec, dict) else {}
            if not isinstance(refs, dict):
                raise self.damaged(f"{where}: its parts are malformed")
            parts = {}
            for key, indices in refs.items():
                if not isinstance(indices, list) or not all(
                    isinstance(j, int) and not isinstance(j, bool) and 0 <= j < i for j in indices
                ):
                    raise self.damaged(f"{where}: its parts {key!r} are not earlier entries")
                parts[key] = [built[j] for j in indices]
            built.append(self.build(spec, parts, where))
        return built[-1]

    def restore(self, energy: Energy, params: Any) -> None:
        """Set the stored unconstrained parameters (formats 2 and 3)."""
        if not isinstance(params, dict):
            raise self.damaged("the header lacks its table of parameters")
        missing = [name for name in energy.param_names if name not in params]
        if missing:
            raise self.damaged(f"it stores no value for the parameters {missing}")
        unknown = [name for name in params if name not in energy.get_params()]
        if unknown:
            raise self.damaged(
                f"it stores the parameters {unknown}, which a {type(energy).__name__} of this "
                f"structure does not have (it has {energy.param_names})"
            )
        values = {name: self.read(key) for name, key in params.items()}
        try:
            energy.set_params(values)
        except ValueError as err:
            raise self.damaged(str(err)) from err


def _load_file(path: Any) -> str:
    """The file that ``load(path)`` reads: ``path``, else ``path + ".npz"``."""
    name = _file_name(path)
    target = _with_suffix(name)
    for candidate in dict.fromkeys((target, name)):
        if os.path.isfile(candidate):
            return candidate
    if os.path.isdir(name):
        raise ValueError(f"{name} is a directory, not a pymc_ebm energy file")
    missing = f"{name} does not exist" if target == name else f"neither {name} nor {target} exists"
    raise FileNotFoundError(f"no pymc_ebm energy file: {missing}")


def load(path: str | os.PathLike) -> Energy:
    """Load an energy written by :func:`save` (never with pickle).

    Parameters are cast to ``pytensor.config.floatX``; a file saved in the
    same dtype comes back bit-exact.

    Parameters
    ----------
    path : str or os.PathLike
        The file; ``path + ".npz"`` when ``path`` does not end with ``.npz``
        (the file :func:`save` writes for that name), or ``path`` itself when
        only that exists.

    Returns
    -------
    Energy
        The saved structure, with the saved parameter values.

    Raises
    ------
    FileNotFoundError
        When neither ``path`` nor ``path + ".npz"`` exists.
    ValueError
        When the file is not a pymc_ebm energy file (empty, a ``.npy`` array,
        not a ``.npz`` archive, truncated, no or an unknown header, ...) or is
        damaged (arrays missing or not numbers, arguments that do not fit the
        class named); the message names the file and what is wrong.
    """
    name = _load_file(path)
    with open(name, "rb") as handle:
        magic = handle.read(max(len(_NPY_MAGIC), 4))
    if not magic:
        raise ValueError(f"{name} is not a pymc_ebm energy file: it is empty")
    if magic.startswith(_NPY_MAGIC):
        raise ValueError(
            f"{name} is not a pymc_ebm energy file: it holds one NumPy array (.npy); "
            "pymc_ebm.save writes .npz archives"
        )
    if not magic.startswith(_ZIP_MAGIC):
        raise ValueError(f"{name} is not a pymc_ebm energy file: it is not a .npz (zip) archive")
    try:
        data = np.load(name, allow_pickle=False)
    except _ARCHIVE_ERRORS as err:
        raise ValueError(
            f"{name} is not a pymc_ebm energy file: a truncated or damaged .npz archive "
            f"({type(err).__name__}: {err})"
        ) from None
    with data:
        file = _File(name, data)
        header = file.header()
        if header["format"] == _FORMAT:
            energy = file.table(header.get("energies"))
        else:
            if "energy" not in header:
                raise file.damaged("the header lacks its energy")
            energy = file.tree(header["energy"])
        if header["format"] != _FORMAT_V1:
            file.restore(energy, header.get("params"))
        return energy
