"""One spelling per thing: ``n_particles`` (rows of a visible) and PyMC's ``progressbar``.

``n_chains`` (the old spelling of ``n_particles``, easily confused with
PyMC's ``chains``) and ``ShortRunHMC.n_rows`` keep working for one release
with a ``DeprecationWarning``.
"""

import importlib.util
import inspect

import numpy as np
import pymc as pm
import pytest

import pymc_ebm
from pymc_ebm import Gaussian, ShortRunHMC

SAMPLE_KWARGS = {"draws": 5, "tune": 5, "chains": 1, "random_seed": 1, "progressbar": False}


def _gauss():
    return Gaussian(np.zeros((1, 2)), np.ones((1, 2)))


def test_visible_takes_n_particles_and_the_old_spelling_with_a_warning():
    with pm.Model():
        v = pymc_ebm.visible("v", _gauss(), n_particles=3)
        w = pymc_ebm.visible("w", _gauss(), 4)  # third positional argument
        with pytest.deprecated_call(match="n_chains is deprecated.*use n_particles"):
            u = pymc_ebm.visible("u", _gauss(), n_chains=5)
        with pytest.raises(TypeError, match="give n_particles only"):
            pymc_ebm.visible("z", _gauss(), n_particles=2, n_chains=2)
    assert (v.type.shape, w.type.shape, u.type.shape) == ((3, 2), (4, 2), (5, 2))


def test_visible_with_observed_refuses_the_old_spelling_too():
    X = np.array([[0.5, np.nan]])
    with pm.Model() as model:
        with pytest.deprecated_call(), pytest.raises(ValueError, match="give n_chains or obs"):
            pymc_ebm.visible("x", _gauss(), n_chains=2, observed=X)
    assert not model.named_vars


def test_sample_fantasies_takes_n_particles_and_the_old_spelling_with_a_warning():
    idata = pymc_ebm.sample_fantasies(_gauss(), n_particles=3, **SAMPLE_KWARGS)
    assert idata.posterior["v"].shape == (1, 5, 3, 2)
    with pytest.deprecated_call(match="use n_particles"):
        idata = pymc_ebm.sample_fantasies(_gauss(), n_chains=4, **SAMPLE_KWARGS)
    assert idata.posterior["v"].shape == (1, 5, 4, 2)
    with pytest.raises(TypeError, match="give n_particles only"):
        pymc_ebm.sample_fantasies(_gauss(), n_particles=2, n_chains=2, **SAMPLE_KWARGS)
    with pytest.raises(ValueError, match="n_particles must be a positive integer, got 0"):
        pymc_ebm.sample_fantasies(_gauss(), n_particles=0, **SAMPLE_KWARGS)
    with pytest.deprecated_call(), pytest.raises(ValueError, match="n_chains must be a positive"):
        pymc_ebm.sample_fantasies(_gauss(), n_chains=0, **SAMPLE_KWARGS)


def test_short_run_hmc_n_particles_and_the_deprecated_n_rows():
    with pm.Model():
        pymc_ebm.visible("v", _gauss(), n_particles=6)
        step = ShortRunHMC(n_steps=2)
    assert step.n_particles == 6
    with pytest.deprecated_call(match="n_rows is deprecated.*use n_particles"):
        assert step.n_rows == 6


def test_old_spellings_are_keyword_only_and_progressbar_has_pymc_default():
    for function in (pymc_ebm.visible, pymc_ebm.sample_fantasies):
        parameters = inspect.signature(function).parameters
        assert parameters["n_chains"].kind is inspect.Parameter.KEYWORD_ONLY
        assert parameters["n_chains"].default is None
        assert "n_particles" in parameters
    pymc_default = inspect.signature(pm.sample).parameters["progressbar"].default
    assert inspect.signature(pymc_ebm.impute).parameters["progressbar"].default == pymc_default


def _captured_progressbar(monkeypatch, *, matplotlib: bool, **kwargs):
    """The ``progressbar`` that ``impute`` hands to ``pm.sample``."""
    seen = {}
    find_spec = importlib.util.find_spec

    def sample(*args, **sample_kwargs):
        seen.update(sample_kwargs)
        raise RuntimeError("stop")

    def hiding(name, *args):
        return None if name == "matplotlib" and not matplotlib else find_spec(name, *args)

    monkeypatch.setattr(pm, "sample", sample)
    monkeypatch.setattr(importlib.util, "find_spec", hiding)
    with pytest.raises(RuntimeError, match="stop"):
        pymc_ebm.impute(_gauss(), np.array([[0.5, np.nan]]), draws=5, tune=5, chains=1, **kwargs)
    return seen["progressbar"]


def test_impute_shows_pymc_progress_bar_by_default(monkeypatch):
    assert _captured_progressbar(monkeypatch, matplotlib=True) is True
    assert _captured_progressbar(monkeypatch, matplotlib=True, progressbar=False) is False


def test_without_matplotlib_sampling_goes_on_without_the_bar(monkeypatch):
    """PyMC's progress bar imports matplotlib, which the library does not need."""
    with pytest.warns(UserWarning, match="progress bar needs matplotlib"):
        assert _captured_progressbar(monkeypatch, matplotlib=False) is False
    assert _captured_progressbar(monkeypatch, matplotlib=False, progressbar=False) is False
