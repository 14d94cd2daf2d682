"""The demos, run as the README says: ``python -m pymc_ebm_demos NAME --out DIR [--quick]``.

Each test runs the documented command line (:data:`UNIGAUSS`, :data:`FOUR_SQUARES`,
listed in ``tests/test_commands.py``) as a subprocess, with a temporary output
folder, so that a broken entry point fails the test.
"""

import json

import numpy as np
import pytest

import pymc_ebm

UNIGAUSS = "python -m pymc_ebm_demos unigauss --out demo_output"  # README; `make demo`
FOUR_SQUARES = "python -m pymc_ebm_demos four-squares --out DIR"  # README
ARM = "python -m pymc_ebm_demos arm --out DIR"  # README
PATCHES = "python -m pymc_ebm_demos patches --out DIR"  # README
EVALUATE = "python -m pymc_ebm_demos evaluate --out DIR"  # README


def run_demo(python_m, command, out, quick, seed=None, stdout=None):
    proc = python_m(
        command,
        replace={"demo_output": out, "DIR": out},
        extra=(["--quick"] if quick else []) + ([] if seed is None else ["--seed", seed]),
        timeout=600 if quick else 3000,  # full size: the slow tests (`tox -e slow`)
    )
    if stdout is not None:
        stdout.append(proc.stdout)
    summary = json.loads((out / "summary.json").read_text())
    assert_described(summary)
    return summary


def assert_described(summary):
    """Every key of a summary.json has a one-line meaning in its ``description`` entry."""
    description = summary["description"]
    keys = [key for key in summary if key != "description"]
    assert sorted(description) == sorted(keys), set(keys) ^ set(description)
    for key in keys:
        text = description[key]
        assert isinstance(text, str) and text.strip() and "\n" not in text, key


def test_unigauss_demo_quick_writes_summary_and_figures(python_m, tmp_path):
    printed = []
    summary = run_demo(python_m, UNIGAUSS, tmp_path, quick=True, seed=1, stdout=printed)
    assert summary["seed"] == 1
    # the robustness table: one row per seed, exact cell masses of each trained model
    assert [row["seed"] for row in summary["per_seed"]] == [0, 1, 2]
    for row in summary["per_seed"]:
        assert row["missing_cell_ratio"] >= 0 and 0 <= row["present_cells_covered"] <= 24
        assert np.isfinite(row["log_likelihood"])
        assert row["meets_target"] == (
            row["missing_cell_ratio"] >= 0.5 and row["present_cells_covered"] == 24
        )
    assert summary["seeds_meeting_target"] == sum(r["meets_target"] for r in summary["per_seed"])
    # the shown run (seed 1) is the table's row for seed 1
    (shown,) = [row for row in summary["per_seed"] if row["seed"] == 1]
    assert shown["missing_cell_ratio"] == summary["missing_cell_ratio_exact"]
    # beside each single-seed figure, its median and range over the robustness seeds
    assert summary["robustness_seeds"] == [0, 1, 2]
    for key, column in [
        ("missing_cell_ratio_exact", "missing_cell_ratio"),
        ("present_cells_covered_exact", "present_cells_covered"),
        ("log_likelihood", "log_likelihood"),
    ]:
        assert summary[key] == pytest.approx(shown[column], rel=1e-12), key
        values = [row[column] for row in summary["per_seed"]]
        assert summary[f"{key}_over_seeds"] == pytest.approx(
            {"median": np.median(values), "min": min(values), "max": max(values)}
        ), key
    assert summary["meets_target"] == shown["meets_target"]
    # and so does the printed summary's last table
    last = printed[0].rstrip().split("\n")
    spread = summary["missing_cell_ratio_exact_over_seeds"]
    assert "median [min, max] over seeds 0-2 (3 runs)" in last[-5]
    assert last[-4].split()[-4:] == [
        f"{summary['missing_cell_ratio_exact']:.2f}",
        f"{spread['median']:.2f}",
        f"[{spread['min']:.2f},",
        f"{spread['max']:.2f}]",
    ]
    assert last[-1].endswith(f"{summary['seeds_meeting_target']} of 3 seeds")
    for key in [
        "missing_cell_ratio",
        "present_cells_covered",
        "rhat_max",
        "ess_bulk_min",
        "train_seconds",
        "ess_per_second_ratio",
    ]:
        assert np.isfinite(summary[key]), key
    for figure in [
        "experts.png",
        "free_energy.png",
        "fantasies.png",
        "training.png",
        "mixing.png",
    ]:
        assert (tmp_path / figure).stat().st_size > 0


