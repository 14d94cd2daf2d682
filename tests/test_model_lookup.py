"""Step methods find the model without ``with model:``: ``pm.sample(model=model)`` picks them.

PyMC calls ``competence(var, has_grad)`` with the variable alone; the model is
the one on the context stack or the one :func:`pymc_ebm.visible` registered
the variable in, and a clone of that model falls back to PyMC's own steps.
"""

import gc

import numpy as np
import pymc as pm
import pytest
from pymc.model.fgraph import clone_model
from pymc.sampling.mcmc import assign_step_methods
from pymc.step_methods.compound import Competence

import pymc_ebm
from pymc_ebm.model.terms import model_of
from pymc_ebm.step_methods import BoxJump, ModeJump, ShortRunHMC, StudentTGibbs, UniGaussGibbs

STEP_METHODS = [BoxJump, ModeJump, ShortRunHMC, StudentTGibbs, UniGaussGibbs]
SAMPLE_KWARGS = {
    "draws": 5,
    "tune": 5,
    "chains": 1,
    "random_seed": 3,
    "progressbar": False,
    "compute_convergence_checks": False,
}


def _unigauss() -> pymc_ebm.UniGauss:
    return pymc_ebm.UniGauss([[0.3, 0.6], [0.7, 0.4]], [[0.1, 0.1], [0.15, 0.1]], [0.6, 0.5])


def _visible_unigauss() -> pm.Model:
    with pm.Model() as model:
        pymc_ebm.visible("v", _unigauss(), n_particles=3)
    return model


def _hidden_unigauss() -> pm.Model:
    energy = _unigauss()
    with pm.Model() as model:
        v = pymc_ebm.visible("v", energy, n_particles=3)
        pymc_ebm.hidden("h", energy, v)
    return model


def _student_t() -> pm.Model:
    with pm.Model() as model:
        pymc_ebm.visible("v", pymc_ebm.StudentT(W=np.eye(2), alpha=[2.5, 3.0]), n_particles=3)
    return model


# model -> the package's step pm.sample picks, and a sampler statistic only that step records
MODELS = {
    "uni-gauss visible": (_visible_unigauss, UniGaussGibbs, "active_experts"),
    "uni-gauss visible+hidden": (_hidden_unigauss, UniGaussGibbs, "active_experts"),
    "student-t visible": (_student_t, StudentTGibbs, "mean_precision"),
}


def _assigned(model: pm.Model) -> dict[str, set[str]]:
    """Step-method name -> names of the variables ``pm.sample`` would give it."""
    _, selected = assign_step_methods(model)
    return {
        cls.name: {model.values_to_rvs[value].name for value in values}
        for cls, values in selected.items()
        if values
    }


@pytest.mark.parametrize("case", MODELS, ids=list(MODELS))
def test_sample_with_model_argument_picks_the_package_step_outside_the_context(case):
    make, step_class, stat = MODELS[case]
    model = make()
    outside = _assigned(model)
    with model:
        inside = _assigned(model)
    assert outside == inside == {step_class.name: {rv.name for rv in model.free_RVs}}
    idata = pm.sample(model=model, **SAMPLE_KWARGS)
    assert stat in idata.sample_stats


@pytest.mark.parametrize("case", MODELS, ids=list(MODELS))
@pytest.mark.parametrize("step_class", STEP_METHODS, ids=lambda cls: cls.__name__)
def test_every_step_method_gives_the_same_competence_inside_and_outside_the_context(
    case, step_class
):
    model = MODELS[case][0]()
    for rv in model.free_RVs:
        outside = step_class.competence(rv, True)
        with pm.Model():  # another model on the stack: pm.sample(model=model) inside it
            other = step_class.competence(rv, True)
        with model:
            inside = step_class.competence(rv, True)
        assert outside == other == inside, (rv.name, outside, other, inside)


CLONES = {
    "clone_model": clone_model,
    "Model.copy": lambda model: model.copy(),
    "observe nothing": lambda model: pm.observe(model, {}),
}


@pytest.mark.parametrize("clone", CLONES, ids=list(CLONES))
def test_a_cloned_model_falls_back_to_pymc_outside_its_context(clone):
    model = _hidden_unigauss()
    copy = CLONES[clone](model)
    assert copy["v"] is not model["v"]  # its own variables, carrying the original's tags
    assert model_of(copy["v"]) is None
    assert UniGaussGibbs.competence(copy["v"], True) == Competence.INCOMPATIBLE
    assert _assigned(copy) == {"nuts": {"v"}, "binary_gibbs_metropolis": {"h"}}
    idata = pm.sample(model=copy, **SAMPLE_KWARGS)  # PyMC's steps, bound to the clone
    assert "active_experts" not in idata.sample_stats
    assert idata.posterior["h"].shape == (1, 5, 3, 2)
    with copy:  # inside its own context the clone is found
        assert _assigned(copy) == {UniGaussGibbs.name: {"v", "h"}}


def test_a_collected_model_is_not_found():
    model = _visible_unigauss()
    v = model["v"]
    assert model_of(v) is model
    del model
    gc.collect()
    assert model_of(v) is None
    assert UniGaussGibbs.competence(v, True) == Competence.INCOMPATIBLE


def test_nested_model_is_judged_by_its_root():
    """A term of the outer model on ``v`` makes UniGaussGibbs inexact for the whole model."""
    with pm.Model() as outer:
        with pm.Model("inner"):
            v = pymc_ebm.visible("v", _unigauss(), n_particles=3)
        pm.Normal("y", mu=v[:, 0], sigma=0.1, observed=np.full(3, 0.5))
    assert model_of(v) is outer
    assert _assigned(outer) == {"nuts": {"inner::v"}}


def test_parallel_sampling_outside_the_context():
    """With ``cores=2`` the steps are pickled: the model reference travels as a dead one."""
    model = _student_t()
    kwargs = {**SAMPLE_KWARGS, "chains": 2}
    idata = pm.sample(model=model, cores=2, **kwargs)
    assert "mean_precision" in idata.sample_stats
    assert model_of(model["v"]) is model
