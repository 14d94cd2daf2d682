"""The trainer scaffold: both trainers share one fit loop, data check, guard and history."""

import warnings

import numpy as np
import pytest

import pymc_ebm
from pymc_ebm.training import NonFiniteUpdateError, Trainer
from pymc_ebm.training.exact_gradient import MaximumLikelihood

N_UPDATES = 5


def one_expert():
    return pymc_ebm.UniGauss([[0.4, 0.6]], [[0.3, 0.3]], [0.5])


def make_trainer(kind, energy, **kwargs):
    settings = {"batch_size": 20, "learning_rate": 0.05, "random_seed": 0, **kwargs}
    if kind == "cd":
        return pymc_ebm.ContrastiveDivergence(energy, **settings)
    return MaximumLikelihood(energy, n_points=32, **settings)


TRAINERS = pytest.mark.parametrize("kind", ["cd", "ml"])


@pytest.fixture(scope="module")
def X():
    return pymc_ebm.datasets.grid_clusters(n=100, random_seed=0)


def params_after(kind, X, n_updates):
    """Parameters of a fresh trainer after ``n_updates`` uninterrupted updates."""
    energy = one_expert()
    make_trainer(kind, energy).fit(X, n_updates=n_updates, progressbar=False)
    return energy.get_params()


@TRAINERS
def test_both_trainers_are_trainers_with_the_common_history(kind, X):
    trainer = make_trainer(kind, one_expert(), optimizer="adam")
    assert isinstance(trainer, Trainer)
    history = trainer.fit(X, n_updates=2, progressbar=False)
    common = ["energy_data", "energy_negative", "energy_gap", "grad_norm", "norm_mu", "seconds"]
    assert set(common) <= set(history.data_vars)
    assert history.attrs["trainer"] == type(trainer).__name__
    assert history.attrs["optimizer"] == "Adam"
    assert history.attrs["learning_rate"] == 0.05 and history.attrs["batch_size"] == 20


@TRAINERS
def test_callback_sees_every_record(kind, X):
    seen = []
    history = make_trainer(kind, one_expert()).fit(
        X, n_updates=N_UPDATES, progressbar=False, callback=seen.append
    )
    assert len(seen) == N_UPDATES
    for key in history.data_vars:
        np.testing.assert_array_equal(history[key].values, [record[key] for record in seen])


@TRAINERS
def test_callback_returning_true_stops_after_that_update(kind, X):
    seen = []

    def stop_at_second(record):
        seen.append(record)
        return len(seen) == 2

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # an early stop is no interruption
        history = make_trainer(kind, one_expert()).fit(
            X, n_updates=N_UPDATES, progressbar=False, callback=stop_at_second
        )
    assert history.sizes["update"] == 2


@TRAINERS
@pytest.mark.parametrize("where, kept", [("callback", 3), ("update", 2)])
def test_ctrl_c_keeps_the_finished_updates_and_stops_the_bar(kind, where, kept, X, capsys):
    """Ctrl-C after the third update's record (callback) or during the third update."""
    energy = one_expert()
    trainer = make_trainer(kind, energy)
    calls = []

    def interrupt_third(*args, **kwargs):
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return update_step(*args, **kwargs) if where == "update" else None

    update_step = trainer._update_step
    if where == "update":
        trainer._update_step = interrupt_third
    callback = interrupt_third if where == "callback" else None
    with pytest.warns(RuntimeWarning, match=f"kept the parameters and history of {kept} updates"):
        history = trainer.fit(X, n_updates=N_UPDATES, progressbar=True, callback=callback)
    assert history.sizes["update"] == kept
    for name, value in params_after(kind, X, kept).items():
        np.testing.assert_array_equal(energy.get_params()[name], value)
    assert f"{kept}/{N_UPDATES}" in capsys.readouterr().out


@TRAINERS
def test_progress_bar_shows_label_count_and_gap(kind, X, capsys):
    trainer = make_trainer(kind, one_expert())
    history = trainer.fit(X, n_updates=3, progressbar=True)
    out = capsys.readouterr().out
    assert trainer.progress_label in out and "3/3" in out
    assert f"gap {history['energy_gap'].values[-1]:+.3f}" in out
    trainer.fit(X, n_updates=2, progressbar=False)
    assert capsys.readouterr().out == ""


@TRAINERS
def test_bad_callback_is_refused_before_anything_runs(kind, X):
    trainer = make_trainer(kind, one_expert())
    with pytest.raises(TypeError, match="callback must be callable"):
        trainer.fit(X, n_updates=2, progressbar=False, callback=5)
    assert trainer.history.sizes["update"] == 0


@TRAINERS
def test_data_on_the_box_faces_are_clipped_into_the_box(kind, X):
    batch = X[:20].copy()
    batch[0] = [0.0, 1.0]
    margin = 1e-6
    inside = batch.copy()
    inside[0] = [margin, 1.0 - margin]
    faces, clipped = one_expert(), one_expert()
    record = make_trainer(kind, faces).partial_fit(batch)
    reference = make_trainer(kind, clipped).partial_fit(inside)
    assert record["energy_data"] == reference["energy_data"]
    for name, value in clipped.get_params().items():
        np.testing.assert_array_equal(faces.get_params()[name], value)


@TRAINERS
@pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning")
def test_an_overflowing_update_writes_nothing(kind, X):
    """A huge learning rate: the first update lands far out, the second is not finite.

    The non-finite guard on its own: the divergence checks would stop the first update.
    """
    energy = one_expert()
    trainer = make_trainer(kind, energy, learning_rate=1e5, momentum=0.0, divergence_check=None)
    with pytest.raises(NonFiniteUpdateError, match="update 1 .* left at the last good update"):
        trainer.fit(X, n_updates=3, progressbar=False)
    assert trainer.history.sizes["update"] == 1
    reference = one_expert()
    make_trainer(kind, reference, learning_rate=1e5, momentum=0.0, divergence_check=None).fit(
        X, n_updates=1, progressbar=False
    )
    for name, value in reference.get_params().items():
        np.testing.assert_array_equal(energy.get_params()[name], value)


@TRAINERS
def test_compile_kwargs_must_be_a_dict(kind):
    with pytest.raises(TypeError, match="compile_kwargs must be a dict"):
        make_trainer(kind, one_expert(), compile_kwargs=[("mode", "FAST_RUN")])


@TRAINERS
@pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning")
def test_a_refused_update_says_what_was_not_finite(kind, X):
    """Finite energies whose step overflows: the message names the parameters, no -0.0."""
    trainer = make_trainer(
        kind, one_expert(), learning_rate=1e3, optimizer="adam", divergence_check=None
    )
    with pytest.raises(NonFiniteUpdateError) as info:
        trainer.fit(X, n_updates=3, progressbar=False)
    message = str(info.value)
    assert message.startswith("update 1 gave non-finite new parameter values (from a finite")
    assert "-0.0" not in message


@TRAINERS
def test_progress_is_the_deprecated_spelling_of_progressbar(kind, X, capsys):
    trainer = make_trainer(kind, one_expert())
    with pytest.deprecated_call(match=r"use fit\(progressbar=...\)"):
        history = trainer.fit(X, n_updates=2, progress=True)
    assert trainer.progress_label in capsys.readouterr().out
    reference = make_trainer(kind, one_expert()).fit(X, n_updates=2, progressbar=False)
    np.testing.assert_array_equal(history["energy_gap"], reference["energy_gap"])
    with pytest.raises(TypeError, match="progressbar must be True or False, got 'no'"):
        trainer.fit(X, n_updates=2, progressbar="no")
    assert trainer.history.sizes["update"] == 2
