"""The compile cache: one compilation per graph structure, each copy with its own variables.

Known answers: a copy computes what a fresh compilation of its own graph
computes (the same function values, the same updates of its own shared
variables, never another object's), and trainers and samplers built on the
cache give the same seeded histories and draws as without it.
"""

from __future__ import annotations

import numpy as np
import pymc as pm
import pytensor
import pytensor.tensor as pt
import pytest
from pytensor.graph.basic import Apply
from pytensor.graph.op import Op

import pymc_ebm
from pymc_ebm import compile_cache
from pymc_ebm.training import ContrastiveDivergence


@pytest.fixture(autouse=True)
def _fresh_cache():
    compile_cache.clear()
    compile_cache.set_enabled(True)
    yield
    compile_cache.set_enabled(True)


def scaled_sum(seed: int, *, scale: float = 0.5, dtype: str = "float64"):
    """A graph with a shared weight matrix and an update of it."""
    x = pt.matrix("x", dtype=dtype)
    w = pytensor.shared(np.random.default_rng(seed).normal(size=(3, 4)).astype(dtype), name="w")
    fn = compile_cache.function([x], (pt.tanh(x @ w) ** 2).sum(), updates=[(w, w * scale)])
    return fn, w


def test_same_structure_is_a_copy_with_its_own_shared_variables():
    built = [scaled_sum(seed) for seed in range(3)]
    assert compile_cache.info() == compile_cache.CacheInfo(hits=2, misses=1, size=1)
    x = np.linspace(-1, 1, 6).reshape(2, 3)
    for fn, w in built:
        before = w.get_value().copy()
        np.testing.assert_allclose(fn(x), (np.tanh(x @ before) ** 2).sum())
        np.testing.assert_allclose(w.get_value(), 0.5 * before)  # its own variable, updated
    # the first function's variable was updated once, by its own call only
    first_w = built[0][1]
    np.testing.assert_allclose(
        first_w.get_value(), 0.5 * np.random.default_rng(0).normal(size=(3, 4))
    )


@pytest.mark.parametrize(
    "change", [{"scale": 0.25}, {"dtype": "float32"}], ids=["constant", "dtype"]
)
def test_a_different_constant_or_type_compiles_anew(change):
    scaled_sum(0)
    fn, w = scaled_sum(0, **change)
    assert compile_cache.info().misses == 2
    before = w.get_value().copy()
    fn(np.ones((2, 3), dtype=w.dtype))
    np.testing.assert_allclose(w.get_value(), change.get("scale", 0.5) * before, rtol=1e-6)


def test_a_different_operation_compiles_anew():
    x = pt.dvector("x")
    a = compile_cache.function([x], pt.exp(x).sum())
    b = compile_cache.function([x], pt.log1p(pt.exp(x)).sum())
    assert compile_cache.info().misses == 2
    assert float(a([0.0])) == pytest.approx(1.0)
    assert float(b([0.0])) == pytest.approx(np.log(2.0))


def test_disabled_cache_compiles_every_time():
    compile_cache.set_enabled(False)
    scaled_sum(0)
    scaled_sum(1)
    assert compile_cache.info() == compile_cache.CacheInfo(hits=0, misses=0, size=0)
    with pytest.raises(TypeError, match="enabled must be a bool"):
        compile_cache.set_enabled("yes")


class _Double(Op):
    """An operation with identity equality only (no ``__props__``)."""

    def make_node(self, x):
        x = pt.as_tensor_variable(x)
        return Apply(self, [x], [x.type()])

    def perform(self, node, inputs, output_storage):
        output_storage[0][0] = np.asarray(2 * inputs[0])


@pytest.mark.filterwarnings("ignore:Numba will use object mode")
def test_an_operation_without_value_equality_is_compiled_without_the_cache():
    y = pt.dscalar("y")
    for _ in range(2):
        fn = compile_cache.function([y], _Double()(y))
        assert float(fn(1.5)) == pytest.approx(3.0)
    assert compile_cache.info().size == 0


def test_the_cache_is_bounded(monkeypatch):
    monkeypatch.setattr(compile_cache, "MAX_ENTRIES", 2)
    for scale in (0.1, 0.2, 0.3):
        scaled_sum(0, scale=scale)
    assert compile_cache.info().size == 2


def test_unknown_compiler_and_inputs_not_in_a_list_are_refused():
    with pytest.raises(ValueError, match="compiler must be"):
        compile_cache.function([], pt.constant(1.0), compiler="numba")
    x = pt.dvector("x")
    with pytest.raises(TypeError, match="inputs must be a list or tuple"):
        compile_cache.function(x, x)


@pytest.mark.filterwarnings("ignore:RandomVariable Ops will stop hiding")
def test_pymc_compiler_copies_draw_their_own_reseeded_streams():
    """``pymc.compile`` reseeds the graph's generators; a copy must do so for its own."""
    draws = []
    for seed in (1, 1, 2):
        rng = pytensor.shared(np.random.default_rng(0))
        x = pt.random.normal(size=3, rng=rng)
        fn = compile_cache.function([], x, compiler="pymc", random_seed=seed)
        draws.append(fn())
    assert compile_cache.info().hits == 2
    np.testing.assert_array_equal(draws[0], draws[1])  # the same seed: the same stream
    assert not np.array_equal(draws[0], draws[2])
    # and the stream moves on: a generator update is part of the copy
    rng = pytensor.shared(np.random.default_rng(0))
    fn = compile_cache.function([], pt.random.normal(size=3, rng=rng), compiler="pymc")
    assert not np.array_equal(fn(), fn())


def _cd_history(seed: int) -> dict:
    energy = pymc_ebm.UniGauss(
        np.array([[0.3, 0.3], [0.6, 0.6], [0.5, 0.2]]), np.full((3, 2), 0.2), np.full(3, 0.5)
    )
    data = pymc_ebm.datasets.grid_clusters(n=200, random_seed=0)
    cd = ContrastiveDivergence(
        energy, sampler="hmc", batch_size=40, learning_rate=0.05, random_seed=seed
    )
    history = cd.fit(data, n_updates=4, progressbar=False)
    return {k: np.asarray(history[k]) for k in ("energy_data", "energy_negative")} | {
        f"param_{k}": v for k, v in energy.get_params().items()
    }


def test_trainers_from_the_cache_match_fresh_compilations():
    first, copy = _cd_history(0), _cd_history(1)  # the second trainer's update is a copy
    assert compile_cache.info().hits >= 1
    compile_cache.set_enabled(False)
    fresh = _cd_history(1)
    for key in copy:
        np.testing.assert_allclose(copy[key], fresh[key], rtol=1e-12, err_msg=key)
    assert not np.allclose(first["energy_negative"], copy["energy_negative"])


def test_short_run_hmc_from_the_cache_matches_a_fresh_compilation():
    def draws(mu: float) -> np.ndarray:
        with pm.Model():
            pm.Normal("x", mu, 1.0, shape=(20, 2))
            step = pymc_ebm.ShortRunHMC(n_steps=5, step_size=0.3)
            idata = pm.sample(
                draws=30,
                tune=20,
                step=step,
                chains=1,
                random_seed=3,
                progressbar=False,
                compute_convergence_checks=False,
            )
        return idata.posterior["x"].values

    cached = [draws(0.0), draws(0.0)]
    assert compile_cache.info().hits >= 1
    np.testing.assert_array_equal(cached[0], cached[1])
    compile_cache.set_enabled(False)
    np.testing.assert_array_equal(draws(0.0), cached[0])
