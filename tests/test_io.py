"""``pymc_ebm.save`` / ``load`` and ``Energy.copy``: file names, tied parameters, bad files.

The bit-exact round trip of every energy class is in ``tests/test_energies.py``;
here the rules around it: one suffix rule both ways, a factor used twice stays
one object, files of the older format still load, and every kind of file that
is not a valid energy file gives a ValueError that names it and says what is
wrong (never a zip, JSON, pickle or constructor error).
"""

import json
from pathlib import Path

import numpy as np
import pytest

import pymc_ebm
from pymc_ebm import Gaussian, Mixture, ProductOfExperts, StudentT, UniGauss

RNG_SEED = 20240605
DATA = Path(__file__).parent / "data"


def _gaussian(rng):
    return Gaussian(rng.normal(size=(2, 2)), rng.uniform(0.5, 2.0, size=(2, 2)))


def _energies(x, *energies):
    return [energy.energy_fn()(x) for energy in energies]


# -- file names -----------------------------------------------------------------
@pytest.mark.parametrize("as_path", [str, Path])
def test_save_appends_npz_and_load_finds_it(as_path, tmp_path):
    experts = _gaussian(np.random.default_rng(RNG_SEED))
    pymc_ebm.save(experts, as_path(tmp_path / "model"))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.npz"]
    for name in ["model", "model.npz"]:
        loaded = pymc_ebm.load(as_path(tmp_path / name))
        assert loaded.get_params()["mu"].tobytes() == experts.get_params()["mu"].tobytes()


def test_load_reads_a_file_without_the_suffix(tmp_path):
    experts = _gaussian(np.random.default_rng(RNG_SEED))
    pymc_ebm.save(experts, tmp_path / "model.npz")
    (tmp_path / "model.npz").rename(tmp_path / "model")
    assert pymc_ebm.load(tmp_path / "model").n_experts == 2


def test_save_refuses_an_existing_directory(tmp_path):
    experts = _gaussian(np.random.default_rng(RNG_SEED))
    for name in ["folder", "folder.npz"]:
        (tmp_path / name).mkdir()
        with pytest.raises(ValueError, match="is an existing directory; give a file name"):
            pymc_ebm.save(experts, tmp_path / name)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["folder", "folder.npz"]
    with pytest.raises(ValueError, match="folder is a directory, not a pymc_ebm energy file"):
        pymc_ebm.load(tmp_path / "folder")


def test_load_of_a_missing_file_names_both_names(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"neither .*model nor .*model\.npz exists"):
        pymc_ebm.load(tmp_path / "model")
    with pytest.raises(FileNotFoundError, match=r"model\.npz does not exist"):
        pymc_ebm.load(tmp_path / "model.npz")


def test_paths_of_the_wrong_type_are_refused():
    experts = _gaussian(np.random.default_rng(RNG_SEED))
    with pytest.raises(TypeError, match="path must be a str or os.PathLike, got int"):
        pymc_ebm.save(experts, 3)
    with pytest.raises(TypeError, match="path must be a str or os.PathLike, got NoneType"):
        pymc_ebm.load(None)


# -- tied parameters ----------------------------------------------------------------
def _tied():
    """``a * a``, and a product whose mixture holds a factor of the product itself."""
    rng = np.random.default_rng(RNG_SEED)
    a = _gaussian(rng)
    u = UniGauss(rng.uniform(0.2, 0.8, size=(2, 2)), np.full((2, 2), 0.3), [0.4, 0.6])
    return {"square": a * a, "nested": ProductOfExperts([u, Mixture([u]), u])}


def _check_tied(original, twin):
    assert len(twin.params) == len(original.params)
    assert twin.param_names == original.param_names
    assert not set(map(id, twin.params)) & set(map(id, original.params))
    if len(original.experts) == 2:  # a * a
        assert twin.experts[0] is twin.experts[1]
    else:
        assert twin.experts[0] is twin.experts[2] is twin.experts[1].experts[0]
    # one update moves every appearance: the twin stays a product of one factor with itself
    name = twin.param_names[0]
    twin.set_params({name: twin.get_params()[name] + 0.25})
    original.set_params({name: original.get_params()[name] + 0.25})
    x = np.random.default_rng(RNG_SEED + 1).uniform(0.1, 0.9, size=(6, 2))
    mine, theirs = _energies(x, twin, original)
    np.testing.assert_array_equal(mine, theirs)


