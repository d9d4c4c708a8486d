"""One import name, and imports that only point down.

bpcheck ships one top-level package, ``bpcheck``; the folders ``reference/``, ``oracles/`` and ``grader/``
are its subpackages (pyproject's ``package-dir``), so a user's own ``reference.py``, ``oracles.py`` or
``grader.py`` neither breaks bpcheck nor is replaced by it.  The layers, lowest first:

- ``bpcheck.reference``: the code under test; imports nothing of bpcheck's but itself;
- ``bpcheck.oracles``: the sources of truth; from the reference only the plain ``spec``;
- ``bpcheck.grader``: the grader; the reference, the oracles and itself;
- the product floor, ``bpcheck/*.py``: the command, the golden export, ``verify``, the kill matrix.
"""

from __future__ import annotations

import ast
import importlib.metadata
import importlib.util
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Optional

import pytest

ROOT = Path(__file__).resolve().parents[1]
LAYERS = {"reference": 0, "oracles": 1, "grader": 2, "floor": 3}
SUBPACKAGES = ("reference", "oracles", "grader")


def _layer_of_file(path: Path) -> str:
    return path.parent.name if path.parent.name in SUBPACKAGES else "floor"


def _floor_modules() -> set[str]:
    return {p.stem for p in (ROOT / "bpcheck").glob("*.py")} - {"__init__"}


def _target(node: ast.ImportFrom | ast.Import, alias: ast.alias, home: str) -> Optional[str]:
    """The layer an import reaches, or None when it leaves bpcheck (or names only the root package's own names)."""
    if isinstance(node, ast.Import):
        parts = alias.name.split(".")
        if parts[0] != "bpcheck":
            return None
        return parts[1] if len(parts) > 1 and parts[1] in SUBPACKAGES else "floor" if len(parts) > 1 else None
    if node.level:  # relative: within the file's own package (level 1), or from bpcheck's root (level 2)
        if node.level == 1 and home != "floor":
            return home
        first = (node.module or alias.name).split(".")[0]
        return first if first in SUBPACKAGES else "floor"
    parts = (node.module or "").split(".")
    if parts[0] != "bpcheck":
        return None
    if len(parts) > 1:
        return parts[1] if parts[1] in SUBPACKAGES else "floor"
    if alias.name in SUBPACKAGES:
        return alias.name
    return "floor" if alias.name in _floor_modules() else None  # __version__ and the lazy public names


def _imports(path: Path):
    home = _layer_of_file(path)
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            for alias in node.names:
                target = _target(node, alias, home)
                if target is not None:
                    yield node.lineno, target, (node.module or alias.name)


def _sources() -> list[Path]:
    files = [p for pkg in SUBPACKAGES for p in sorted((ROOT / pkg).glob("*.py"))]
    return files + sorted((ROOT / "bpcheck").glob("*.py"))


def test_no_import_points_upward():
    """Every import, at module level or inside a function, reaches the importer's own layer or a lower one."""
    upward = []
    for path in _sources():
        home = _layer_of_file(path)
        for line, target, name in _imports(path):
            if LAYERS[target] > LAYERS[home]:
                upward.append(f"{path.relative_to(ROOT)}:{line} imports {name} ({home} -> {target})")
    assert not upward, "\n".join(upward)


def test_a_seeded_upward_import_is_caught(tmp_path):
    """The check above can fail: a reference module importing the oracles is reported."""
    fake = tmp_path / "reference"
    fake.mkdir()
    (fake / "bad.py").write_text("from bpcheck.oracles import exact\n")
    assert [t for _, t, _ in _imports(fake / "bad.py")] == ["oracles"]
    assert LAYERS["oracles"] > LAYERS[_layer_of_file(fake / "bad.py")]


#: The grader's pipeline (CONTRIBUTING.md, "The grader's map"): every module in one stage.
STAGES = {
    "intake": ("exports", "submission", "untrusted", "fingerprint"),
    "containment": ("sandbox", "runner"),
    "judgement": ("assignment", "contracts", "layers", "probes", "variants", "diagnose", "lines", "failures", "grade",
                  "results", "blindspots"),
    "output": ("batch", "report", "similarity", "feedback", "html_report", "gradescope", "prairielearn", "kit"),
}


