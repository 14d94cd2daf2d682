"""The arm study: the bias table on a hand-set network, and the mirror move against quadrature."""

import copy

import numpy as np
import pymc as pm
import pytest
from scipy import integrate

import pymc_ebm
from pymc_ebm_demos.arm import (
    ArmReflection,
    bias_table,
    determined_entries,
    link_difference_operators,
)

LENGTHS = np.array([1.2, 0.9, 1.4, 0.6])
Z = 4.0


def hand_set_network(lengths, alpha=1.0):
    """One unit per link: the sum of the squared coordinate differences minus l²."""
    D = link_difference_operators(len(lengths) + 1)
    W = D.reshape(-1, D.shape[-1])  # 3 filters per link
    U = np.kron(np.eye(len(lengths)), np.ones((1, 3)))
    return pymc_ebm.FASConstraints(W, U, -(lengths**2), np.full(len(lengths), alpha))


def test_bias_table_reads_a_hand_set_network_exactly():
    table = bias_table(hand_set_network(LENGTHS), LENGTHS)
    np.testing.assert_allclose(table["residual"], 0.0, atol=1e-12)
    np.testing.assert_allclose(table["implied_bias"], -(LENGTHS**2), rtol=1e-12)
    np.testing.assert_allclose(table[[f"a_{i}" for i in range(1, 5)]], np.eye(4), atol=1e-12)


def test_bias_table_reads_a_superposition_of_two_links():
    net = hand_set_network(LENGTHS)
    U = net.get_params()["U"]
    U[0] = 2.0 * U[0] - 0.5 * U[2]  # unit 0: 2 × link 1 − 0.5 × link 3
    net.set_params({"U": U, "b": np.array([-(2 * 1.44 - 0.5 * 1.96), -0.81, -1.96, -0.36])})
    row = bias_table(net, LENGTHS).loc[0]
    assert row["residual"] < 1e-12
    assert row["a_1"] == pytest.approx(2.0) and row["a_3"] == pytest.approx(-0.5)
    assert row["implied_bias"] == pytest.approx(row["bias"])


def test_mirror_moves_give_both_solutions_their_exact_mass():
    """Two joints, one link of length 1: the tip's x is missing, so x = ±0.933 fit the link.

    An off-centre Gaussian expert gives the two solutions different masses;
    NUTS alone never crosses between them, NUTS + ArmReflection must give
    P(x > 0) and E[x] of the exact 1-D conditional.
    """
    link = hand_set_network(np.array([1.0]), alpha=40.0)  # a barrier of about 13 nats at x = 0
    mu = np.array([[0.0, 0.0, 0.0, 1.0, 0.0, 0.0]])
    energy = link * pymc_ebm.Gaussian(mu=mu, sigma=np.full((1, 6), 1.0))
    n_rows = 20
    observed = np.tile([0.0, 0.0, 0.0, np.nan, 0.3, 0.2], (n_rows, 1))

    grid = np.linspace(-6.0, 6.0, 120_001)
    rows = np.tile([0.0, 0.0, 0.0, 0.0, 0.3, 0.2], (grid.size, 1))
    rows[:, 3] = grid
    energies = energy.energy_fn()(rows)
    density = np.exp(-(energies - energies.min()))
    z = integrate.trapezoid(density, grid)
    p_right = integrate.trapezoid(np.where(grid > 0, density, 0.0), grid) / z
    mean = integrate.trapezoid(grid * density, grid) / z
    assert 0.6 < p_right < 0.95  # the masses differ, and both are sizeable

    def steps(model):
        free = model["x_missing"]
        return [pm.NUTS([free], model=model), ArmReflection([free], observed, model=model)]

    _, idata = pymc_ebm.impute(
        energy, observed, draws=600, tune=300, chains=1, step=steps, random_seed=3
    )
    x = idata.posterior["x_missing"].values[0, :, :, 0]  # (draws, rows): rows are chains
    right = (x > 0).astype(float)
    # every row visits both solutions (a row of NUTS alone stays on one side)
    assert np.all((right.mean(axis=0) > 0.5) & (right.mean(axis=0) < 0.99))
    # rows are independent chains: the spread of their averages gives the standard error
    for values, truth in ((right, p_right), (x, mean)):
        row_means = values.mean(axis=0)
        standard_error = row_means.std(ddof=1) / np.sqrt(n_rows)
        assert abs(row_means.mean() - truth) < Z * standard_error, (row_means.mean(), truth)
    assert 0.2 < float(idata.sample_stats["reflect_accept"].mean()) < 0.95