@pytest.mark.parametrize("kind", ["square", "nested"])
def test_save_load_keeps_tied_parameters_tied(kind, tmp_path):
    energy = _tied()[kind]
    pymc_ebm.save(energy, tmp_path / "tied")
    _check_tied(energy, pymc_ebm.load(tmp_path / "tied"))


@pytest.mark.parametrize("kind", ["square", "nested"])
def test_copy_keeps_tied_parameters_tied(kind):
    energy = _tied()[kind]
    _check_tied(energy, energy.copy())


# -- the older format -------------------------------------------------------------
def test_files_of_format_2_still_load():
    """Written by the version before format 3: a product (Gaussian, mixture, Student-t)."""
    path = DATA / "energy_format2.npz"
    loaded = pymc_ebm.load(path)
    assert [type(e) for e in loaded.experts] == [Gaussian, Mixture, StudentT]
    assert type(loaded.experts[1].experts[0]) is UniGauss
    with np.load(path) as stored:
        header = json.loads(str(stored["__spec__"]))
        assert header["format"] == "pymc_ebm.energy/2"
        for name, key in header["params"].items():
            assert loaded.get_params()[name].tobytes() == stored[key].tobytes(), name


def test_files_of_format_2_with_a_repeated_factor_still_load():
    """Format 2 stored ``a * a`` as two factors: it loads as two (untied) factors."""
    path = DATA / "energy_format2_square.npz"
    loaded = pymc_ebm.load(path)
    assert len(loaded.experts) == 2 and loaded.experts[0] is not loaded.experts[1]
    with np.load(path) as stored:
        np.testing.assert_array_equal(loaded.experts[1].mu.get_value(), stored["params.1.mu"])


# -- files that are not valid energy files ------------------------------------------------
@pytest.fixture
def saved(tmp_path):
    """A valid file's arrays and header (a product of a Gaussian and a Student-t)."""
    rng = np.random.default_rng(RNG_SEED)
    energy = _gaussian(rng) * StudentT(rng.normal(size=(3, 2)), [1.5, 2.0, 3.0])
    pymc_ebm.save(energy, tmp_path / "good")
    with np.load(tmp_path / "good.npz") as data:
        arrays = {key: data[key] for key in data.files}
    return arrays, json.loads(str(arrays["__spec__"]))


def _write(path, arrays, header=None, drop=(), **changes):
    arrays = {**arrays, **changes}
    if header is not None:
        arrays["__spec__"] = np.array(header if isinstance(header, str) else json.dumps(header))
    np.savez(path, **{key: value for key, value in arrays.items() if key not in drop})
    return path


def _raw(path, content):
    path.write_bytes(content)
    return path


def _edit(header, change):
    header = json.loads(json.dumps(header))
    change(header)
    return header