def test_four_squares_demo_quick_writes_summary_and_figures(python_m, tmp_path):
    summary = run_demo(python_m, FOUR_SQUARES, tmp_path, quick=True, seed=3)
    assert summary["seed"] == 3
    assert [row["seed"] for row in summary["per_seed"]] == [3, 4]
    (shown,) = [row for row in summary["per_seed"] if row["seed"] == 3]
    assert shown["inside_fraction_exact"] == summary["inside_fraction_exact"]
    for row in summary["per_seed"]:
        assert 0 <= row["inside_fraction_exact"] <= 1
        assert np.isclose(sum(row["square_shares_exact"]), 1.0)
    assert summary["seeds_meeting_target"] == sum(r["meets_target"] for r in summary["per_seed"])
    for key in ["inside_fraction", "inside_fraction_exact", "rhat_max", "ess_bulk_min"]:
        assert np.isfinite(summary[key]), key
    for key in ["square_shares", "square_shares_exact"]:
        assert len(summary[key]) == 4 and np.all(np.isfinite(summary[key])), key
    for figure in ["energy.png", "fantasies.png", "training.png"]:
        assert (tmp_path / figure).stat().st_size > 0


def test_arm_demo_quick_writes_summary_and_figures(python_m, tmp_path):
    summary = run_demo(python_m, ARM, tmp_path, quick=True, seed=1)
    assert summary["seed"] == 1
    for key in [
        "link_length_error",
        "link_length_error_missing",
        "imputation_rmse_ratio",
        "interval_coverage_90",
        "rhat_max",
        "train_seconds",
        "angle_error_gaussian",
        "angle_error_student_t",
    ]:
        assert np.isfinite(summary[key]), key
    assert 0.0 <= summary["interval_coverage_90"] <= 1.0
    assert 0.0 <= summary["share_determined"] <= 1.0
    for key in ["interval_coverage_90_determined", "interval_coverage_90_undetermined"]:
        assert summary[key] is None or 0.0 <= summary[key] <= 1.0, key
    assert 0.0 < summary["link_length_error"] < 1.0
    assert len(summary["bias_table"]) == 8
    assert {"residual", "bias", "implied_bias"} <= set(summary["bias_table"][0])
    for figure in ["best_line.png", "link_lengths.png", "bias_table.png", "imputation.png"]:
        assert (tmp_path / figure).stat().st_size > 0


def test_patches_demo_quick_writes_summary_and_figures(python_m, tmp_path):
    out = tmp_path / "out"
    python_m(PATCHES, replace={"DIR": out}, extra=["--quick", "--seed", "3"], timeout=600)
    summary = json.loads((out / "summary.json").read_text())
    assert_described(summary)
    assert summary["settings"]["seed"] == 3 and summary["dtype"] == "float32"
    assert summary["updates"] == summary["settings"]["n_updates"] > 0
    for key in [
        "gabor_r2_share",
        "gabor_r2_share_ica",
        "gabor_r2_share_topographic",
        "topographic_neighbour_ratio",
        "topographic_position_ratio",
        "pot_grid_neighbour_ratio",
    ]:
        assert 0.0 <= summary[key] <= 2.0, key
    for key in ["gabor_r2_share", "gabor_r2_share_ica", "gabor_r2_share_topographic"]:
        assert summary[key] <= 1.0, key
    # heavy-tailed outputs: natural images are sparse for ICA filters even at tiny size
    assert summary["kurtosis_median_ica"] > 1.0
    assert np.isfinite(summary["kurtosis_median"])
    for key in ["train_seconds", "seconds_per_update", "train_seconds_topographic"]:
        assert 0.0 < summary[key] < 600, key
    # held-out log-likelihoods: the sparse ICA model beats the Gaussian (by ~10 nats per
    # 35-D patch at quick size, standard errors ~1 on the same rows)
    assert summary["log_likelihood_ica"] > summary["log_likelihood_gaussian"] + 3.0
    assert np.isfinite(summary["log_likelihood_pot"]) and summary["log_likelihood_pot_se"] > 0
    assert 1.0 <= summary["ais_weight_ess"] <= summary["settings"]["ais_chains"]
    assert 0.0 < summary["ais_seconds"] < 60 and summary["whitening_log_jacobian"] > 0
    # fantasies: pm.sample picks StudentTGibbs for the learned PoT (its filters span the space)
    assert summary["fantasy_sampler"] == "StudentTGibbs"
    assert np.isfinite(summary["fantasy_rhat_max"]) and summary["fantasy_ess_bulk_min"] > 0
    saved = pymc_ebm.load(out / "pot.npz")
    assert saved.W.get_value().shape == (64, summary["settings"]["size"] ** 2 - 1)
    for figure in [
        "fantasies.png",
        "filters.png",
        "basis.png",
        "ica_filters.png",
        "gabor_distribution.png",
        "training.png",
        "topographic_map.png",
    ]:
        assert (out / figure).stat().st_size > 0


