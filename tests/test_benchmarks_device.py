"""``python -m benchmarks --device cpu|gpu``: the device benchmark runs, or refuses without a GPU.

The numbers are not checked, only that the benchmark runs its own code at
its quick size, writes its section, and reports a missing JAX or PyTorch
as a row of that section instead of failing.
"""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
HAS_JAX = importlib.util.find_spec("jax") is not None
HAS_TORCH = importlib.util.find_spec("torch") is not None


def _section(report: Path) -> str:
    m = re.search(r"<!-- bench:device -->(.*?)<!-- /bench:device -->", report.read_text(), re.S)
    assert m, "no device section"
    return m.group(1)


def _quick_cpu(python_m, tmp_path: Path) -> str:
    committed = (ROOT / "docs" / "benchmarks.md").read_bytes()
    report = tmp_path / "benchmarks.md"
    out = python_m(
        "python -m benchmarks --device cpu --quick", extra=["--output", report], timeout=300
    ).stdout
    assert (ROOT / "docs" / "benchmarks.md").read_bytes() == committed
    assert "== device (quick)" in out
    assert "== pot_hmc" not in out  # only the device benchmark
    section = _section(report)
    assert "quick sizes (`--quick`)" in section
    assert "| device asked for | cpu |" in section
    return section


def test_device_cpu_quick_writes_its_section(python_m, tmp_path: Path) -> None:
    section = _quick_cpu(python_m, tmp_path)
    if not HAS_JAX:
        assert "| draw, batch 10: JAX | not run | not installed" in section
        assert "| AIS: JAX | not run | not installed" in section
    if not HAS_TORCH:
        assert "| draw, batch 10: PyTorch | not run | not installed" in section
        assert "| CD update: PyTorch | not run | not installed" in section


@pytest.mark.jax
@pytest.mark.skipif(not HAS_JAX, reason="needs JAX (the jax extra)")
def test_device_cpu_quick_checks_and_times_jax(python_m, tmp_path: Path) -> None:
    section = _quick_cpu(python_m, tmp_path)
    assert re.search(r"^\| draw, batch 200: JAX \(cpu:0\) \| [\d.]+ [µm]?s \|", section, re.M)
    assert "| draw, batch 200: rows of JAX equal to NumPy (host)'s | 100%" in section
    (ais,) = [line for line in section.splitlines() if "log Z JAX − log Z default" in line]
    assert "**pass**" in ais
    if HAS_TORCH:
        assert "| draw, batch 200: rows of JAX equal to PyTorch's |" in section
        assert "CD update (JAX): check, PyTorch update vs `partial_fit`" in section


def _gpu_visible() -> bool:
    code = "from benchmarks.device import gpu_refusal; print(gpu_refusal() is None)"
    proc = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    return proc.stdout.strip().splitlines()[-1] == "True"


def test_device_gpu_refuses_without_a_gpu(tmp_path: Path) -> None:
    if _gpu_visible():
        pytest.skip("a GPU is visible here: `--device gpu` runs instead of refusing")
    report = tmp_path / "benchmarks.md"
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--device", "gpu", "--output", str(report)],
        cwd=ROOT,
        env=dict(os.environ, MPLBACKEND="Agg"),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "no GPU visible" in proc.stderr
    assert "python -m benchmarks --device cpu" in proc.stderr
    assert not report.exists()
