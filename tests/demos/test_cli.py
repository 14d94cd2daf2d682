"""The demos' command line: ``python -m pymc_ebm_demos``, its console script, the old command.

The demos themselves run in ``tests/demos/test_demos.py``; here the command
line around them: its help, the console script's target, the old
``python -m pymc_ebm demo ...`` forwarding its arguments, and the message
that names the extra when it is missing.
"""

import importlib
import subprocess
import sys
import textwrap
import tomllib
from pathlib import Path

import pytest

import pymc_ebm.__main__ as old_command
import pymc_ebm_demos.__main__
from pymc_ebm_demos import cli

ROOT = Path(__file__).resolve().parents[2]


def test_help_lists_every_demo(python_m):
    out = python_m("python -m pymc_ebm_demos --help").stdout
    for name in cli.DEMOS:
        assert name in out, name
    assert "--threads" in out and "--seed" in out


def test_the_console_script_is_the_command_line():
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts["pymc-ebm-demo"] == "pymc_ebm_demos.cli:main"
    assert pymc_ebm_demos.__main__.main is cli.main  # what `python -m pymc_ebm_demos` runs
    assert scripts["pymc-ebm"] == "pymc_ebm.__main__:main"  # `pymc-ebm demo ...` forwards


def _record_runs(monkeypatch, module_name):
    calls = []
    module = importlib.import_module(module_name)
    monkeypatch.setattr(module, "run", lambda out, **kwargs: calls.append((out, kwargs)))
    return calls


def test_the_old_command_forwards_to_the_demos(monkeypatch, tmp_path, python_m, capsys):
    calls = _record_runs(monkeypatch, "pymc_ebm_demos.unigauss_clusters")
    argv = ["demo", "unigauss", "--quick", "--seed", "4", "--out", str(tmp_path)]
    assert old_command.main(argv) == 0
    assert calls == [(str(tmp_path), {"quick": True, "seed": 4})]
    assert "moved to `python -m pymc_ebm_demos`" in capsys.readouterr().err
    # the old command's help says where the demos went; its `demo --help` is theirs
    assert "pymc_ebm_demos" in python_m("python -m pymc_ebm --help").stdout
    forwarded = python_m("python -m pymc_ebm demo --help").stdout
    assert all(name in forwarded for name in cli.DEMOS)


def test_the_demos_run_with_the_default_seed_and_one_thread(monkeypatch, tmp_path):
    calls = _record_runs(monkeypatch, "pymc_ebm_demos.four_squares")
    assert cli.main(["four-squares", "--out", str(tmp_path)]) == 0
    assert calls == [(str(tmp_path), {"quick": False})]
    with pytest.raises(SystemExit):
        cli.main(["four-squares", "--threads", "0"])


HIDE_EXTRAS = """
import importlib.machinery, runpy, sys

HIDDEN = ("matplotlib", "sklearn", "skimage")


class Hide(importlib.machinery.PathFinder):
    @classmethod
    def find_spec(cls, name, path=None, target=None):
        if name.split(".")[0] in HIDDEN:
            return None
        return super().find_spec(name, path, target)


finder = importlib.machinery.PathFinder
sys.meta_path[:] = [Hide if f is finder else f for f in sys.meta_path]
module = sys.argv.pop(1)
runpy.run_module(module, run_name="__main__", alter_sys=True)
"""


@pytest.mark.parametrize(
    "command", [["pymc_ebm", "demo", "unigauss"], ["pymc_ebm_demos", "unigauss"]]
)
def test_missing_extras_name_the_install_command(command, tmp_path):
    run = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(HIDE_EXTRAS), *command, "--quick"]
        + ["--out", str(tmp_path / "out")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 1, run.stderr[-3000:]
    assert "pip install 'pymc-ebm[demos]'" in run.stderr
    assert "matplotlib" in run.stderr and "Traceback" not in run.stderr
    assert not (tmp_path / "out").exists()
