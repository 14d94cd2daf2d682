"""The package's structure: no import cycles, no private names across modules, optional extras.

The imports are read with ``ast`` from the source files, function-local
imports included, so a cycle hidden inside a function is found too.
"""

from __future__ import annotations

import ast
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "pymc_ebm"
DEMOS = ROOT / "pymc_ebm_demos"  # the demos' package: the library never imports it

# The module that reads a model's terms may use the registration module's private tags.
MODEL_TERMS = {"pymc_ebm.model.terms"}
SHARED_PRIVATE_MODULES = {"pymc_ebm._validation"}


def package_modules(package: Path) -> dict[str, Path]:
    """Dotted module name -> source file, for every module of the package at ``package``."""

    def name(path: Path) -> str:
        parts = path.relative_to(package.parent).with_suffix("").parts
        return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)

    return {name(path): path for path in sorted(package.rglob("*.py"))}


MODULES = package_modules(PACKAGE)
DEMO_MODULES = package_modules(DEMOS)
ALL_MODULES = {**MODULES, **DEMO_MODULES}
TOP_LEVEL = {"pymc_ebm", "pymc_ebm_demos"}


def resolve(current: str, node: ast.ImportFrom) -> str:
    """The absolute module an ``import from`` names (relative imports resolved)."""
    if not node.level:
        return node.module or ""
    is_package = ALL_MODULES[current].name == "__init__.py"
    base = current.split(".")
    base = base if is_package else base[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def imports(name: str) -> list[tuple[str, list[str], int]]:
    """``(module, imported names, line)`` for every import of the packages' modules in ``name``."""
    tree = ast.parse(ALL_MODULES[name].read_text(), filename=str(ALL_MODULES[name]))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] in TOP_LEVEL:
                    found.append((alias.name, [], node.lineno))
        elif isinstance(node, ast.ImportFrom):
            module = resolve(name, node)
            if module.split(".")[0] in TOP_LEVEL:
                found.append((module, [a.name for a in node.names], node.lineno))
    return found


def dependencies(name: str) -> set[str]:
    """The modules that ``name`` imports (``from pkg import submodule`` counts as it)."""
    deps = set()
    for module, names, _ in imports(name):
        submodules = [f"{module}.{n}" for n in names if f"{module}.{n}" in ALL_MODULES]
        if submodules:
            deps.update(submodules)
        if not names or len(submodules) < len(names):
            deps.add(module)
    deps.discard(name)
    return {d for d in deps if d in ALL_MODULES}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of the directed graph, as a list of nodes, or ``None``."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt) :] + [nxt]
            if nxt not in state:
                cycle = visit(nxt)
                if cycle:
                    return cycle
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state:
            cycle = visit(node)
            if cycle:
                return cycle
    return None


def test_cycle_finder_finds_a_cycle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": set()}) is None


@pytest.mark.parametrize(
    ("modules", "at_least"),
    [(MODULES, 40), (DEMO_MODULES, 12)],
    ids=["pymc_ebm", "pymc_ebm_demos"],
)
def test_no_import_cycles(modules, at_least):
    graph = {name: dependencies(name) for name in modules}
    assert len(graph) > at_least  # the walk found the package
    cycle = find_cycle(graph)
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_the_library_never_imports_the_demos():
    offences = [
        f"{name}:{line} {module}"
        for name in MODULES
        for module, _, line in imports(name)
        if module.split(".")[0] == "pymc_ebm_demos"
    ]
    assert not (PACKAGE / "studies").exists()
    assert not offences, offences


def test_figure_modules_do_not_import_their_study():
    """Figures are drawn from arrays and results: a figure module imports no study module."""
    studies = {name for name in DEMO_MODULES if not name.endswith(("_figures", ".plotting"))}
    offences = {
        name: sorted(dependencies(name) & studies)
        for name in DEMO_MODULES
        if name.endswith("_figures") and dependencies(name) & studies
    }
    assert not offences, offences


def test_no_test_of_the_library_imports_the_demos():
    """Only tests/demos/ imports pymc_ebm_demos (read with ``ast``: function-local imports too)."""
    offences = []
    for path in sorted((ROOT / "tests").rglob("*.py")):
        if "demos" in path.relative_to(ROOT / "tests").parts[:-1]:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            names = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else []
            )
            offences += [
                f"{path.relative_to(ROOT)}:{node.lineno}"
                for n in names
                if n.split(".")[0] == "pymc_ebm_demos"
            ]
    assert not offences, offences


