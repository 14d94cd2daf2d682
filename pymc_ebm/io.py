"""Saving energies to ``.npz`` files and loading them without pickle.

Format ``pymc_ebm.energy/2`` (written by :func:`save`): a JSON header
``__spec__`` describing the structure (class, constructor arguments with
placeholder parameter values from ``Energy.structure_kwargs``, parts of
combinations) and the unconstrained parameters ``energy.get_params()``, one
array ``params.<name>`` each, in their own dtype. :func:`load` rebuilds the
structure, then restores the parameters with ``set_params``: the round trip
is bit-exact, extreme values included. Files of format ``pymc_ebm.energy/1``
(constructor arguments with constrained values) still load.
"""

from __future__ import annotations

import json
import os
from typing import Any

import numpy as np

from pymc_ebm.energies.base import ENERGY_CLASSES, Energy, is_energy_list

__all__ = ["load", "save"]

_FORMAT = "pymc_ebm.energy/2"
_FORMAT_V1 = "pymc_ebm.energy/1"
_PARAM_PREFIX = "params."


def _describe(energy: Energy, arrays: dict[str, np.ndarray], prefix: str) -> dict[str, Any]:
    name = type(energy).__name__
    if ENERGY_CLASSES.get(name) is not type(energy):
        raise ValueError(
            f"cannot save a {type(energy).__module__}.{name}: another energy class is "
            f"registered under the name {name!r} ({ENERGY_CLASSES[name].__module__}), and "
            "load() would rebuild that one. Give the class another name."
        )
    spec: dict[str, Any] = {"class": name, "arrays": {}, "experts": []}
    for key, value in energy.structure_kwargs().items():
        if is_energy_list(value):
            spec["experts_arg"] = key
            spec["experts"] = [
                _describe(e, arrays, f"{prefix}{key}.{i}.") for i, e in enumerate(value)
            ]
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


def _rebuild(spec: dict[str, Any], arrays: Any) -> Energy:
    classes = ENERGY_CLASSES
    if spec["class"] not in classes:
        raise ValueError(f"unknown energy class {spec['class']!r} in file")
    kwargs: dict[str, Any] = dict(spec.get("scalars", {}))
    for key, array_name in spec["arrays"].items():
        kwargs[key] = arrays[array_name]
    for key, names in spec.get("array_lists", {}).items():
        kwargs[key] = [arrays[name] for name in names]
    if "experts_arg" in spec:
        kwargs[spec["experts_arg"]] = [_rebuild(s, arrays) for s in spec["experts"]]
    return classes[spec["class"]](**kwargs)


def save(energy: Energy, path: str | os.PathLike) -> None:
    """Save an energy's structure and exact parameter values to ``path`` (compressed ``.npz``).

    The parameters are stored on their unconstrained scale
    (``energy.get_params()``, in their dtype), so :func:`load` gives them
    back bit for bit, however extreme (``log_sigma = -30``, ``logit_pi = 50``).

    Parameters
    ----------
    energy : Energy
        Any energy, combinations included.
    path : str or os.PathLike
        Target file (NumPy adds ``.npz`` when missing).

    Examples
    --------
    >>> import numpy as np, tempfile, os, pymc_ebm
    >>> experts = pymc_ebm.Gaussian(np.zeros((2, 3)), np.ones((2, 3)))
    >>> path = os.path.join(tempfile.mkdtemp(), "experts.npz")
    >>> pymc_ebm.save(experts, path)
    >>> pymc_ebm.load(path).n_experts
    2
    """
    if not isinstance(energy, Energy):
        raise TypeError(f"energy must be an Energy, got {type(energy).__name__}")
    arrays: dict[str, np.ndarray] = {}
    spec = _describe(energy, arrays, "structure.")
    params = {}
    for name, value in energy.get_params().items():
        params[name] = _PARAM_PREFIX + name
        arrays[_PARAM_PREFIX + name] = value
    header = json.dumps({"format": _FORMAT, "energy": spec, "params": params})
    np.savez_compressed(path, __spec__=np.array(header), **arrays)


def load(path: str | os.PathLike) -> Energy:
    """Load an energy written by :func:`save` (``allow_pickle=False``).

    Parameters are cast to ``pytensor.config.floatX``; a file saved in the
    same dtype comes back bit-exact.

    Raises
    ------
    ValueError
        When ``path`` is not a pymc_ebm energy file (or of an unknown format).
    """
    with np.load(path, allow_pickle=False) as data:
        header = json.loads(str(data["__spec__"])) if "__spec__" in data.files else {}
        version = header.get("format")
        if version not in (_FORMAT, _FORMAT_V1):
            raise ValueError(f"{path} is not a pymc_ebm energy file (format {version!r})")
        energy = _rebuild(header["energy"], data)
        if version == _FORMAT:
            energy.set_params({name: data[key] for name, key in header["params"].items()})
        return energy
