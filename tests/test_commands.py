"""Every command the README and the docs name works, and each one is checked here.

:data:`DOCUMENTED` maps every command line found in README.md, docs/*.md and
CONTRIBUTING.md (shell code blocks and inline code that start with ``make``,
``tox``, ``python``, ``jupytext``, ...) to the test that runs it, to the test
that covers it another way, or to the reason it is not run by the test suite.
A command added to the docs without an entry here fails
:func:`test_every_documented_command_is_in_the_table`.

The smoke tests run the documented command lines themselves, as subprocesses
from the repository root (``python -m benchmarks --quick`` here, the demos in
``tests/demos/test_demos.py``). The benchmarks' numbers are not checked, only that
every benchmark runs its own code and writes its section.
"""

from __future__ import annotations

import ast
import configparser
import importlib.util
import re
import shlex
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOC_FILES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")), ROOT / "CONTRIBUTING.md"]
COMMAND_WORDS = {"make", "tox", "python", "python3", "jupytext", "pip", "pytest", "ruff"}
COMMAND_WORDS |= {"pymc-ebm", "pymc-ebm-demo"}  # the console scripts
SHELL_FENCES = {"", "bash", "sh", "shell", "console"}


@dataclass(frozen=True)
class Runs:
    """The test runs this command line as written (with a temporary output, maybe ``--quick``)."""

    test: str


@dataclass(frozen=True)
class Covers:
    """The test does what the command does, another way."""

    test: str
    how: str


@dataclass(frozen=True)
class NotRun:
    """Not run by the test suite, and why."""

    reason: str


