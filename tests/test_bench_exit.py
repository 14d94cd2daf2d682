"""``python -m benchmarks`` reports a missed target and exits 0; ``--strict`` exits 1."""

from __future__ import annotations

import types
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def bench_main(monkeypatch):
    """``benchmarks.__main__.main`` with every benchmark replaced by one of a given result."""
    monkeypatch.syspath_prepend(str(ROOT))
    import benchmarks.__main__ as bench_main
    from benchmarks._common import Check, Result

    monkeypatch.setattr(bench_main, "_limit_threads_early", lambda n: None)  # keep os.environ

    def with_ratio(ratio: float):
        def run(quick: bool = False) -> Result:
            res = Result("cd_update", "a made-up benchmark", "nothing")
            res.checks.append(Check("time per update, ours / NumPy", ratio, 1.5, "<="))
            return res

        fake = types.SimpleNamespace(run=run)
        monkeypatch.setattr(bench_main, "_benchmark", lambda name: fake)
        return bench_main.main

    return with_ratio


@pytest.mark.parametrize(
    ("ratio", "strict", "code"), [(1.2, False, 0), (1.2, True, 0), (1.8, False, 0), (1.8, True, 1)]
)
def test_a_miss_is_reported_and_fails_only_under_strict(
    bench_main, tmp_path, capsys, ratio, strict, code
):
    main = bench_main(ratio)
    argv = ["--only", "cd_update", "--output", str(tmp_path / "b.md")] + ["--strict"] * strict
    assert main(argv) == code
    out = capsys.readouterr().out
    report = (tmp_path / "b.md").read_text()
    if ratio > 1.5:
        assert "1 target(s) missed:" in out and "cd_update: time per update" in out
        assert "**FAIL**" in report
    else:
        assert "missed" not in out and "**pass**" in report
