"""The backend switch: one place that chooses the PyTensor mode of every compiled function."""

import importlib.util

import numpy as np
import pymc as pm
import pytest
from pytensor.link.vm import VMLinker

import pymc_ebm
from pymc_ebm import backends
from pymc_ebm.step_methods import BoxJump, ShortRunHMC
from pymc_ebm.step_methods.unigauss_gibbs import UniGaussKernel

HAS_JAX = importlib.util.find_spec("jax") is not None

pytestmark = pytest.mark.jax  # all of it also runs in `tox -e jax`


def _expert():
    return pymc_ebm.UniGauss([[0.4, 0.6]], [[0.2, 0.2]], [0.5])


def _compiled_functions():
    """One compiled function of each kind the package builds, built under the current backend."""
    energy = _expert()
    with pm.Model() as model:
        v = pymc_ebm.visible("v", energy, n_particles=3)
        hmc = ShortRunHMC([v], n_steps=3)
        box = BoxJump([v])
    kernel = UniGaussKernel(energy)
    kernel.hidden_probabilities(np.full((2, 2), 0.5))
    box._energies(np.full((2, 2), 0.5))
    cd = pymc_ebm.ContrastiveDivergence(energy, batch_size=4, random_seed=0)
    del model
    return {
        "ShortRunHMC": hmc._fn,
        "BoxJump": box._energy_fn,
        "UniGaussKernel": kernel._prob_fn,
        "ContrastiveDivergence": cd._update,
    }


def test_default_backend_adds_no_mode():
    with pymc_ebm.backend("default"):
        assert pymc_ebm.compile_kwargs() == {}
        assert pymc_ebm.compile_kwargs({"trust_input": True}) == {"trust_input": True}


def test_context_manager_restores_the_previous_backend_also_after_an_error(
    python_vm_backend,
):
    before = pymc_ebm.get_backend()
    with pytest.raises(RuntimeError), pymc_ebm.backend(python_vm_backend):
        assert pymc_ebm.get_backend() == python_vm_backend
        assert pymc_ebm.compile_kwargs() == {"mode": backends.BACKENDS[python_vm_backend]}
        raise RuntimeError
    assert pymc_ebm.get_backend() == before


def test_an_explicit_mode_wins_over_the_backend(python_vm_backend):
    with pymc_ebm.backend(python_vm_backend):
        assert pymc_ebm.compile_kwargs({"mode": "NUMBA"}) == {"mode": "NUMBA"}


def test_unknown_backend_raises():
    with pytest.raises(ValueError, match="backend must be one of"):
        pymc_ebm.set_backend("tpu")


def test_jax_backend_without_jax_names_the_extra(monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "jax" else real(name, *a)
    )
    with pytest.raises(ImportError, match=r"pip install 'pymc-ebm\[jax\]'"):
        pymc_ebm.set_backend("jax")
    with pytest.raises(ImportError, match=r"pymc-ebm\[jax\]"), pymc_ebm.backend("jax"):
        pass


def test_every_compiled_function_takes_the_backend_mode(python_vm_backend):
    with pymc_ebm.backend(python_vm_backend):
        functions = _compiled_functions()
    for name, fn in functions.items():
        assert type(fn.maker.linker) is VMLinker, name


@pytest.mark.skipif(not HAS_JAX, reason="needs the jax extra")
def test_jax_backend_compiles_jax_functions():
    from pytensor.link.jax.linker import JAXLinker

    with pymc_ebm.backend("jax"):
        functions = _compiled_functions()
    for name, fn in functions.items():
        assert isinstance(fn.maker.linker, JAXLinker), name


@pytest.mark.skipif(not HAS_JAX, reason="needs JAX")
def test_float32_leapfrog_scan_compiles_under_jax():
    """A float32 sum stays float32 under JAX, so the leapfrog ``Scan`` keeps its carry's dtype."""
    import pytensor

    with pymc_ebm.backend("jax"), pytensor.config.change_flags(floatX="float32"):
        energy = pymc_ebm.StudentT(np.eye(3), [1.5, 1.5, 1.5])
        with pm.Model() as model:
            v = pymc_ebm.visible("v", energy, n_particles=4)
            step = ShortRunHMC([v], n_steps=12, rng=0)  # above the unrolled limit: a Scan
        point = model.initial_point()
        new = step.step(point)[0]["v"]
    assert new.dtype == np.float32 and np.all(np.isfinite(new))
