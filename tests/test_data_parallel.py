"""Data parallelism under the JAX backend: rows split across (simulated) devices by sharding.

Each run is a subprocess, since JAX reads ``XLA_FLAGS`` (the number of
simulated CPU devices) once, at import.
"""

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytestmark = [
    pytest.mark.jax,
    pytest.mark.skipif(importlib.util.find_spec("jax") is None, reason="needs the jax extra"),
]

ROOT = Path(__file__).resolve().parents[1]
N_UPDATES = 5

# The four-squares demo's network and training settings at its quick size
# (pymc_ebm_demos.four_squares.SquaresSettings.quick(), written out: the library's
# tests do not import the demos).
FOUR_SQUARES_SETTINGS = """
from types import SimpleNamespace

settings = SimpleNamespace(
    n_data=2000, side=0.8, hidden=(16, 8), activation="sigmoid", batch_size=100,
    learning_rate=0.01, n_steps=10, step_size=0.1, seed=0,
)
BOX = (-2.0, 2.0)
"""

SCRIPT = (
    """
import json, sys
import numpy as np
import jax
import pymc_ebm
from pymc_ebm.backends import shard_rows
"""
    + FOUR_SQUARES_SETTINGS
    + """
pymc_ebm.set_backend("jax")
X = pymc_ebm.datasets.four_squares(settings.n_data, side=settings.side, random_seed=0)
net = pymc_ebm.MLPEnergy(
    2, hidden=settings.hidden, activation=settings.activation, box=BOX, random_seed=settings.seed
)
trainer = pymc_ebm.ContrastiveDivergence(
    net, sampler="hmc", k=1, batch_size=settings.batch_size,
    learning_rate=settings.learning_rate, optimizer="adam", persistent=False,
    step_kwargs={"n_steps": settings.n_steps, "step_size": settings.step_size},
    random_seed=settings.seed,
)
trainer.fit(X, n_updates=int(sys.argv[2]), progressbar=False)
rows = shard_rows(np.zeros((settings.batch_size, 2)))
chains = shard_rows(np.zeros((3, settings.batch_size, 2)), axis=1)
np.savez(sys.argv[1], *[p.get_value() for p in net.params])
print(json.dumps({
    "devices": jax.device_count(),
    "rows_sharded": type(rows).__name__ != "ndarray",
    "row_blocks": sorted({s.data.shape[0] for s in rows.addressable_shards})
    if hasattr(rows, "addressable_shards") else [],
    "chain_blocks": sorted({s.data.shape[1] for s in chains.addressable_shards})
    if hasattr(chains, "addressable_shards") else [],
    "batch_size": settings.batch_size,
}))
"""
)


def _train(tmp_path, n_devices):
    out = tmp_path / f"params_{n_devices}.npz"
    env = dict(os.environ, PYMC_EBM_BACKEND="jax", JAX_PLATFORMS="cpu")
    env["XLA_FLAGS"] = f"--xla_force_host_platform_device_count={n_devices}"
    proc = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(out), str(N_UPDATES)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    facts = json.loads(proc.stdout.strip().splitlines()[-1])
    with np.load(out) as params:
        return facts, [params[k] for k in sorted(params, key=lambda k: int(k.split("_")[1]))]


