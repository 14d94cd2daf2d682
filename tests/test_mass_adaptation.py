"""The mass-matrix window schedule and the pooled-variance adaptation, without a sampler."""

from __future__ import annotations

import numpy as np
import pytest

from pymc_ebm.step_methods.mass_adaptation import (
    MASS_FIRST_WINDOW,
    MASS_INIT_WINDOW,
    MASS_TERMINAL_WINDOW,
    DiagMassAdaptation,
    mass_windows,
    narrowest_width,
    split,
)
from pymc_ebm.step_methods.step_size import dual_averaging


def stan_windows(n_tune, init_buffer, window, term_buffer):
    """Stan's windowed adaptation (stepsize_covar_adapter), written out as Stan does it.

    Returns the 0-based draws after which the metric is updated, plus one (the
    ``end`` of each window as ``mass_windows`` counts it).
    """
    if init_buffer + window + term_buffer > n_tune:
        init_buffer = int(0.15 * n_tune)
        term_buffer = int(0.1 * n_tune)
        window = n_tune - (init_buffer + term_buffer)
    ends = []
    counter, size = 0, window
    next_window = init_buffer + window - 1
    last = n_tune - term_buffer - 1
    while counter < n_tune:
        end_of_window = counter == next_window and init_buffer <= counter < n_tune - term_buffer
        if end_of_window:
            ends.append(counter + 1)
            if next_window == last:
                break
            size *= 2
            next_window = counter + size
            if next_window != last and next_window + 2 * size >= last:
                next_window = last
        counter += 1
    return ends


@pytest.mark.parametrize("n_tune", [100, 150, 1000])
def test_window_ends_follow_stans_rule(n_tune):
    windows = mass_windows(n_tune)
    expected = stan_windows(n_tune, MASS_INIT_WINDOW, MASS_FIRST_WINDOW, MASS_TERMINAL_WINDOW)
    assert [end for _, end in windows] == expected
    # windows tile the adaptation phase without gaps
    assert all(a[1] == b[0] for a, b in zip(windows, windows[1:], strict=False))


def test_known_window_ends():
    assert mass_windows(100) == [(15, 90)]  # short tuning: 15 % / 75 % / 10 %
    assert mass_windows(150) == [(25, 50)]
    assert mass_windows(1000) == [(25, 50), (50, 100), (100, 200), (200, 400), (400, 900)]
    # Stan's default buffers give NumPyro's build_adaptation_schedule(1000)
    assert mass_windows(1000, 75, 25, 50) == [
        (75, 100),
        (100, 150),
        (150, 250),
        (250, 450),
        (450, 950),
    ]
    assert stan_windows(1000, 75, 25, 50) == [100, 150, 250, 450, 950]
    assert mass_windows(10) == []  # too few tuning draws for a window


def test_adaptation_sets_the_pooled_variance_at_each_window_end():
    rng = np.random.default_rng(0)
    adapt = DiagMassAdaptation(np.ones(2), adapt=True)
    adapt.n_tune = 150
    adapt.reset()
    sd = np.array([0.5, 3.0])
    draws = [rng.standard_normal((8, 2)) * sd for _ in range(150)]
    changed = [adapt.update(d) for d in draws]
    assert [i + 1 for i, c in enumerate(changed) if c] == [50]  # the one window of 150 draws
    window = np.concatenate(draws[25:50])
    np.testing.assert_allclose(adapt.inv_mass, window.var(axis=0, ddof=1), rtol=1e-12)


def test_adaptation_off_keeps_the_mass():
    adapt = DiagMassAdaptation(np.full(3, 2.0), adapt=False)
    assert not any(adapt.update(np.ones((4, 3)) * i) for i in range(300))
    np.testing.assert_array_equal(adapt.inv_mass, 2.0)


def test_split_and_step_size_restart():
    parts = split(np.arange(5.0), [(2,), (1, 3)], ["float64", "float32"])
    np.testing.assert_array_equal(parts[0], [0.0, 1.0])
    assert parts[1].shape == (1, 3) and parts[1].dtype == np.float32
    assert narrowest_width(np.ones(3), np.array([4.0, 1.0, 0.25])) == 0.5
    adapt = dual_averaging(0.2, 0.65)
    assert adapt.current(True) == pytest.approx(0.2)
