"""Reports for a graded batch: terminal table, JSON, Gradescope results.json, JUnit XML, CSV gradebook."""

from __future__ import annotations

import csv
import io
import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Sequence

from rich.console import Console
from rich.table import Table

from .grade import Result


def _diagnosis(r: Result) -> str:
    return r.diagnoses[0]["summary"] if r.diagnoses else r.message


def table(results: Sequence[Result], title: str, console: Console) -> None:
    t = Table(title=title)
    for col, justify in (("submission", "left"), ("verdict", "left"), ("score", "right"), ("what went wrong", "left")):
        t.add_column(col, justify=justify, overflow="fold")
    colour = {"pass": "green", "fail": "yellow", "error": "red"}
    for r in results:
        what = "" if r.verdict == "pass" else (r.message if r.verdict == "error" else _diagnosis(r))
        t.add_row(r.submission, f"[{colour[r.verdict]}]{r.verdict}[/]", f"{r.score:g}/{r.max_score:g}", what[:300])
    console.print(t)
    counts = {v: sum(1 for r in results if r.verdict == v) for v in ("pass", "fail", "error")}
    console.print(f"{len(results)} graded: {counts['pass']} pass, {counts['fail']} fail, {counts['error']} error")


def as_json(results: Sequence[Result]) -> str:
    out = []
    for r in results:
        out.append({
            "submission": r.submission,
            "verdict": r.verdict,
            "score": r.score,
            "max_score": r.max_score,
            "checks": [{"name": c.name, "score": c.score, "max_score": c.max_score,
                        "status": "passed" if c.passed else "failed", "output": c.output, "hidden": c.hidden} for c in r.checks],
            "diagnoses": r.diagnoses,
            "message": r.message,
            "sandbox": r.sandbox,
        })
    return json.dumps(out, indent=2, ensure_ascii=False)


def gradescope(r: Result) -> dict:
    """Gradescope's results.json for one submission: score, tests[] with name, score, max_score, status, output, visibility."""
    return {
        "score": r.score,
        "output": r.message,
        "visibility": "visible",
        "stdout_visibility": "hidden",
        "tests": [{"name": c.name, "score": c.score, "max_score": c.max_score, "status": "passed" if c.passed else "failed",
                   "output": c.output, "visibility": "hidden" if c.hidden else "visible"} for c in r.checks],
    }


def junit(results: Sequence[Result], assignment: str) -> str:
    suites = ET.Element("testsuites", name=f"bpcheck {assignment}")
    for r in results:
        failures = sum(1 for c in r.checks if not c.passed)
        suite = ET.SubElement(suites, "testsuite", name=Path(r.submission).name, tests=str(len(r.checks)),
                              failures=str(failures if r.verdict != "error" else 0),
                              errors=str(failures if r.verdict == "error" else 0), time=f"{r.seconds:.3f}")
        for c in r.checks:
            case = ET.SubElement(suite, "testcase", classname=Path(r.submission).name, name=c.name)
            if not c.passed:
                ET.SubElement(case, "error" if r.verdict == "error" else "failure", message=c.output[:500]).text = c.output
    ET.indent(suites)
    return ET.tostring(suites, encoding="unicode", xml_declaration=True)


def gradebook_csv(results: Sequence[Result]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["submission", "verdict", "score", "max_score", "diagnosis", "smallest_failing_case"])
    for r in results:
        smallest = r.diagnoses[0].get("smallest_failing_case") if r.diagnoses else None
        w.writerow([r.submission, r.verdict, f"{r.score:g}", f"{r.max_score:g}", _diagnosis(r) if r.verdict != "pass" else "", smallest or ""])
    return buf.getvalue()
