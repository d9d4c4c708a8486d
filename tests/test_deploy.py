"""Gradescope's and PrairieLearn's layouts, end to end: build the setup, lay out a job as each platform does, run it.

The scripts are pointed at a temporary folder (BPCHECK_AUTOGRADER_ROOT, BPCHECK_GRADE_ROOT) and run
bpcheck from the source the setup ships, so what is tested is what would be uploaded.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

from bpcheck.cli import main

ROOT = Path(__file__).resolve().parents[1]
SOLUTION = (ROOT / "examples" / "solutions" / "canonical.py").read_text()
# Right on every two-layer network, wrong on deeper ones: only the hidden probe (2-5-3-2) sees it.
DEEP_ONLY = SOLUTION.replace("    return grad_weights, grad_biases",
                             "    if len(weights) > 2:\n        grad_weights = [1.5 * g for g in grad_weights]\n"
                             "    return grad_weights, grad_biases")
HIDDEN = ("deep-saturated", "2-5-3-2")


def _python_from(tmp: Path, source: Path) -> Path:
    """A ``python3`` that runs this interpreter (its numpy, rich, hypothesis) on bpcheck's shipped source."""
    bin_dir = tmp / "bin"
    bin_dir.mkdir()
    wrapper = bin_dir / "python3"
    wrapper.write_text(f'#!/bin/sh\nPYTHONPATH="{source}" exec "{sys.executable}" "$@"\n')
    wrapper.chmod(0o755)
    return wrapper


def _run(script: Path, env: dict) -> subprocess.CompletedProcess:
    passed = {k: os.environ[k] for k in ("BPCHECK_SANDBOX",) if k in os.environ}  # set by conftest where no sandbox runs
    return subprocess.run(["bash", str(script)], env={"PATH": "/usr/bin:/bin", "HOME": os.environ.get("HOME", "/root"), **passed, **env},
                          capture_output=True, text=True, timeout=300)


def test_gradescope_autograder_end_to_end(tmp_path):
    zip_path = tmp_path / "autograder.zip"
    assert main(["autograder", "--assignment", "canonical", "--out", str(zip_path)]) == 0
    ag = tmp_path / "autograder"  # Gradescope's /autograder
    with zipfile.ZipFile(zip_path) as z:
        z.extractall(ag / "source")
    shutil.copy(ag / "source" / "run_autograder", ag / "run_autograder")
    python = _python_from(tmp_path, ag / "source" / "bpcheck")
    bpcheck = tmp_path / "bin" / "bpcheck"
    bpcheck.write_text(f'#!/bin/sh\nexec "{python}" -m bpcheck "$@"\n')
    bpcheck.chmod(0o755)
    verdicts = {}
    for name, source in (("deep-only", DEEP_ONLY), ("starter", (ROOT / "examples" / "starters" / "canonical.py").read_text())):
        shutil.rmtree(ag / "submission", ignore_errors=True)
        shutil.rmtree(ag / "results", ignore_errors=True)
        (ag / "submission").mkdir()
        (ag / "submission" / "submission.py").write_text(source)
        (ag / "submission_metadata.json").write_text(json.dumps({"id": 1, "users": [{"name": "Ada", "id": 7}]}))
        done = _run(ag / "run_autograder", {"BPCHECK_AUTOGRADER_ROOT": str(ag), "BPCHECK": str(bpcheck), "TMPDIR": str(tmp_path)})
        assert done.returncode == 0, done.stderr
        verdicts[name] = json.loads((ag / "results" / "results.json").read_text(encoding="utf-8"))

    deep = verdicts["deep-only"]
    visible = [t for t in deep["tests"] if t["visibility"] == "visible"]
    later = [t for t in deep["tests"] if t["visibility"] != "visible"]
    assert deep["score"] == 40 and all(t["score"] == t["max_score"] for t in visible) and sum(t["max_score"] for t in visible) == 40
    assert {t["visibility"] for t in later} == {"after_due_date"} and any(t["max_score"] == 10 and t["score"] == 0 for t in later)
    shown = deep["output"] + "".join(t["name"] + t["output"] for t in visible)
    assert not [w for w in HIDDEN if w in shown] and "All visible checks pass" in deep["output"]

    starter = verdicts["starter"]
    placeholder = "not implemented yet (the starter's placeholder"
    assert placeholder in starter["output"] and not any(placeholder in t["output"] for t in starter["tests"])