def test_no_private_names_across_modules():
    offences = []
    for name in MODULES:
        if name in MODEL_TERMS:
            continue
        for module, names, line in imports(name):
            if module in SHARED_PRIVATE_MODULES or module == name:
                continue
            private = [n for n in names if n.startswith("_") and n != "__all__"]
            private += [part for part in module.split(".") if part.startswith("_") and not names]
            if private:
                offences.append(f"{MODULES[name].relative_to(ROOT)}:{line} {private}")
    assert not offences, "private names imported from other modules:\n" + "\n".join(offences)


DEMO_EXTRAS = ("matplotlib", "sklearn", "skimage", "threadpoolctl")


def test_the_library_imports_no_demo_extra():
    """threadpoolctl stays installed (PyMC needs it), so this check reads the sources."""
    offences = []
    for name, path in MODULES.items():
        for node in ast.walk(ast.parse(path.read_text())):
            names = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else []
            )
            offences += [
                f"{name}:{node.lineno} {n}" for n in names if n.split(".")[0] in DEMO_EXTRAS
            ]
    # scikit-image is imported where natural-image patches are cut, on demand only
    allowed = {"pymc_ebm.datasets.patches"}
    assert [o for o in offences if o.split(":")[0] not in allowed] == []


def test_library_runs_without_the_demo_extras(tmp_path):
    """``import pymc_ebm``, a CD fit, fantasies, imputation and log Z with the extras hidden."""
    script = textwrap.dedent(
        """
        import importlib.machinery, sys

        HIDDEN = ("matplotlib", "sklearn", "skimage", "scikit_learn", "scikit_image")

        class Hide(importlib.machinery.PathFinder):
            \"\"\"The path finder, blind to the demo extras: as if they were not installed.\"\"\"

            @classmethod
            def find_spec(cls, name, path=None, target=None):
                if name.split(".")[0] in HIDDEN:
                    return None
                return super().find_spec(name, path, target)

            @classmethod
            def find_distributions(cls, *args, **kwargs):
                for dist in super().find_distributions(*args, **kwargs):
                    if dist.metadata["Name"].lower().replace("-", "_") not in HIDDEN:
                        yield dist

        finder = importlib.machinery.PathFinder
        sys.meta_path[:] = [Hide if f is finder else f for f in sys.meta_path]
        import numpy as np
        import pymc_ebm

        experts = pymc_ebm.UniGauss([[0.3, 0.3], [0.7, 0.7]], np.full((2, 2), 0.2), [0.5, 0.5])
        X = pymc_ebm.datasets.grid_clusters(n=60, random_seed=0)
        cd = pymc_ebm.ContrastiveDivergence(experts, batch_size=20, random_seed=0)
        cd.fit(X, n_updates=3, progressbar=False)
        fantasies = pymc_ebm.sample_fantasies(
            experts, n_particles=4, draws=5, tune=5, chains=1, random_seed=0, progressbar=False
        )
        X_missing = X[:5].copy()
        X_missing[0, 0] = np.nan
        filled, _ = pymc_ebm.impute(experts, X_missing, draws=5, tune=5, chains=1, random_seed=0)
        log_z = pymc_ebm.log_partition(experts, "quadrature", n_points=32)
        try:
            import matplotlib  # noqa: F401
        except ImportError:
            pass
        else:
            raise AssertionError("matplotlib was not hidden")
        loaded = [m for m in sys.modules if m.split(".")[0] in HIDDEN]
        assert not loaded, loaded
        print("ok", fantasies.posterior["v"].shape, filled.shape, round(float(log_z.log_z), 3))
        """
    )
    run = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, cwd=tmp_path
    )
    assert run.returncode == 0, run.stderr[-3000:]
    assert run.stdout.startswith("ok"), run.stdout


@pytest.mark.parametrize(
    "old, new",
    [
        ("quadrature", "evaluation.quadrature"),
        ("gabor", "evaluation.gabor"),
        ("patches", "datasets.patches"),
        ("diagnostics", "evaluation.diagnostics"),
    ],
)
def test_moved_modules_keep_their_old_path_for_one_release(old, new):
    script = (
        "import warnings, importlib; warnings.simplefilter('error');"
        f"importlib.import_module('pymc_ebm.{new}')\n"
        "try:\n"
        f"    importlib.import_module('pymc_ebm.{old}')\n"
        "except DeprecationWarning as w:\n"
        "    print('warned', w)\n"
    )
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr[-2000:]
    assert f"pymc_ebm.{old} moved to pymc_ebm.{new}" in run.stdout