def test_mirror_move_refuses_a_transformed_variable():
    energy = pymc_ebm.UniGauss([[0.5] * 6], [[0.1] * 6], [0.5])
    observed = np.tile([0.5, 0.5, 0.5, np.nan, 0.5, 0.5], (3, 1))
    with pm.Model() as model:
        pymc_ebm.visible("x", energy, observed=observed)
        with pytest.raises(ValueError, match="untransformed"):
            ArmReflection([model["x_missing"]], observed)


def test_mirror_moves_of_an_inner_joint_give_both_solutions_their_exact_mass():
    """Three joints, two links: the middle joint's x and y are missing, z is observed.

    The two points where the spheres around its neighbours meet the plane of
    its z are mirror images in the plane through the neighbours that contains
    the z axis; an off-centre Gaussian expert gives them different masses.
    """
    network = hand_set_network(np.array([1.0, 0.9]), alpha=40.0)
    mu = np.zeros((1, 9))
    mu[0, 3] = 0.6  # pulls the middle joint towards +x
    energy = network * pymc_ebm.Gaussian(mu=mu, sigma=np.full((1, 9), 1.0))
    a, b, z = np.array([0.0, 0.0, 0.0]), np.array([0.2, 1.2, 0.1]), 0.15
    n_rows = 20
    observed = np.tile([*a, np.nan, np.nan, z, *b], (n_rows, 1))

    grid = np.linspace(-2.5, 2.5, 801)
    gx, gy = np.meshgrid(grid, grid, indexing="ij")
    rows = np.tile([*a, 0.0, 0.0, z, *b], (gx.size, 1))
    rows[:, 3], rows[:, 4] = gx.ravel(), gy.ravel()
    energies = energy.energy_fn()(rows)
    density = np.exp(-(energies - energies.min()))
    normal = np.cross(b - a, [0.0, 0.0, 1.0])
    side = (rows[:, 3:6] - a) @ normal > 0
    p_side = density[side].sum() / density.sum()
    assert 0.6 < p_side < 0.95 or 0.05 < p_side < 0.4

    def steps(model):
        free = model["x_missing"]
        return [pm.NUTS([free], model=model), ArmReflection([free], observed, model=model)]

    _, idata = pymc_ebm.impute(
        energy, observed, draws=600, tune=300, chains=1, step=steps, random_seed=5
    )
    xy = idata.posterior["x_missing"].values[0]  # (draws, rows, 2)
    offsets = (np.concatenate([xy, np.full((*xy.shape[:2], 1), z)], axis=2) - a) @ normal
    on_side = (offsets > 0).astype(float)
    fractions = on_side.mean(axis=0)
    assert np.all((fractions > 0.02) & (fractions < 0.98))  # every row visits both
    standard_error = fractions.std(ddof=1) / np.sqrt(n_rows)
    assert abs(fractions.mean() - p_side) < Z * standard_error, (fractions.mean(), p_side)


def test_mirror_moves_of_a_run_of_joints_at_the_tip_give_their_exact_mass():
    """Three joints, two links: x is missing at the middle joint and at the tip.

    ``x2 = ±0.933`` and ``x3 − x2 = ±0.854`` fit the links: four modes. The
    tip's own mirror move flips the second sign; reflecting the run (x2, x3)
    through the base's x flips both, and is the only move that changes the
    middle joint's side. An off-centre Gaussian gives the sides different masses.
    """
    network = hand_set_network(np.array([1.0, 0.9]), alpha=40.0)
    mu = np.zeros((1, 9))
    mu[0, 3] = 0.4  # pulls the middle joint towards +x
    energy = network * pymc_ebm.Gaussian(mu=mu, sigma=np.full((1, 9), 1.0))
    n_rows = 20
    observed = np.tile([0.0, 0.0, 0.0, np.nan, 0.3, 0.2, np.nan, 0.5, 0.4], (n_rows, 1))

    grid = np.linspace(-3.0, 3.0, 1201)
    g2, g3 = np.meshgrid(grid, grid, indexing="ij")
    rows = np.tile(np.nan_to_num(observed[0]), (g2.size, 1))
    rows[:, 3], rows[:, 6] = g2.ravel(), g3.ravel()
    density = np.exp(-(energy.energy_fn()(rows) - energy.energy_fn()(rows).min()))
    p_right = density[rows[:, 3] > 0].sum() / density.sum()
    assert 0.6 < p_right < 0.95

    def steps(model):
        free = model["x_missing"]
        return [pm.NUTS([free], model=model), ArmReflection([free], observed, model=model)]

    _, idata = pymc_ebm.impute(
        energy, observed, draws=600, tune=300, chains=1, step=steps, random_seed=7
    )
    x2 = idata.posterior["x_missing"].values[0, :, :, 0]  # (draws, rows)
    fractions = (x2 > 0).mean(axis=0)
    assert np.all((fractions > 0.02) & (fractions < 0.98))  # every row visits both sides
    standard_error = fractions.std(ddof=1) / np.sqrt(n_rows)
    assert abs(fractions.mean() - p_right) < Z * standard_error, (fractions.mean(), p_right)


