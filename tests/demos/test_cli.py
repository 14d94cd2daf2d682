"""The demos' command line: ``python -m pymc_ebm_demos``, its console script, the old command.

The demos themselves run in ``tests/demos/test_demos.py``; here the command
line around them: its help, the console script's target, the old
``python -m pymc_ebm demo ...`` forwarding its arguments, and the message
that names the extra when it is missing.
"""

import importlib
import os
import re
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


def test_help_is_plain_text_and_shows_the_defaults(python_m):
    for command in ["python -m pymc_ebm --help", "python -m pymc_ebm_demos --help"]:
        out = python_m(command).stdout
        assert "``" not in out and ":func:" not in out, out
    out = python_m("python -m pymc_ebm_demos --help").stdout
    assert "(default: demo_output)" in out and "(default: 1)" in out
    assert "pip install 'pymc-ebm[demos]'" in out


@pytest.mark.parametrize(
    "script, main, argv, usage",
    [
        ("pymc-ebm", old_command.main, ["--help"], "usage: pymc-ebm [-h]"),
        ("pymc-ebm", old_command.main, ["demo", "--help"], "usage: pymc-ebm demo [-h]"),
        ("pymc-ebm-demo", cli.main, ["--help"], "usage: pymc-ebm-demo [-h]"),
    ],
)
def test_the_console_scripts_help_names_them(script, main, argv, usage, monkeypatch, capsys):
    monkeypatch.setattr(sys, "argv", [f"/env/bin/{script}", *argv])
    with pytest.raises(SystemExit) as exit_:
        main()
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith(usage), out
    assert "python -m" not in out.split("\n\n")[0]  # the usage block


def _bad_out(tmp_path, monkeypatch, kind):
    """An --out that cannot be the output folder, and what the message says about it."""
    (tmp_path / "file.txt").write_text("not a folder")
    if kind == "file":
        return tmp_path / "file.txt", "is an existing file, not a folder"
    if kind == "under a file":
        return tmp_path / "file.txt" / "out", "is a file, not a folder"
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    if os.access(locked, os.W_OK):  # root may write anywhere: check as a user would
        real = os.access
        monkeypatch.setattr(
            os, "access", lambda p, mode, **kw: Path(p) != locked and real(p, mode, **kw)
        )
    if kind == "unwritable":
        return locked, "is not writable"
    return locked / "new", "is not writable .*where it would be created"


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--seed", "-1"], "argument --seed: must be a non-negative integer, got -1"),
        (["--threads", "0"], "argument --threads: must be at least 1, got 0"),
        ("file", "argument --out: .*is an existing file, not a folder"),
        ("under a file", "argument --out: .* cannot be created: .* is a file, not a folder"),
        ("unwritable", "argument --out: .*locked' is not writable"),
        ("inside unwritable", "argument --out: .*new' is not writable"),
    ],
)
def test_bad_arguments_exit_with_status_2_and_a_one_line_message(
    argv, message, tmp_path, monkeypatch, capsys
):
    calls = _record_runs(monkeypatch, "pymc_ebm_demos.unigauss_clusters")
    if isinstance(argv, str):
        out, _ = _bad_out(tmp_path, monkeypatch, argv)
        argv = ["--out", str(out)]
    with pytest.raises(SystemExit) as exit_:
        cli.main(["unigauss", *argv])
    assert exit_.value.code == 2 and calls == []
    err = capsys.readouterr().err
    assert err.startswith("usage: ") and err.endswith("\n")
    last = err.rstrip("\n").split("\n")[-1]
    assert last.startswith("python -m pymc_ebm_demos: error: "), err
    assert re.search(message, last), last


def test_a_bad_seed_gives_no_traceback():
    run = subprocess.run(
        [sys.executable, "-m", "pymc_ebm_demos", "unigauss", "--seed", "-1"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 2
    assert "Traceback" not in run.stderr
    assert (
        run.stderr.rstrip()
        .split("\n")[-1]
        .endswith("--seed: must be a non-negative integer, got -1")
    )