DEMO_TESTS = "tests/demos/test_demos.py"
CLI_TESTS = "tests/demos/test_cli.py"
STORED_TESTS = "tests/test_stored_notebooks.py"
DOCUMENTED: dict[str, Runs | Covers | NotRun] = {
    "python -m pymc_ebm_demos unigauss --out demo_output": Runs(
        f"{DEMO_TESTS}::test_unigauss_demo_quick_writes_summary_and_figures"
    ),
    "python -m pymc_ebm_demos four-squares --out DIR": Runs(
        f"{DEMO_TESTS}::test_four_squares_demo_quick_writes_summary_and_figures"
    ),
    "python -m pymc_ebm_demos arm --out DIR": Runs(
        f"{DEMO_TESTS}::test_arm_demo_quick_writes_summary_and_figures"
    ),
    "python -m pymc_ebm_demos patches --out DIR": Runs(
        f"{DEMO_TESTS}::test_patches_demo_quick_writes_summary_and_figures"
    ),
    "python -m pymc_ebm_demos evaluate --out DIR": Runs(
        f"{DEMO_TESTS}::test_evaluate_demo_quick_writes_summary_and_figures"
    ),
    "python -m pymc_ebm_demos NAME --out DIR": Covers(
        f"{CLI_TESTS}::test_help_lists_every_demo",
        "the help lists every NAME, and test_demos runs each demo's documented command line "
        "(`python -m pymc_ebm_demos unigauss --out demo_output`, ...) at --quick size",
    ),
    "python -m pymc_ebm demo NAME --out DIR": Covers(
        f"{CLI_TESTS}::test_the_old_command_forwards_to_the_demos",
        "the old command line (kept for one release) hands its arguments to the demos' "
        "command line: checked in process with the study's `run` replaced, and its help "
        "as a subprocess",
    ),
    "pymc-ebm-demo NAME --out DIR": Covers(
        f"{CLI_TESTS}::test_the_console_script_is_the_command_line",
        "the console script is `pymc_ebm_demos.cli:main` (pyproject.toml), the function "
        "`python -m pymc_ebm_demos` runs; the script itself exists only once installed",
    ),
    "pip install 'pymc-ebm[demos]'": NotRun(
        "installs the demos extra from the package index; the tox environments that run "
        "demos install it from the checkout (extras demos)"
    ),
    "python -m benchmarks": Runs("tests/test_commands.py::test_benchmarks_quick"),
    "jupytext --sync case_studies/*.py": Covers(
        "tests/test_case_studies.py::test_paired_notebook_is_up_to_date",
        "every paired .ipynb is compared with its script (the check `--sync` would fix); "
        "test_staleness_check_after_jupytext_sync runs `jupytext --sync` on a toy script "
        "(syncing case_studies/ itself would rewrite the checkout)",
    ),
    "make case-studies": Covers(
        "tests/test_case_studies.py::test_case_study_runs_quick",
        "every case_studies/[0-9]*.py is executed as a notebook at reduced size "
        "(PYMC_EBM_QUICK=1), as `tox -e case-studies` does at full size",
    ),
    "tox -e case-studies": Covers(
        "tests/test_case_studies.py::test_case_study_runs_quick",
        "as for `make case-studies`",
    ),
    "make notebooks": Covers(
        f"{STORED_TESTS}::test_store_runs_at_full_size_and_records_the_hash",
        "`tox -e notebooks` runs `python docs/store_notebooks.py` (every case study at full "
        "size, about an hour); the test runs the same `main` on a toy case study with "
        "PYMC_EBM_QUICK removed, and test_stored_notebook_was_made_from_the_current_script "
        "checks every stored notebook's hash against its script",
    ),
    "make notebooks ONLY=05_natural_images": Covers(
        f"{STORED_TESTS}::test_store_runs_at_full_size_and_records_the_hash",
        "as for `make notebooks`, with `--only`: the test passes `--only 00_toy`",
    ),
    "make notebooks ONLY=NN_name": Covers(
        f"{STORED_TESTS}::test_a_changed_script_makes_its_stored_notebook_stale",
        "the command a stale notebook's message names; the test checks the message",
    ),
    "tox -e notebooks": Covers(
        f"{STORED_TESTS}::test_store_runs_at_full_size_and_records_the_hash",
        "as for `make notebooks`",
    ),
    "python docs/store_notebooks.py --only 05_natural_images": Covers(
        f"{STORED_TESTS}::test_store_runs_at_full_size_and_records_the_hash",
        "the test calls the script's `main` with `--only` on a toy case study (a full-size "
        "natural-image run takes about 20 minutes)",
    ),
    "make test": NotRun("the test suite itself (`tox -e tests`), run by CI"),
    "make demo": NotRun(
        "full size, minutes: `tox -e demo`, i.e. `python -m pymc_ebm_demos unigauss --out "
        "demo_output`, which test_demos runs with --quick (and at full size in `tox -e slow`)"
    ),
    "make bench": NotRun(
        "full size, minutes, with the bench extras: `tox -e bench`, i.e. `python -m benchmarks`, "
        "which test_benchmarks_quick runs with --quick"
    ),
    "tox -e bench": NotRun("as for `make bench`"),
    "tox -e jax": NotRun(
        "the jax-marked tests under the JAX backend, in their own tox environment with the jax "
        "extra and nutpie (the default tests environment has no JAX); run by hand or by CI that "
        "names it"
    ),
    'pip install "pymc-ebm[jax]"': NotRun(
        "installs the optional extra from the package index; `tox -e jax` installs it from the "
        "checkout (extras test, jax)"
    ),
    "python -m benchmarks --only jax_backend": Covers(
        "tests/test_commands.py::test_benchmarks_quick",
        "runs every benchmark, jax_backend included, at quick sizes (skipped without JAX)",
    ),
    "python -m benchmarks --device cpu --quick": Runs(
        "tests/test_benchmarks_device.py::test_device_cpu_quick_writes_its_section"
    ),
    "python -m benchmarks --device cpu": Covers(
        "tests/test_benchmarks_device.py::test_device_cpu_quick_writes_its_section",
        "the same command line at --quick size (the full size takes minutes on a CPU)",
    ),
    "python -m benchmarks --device gpu": Covers(
        "tests/test_benchmarks_device.py::test_device_gpu_refuses_without_a_gpu",
        "where no GPU is visible (the test machines): it exits with status 2 at once, naming "
        "`--device cpu`; where one is, it runs the code `--device cpu --quick` runs, on the GPU",
    ),
    "make lint": NotRun("ruff in its own tox environment (`tox -e lint`), run by CI"),
    "make docs": NotRun(
        "`tox -e docs` builds the Sphinx site (a few minutes; the case-study pages are the stored "
        "notebooks, checked by tests/test_stored_notebooks.py); tests/test_docs.py checks its "
        "sources (every public name in docs/api.md, every case study in the front page's "
        "toctree); the docstring examples run in the tests environment (`--doctest-modules "
        "... pymc_ebm`, test_tests_env_runs_the_doctests)"
    ),
    "tox -e docs": NotRun("as for `make docs`"),
    "tox -e wheel": NotRun(
        "a release check in its own tox environment: builds the sdist and wheel, `twine check`, "
        "installs the wheel with the demos extra into an empty virtual environment (pip "
        "downloads the dependencies) and runs `python -m pymc_ebm_demos unigauss --quick` from it"
    ),
    "python -m build": NotRun("run by `tox -e wheel` (into its temporary directory)"),
    "pip install .": NotRun(
        "installs the checkout; `make test` installs it (editable) through tox, "
        "`tox -e wheel` installs the built wheel"
    ),
    "pip install dist/pymc_ebm-*.whl": NotRun(
        "what `tox -e wheel` does with the wheel it builds, in an empty virtual environment"
    ),
    "tox -e slow": NotRun(
        "the slow tests themselves (full-size demos and case studies, up to an hour)"
    ),
}


