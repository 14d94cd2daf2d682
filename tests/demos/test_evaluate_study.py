"""The learning-rule comparison's summary, on made-up curves with known answers."""

import numpy as np
import pytest
import xarray as xr

from pymc_ebm_demos import evaluate


def made_up_curves(settings):
    """Final values: rule index r, seed s -> r + 0.1 s (ml is the last rule)."""
    shape = (len(settings.problems), len(settings.rules), len(settings.seeds), 3)
    values = np.zeros(shape)
    for r in range(len(settings.rules)):
        for s in range(len(settings.seeds)):
            values[:, r, s, -1] = r + 0.1 * s**2
    return xr.DataArray(
        values,
        coords={
            "problem": list(settings.problems),
            "rule": list(settings.rules),
            "seed": list(settings.seeds),
            "update": [0, 50, 100],
        },
        dims=("problem", "rule", "seed", "update"),
    )


def test_summary_means_sds_and_paired_gaps():
    settings = evaluate.EvaluateSettings(
        seeds=(0, 1, 2), n_updates={"clusters": 100, "squares": 100}, every=50
    )
    summary = evaluate.summarise(made_up_curves(settings), settings)
    for name in settings.problems:
        rules = summary[name]["rules"]
        seeds = 0.1 * np.array([0.0, 1.0, 4.0])
        for r, rule in enumerate(settings.rules):
            assert rules[rule]["final_mean"] == pytest.approx(r + seeds.mean())
            assert rules[rule]["final_sd"] == pytest.approx(seeds.std(ddof=1))
            # paired by seed: the seed effect cancels
            assert rules[rule]["gap_to_ml_mean"] == pytest.approx(r - 5)
            assert rules[rule]["gap_to_ml_sd"] == pytest.approx(0.0, abs=1e-12)
        assert summary[name]["closest_to_ml"] == "online_hmc"
    assert summary["squares"]["data_log_density"] == pytest.approx(-np.log(2.56))


def test_unknown_problem_and_rule():
    settings = evaluate.EvaluateSettings.quick()
    with pytest.raises(ValueError, match="problem"):
        evaluate.make_problem("spirals", 0, settings)
    problem = evaluate.make_problem("clusters", 0, settings)
    with pytest.raises(ValueError, match="rule"):
        evaluate.make_trainer(problem, "cd2", problem.initial_energy())
