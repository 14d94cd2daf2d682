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

SCRIPT = """
import json, sys
import numpy as np
import jax
import pymc_ebm
from pymc_ebm.backends import shard_rows
from pymc_ebm.studies import four_squares as study

pymc_ebm.set_backend("jax")
settings = study.SquaresSettings.quick()
X = pymc_ebm.datasets.four_squares(settings.n_data, side=settings.side, random_seed=0)
net, trainer = study.make_trainer(settings)
trainer.fit(X, n_updates=int(sys.argv[2]), progress=False)
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