# -- smoke tests -------------------------------------------------------------------------------


def test_help_lists_the_demos(python_m) -> None:
    assert "demo" in python_m("python -m pymc_ebm --help").stdout
    out = python_m("python -m pymc_ebm demo --help").stdout
    assert "unigauss" in out and "four-squares" in out


def test_benchmarks_quick(python_m, tmp_path: Path) -> None:
    """Every benchmark at its quick size, into a temporary report; docs/benchmarks.md untouched."""
    # the names, read without importing `benchmarks` (not installed: it runs from the checkout)
    init = ast.parse((ROOT / "benchmarks" / "__init__.py").read_text())
    (names,) = [
        n.value
        for n in init.body
        if isinstance(n, ast.Assign) and [t.id for t in n.targets] == ["BENCHMARKS"]
    ]
    benchmarks = ast.literal_eval(names)
    assert len(benchmarks) >= 4
    committed = (ROOT / "docs" / "benchmarks.md").read_bytes()
    report = tmp_path / "benchmarks.md"
    out = python_m("python -m benchmarks", extra=["--quick", "--output", report]).stdout
    assert (ROOT / "docs" / "benchmarks.md").read_bytes() == committed
    text = report.read_text()
    for name in benchmarks:
        assert f"== {name} (quick)" in out, name
        section = re.search(f"<!-- bench:{name} -->(.*?)<!-- /bench:{name} -->", text, re.S)
        assert section, f"no section for {name}"
        assert "quick sizes (`--quick`)" in section.group(1)
        assert re.search(r"^\| target \| measured \|", section.group(1), re.M), name
        assert re.search(rf"^\| `{name}` \|", text, re.M), f"{name} not in the summary"
    if importlib.util.find_spec("torch") is None:
        assert "PyTorch is not installed: its comparison is skipped" in out


# -- the documented commands ----------------------------------------------------------------------


def _is_command(text: str) -> bool:
    words = text.split()
    while words and re.fullmatch(r"[A-Z_][A-Z0-9_]*=\S*", words[0]):
        words = words[1:]  # VAR=value before the command
    return len(words) >= 2 and words[0] in COMMAND_WORDS


def documented_commands(markdown: str) -> set[str]:
    """Command lines in shell code blocks and in inline code, whitespace normalised."""
    found = set()
    fence = re.compile(r"^```(\w*)[^\n]*\n(.*?)^```", re.M | re.S)
    for lang, body in fence.findall(markdown):
        if lang in SHELL_FENCES:
            for line in body.splitlines():
                line = re.sub(r"^\$\s+", "", line.split(" #")[0].strip())
                if _is_command(line):
                    found.add(" ".join(line.split()))
    rest = fence.sub("", markdown)
    for _, span in re.findall(r"(`+)(.+?)\1", rest, re.S):
        if _is_command(span):
            found.add(" ".join(span.split()))
    return found


