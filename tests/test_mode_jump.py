"""ModeJump: independence jumps between the modes of each row, against quadrature."""

import copy

import numpy as np
import pymc as pm
import pytensor.tensor as pt
import pytest

import pymc_ebm

Z = 4.0  # |estimate − truth| / standard error limit per assertion (4 assertions)


def four_mode_energy(alpha: float = 40.0):
    """``x`` and ``y`` each near ±1 (barriers of about 16 nats at 0); an off-centre Gaussian
    gives the four modes ``(±1, ±1)`` different masses; the third column is independent."""
    constraints = pymc_ebm.FASConstraints(
        W=[[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]], U=np.eye(2), b=[-1.0, -1.0], alpha=[alpha] * 2
    )
    gaussian = pymc_ebm.Gaussian(mu=[[0.4, -0.3, 0.0]], sigma=[[1.0, 1.0, 1.0]])
    return constraints * gaussian


def exact_moments(energy, third: float) -> dict[str, float]:
    grid = np.linspace(-3.0, 3.0, 1201)
    gx, gy = np.meshgrid(grid, grid, indexing="ij")
    rows = np.stack([gx.ravel(), gy.ravel(), np.full(gx.size, third)], axis=1)
    energies = energy.energy_fn()(rows).reshape(gx.shape)
    density = np.exp(-(energies - energies.min()))
    density /= density.sum()
    return {
        "P(x>0)": float(density[gx > 0].sum()),
        "P(y>0)": float(density[gy > 0].sum()),
        "E[x]": float((gx * density).sum()),
        "E[y]": float((gy * density).sum()),
    }


def test_nuts_with_mode_jumps_gives_four_modes_their_exact_masses():
    energy = four_mode_energy()
    n_rows, third = 24, 0.5
    observed = np.tile([np.nan, np.nan, third], (n_rows, 1))
    truth = exact_moments(energy, third)
    assert 0.6 < truth["P(x>0)"] < 0.95 and 0.05 < truth["P(y>0)"] < 0.4  # unequal masses

    def steps(model):
        free = model["x_missing"]
        jump = pymc_ebm.ModeJump([free], scale=1.5, model=model, rng=1)
        # the search finds all four modes of every row
        assert np.all(np.isfinite(jump.log_weights).sum(axis=1) == 4)
        return [pm.NUTS([free], model=model), jump]

    _, idata = pymc_ebm.impute(
        energy, observed, draws=600, tune=300, chains=1, step=steps, random_seed=3
    )
    xy = idata.posterior["x_missing"].values[0]  # (draws, rows, 2): rows are chains
    estimates = {
        "P(x>0)": (xy[..., 0] > 0).astype(float),
        "P(y>0)": (xy[..., 1] > 0).astype(float),
        "E[x]": xy[..., 0],
        "E[y]": xy[..., 1],
    }
    # every row visits several modes (NUTS alone stays in the one it starts in)
    quadrants = (xy[..., 0] > 0) * 2 + (xy[..., 1] > 0)
    assert all(np.unique(quadrants[:, r]).size >= 3 for r in range(n_rows))
    for key, values in estimates.items():
        row_means = values.mean(axis=0)
        standard_error = row_means.std(ddof=1) / np.sqrt(n_rows)
        assert abs(row_means.mean() - truth[key]) < Z * standard_error, (key, truth[key])
    assert 0.1 < float(idata.sample_stats["jump_accept"].mean()) < 0.95


def test_mode_jump_copies_without_the_model():
    observed = np.tile([np.nan, np.nan, 0.5], (3, 1))
    with pm.Model() as model:
        pymc_ebm.visible("x", four_mode_energy(), observed=observed)
        step = pymc_ebm.ModeJump([model["x_missing"]], n_starts=4, rng=0)
    clone = copy.deepcopy(step)
    np.testing.assert_array_equal(clone.modes, step.modes)
    point = {"x_missing": np.zeros((3, 2))}
    assert clone.step(point)[0]["x_missing"].shape == (3, 2)


def test_mode_jump_refuses_coupled_rows_transforms_and_bad_settings():
    observed = np.tile([np.nan, np.nan, 0.5], (3, 1))
    with pm.Model() as model:
        pymc_ebm.visible("x", four_mode_energy(), observed=observed)
        free = model["x_missing"]
        with pytest.raises(ValueError, match="scale"):
            pymc_ebm.ModeJump([free], scale=-1.0)
        with pytest.raises(ValueError, match="n_starts"):
            pymc_ebm.ModeJump([free], n_starts=0)
        with pytest.raises(ValueError, match="inflation"):
            pymc_ebm.ModeJump([free], inflation=0.0)
        pm.Potential("coupling", -pt.sum((free[0] - free[1]) ** 2))
        with pytest.raises(ValueError, match="independent"):
            pymc_ebm.ModeJump([free])
    with pm.Model() as model:
        pm.Uniform("u", 0.0, 1.0, shape=(3, 2))
        with pytest.raises(ValueError, match="untransformed"):
            pymc_ebm.ModeJump([model["u"]])
