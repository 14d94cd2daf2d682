import json

import numpy as np
import pytest

from pymc_ebm.__main__ import main


def run_demo(name, out, quick):
    args = ["demo", name, "--out", str(out)] + (["--quick"] if quick else [])
    assert main(args) == 0
    return json.loads((out / "summary.json").read_text())


def test_unigauss_demo_quick_writes_summary_and_figures(tmp_path):
    summary = run_demo("unigauss", tmp_path, quick=True)
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


@pytest.mark.slow
def test_unigauss_demo_full_size_meets_the_study_targets(tmp_path):
    summary = run_demo("unigauss", tmp_path, quick=False)
    assert summary["missing_cell_ratio"] >= 0.5
    assert summary["present_cells_covered"] == 24
    assert summary["rhat_max"] <= 1.05


@pytest.mark.slow
def test_four_squares_demo_full_size_meets_the_study_targets(tmp_path):
    summary = run_demo("four-squares", tmp_path, quick=False)
    assert summary["inside_fraction"] >= 0.9
    assert all(0.15 <= share <= 0.35 for share in summary["square_shares"])
    assert summary["rhat_max"] <= 1.05  # NUTS + box jumps cross between the squares
    # the learned density itself (quadrature), not only where the NUTS rows went
    assert summary["inside_fraction_exact"] >= 0.9
    assert all(0.15 <= share <= 0.35 for share in summary["square_shares_exact"])