def all_documented() -> dict[str, set[str]]:
    """Command line -> the doc files (relative paths) that name it."""
    where: dict[str, set[str]] = {}
    for path in DOC_FILES:
        if path.exists():
            for command in documented_commands(path.read_text()):
                where.setdefault(command, set()).add(str(path.relative_to(ROOT)))
    return where


def test_parser_finds_commands_in_blocks_and_inline_code() -> None:
    text = (
        "Run `make\ncase-studies` or `tox -e slow`; not `--quick` or `pymc_ebm.visible`.\n"
        "```bash\n$ make demo   # comment\nPYMC_EBM_QUICK=1 make test\n```\n"
        "```python\nimport os  # python -m nothing\n```\n"
    )
    assert documented_commands(text) == {
        "make case-studies",
        "tox -e slow",
        "make demo",
        "PYMC_EBM_QUICK=1 make test",
    }


def test_every_documented_command_is_in_the_table() -> None:
    missing = {c: sorted(f) for c, f in all_documented().items() if c not in DOCUMENTED}
    assert not missing, (
        f"documented commands with no smoke test and no reason in DOCUMENTED: {missing}"
    )


def test_every_table_entry_is_still_documented() -> None:
    stale = set(DOCUMENTED) - set(all_documented())
    assert not stale, f"DOCUMENTED lists commands the docs no longer name: {sorted(stale)}"


def _test_function(node_id: str) -> tuple[str, ast.FunctionDef]:
    path, name = node_id.split("::")
    source = (ROOT / path).read_text()
    for node in ast.parse(source).body:
        if isinstance(node, ast.FunctionDef) and node.name == name:
            return source, node
    raise AssertionError(f"{node_id} does not exist")


@pytest.mark.parametrize("command", sorted(DOCUMENTED))
def test_table_entry_names_a_real_test(command: str) -> None:
    entry = DOCUMENTED[command]
    if isinstance(entry, NotRun):
        assert entry.reason
        return
    source, _ = _test_function(entry.test)
    if isinstance(entry, Runs):
        # the smoke test's module spells the command line exactly as the docs do
        assert f'"{command}"' in source, f"{entry.test} does not run `{command}`"


# -- make targets and tox environments ------------------------------------------------------------


def tox_envs() -> dict[str, str]:
    """tox.ini's environments -> their ``commands``."""
    config = configparser.ConfigParser(interpolation=None)
    config.read(ROOT / "tox.ini")
    return {
        section.removeprefix("testenv:"): config[section].get("commands", "")
        for section in config.sections()
        if section.startswith("testenv:")
    }


def make_targets() -> dict[str, str]:
    """The Makefile's named targets -> their recipes."""
    text = (ROOT / "Makefile").read_text()
    targets = {}
    for m in re.finditer(r"^([A-Za-z][\w-]*)\s*:(?!=)[^\n]*\n((?:\t[^\n]*\n?)*)", text, re.M):
        targets[m.group(1)] = m.group(2)
    return targets


def _readme_tox_envs() -> set[str]:
    """Environments the README names: ``tox -e NAME`` and the list after 'a tox environment'."""
    readme = (ROOT / "README.md").read_text()
    names = set(re.findall(r"`tox -e ([\w-]+)", readme))
    listed = re.search(r"run a tox environment\s*\((.*?)\)", readme, re.S)
    assert listed, "README.md no longer lists the tox environments after 'run a tox environment'"
    names |= set(re.findall(r"`([\w-]+)`", listed.group(1)))
    return names


def test_readme_tox_envs_exist() -> None:
    names = _readme_tox_envs()
    assert {"tests", "demo", "bench"} <= names  # the parsing found the list
    assert not names - set(tox_envs()), f"not in tox.ini: {sorted(names - set(tox_envs()))}"