BAD_FILES = {
    "truncated": (
        lambda p, a, h: _raw(p, (p.parent / "good.npz").read_bytes()[:300]),
        "truncated or damaged .npz archive",
    ),
    "empty": (lambda p, a, h: _raw(p, b""), "it is empty"),
    "text": (lambda p, a, h: _raw(p, b"mu,sigma\n0,1\n"), r"not a \.npz \(zip\) archive"),
    "npy": (
        lambda p, a, h: (np.save(p.with_name("array.npy"), np.zeros(3)), p.with_name("array.npy"))[
            1
        ],
        r"holds one NumPy array \(\.npy\)",
    ),
    "no header": (lambda p, a, h: _write(p, a, drop=["__spec__"]), "has no __spec__ header"),
    "bad json": (lambda p, a, h: _write(p, a, '{"format": '), "header is not valid JSON"),
    "not an object": (lambda p, a, h: _write(p, a, "[1, 2]"), "a JSON list, not an object"),
    "numeric header": (
        lambda p, a, h: _write(p, a, __spec__=np.zeros(2)),
        "__spec__ is a float64 array",
    ),
    "unknown format": (
        lambda p, a, h: _write(p, a, _edit(h, lambda x: x.update(format="other/9"))),
        "format 'other/9'",
    ),
    "class of other arrays": (
        lambda p, a, h: _write(
            p, a, _edit(h, lambda x: x["energies"][0].update({"class": "StudentT"}))
        ),
        r"names the class 'StudentT', whose constructor takes \(W, alpha\), but the file "
        r"stores the arguments \(mu, sigma\)",
    ),
    "unknown class": (
        lambda p, a, h: _write(p, a, _edit(h, lambda x: x["energies"][1].update({"class": "X"}))),
        "names the energy class 'X', which is not one of",
    ),
    "no class": (
        lambda p, a, h: _write(p, a, _edit(h, lambda x: x["energies"][0].pop("class"))),
        "energy 0 lacks the entry 'class'",
    ),
    "no energies": (
        lambda p, a, h: _write(p, a, _edit(h, lambda x: x.pop("energies"))),
        "list of energies is missing",
    ),
    "parts ahead": (
        lambda p, a, h: _write(
            p, a, _edit(h, lambda x: x["energies"][2].update(parts={"experts": [0, 2]}))
        ),
        "parts 'experts' are not earlier entries",
    ),
    "missing array": (
        lambda p, a, h: _write(p, a, drop=["params.0.mu"]),
        "refers to an array 'params.0.mu' that the file lacks",
    ),
    "missing structure array": (
        lambda p, a, h: _write(p, a, drop=["energies.1.W"]),
        "refers to an array 'energies.1.W' that the file lacks",
    ),
    "missing parameter": (
        lambda p, a, h: _write(p, a, _edit(h, lambda x: x["params"].pop("1.W"))),
        r"stores no value for the parameters \['1.W'\]",
    ),
    "no parameter table": (
        lambda p, a, h: _write(p, a, _edit(h, lambda x: x.pop("params"))),
        "lacks its table of parameters",
    ),
    "unknown parameter": (
        lambda p, a, h: _write(
            p, a, _edit(h, lambda x: x["params"].update({"2.mu": "params.0.mu"}))
        ),
        r"stores the parameters \['2.mu'\], which a ProductOfExperts",
    ),
    "string parameter": (
        lambda p, a, h: _write(p, a, **{"params.0.mu": np.array([["0.5", "1"], ["2", "3"]])}),
        "array 'params.0.mu' holds <U3 values, not numbers",
    ),
    "string argument": (
        lambda p, a, h: _write(p, a, **{"energies.0.sigma": np.full((2, 2), "one")}),
        "array 'energies.0.sigma' holds <U3 values, not numbers",
    ),
    "object parameter": (
        lambda p, a, h: _write(p, a, **{"params.0.mu": np.array([None, 1.0], dtype=object)}),
        "array 'params.0.mu' holds Python objects, not numbers",
    ),
    "parameter of another shape": (
        lambda p, a, h: _write(p, a, **{"params.0.mu": np.zeros((3, 2))}),
        r"parameter '0.mu' has shape \(2, 2\), got \(3, 2\)",
    ),
    "argument of another shape": (
        lambda p, a, h: _write(p, a, **{"energies.0.sigma": np.ones((2, 3))}),
        "the stored arguments do not fit Gaussian",
    ),
}


@pytest.mark.parametrize("kind", list(BAD_FILES))
def test_load_explains_what_is_wrong_with_a_file(kind, saved, tmp_path):
    arrays, header = saved
    make, message = BAD_FILES[kind]
    path = make(tmp_path / "bad.npz", arrays, header)
    with pytest.raises(ValueError, match=message) as info:
        pymc_ebm.load(path)
    text = str(info.value)
    assert text.startswith(str(path)), text
    assert "pickle" not in text and "\n" not in text
