"""PrairieLearn: an externally graded question, and each submission's results.json.

Layout and schema follow PrairieLearn's "External Grading" documentation: the grading container
finds the course's shared files under ``/grade/serverFilesCourse``, the student's files under
``/grade/student``, and must leave ``/grade/results/results.json`` holding ``score`` in [0, 1],
``gradable``, ``message``, ``output`` and ``tests`` (``name``, ``description``, ``points``,
``max_points``, ``message``, ``output``), under 1 MB.  PrairieLearn has no per-test visibility, so a
hidden check appears unnamed, without output, with its points.
"""

from __future__ import annotations

import html
import json
import shutil
import uuid
from pathlib import Path

from . import feedback
from .assignment import Assignment
from .gradescope import assignment_file, source_files
from .results import Result
from .report import write_atomic

MAX_TEXT = 4000  # characters per field, so that results.json stays far below PrairieLearn's 1 MB

RUN = """#!/usr/bin/env bash
# PrairieLearn runs this in the grading container for every submission (externalGradingOptions.entrypoint).
# BPCHECK_GRADE_ROOT and BPCHECK point it elsewhere (the tests run it in a temporary folder).
set -uo pipefail
ROOT="${{BPCHECK_GRADE_ROOT:-/grade}}"
HERE="$ROOT/serverFilesCourse/bpcheck"
mkdir -p "$ROOT/results"
# Submissions run as other uids: bpcheck's source and the assignment (its probes) are root's alone; where this
# cannot be done, bpcheck refuses to grade and says what a submission could read.
chmod -R o-rwx "$ROOT/serverFilesCourse" 2>/dev/null || true
if [ -n "${{BPCHECK:-}}" ]; then
    CMD=("$BPCHECK")
elif command -v bpcheck >/dev/null 2>&1; then
    CMD=(bpcheck)
else  # the stock image: bpcheck from the course's files, numpy, rich and hypothesis from the image
    export PYTHONPATH="$HERE/src${{PYTHONPATH:+:$PYTHONPATH}}"
    CMD=(python3 -m bpcheck)
fi
"${{CMD[@]}}" grade --as-is "$ROOT/student" --assignment "$HERE/{toml}" --format prairielearn \\
    --out "$ROOT/results/results.json" --state "${{TMPDIR:-/tmp}}/bpcheck-state"
"""

DOCKERFILE = """# An image for the question's externalGradingOptions.image, if the stock one lacks a dependency:
#   docker build -t YOURNAME/bpcheck-grader . && docker push YOURNAME/bpcheck-grader
FROM python:3.12-slim
RUN apt-get update -qq && apt-get install -y -qq bubblewrap && rm -rf /var/lib/apt/lists/*
COPY src /opt/bpcheck-src
RUN pip install --no-cache-dir /opt/bpcheck-src && rm -rf /opt/bpcheck-src
"""

QUESTION = """<pl-question-panel>
  <p>{title}</p>
  <p>Upload <code>{module}.py</code> defining <code>{entry}</code>. It is graded against probe networks;
  the feedback names the array that is wrong and, where it can, the mistake.</p>
</pl-question-panel>

<pl-file-upload file-names="{module}.py"></pl-file-upload>

<pl-submission-panel>
  <pl-external-grader-results></pl-external-grader-results>
  <pl-file-preview></pl-file-preview>
</pl-submission-panel>
"""


def _cut(text: str) -> str:
    return text if len(text) <= MAX_TEXT else text[:MAX_TEXT] + " …(cut)"


def results_json(r: Result) -> dict:
    """PrairieLearn's results.json for one submission; a submission that cannot run is gradable with score 0."""
    top = feedback.summary(r)
    tests, n_hidden = [], 0
    for c in r.checks:
        if c.hidden:
            n_hidden += 1
            tests.append({"name": f"hidden check {n_hidden}", "description": "details are not shown",
                          "points": c.score, "max_points": c.max_score, "message": "", "output": ""})
        else:
            tests.append({"name": feedback.clean(c.name), "description": "", "points": c.score, "max_points": c.max_score,
                          "message": "passed" if c.passed else "failed", "output": _cut(feedback.check_output(c, r, top))})
    score = r.score / r.max_score if r.max_score > 0 else 0.0
    return {"gradable": True, "score": min(1.0, max(0.0, score)), "message": _cut(top), "output": "", "tests": tests}


def build(assignment: Assignment, out: Path, image: str) -> list[Path]:
    """The question folder and the course's shared files, under ``out``; returns the files written."""
    toml_path = assignment_file(assignment)
    shared = out / "serverFilesCourse" / "bpcheck"
    question = out / "questions" / f"bpcheck-{assignment.name}"
    written = []

    def put(path: Path, text: str, executable: bool = False) -> None:
        write_atomic(path, text, private=False)  # the course's question files, not reports
        if executable:
            path.chmod(0o755)
        written.append(path)

    if (shared / "src").exists():
        shutil.rmtree(shared / "src")
    for src, rel in source_files():
        (shared / "src" / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, shared / "src" / rel)
    put(shared / toml_path.name, toml_path.read_text(encoding="utf-8"))
    put(shared / "run.sh", RUN.format(toml=toml_path.name), executable=True)
    put(shared / "Dockerfile", DOCKERFILE)
    info = {
        "uuid": str(uuid.uuid5(uuid.NAMESPACE_URL, f"bpcheck:{assignment.name}")),
        "title": assignment.title,
        "topic": "Backpropagation",
        "tags": ["bpcheck"],
        "type": "v3",
        "gradingMethod": "External",
        "singleVariant": True,
        "externalGradingOptions": {
            "enabled": True,
            "image": image,
            "serverFilesCourse": ["bpcheck/"],
            "entrypoint": "/grade/serverFilesCourse/bpcheck/run.sh",
            "timeout": int(min(600, assignment.limits.timeout_seconds + 60)),
        },
    }
    put(question / "info.json", json.dumps(info, indent=2) + "\n")
    put(question / "question.html", QUESTION.format(title=html.escape(assignment.title),
                                                    module=assignment.module, entry=assignment.contract.entry))
    return written