def test_documented_make_targets_exist_and_call_existing_tox_envs() -> None:
    targets, envs = make_targets(), tox_envs()
    named = {c.split()[1] for c in all_documented() if c.startswith("make ")}
    assert {"test", "demo", "bench"} <= named
    assert not named - set(targets), f"not in the Makefile: {sorted(named - set(targets))}"
    for target in named:
        for env in re.findall(r"tox run -e ([\w-]+)", targets[target]):
            assert env in envs, f"make {target} runs tox env {env}, not in tox.ini"


def _default_command(tox_command: str) -> str:
    """A tox command line with ``{posargs:DEFAULT}`` replaced by its default."""
    line = re.sub(r"\{posargs(?::([^}]*))?\}", lambda m: m.group(1) or "", tox_command)
    return " ".join(line.split())


def test_tox_python_commands_are_smoke_tested() -> None:
    """What `make demo` / `make bench` run in the end is a command line a smoke test runs."""
    runs = {c for c, e in DOCUMENTED.items() if isinstance(e, Runs)}
    lines = [
        _default_command(line)
        for commands in tox_envs().values()
        for line in commands.splitlines()
        if line.strip().startswith("python -m")
    ]
    assert "python -m benchmarks" in lines
    assert not set(lines) - runs, f"tox runs these without a smoke test: {set(lines) - runs}"


def test_tests_env_runs_the_doctests() -> None:
    words = shlex.split(tox_envs()["tests"])
    assert "--doctest-modules" in words and "pymc_ebm" in words and "pymc_ebm_demos" in words


# -- no private attributes of the package in benchmarks, demos and case studies ------------------

PRIVATE_CHECKED = ["benchmarks", "pymc_ebm_demos", "case_studies"]


def _private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def private_reads(source: str) -> list[str]:
    """Private names reached from outside their object, as ``line: text``.

    Allowed: ``self._x`` / ``cls._x`` (a class's own attributes), dunders, and
    lines justified by a ``# justified:`` comment saying why the private name
    is needed there.
    Flagged: any other ``obj._x``, ``getattr(obj, "_x")``, and private names
    imported from ``pymc_ebm`` (``from pymc_ebm.m import _f``, ``import pymc_ebm._m``).
    """
    hits = []
    lines = source.splitlines()
    for node in ast.walk(ast.parse(source)):
        bad = None
        if isinstance(node, ast.Attribute) and _private(node.attr):
            owner = node.value
            if not (isinstance(owner, ast.Name) and owner.id in ("self", "cls")):
                bad = node.attr
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id in ("getattr", "setattr", "hasattr")
            and len(node.args) >= 2
            and isinstance(node.args[1], ast.Constant)
            and isinstance(node.args[1].value, str)
            and _private(node.args[1].value)
        ):
            bad = node.args[1].value
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("pymc_ebm"):
            parts = [*node.module.split("."), *(a.name for a in node.names)]
            bad = next((p for p in parts if _private(p)), None)
        elif isinstance(node, ast.Import):
            modules = [a.name for a in node.names if a.name.startswith("pymc_ebm")]
            parts = [p for m in modules for p in m.split(".")]
            bad = next((p for p in parts if _private(p)), None)
        if bad is not None and "# justified:" not in lines[node.lineno - 1]:
            hits.append((node.lineno, f"{node.lineno}: {ast.unparse(node)}"))
    return [text for _, text in sorted(hits)]


def test_private_read_detector() -> None:
    source = (
        "class A:\n    def f(self):\n        return self._x, cls._y, self.__class__\n"
        "cd.negative_phase._kernel\n"
        "getattr(step, '_rng')\n"
        "from pymc_ebm.training.negative_phase import _helper\n"
        "from benchmarks._common import Check\n"
        "import pymc_ebm._private\n"
        "x.__version__\n"
        "from pymc_ebm._validation import positive_int  # justified: inside the package\n"
    )
    assert [h.split(":")[0] for h in private_reads(source)] == ["4", "5", "6", "8"]


def test_no_private_attribute_access_outside_the_owning_object() -> None:
    hits = {
        str(path.relative_to(ROOT)): found
        for folder in PRIVATE_CHECKED
        for path in sorted((ROOT / folder).rglob("*.py"))
        if (found := private_reads(path.read_text()))
    }
    assert not hits, f"private attributes read from outside: {hits}"