def test_four_devices_train_the_four_squares_energy_as_one(tmp_path):
    one, params_one = _train(tmp_path, 1)
    four, params_four = _train(tmp_path, 4)
    assert one["devices"] == 1 and not one["rows_sharded"]
    # the rows really are split: 4 blocks of batch_size / 4 rows, one per device
    assert four["devices"] == 4 and four["rows_sharded"]
    assert four["row_blocks"] == [four["batch_size"] // 4]
    assert four["chain_blocks"] == [four["batch_size"] // 4]
    # same seed, same random streams (drawn by NumPy on the host): same parameters up to
    # the order of XLA's reductions over the rows
    for a, b in zip(params_one, params_four, strict=True):
        np.testing.assert_allclose(b, a, rtol=1e-9, atol=1e-12)
    assert any(not np.allclose(a, 0) for a in params_one)


# Several hosts: each process holds its own rows of the training set and its own sampler
# seed; the parameters start equal (same network seed) and stay replicated. The reference
# replays both processes' minibatches and negatives in one process and makes the same
# updates on their concatenation.
HOSTS_SCRIPT = (
    """
import json, sys
import numpy as np
import jax

out, n_updates, process_id, n_processes, port = sys.argv[1:6]
n_updates, process_id, n_processes = int(n_updates), int(process_id), int(n_processes)
if n_processes > 1:
    jax.distributed.initialize(
        coordinator_address=f"localhost:{port}", num_processes=n_processes,
        process_id=process_id,
    )
import pytensor.tensor as pt
import pymc_ebm
from pymc_ebm.backends import function, shard_rows
from pymc_ebm.energies.mlp import MLPEnergy
"""
    + FOUR_SQUARES_SETTINGS
    + """
pymc_ebm.set_backend("jax")
X = pymc_ebm.datasets.four_squares(settings.n_data, side=settings.side, random_seed=0)
net = MLPEnergy(2, hidden=settings.hidden, activation=settings.activation, box=BOX,
                random_seed=settings.seed)
initial = [p.get_value().copy() for p in net.params]


def trainer(batch_size, seed):
    return pymc_ebm.ContrastiveDivergence(
        net, sampler="hmc", batch_size=batch_size, learning_rate=settings.learning_rate,
        optimizer="adam",
        step_kwargs={"n_steps": settings.n_steps, "step_size": settings.step_size},
        random_seed=seed,
    )


B = settings.batch_size
if n_processes > 1:  # this process: its own rows, its own sampler seed
    cd = trainer(B, 100 + process_id)
    cd.fit(X[process_id::2], n_updates=n_updates, progressbar=False)
    e_data = cd.history["energy_data"].values.tolist()
    # an output that keeps the rows split across processes comes back as this process's rows
    x = pt.matrix("x")
    rows = X[process_id::2][:B]
    double = function([x], 2 * x, trust_input=True)  # as the package compiles them
    own_rows = bool(np.array_equal(double(shard_rows(rows)), 2 * rows))
else:  # one process replays both: the same minibatches and negatives, one update on both
    parts = [trainer(B, 100 + i) for i in range(2)]
    whole = trainer(2 * B, 0)
    batches = [p.minibatches(X[i::2], n_updates) for i, p in enumerate(parts)]
    for _ in range(n_updates):
        rows = [next(b) for b in batches]
        negatives = [p.negative_phase.run(r, 1)[0] for p, r in zip(parts, rows)]
        whole.partial_fit(np.concatenate(rows), np.concatenate(negatives))
    e_data = whole.history["energy_data"].values.tolist()
    own_rows = None
np.savez(out, *[p.get_value() for p in net.params])
print(json.dumps({
    "processes": jax.process_count(), "devices": jax.device_count(),
    "local_devices": jax.local_device_count(), "e_data": e_data, "own_rows": own_rows,
    "moved": max(float(np.max(np.abs(p.get_value() - q))) for p, q in zip(net.params, initial)),
}))
"""
)


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("localhost", 0))
        return s.getsockname()[1]


def _hosts(tmp_path, n_processes):
    env = dict(os.environ, PYMC_EBM_BACKEND="jax", JAX_PLATFORMS="cpu")
    env["XLA_FLAGS"] = "--xla_force_host_platform_device_count=2"
    port = str(_free_port())
    outs = [tmp_path / f"hosts_{n_processes}_{i}.npz" for i in range(n_processes)]
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", HOSTS_SCRIPT, str(out), str(N_UPDATES), str(i)]
            + [str(n_processes), port],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i, out in enumerate(outs)
    ]
    results = []
    for proc, out in zip(procs, outs, strict=True):
        stdout, stderr = proc.communicate(timeout=900)
        assert proc.returncode == 0, stderr[-4000:]
        with np.load(out) as params:
            keys = sorted(params, key=lambda k: int(k.split("_")[1]))
            results.append(
                (json.loads(stdout.strip().splitlines()[-1]), [params[k] for k in keys])
            )
    return results


def test_two_processes_train_the_four_squares_energy_as_one(tmp_path):
    ((one, params_one),) = _hosts(tmp_path, 1)
    two = _hosts(tmp_path, 2)
    assert one["processes"] == 1
    for facts, params in two:
        assert facts["processes"] == 2 and facts["devices"] == 4 and facts["local_devices"] == 2
        assert facts["own_rows"]
        # every update averaged both processes' rows: the data energies of the joint batch
        np.testing.assert_allclose(facts["e_data"], one["e_data"], rtol=1e-9)
        for a, b in zip(params_one, params, strict=True):
            np.testing.assert_allclose(b, a, rtol=1e-9, atol=1e-12)
    assert one["moved"] > 1e-3
