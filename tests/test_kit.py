"""`bpcheck kit`: a student's pre-check runs with numpy alone, says what the instructor's run says, and gives nothing away."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from bpcheck.cli import main
from bpcheck.grader.assignment import BUNDLED, load, tomllib
from bpcheck.grader.grade import Grader

from .sandboxes import for_trusted_code

ROOT = Path(__file__).resolve().parents[1]
BUGGY = ROOT / "examples" / "buggy" / "canonical_deriv_on_z.py"


def _kit(tmp_path: Path, assignment: str = "canonical") -> Path:
    out = tmp_path / "kit"
    assert main(["kit", assignment, "--out", str(out)]) == 0
    return out


def _numpy_only(tmp_path: Path) -> dict[str, str]:
    """An environment whose only importable package beyond the standard library is numpy (with python -S)."""
    only = tmp_path / "numpy-only"
    only.mkdir()
    package = Path(np.__file__).parent
    for name in ("numpy", "numpy.libs"):  # numpy.libs: the wheel's bundled BLAS, where a manylinux wheel has one
        if (package.parent / name).is_dir():
            (only / name).symlink_to(package.parent / name, target_is_directory=True)
    return {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PYTHONPATH": str(only), "HOME": str(tmp_path)}


def test_the_kit_holds_no_hidden_probe_no_solution_and_no_assignment_file(tmp_path):
    kit = _kit(tmp_path)
    raw = tomllib.loads((BUNDLED / "canonical.toml").read_text())
    hidden = [p["name"] for p in raw["probe"] if p.get("hidden")]
    assert hidden, "canonical has a hidden probe: the test needs one to look for"
    solution = (BUNDLED / raw["solution"]).resolve().read_text()
    body = [ln.strip() for ln in solution.splitlines() if "delta" in ln]  # the solution's own lines
    files = [p for p in kit.rglob("*") if p.is_file()]
    assert not [p for p in files if p.suffix == ".toml"]
    for p in files:
        text = p.read_text(encoding="utf-8")
        assert not any(name in text for name in hidden), p
        assert not any(line in text for line in body), p


def test_a_student_runs_the_kit_with_numpy_alone_and_reads_the_instructors_words(tmp_path):
    kit = _kit(tmp_path)
    python = getattr(sys, "_base_executable", sys.executable)
    run = subprocess.run([python, "-S", str(kit / "check.py"), str(BUGGY)], cwd=tmp_path, env=_numpy_only(tmp_path),
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 1, run.stderr
    assert "the activation derivative a(1 − a) fed the pre-activation z instead of a" in run.stdout  # in the net's words
    instructor = Grader(load("canonical"), for_trusted_code()).grade(BUGGY)
    shown = [c for c in instructor.checks if not c.hidden and "deep-saturated" not in c.output]
    assert len(shown) >= 3
    for c in shown:
        assert f"FAIL {c.name}: {c.output}" in run.stdout, c.name
    assert "deep-saturated" not in run.stdout


def test_the_kit_cannot_import_an_installed_bpcheck(tmp_path):
    """Under python -S with numpy alone, the only bpcheck there is the kit's own copy."""
    kit = _kit(tmp_path)
    python = getattr(sys, "_base_executable", sys.executable)
    probe = "import sys; sys.path.insert(0, sys.argv[1]); import bpcheck, hypothesis"
    run = subprocess.run([python, "-S", "-c", probe, str(tmp_path / "elsewhere")], cwd=tmp_path,
                         env=_numpy_only(tmp_path), capture_output=True, text=True, timeout=60)
    assert run.returncode != 0 and "No module named 'bpcheck'" in run.stderr
    assert (kit / "bpcheck" / "grader" / "grade.py").is_file()


def test_a_kit_of_hidden_probes_only_is_refused(tmp_path, capsys):
    toml = tmp_path / "secret.toml"
    toml.write_text('name = "secret"\ncontract = "canonical"\n\n[[probe]]\nname = "h"\nsizes = [3, 4, 2]\nhidden = true\n')
    assert main(["kit", str(toml), "--out", str(tmp_path / "kit")]) == 2
    assert "every probe of this assignment is hidden" in capsys.readouterr().err


@pytest.mark.parametrize("name", ["nielsen", "cs231n-two-layer", "dls-deep", "dls-deep-steps"])  # dls-deep: course files
def test_kits_of_other_contracts_pass_their_solution(tmp_path, name):
    kit = _kit(tmp_path, name)
    solution = load(name).solution
    python = getattr(sys, "_base_executable", sys.executable)
    run = subprocess.run([python, "-S", str(kit / "check.py"), str(solution)], cwd=tmp_path, env=_numpy_only(tmp_path),
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0 and run.stdout.startswith("pass: "), run.stdout + run.stderr


# --- the kit on other Pythons ---------------------------------------------------------------------------


def _other_pythons() -> list[str]:
    """Interpreters of Python 3.10+ other than this one that import numpy: pyenv's, and those listed in
    BPCHECK_KIT_PYTHONS (os.pathsep-separated; e.g. a venv per version with numpy installed)."""
    found = sorted(str(p) for p in (Path.home() / ".pyenv" / "versions").glob("*/bin/python"))
    found += [p for p in os.environ.get("BPCHECK_KIT_PYTHONS", "").split(os.pathsep) if p]
    ours = f"{sys.version_info[0]}.{sys.version_info[1]}"
    probe = "import sys, numpy; print('%d.%d' % sys.version_info[:2]); sys.exit(sys.version_info < (3, 10))"
    usable = []
    for python in dict.fromkeys(found):
        try:
            run = subprocess.run([python, "-c", probe], capture_output=True, text=True, timeout=60)
        except OSError:
            continue
        if run.returncode == 0 and run.stdout.strip() != ours:
            usable.append(python)
    return usable


def test_the_kit_runs_under_every_other_python_with_numpy(tmp_path):
    """The kit targets Python 3.10-3.13 (3.10: no tomllib, so the kit reads JSON): each other interpreter found
    names the instructor's mistake on a buggy file and passes the solution."""
    pythons = _other_pythons()
    if not pythons:
        pytest.skip("no other Python 3.10+ with numpy in ~/.pyenv/versions or BPCHECK_KIT_PYTHONS")
    kit = _kit(tmp_path)
    instructor = Grader(load("canonical"), for_trusted_code()).grade(BUGGY)
    shown = [c for c in instructor.checks if not c.hidden and "deep-saturated" not in c.output]
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(tmp_path)}
    for python in pythons:
        buggy, solution = (subprocess.run([python, str(kit / "check.py"), str(f)], cwd=tmp_path, env=env,
                                          capture_output=True, text=True, timeout=300)
                           for f in (BUGGY, load("canonical").solution))
        assert buggy.returncode == 1 and "Traceback" not in buggy.stderr, (python, buggy.stdout + buggy.stderr)
        for c in shown:
            assert f"FAIL {c.name}: {c.output}" in buggy.stdout, (python, c.name)
        assert solution.returncode == 0 and solution.stdout.startswith("pass: "), (python, solution.stdout + solution.stderr)
