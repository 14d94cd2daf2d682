"""Ctrl-C during ``fit``: a real SIGINT never splits an update from its record."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import pymc_ebm

ROOT = Path(__file__).resolve().parents[1]

# The report's reproducer: a fast HMC update (so that the signal lands anywhere in it),
# Polyak-Ruppert averaging from the first update (n_averaged counts the updates written).
# A timer thread sends SIGINT to the process at each delay in turn.
SCRIPT = """
import json, os, signal, sys, threading, warnings
import numpy as np
import pymc_ebm

X = 1.0 + 0.5 * np.random.default_rng(0).standard_normal((400, 2))
e = pymc_ebm.Gaussian([[0.0, 0.0]], [[1.0, 1.0]])
cd = pymc_ebm.ContrastiveDivergence(
    e, sampler="hmc", batch_size=50, learning_rate=0.01, random_seed=0, average_from=0
)
cd.fit(X, 2, progressbar=False)
trials = []
for delay in json.loads(sys.argv[1]):
    before = cd.history.sizes["update"]
    threading.Timer(delay, lambda: os.kill(os.getpid(), signal.SIGINT)).start()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        h = cd.fit(X, n_updates=10**6, progressbar=False)
    trials.append({
        "new_updates": h.sizes["update"] - before,
        "updates": h.sizes["update"],
        "n_averaged": cd.n_averaged,
        "norms_match": all(
            float(h[f"norm_{name}"][-1]) == float(np.linalg.norm(value))
            for name, value in e.get_params().items()
        ),
        "warning": [str(w.message) for w in caught if w.category is RuntimeWarning],
    })
print(json.dumps(trials))
"""

DELAYS = [0.31, 0.57, 0.83, 1.09, 1.37, 1.61]


def test_real_sigint_keeps_each_update_with_its_record():
    proc = subprocess.run(
        [sys.executable, "-c", SCRIPT, json.dumps(DELAYS)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    trials = json.loads(proc.stdout.strip().splitlines()[-1])
    assert len(trials) == len(DELAYS)
    for trial in trials:
        assert trial["new_updates"] > 0, trial  # the signal came during training
        # every written update is averaged once and recorded once
        assert trial["n_averaged"] == trial["updates"], trial
        assert trial["norms_match"], trial
        assert trial["warning"] == [
            f"training interrupted; kept the parameters and history of {trial['updates']} updates"
        ]


@pytest.fixture(scope="module")
def clusters():
    return pymc_ebm.datasets.grid_clusters(n=200, random_seed=0)


def test_an_update_interrupted_before_its_step_is_dropped_and_its_rows_come_next(clusters):
    """Ctrl-C while the third update draws its negatives: nothing of it is kept."""
    energy = pymc_ebm.UniGauss([[0.4, 0.6]], [[0.3, 0.3]], [0.5])
    cd = pymc_ebm.ContrastiveDivergence(
        energy, batch_size=40, learning_rate=0.05, random_seed=0, average_from=0
    )
    original_run = cd.negative_phase.run
    starts = []

    def interrupt_third(start, k):
        starts.append(np.array(start))
        if len(starts) == 3:
            raise KeyboardInterrupt
        return original_run(start, k)

    cd.negative_phase.run = interrupt_third
    with pytest.warns(RuntimeWarning, match="kept the parameters and history of 2 updates"):
        cd.fit(clusters, n_updates=10, progressbar=False)
    assert cd.history.sizes["update"] == 2 and cd.n_averaged == 2
    cd.fit(clusters, n_updates=1, progressbar=False)
    # the dropped update's minibatch is the first of the next fit
    np.testing.assert_array_equal(starts[3], starts[2])
    assert cd.history.sizes["update"] == 3