def test_evaluate_demo_quick_writes_summary_and_figures(python_m, tmp_path):
    summary = run_demo(python_m, EVALUATE, tmp_path, quick=True, seed=3)
    assert summary["seeds"] == [3, 4]
    rules = ["cd1", "cd10", "pcd", "hmc", "online_hmc", "ml"]
    for name, (low, high) in {"clusters": (-2.5, 5.0), "squares": (-4.0, -0.9)}.items():
        problem = summary["problems"][name]
        assert list(problem["rules"]) == rules
        assert problem["closest_to_ml"] in rules[:-1]
        for rule in rules:
            entry = problem["rules"][rule]
            # held-out log-likelihood, nats per point: after 100 updates, not far below the
            # start's (about -1.7 and -2.8), below the true density's (squares: -log 2.56;
            # clusters: about 4)
            assert low < entry["final_mean"] < high, (name, rule, entry)
            assert 0.0 <= entry["final_sd"] < 1.0, (name, rule, entry)
            assert len(entry["per_seed"]) == 2
            assert np.isfinite(entry["gap_to_ml_mean"]) and np.isfinite(entry["gap_to_ml_sd"])
        assert problem["rules"]["ml"]["gap_to_ml_mean"] == 0.0
    for figure in ["curves.png", "densities.png"]:
        assert (tmp_path / figure).stat().st_size > 0


@pytest.mark.slow
def test_arm_demo_full_size_meets_the_study_targets(python_m, tmp_path):
    """The targets the full run meets (case study 04, section 5, has the one it misses)."""
    summary = run_demo(python_m, ARM, tmp_path, quick=False)
    assert summary["link_length_error"] <= 0.05
    assert summary["link_length_error_missing"] <= 0.07
    assert summary["angle_error_student_t"] < summary["angle_error_gaussian"] / 2
    assert summary["imputation_rmse_ratio"] <= 0.3
    assert summary["rhat_max"] <= 1.05
    # About 88 % of the missing entries are fixed by the link lengths up to a few mirror
    # images: the exact posterior covers those with its 90 % intervals almost always,
    # and only the rest at 90 % (case study 04, section 5). A binomial band (z = 4)
    # for the undetermined entries, the determined ones as an exact posterior would.
    assert 0.8 <= summary["interval_coverage_90"]
    assert summary["interval_coverage_90_determined"] >= 0.95
    n_undetermined = round(summary["n_imputed"] * (1.0 - summary["share_determined"]))
    band = 4.0 * np.sqrt(0.9 * 0.1 / n_undetermined)
    assert abs(summary["interval_coverage_90_undetermined"] - 0.9) <= band


@pytest.mark.slow
def test_unigauss_demo_full_size_meets_the_study_targets(python_m, tmp_path):
    summary = run_demo(python_m, UNIGAUSS, tmp_path, quick=False)
    # ten seeds, not one chosen seed: exact masses of ten trained models. Measured: 5 of
    # 10 meet the target (ratio >= 0.5, 24 cells), 9 cover all 24 cells, the lowest
    # ratio is 0.26 (case study 02, section 8); the aim of 8 of 10 is not reached.
    rows = summary["per_seed"]
    assert summary["n_seeds"] == 10 and summary["seeds_meeting_target"] >= 4
    assert sum(row["present_cells_covered"] == 24 for row in rows) >= 8
    # the empty cell is filled in on every seed, if not always by half an average cell
    assert all(row["missing_cell_ratio"] >= 0.2 for row in rows)
    assert summary["rhat_max"] <= 1.05


@pytest.mark.slow
def test_four_squares_demo_full_size_meets_the_study_targets(python_m, tmp_path):
    summary = run_demo(python_m, FOUR_SQUARES, tmp_path, quick=False)
    # every one of five seeds (exact masses), not only the one whose fantasies are shown
    assert len(summary["per_seed"]) == 5 and summary["seeds_meeting_target"] == 5
    assert summary["inside_fraction"] >= 0.9
    assert all(0.15 <= share <= 0.35 for share in summary["square_shares"])
    assert summary["rhat_max"] <= 1.05  # NUTS + box jumps cross between the squares
    # the learned density itself (quadrature), not only where the NUTS rows went
    assert summary["inside_fraction_exact"] >= 0.9
    assert all(0.15 <= share <= 0.35 for share in summary["square_shares_exact"])


@pytest.mark.slow
def test_evaluate_demo_full_size_maximum_likelihood_is_best(python_m, tmp_path):
    """Maximum likelihood beats every sampling rule on both problems (measured margin: 0.5)."""
    summary = run_demo(python_m, EVALUATE, tmp_path, quick=False)
    assert summary["seeds"] == [0, 1, 2]
    for problem in summary["problems"].values():
        for rule, entry in problem["rules"].items():
            if rule != "ml":
                assert entry["gap_to_ml_mean"] < 0.0, rule