def test_grader_stages_import_only_backwards():
    """intake → containment → judgement → output: no module imports a later stage, inside functions either."""
    order = {m: i for i, mods in enumerate(STAGES.values()) for m in mods}
    modules = {p.stem for p in (ROOT / "grader").glob("*.py")} - {"__init__"}
    assert modules == set(order), f"put every grader module in a stage: {sorted(modules ^ set(order))}"
    backwards = []
    for name in sorted(modules):
        for node in ast.walk(ast.parse((ROOT / "grader" / f"{name}.py").read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.level == 1:
                for target in [node.module.split(".")[0]] if node.module else [a.name for a in node.names]:
                    if order.get(target, -1) > order[name]:
                        backwards.append(f"grader/{name}.py:{node.lineno} imports {target}")
    assert not backwards, "\n".join(backwards)


def _grader_graph() -> dict[str, set[str]]:
    """Module-level imports between the grader's modules (what runs when a module is first imported)."""
    mods = {p.stem: p for p in (ROOT / "grader").glob("*.py")}
    graph = {}
    for name, path in mods.items():
        deps = set()
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            if isinstance(node, ast.ImportFrom) and node.level == 1:
                deps |= {node.module.split(".")[0]} if node.module else {a.name for a in node.names}
            elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("bpcheck.grader."):
                deps.add(node.module.split(".")[2])
        graph[name] = {d for d in deps if d in mods and d != name}
    return graph


def _longest_chain(graph: dict[str, set[str]]) -> list[str]:
    memo: dict[str, list[str]] = {}

    def chain(node: str, seen: tuple[str, ...]) -> list[str]:
        assert node not in seen, f"import cycle in the grader: {' -> '.join((*seen, node))}"
        if node not in memo:
            memo[node] = [node] + max((chain(d, (*seen, node)) for d in sorted(graph[node])), key=len, default=[])
        return memo[node]

    return max((chain(n, ()) for n in sorted(graph)), key=len)


def test_grader_imports_form_a_short_chain_without_cycles():
    """No cycles among the grader's modules, and at most 6 modules in a chain (10 before the pipeline's split, 5 after)."""
    longest = _longest_chain(_grader_graph())
    assert len(longest) <= 6, " -> ".join(longest)


def test_no_grader_function_is_over_60_lines():
    long = []
    for path in sorted((ROOT / "grader").glob("*.py")) + sorted((ROOT / "bpcheck").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                n = node.end_lineno - node.lineno + 1
                if n > 60:
                    long.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.name} has {n} lines")
    assert not long, "\n".join(long)


# -- the installed package -------------------------------------------------------------------------------


def _installed() -> bool:
    try:
        return importlib.metadata.distribution("bpcheck") is not None
    except importlib.metadata.PackageNotFoundError:
        return False


needs_install = pytest.mark.skipif(not _installed(), reason="bpcheck is not installed (pip install -e .)")


def test_wheel_has_one_top_level_name(tmp_path):
    """The wheel holds ``bpcheck/`` and its metadata, nothing else; its entry points name modules inside bpcheck."""
    setuptools = pytest.importorskip("setuptools")
    if int(setuptools.__version__.split(".")[0]) < 70 and importlib.util.find_spec("wheel") is None:
        pytest.skip(f"setuptools {setuptools.__version__} builds no wheel without the 'wheel' package (70.1+ does)")
    src = tmp_path / "src"  # a copy of what an sdist holds: the build leaves its build/ folder there, not in the tree
    for part in ("bpcheck", "reference", "oracles", "grader"):
        shutil.copytree(ROOT / part, src / part, ignore=shutil.ignore_patterns("__pycache__"))
    for f in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / f, src / f)
    out = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w",
                          str(tmp_path), str(src)], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    (wheel,) = tmp_path.glob("bpcheck-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    tops = {n.split("/")[0] for n in names}
    assert {t for t in tops if not t.endswith(".dist-info")} == {"bpcheck"}, sorted(tops)
    for needed in ("bpcheck/reference/network.py", "bpcheck/oracles/compare.py", "bpcheck/grader/grade.py",
                   "bpcheck/grader/assignments/canonical.toml", "bpcheck/cli.py", "bpcheck/pytest_plugin.py"):
        assert needed in names, needed
    (entry,) = [n for n in names if n.endswith(".dist-info/entry_points.txt")]
    text = zipfile.ZipFile(wheel).read(entry).decode()
    assert "bpcheck = bpcheck.cli:main" in text and "bpcheck = bpcheck.pytest_plugin" in text
    _the_installed_wheel_works(wheel, tmp_path)


def _the_installed_wheel_works(wheel: Path, tmp_path: Path) -> None:
    """The wheel's own files, first on the path (the checkout's editable install is a finder after them): the bundled
    assignments load, and the students' kit is built from the installed package, not from a checkout."""
    site = tmp_path / "site"
    out = subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "--no-index", "-q", "--target", str(site),
                          str(wheel)], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    env = {**{k: v for k, v in os.environ.items() if k not in ("PYTHONPATH",)}, "PYTHONPATH": str(site)}
    code = "import bpcheck.grader.sandbox as s; print(s.own_folders()['bpcheck.grader'])"
    where = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert where.stdout.strip() == str((site / "bpcheck" / "grader").resolve()), where.stdout + where.stderr
    kit = subprocess.run([sys.executable, "-m", "bpcheck", "kit", "canonical", "--out", str(tmp_path / "kit")],
                         cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert kit.returncode == 0, kit.stderr[-2000:]
    assert (tmp_path / "kit" / "bpcheck" / "reference" / "network.py").is_file()
    assert not list((tmp_path / "kit").rglob("*.toml"))  # no bundled assignment, with its hidden probes


USERS_TEST = '''
import grader, oracles, reference

def test_my_modules_are_mine():
    assert (reference.x, oracles.x, grader.x) == ("my reference", "my oracles", "my grader")

def tanh_forward(x):
    import numpy as np
    out = np.tanh(x)
    return out, out

def tanh_backward(dout, cache):
    return dout * (1 - cache ** 2)

def test_the_fixture_still_works(gradcheck):
    gradcheck.vjp(tanh_forward, tanh_backward, shapes={"x": ("N",)}, dims={"N": (1, 4)}, max_examples=3)
'''


def _users_folder(tmp_path: Path) -> Path:
    for name in ("reference", "oracles", "grader"):
        (tmp_path / f"{name}.py").write_text(f"x = 'my {name}'\n")
    (tmp_path / "test_mine.py").write_text(USERS_TEST)
    return tmp_path


def _run(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTEST_ADDOPTS", "PYTEST_PLUGINS")}
    return subprocess.run([sys.executable, *args], cwd=cwd, capture_output=True, text=True, timeout=300, env=env)


@needs_install
def test_users_own_reference_oracles_and_grader_modules_coexist_with_bpcheck(tmp_path):
    """From a folder holding its own reference.py, oracles.py and grader.py: import bpcheck, python -m bpcheck
    and pytest (which loads bpcheck's plugin) all work, and the user's modules stay the user's."""
    folder = _users_folder(tmp_path)
    imported = _run(["-c", "import bpcheck, reference; print(bpcheck.check_function.__module__, reference.x)"], folder)
    assert imported.returncode == 0, imported.stderr
    assert imported.stdout.split() == ["bpcheck.oracles.generic", "my", "reference"]
    command = _run(["-m", "bpcheck", "bugs"], folder)
    assert command.returncode == 0, command.stderr
    assert "deriv-on-z" in command.stdout
    tests = _run(["-m", "pytest", "-q", "-p", "no:cacheprovider", "test_mine.py"], folder)
    assert tests.returncode == 0, tests.stdout[-3000:] + tests.stderr[-2000:]
    assert "2 passed" in tests.stdout


@needs_install
def test_the_plugin_and_the_package_import_nothing_heavy_until_used(tmp_path):
    """pytest imports the plugin at every start: it, and ``import bpcheck``, load neither numpy nor the oracles."""
    code = ("import sys, bpcheck, bpcheck.pytest_plugin; "
            "print(sorted(m for m in ('numpy', 'hypothesis', 'bpcheck.oracles', 'bpcheck.reference', 'bpcheck.grader') "
            "if m in sys.modules))")
    out = _run(["-c", code], tmp_path)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"
    used = _run(["-c", "import sys, bpcheck; bpcheck.check_vjp; print('numpy' in sys.modules)"], tmp_path)
    assert used.stdout.strip() == "True", used.stderr


def test_the_linter_configuration_holds():
    """ruff, with pyproject's configuration (pyflakes and pycodestyle), finds nothing in the library, tests or bench."""
    pytest.importorskip("ruff")
    out = subprocess.run([sys.executable, "-m", "ruff", "check", "--no-cache", "--output-format", "concise", str(ROOT)],
                         capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-1000:]