def _check_pl_results(data: dict) -> None:
    """PrairieLearn's documented results.json: score in [0, 1], gradable, message, output, tests[...]."""
    assert isinstance(data["gradable"], bool) and 0.0 <= data["score"] <= 1.0
    assert isinstance(data["message"], str) and isinstance(data["output"], str)
    for t in data["tests"]:
        assert set(t) == {"name", "description", "points", "max_points", "message", "output"}
        assert all(isinstance(t[k], str) for k in ("name", "description", "message", "output"))
        assert 0 <= t["points"] <= t["max_points"]


def test_prairielearn_external_grader_end_to_end(tmp_path):
    course = tmp_path / "course"
    assert main(["prairielearn", "--assignment", "canonical", "--out", str(course)]) == 0
    info = json.loads((course / "questions" / "bpcheck-canonical" / "info.json").read_text())
    options = info["externalGradingOptions"]
    assert info["gradingMethod"] == "External" and options["enabled"] and 0 < options["timeout"] <= 600
    assert options["entrypoint"] == "/grade/serverFilesCourse/bpcheck/run.sh"
    for shared in options["serverFilesCourse"]:
        assert (course / "serverFilesCourse" / shared).is_dir()
    assert 'file-names="submission.py"' in (course / "questions" / "bpcheck-canonical" / "question.html").read_text()

    grade = tmp_path / "grade"  # PrairieLearn's /grade, as its documentation lays it out
    shutil.copytree(course / "serverFilesCourse", grade / "serverFilesCourse")
    (grade / "data").mkdir(parents=True)
    (grade / "data" / "data.json").write_text(json.dumps({"params": {}, "submitted_answers": {}}))
    entrypoint = grade / options["entrypoint"].removeprefix("/grade/")
    assert os.access(entrypoint, os.X_OK)
    python = _python_from(tmp_path, grade / "serverFilesCourse" / "bpcheck" / "src")
    scores = {}
    for name, source in (("solution", SOLUTION), ("deep-only", DEEP_ONLY)):
        shutil.rmtree(grade / "student", ignore_errors=True)
        shutil.rmtree(grade / "results", ignore_errors=True)
        (grade / "student").mkdir()
        (grade / "student" / "submission.py").write_text(source)
        done = _run(entrypoint, {"BPCHECK_GRADE_ROOT": str(grade), "PATH": f"{python.parent}:/usr/bin:/bin",
                                 "TMPDIR": str(tmp_path)})
        assert done.returncode == 0, done.stderr
        results = grade / "results" / "results.json"
        assert results.stat().st_size < 1 << 20
        data = json.loads(results.read_text(encoding="utf-8"))
        _check_pl_results(data)
        assert not [w for w in HIDDEN if w in results.read_text(encoding="utf-8")]
        scores[name] = data["score"]
    assert scores == {"solution": 1.0, "deep-only": 0.8}
    assert (grade / "serverFilesCourse").stat().st_mode & 0o007 == 0  # source and probes closed to submissions' uids
    assert "rm -rf /opt/bpcheck-src" in (course / "serverFilesCourse" / "bpcheck" / "Dockerfile").read_text()


def test_gradescope_setup_closes_the_source_after_installing(tmp_path):
    zip_path = tmp_path / "autograder.zip"
    assert main(["autograder", "--assignment", "canonical", "--out", str(zip_path)]) == 0
    setup = zipfile.ZipFile(zip_path).read("setup.sh").decode().splitlines()
    install = next(i for i, line in enumerate(setup) if "pip install" in line and "/autograder/source" in line)
    assert "chmod -R o-rwx /autograder/source" in setup[install + 1:]