def test_train_ends_with_the_mean_of_the_last_updates():
    """``train`` writes the trainer's running mean of the last ``average_last`` updates."""
    from dataclasses import replace

    from pymc_ebm_demos import arm as study

    settings = replace(study.ArmSettings.quick(), n_updates=6, average_last=4)
    X, _ = pymc_ebm.datasets.arm(200, random_seed=0)
    _, energy, trainer, _ = study.train(X, settings)
    assert trainer.n_averaged == 4
    for name, value in energy.get_params().items():
        np.testing.assert_array_equal(value, trainer.averaged_params[name].astype(value.dtype))
    _, _, trainer, _ = study.train(X, replace(settings, average_last=0))
    assert trainer.average_from is None and trainer.averaged_params is None


@pytest.mark.parametrize(
    ("missing_columns", "determined"),
    [
        ([2], [2]),  # the base misses z: two mirror solutions
        ([0, 1], []),  # the base misses x and y: a circle around its neighbour
        ([12, 13, 14], []),  # the tip misses everything: a sphere
        ([7], [7]),  # an inner joint misses y: fixed by its two links
        ([6, 7], [6, 7]),  # an inner joint misses x and y: two points of a circle
        ([6, 7, 8], []),  # an inner joint misses everything: a circle
        ([11, 14], [11, 14]),  # the last two joints miss z: fixed link by link
        ([2, 6, 7, 8], [2]),  # the base is fixed, the inner joint is not
    ],
)
def test_determined_entries_of_known_missing_patterns(missing_columns, determined):
    arms, _ = pymc_ebm.datasets.arm(3, link_lengths=LENGTHS, random_seed=0)
    missing = np.zeros(arms.shape, dtype=bool)
    missing[:, missing_columns] = True
    result = determined_entries(arms, missing)
    expected = np.zeros(arms.shape, dtype=bool)
    expected[:, determined] = True
    np.testing.assert_array_equal(result, expected)


def test_an_undetermined_entry_moves_along_exact_solutions():
    """The tip missing x and y: rotating it about the z axis through its neighbour keeps
    every link's length, so a continuum of arms fits the observed entries."""
    arms, _ = pymc_ebm.datasets.arm(1, link_lengths=LENGTHS, random_seed=2)
    joints = arms.reshape(5, 3)
    offset = joints[4, :2] - joints[3, :2]
    angle = 0.3
    rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    moved = joints.copy()
    moved[4, :2] = joints[3, :2] + rotation @ offset
    np.testing.assert_allclose(
        pymc_ebm.datasets.link_lengths(moved.reshape(1, 15)), [LENGTHS], rtol=1e-12
    )
    missing = np.zeros((1, 15), dtype=bool)
    missing[0, [12, 13]] = True
    assert not determined_entries(arms, missing).any()


def test_determined_entries_checks_shapes():
    with pytest.raises(ValueError, match="must both have shape"):
        determined_entries(np.zeros((2, 15)), np.zeros((2, 14), dtype=bool))
    with pytest.raises(ValueError, match="must both have shape"):
        determined_entries(np.zeros((2, 14)), np.zeros((2, 14), dtype=bool))


def _assert_same(result_a, result_b):
    (point_a, stats_a), (point_b, stats_b) = result_a, result_b
    assert point_a.keys() == point_b.keys()
    for key in point_a:
        np.testing.assert_array_equal(point_a[key], point_b[key])
    np.testing.assert_equal(stats_a, stats_b)


def test_deepcopy_of_arm_reflection_on_a_model_with_initial_values():
    """As tests/test_step_conformance.py checks the package's step methods."""
    energy = pymc_ebm.Gaussian(mu=np.full((1, 6), 0.5), sigma=np.full((1, 6), 1.0))
    observed = np.tile([0.5, 0.5, 0.5, np.nan, 0.5, 0.5], (3, 1))
    with pm.Model() as model:
        pymc_ebm.visible("x", energy, observed=observed)
    model.set_initval(model["x_missing"], np.full((3, 1), 1.5))
    step = ArmReflection([model["x_missing"]], observed, model=model, rng=0)
    point = model.initial_point()
    step.step(point)
    clone = copy.deepcopy(step)
    first, second = step.step(point), clone.step(point)
    _assert_same(first, second)
    assert first[1][0]["reflect_accept"] > 0  # x = 1.5 mirrors to -0.5 about 0.5: it moved
