"""Gradescope: each submission's results.json, and the autograder zip that writes it.

Visibility follows Gradescope's documented semantics (gradescope-autograders.readthedocs.io, "specs"):
a test is ``visible``, ``hidden``, ``after_due_date`` or ``after_published``; while any test is not yet
shown, the student does not see the total score; ``hidden`` is meant for tests worth no points.  So a
hidden check, which carries points, is ``after_due_date`` (or ``after_published``): the student sees
neither its points nor a total that contains them.  The top-level ``output`` is always shown, so it is
written from the visible checks only and never names a hidden probe (``feedback.summary``).
"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

from . import feedback
from .assignment import Assignment
from .results import Result
from .report import rid, write_atomic

HIDDEN_VISIBILITY = ("after_due_date", "after_published")


def _check_visibility(hidden_visibility: str) -> None:
    if hidden_visibility not in HIDDEN_VISIBILITY:
        raise ValueError(f"hidden_visibility: expected one of {HIDDEN_VISIBILITY}, got {hidden_visibility!r}")


def results_json(r: Result, hidden_visibility: str = "after_due_date", reproducible: bool = False) -> dict:
    """Gradescope's results.json for one submission: score, output, tests[] with name, score, max_score, status, output, visibility."""
    _check_visibility(hidden_visibility)
    top = feedback.summary(r)
    tests = [{"name": feedback.clean(c.name), "score": c.score, "max_score": c.max_score,
              "status": "passed" if c.passed else "failed", "output": feedback.check_output(c, r, top, reveal=c.hidden),
              "visibility": hidden_visibility if c.hidden else "visible"} for c in r.checks]
    if any(c.hidden for c in r.checks) and r.verdict == "fail":  # an error is said once, in the output
        tests.append({"name": "diagnosis, all checks", "score": 0.0, "max_score": 0.0, "status": "passed",
                      "output": feedback.summary(r, reveal=True), "visibility": hidden_visibility})
    out = {"score": r.score, "output": top, "visibility": "visible", "stdout_visibility": "hidden",
           "extra_data": {"submission": feedback.clean(rid(r)), "verdict": r.verdict, "key": r.key},
           "tests": tests}
    if not reproducible:
        out["execution_time"] = round(r.seconds, 3)
    return out

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("reference", "oracles", "grader", "bpcheck")

SETUP = """#!/usr/bin/env bash
# Gradescope runs this once when the autograder image is built.
set -euo pipefail
apt-get update -qq
apt-get install -y -qq python3 python3-pip python3-venv bubblewrap >/dev/null
python3 -m venv /opt/bpcheck
/opt/bpcheck/bin/pip install -q /autograder/source/bpcheck
# Submissions run as other uids: bpcheck's source, the solution and the assignment (its probes) are root's alone.
chmod -R o-rwx /autograder/source
"""

RUN = """#!/usr/bin/env bash
# Gradescope runs this for every submission; results go to /autograder/results/results.json.
# Gradescope's container is itself isolated; bpcheck adds its own sandbox inside it.
# BPCHECK_AUTOGRADER_ROOT and BPCHECK point it elsewhere (the tests run it in a temporary folder).
set -uo pipefail
ROOT="${{BPCHECK_AUTOGRADER_ROOT:-/autograder}}"
mkdir -p "$ROOT/results"
"${{BPCHECK:-/opt/bpcheck/bin/bpcheck}}" grade --as-is "$ROOT/submission" --assignment "$ROOT/source/{toml}" \\
    --format gradescope --hidden-visibility {visibility} --out "$ROOT/results/results.json" \\
    --state "${{TMPDIR:-/tmp}}/bpcheck-state"
"""


def source_files() -> list[tuple[Path, str]]:
    """bpcheck's installable source: (file, its path in the package), for the autograder and PrairieLearn."""
    files = [(ROOT / f, f) for f in ("pyproject.toml", "README.md")]
    for pkg in PACKAGES:
        files += [(f, f.relative_to(ROOT).as_posix()) for f in sorted((ROOT / pkg).rglob("*"))
                  if f.is_file() and "__pycache__" not in f.parts and f.suffix in (".py", ".toml")]
    return files


def assignment_file(assignment: Assignment) -> Path:
    """The file the assignment was read from, bundled or not, whatever its name: what the deployed grader loads."""
    if assignment.path is None:
        raise ValueError(f"assignment {assignment.name!r} was not read from a file (grader.assignment.load reads one)")
    return assignment.path


def build_zip(assignment: Assignment, out: Path, hidden_visibility: str = "after_due_date") -> None:
    _check_visibility(hidden_visibility)
    toml_path = assignment_file(assignment)
    run = RUN.format(toml=toml_path.name, visibility=hidden_visibility)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name, text in (("setup.sh", SETUP), ("run_autograder", run)):
            info = zipfile.ZipInfo(name)
            info.external_attr = 0o755 << 16
            z.writestr(info, text)
        z.write(toml_path, toml_path.name)
        for src, rel in source_files():
            z.write(src, f"bpcheck/{rel}")
    write_atomic(out, buf.getvalue(), private=False)  # a course file, not a report
