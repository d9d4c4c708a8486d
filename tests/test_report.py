"""Every report of one graded class: one entry per submission, names carried, hidden probes unnamed, same bytes twice.

The class is examples/class (32 submissions) handed in as a Gradescope "Export Submissions" zip: every
student's file is submission.py in its own folder, the case where reports keyed by a file's stem collide.
It is graded once for the module; every format is derived from that batch.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import re
import shutil
import subprocess
import tempfile
import xml.etree.ElementTree as ET
import zipfile
from html.parser import HTMLParser
from pathlib import Path
from types import SimpleNamespace

import pytest
from rich.console import Console

from bpcheck.grader import report
from bpcheck.cli import main
from bpcheck.grader.results import Check, Result
from .extras import require_report

ROOT = Path(__file__).resolve().parents[1]
CLASS = ROOT / "examples" / "class"
HIDDEN = ("deep-saturated", "2-5-3-2")  # the canonical assignment's hidden probe and its network
STUDENTS = sorted(p.name for p in CLASS.iterdir())


def _run(argv: list[str]) -> tuple[int, str]:
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        code = main(argv)
    return code, err.getvalue()


def _export(path: Path) -> Path:
    """examples/class as Gradescope exports it; bob handed in with a partner."""
    meta = []
    with zipfile.ZipFile(path, "w") as z:
        for n, student in enumerate(STUDENTS):
            folder = f"assignment_7_export/submission_{1000 + n}"
            for f in sorted((CLASS / student).rglob("*.py")):
                z.write(f, f"{folder}/{f.relative_to(CLASS / student).as_posix()}")
            people = [(student.capitalize() + " Student", f"S{1000 + n}")] + ([("Bo Partner", "S9999")] if student == "bob" else [])
            meta.append(f"submission_{1000 + n}:\n  :submitters:\n" + "".join(
                f"  - :name: {name}\n    :sid: '{sid}'\n    :email: {sid.lower()}@example.edu\n" for name, sid in people))
        z.writestr("assignment_7_export/submission_metadata.yml", "".join(meta))
    return path


@pytest.fixture(scope="module")
def graded():
    require_report()  # the class HTML page (matplotlib) and a Gradescope export (PyYAML)
    with tempfile.TemporaryDirectory(prefix="bpcheck-test-report-") as tmp:
        tmp = Path(tmp)
        export = _export(tmp / "export.zip")
        state = tmp / "state"
        runs = []
        for run, extra in (("a", []), ("b", ["--force"])):
            out = tmp / run
            code, err = _run(["grade", str(export), "--assignment", "canonical", "--jobs", "2", "--state", str(state),
                              "--reproducible", "--format", "json", "--out", str(out / "class.json"),
                              "--html", str(out / "class.html"), "--feedback", str(out / "feedback"), *extra])
            assert code == 0, err
            runs.append(err)
            for fmt, target in (("csv", "grades.csv"), ("junit", "junit.xml"), ("gradescope", "gradescope"),
                                ("prairielearn", "prairielearn"), ("table", "table.txt")):
                code, report_err = _run(["report", str(state), "--reproducible", "--format", fmt, "--out", str(out / target)])
                assert code == 0, report_err
        yield SimpleNamespace(tmp=tmp, a=tmp / "a", b=tmp / "b", state=state, first_err=runs[0], second_err=runs[1],
                              data=json.loads((tmp / "a" / "class.json").read_text(encoding="utf-8")))


def _files(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_every_format_has_one_entry_per_submission(graded):
    ids = [d["id"] for d in graded.data]
    assert len(ids) == len(set(ids)) == 32 and all(i.endswith(f"submission_{1000 + n}") for n, i in enumerate(ids))
    suites = ET.parse(graded.a / "junit.xml").getroot().findall("testsuite")
    assert [s.get("name") for s in suites] == ids
    assert len(list((graded.a / "gradescope").glob("*.results.json"))) == 32
    assert len(list((graded.a / "prairielearn").glob("*.results.json"))) == 32
    assert len(list((graded.a / "feedback").glob("*.md"))) == len(list((graded.a / "feedback").glob("*.html"))) == 32
    rows = list(csv.DictReader(io.StringIO((graded.a / "grades.csv").read_text(encoding="utf-8"))))
    assert len(rows) == 33 and {r["submission"] for r in rows} == set(ids)  # bob's partner has a row of their own
    table = (graded.a / "table.txt").read_text(encoding="utf-8")
    assert all(f"submission_{1000 + n}" in table for n in range(32)) and not table.lstrip().startswith("[")


def test_names_and_ids_reach_every_report(graded):
    bob = next(d for d in graded.data if d["students"] and d["students"][0]["name"] == "Bob Student")
    assert [s["id"] for s in bob["students"]] == ["S1003", "S9999"]
    rows = list(csv.DictReader(io.StringIO((graded.a / "grades.csv").read_text(encoding="utf-8"))))
    assert [(r["student_id"], r["name"], r["total"], r["verdict"]) for r in rows if r["submission"] == bob["id"]] == [
        ("S1003", "Bob Student", "50", "pass"), ("S9999", "Bo Partner", "50", "pass")]
    assert {"gradient: non-square-batch-3", "inputs left unmutated"} <= set(rows[0])  # a column per check
    junit = (graded.a / "junit.xml").read_text(encoding="utf-8")
    html = (graded.a / "class.html").read_text(encoding="utf-8")
    feedback = "".join(p.read_text(encoding="utf-8") for p in (graded.a / "feedback").glob("*.md"))
    for text in (junit, html, feedback):
        assert "Bob Student (S1003)" in text and "Bo Partner (S9999)" in text


def test_diagnoses_land_where_the_instructor_reads_them(graded):
    by_name = {d["students"][0]["name"].split()[0].lower(): d for d in graded.data if d["students"]}
    assert by_name["hugo"]["diagnoses"][0]["matches"] == ["deriv-on-z"] and by_name["alice"]["verdict"] == "pass"
    assert sorted(by_name["alice"]["identical_to"]) == sorted([by_name["dana"]["id"], by_name["eve"]["id"]])
    assert "3 identical to another submission in this batch" in graded.first_err
    assert "reused from an earlier run" not in graded.first_err  # a first run reuses nothing
    html = (graded.a / "class.html").read_text(encoding="utf-8")
    assert "σ&#x27;(z) = z(1 − z)" in html and "σ&#x27;(z) = a(1 − a), a = σ(z)" in html  # deriv-on-z: wrong beside right
    assert "penalise_conventions = false" in html and "penalise_conventions = false" in (graded.a / "table.txt").read_text()


def test_progress_lines_for_logs(graded):
    lines = graded.first_err.splitlines()
    assert lines[0].strip() and not graded.first_err.startswith("\n")  # stderr is not a terminal here
    assert [line.split(":")[0] for line in lines if line.startswith("graded ")] == [
        "graded 10 of 32", "graded 20 of 32", "graded 30 of 32", "graded 32 of 32"]


def _visible_gradescope(data: dict) -> str:
    return data["output"] + "".join(t["name"] + t["output"] for t in data["tests"] if t["visibility"] == "visible")


def test_hidden_probes_are_never_named_where_students_look(graded):
    leaks = []
    for path in sorted((graded.a / "gradescope").glob("*.json")):
        data = json.loads(path.read_text(encoding="utf-8"))
        assert {t["visibility"] for t in data["tests"]} <= {"visible", "after_due_date"}
        hidden = [t for t in data["tests"] if t["visibility"] == "after_due_date"]
        assert hidden and all(t["name"] != "gradient: deep-saturated" or t["max_score"] == 10 for t in hidden)
        leaks += [path.name for word in HIDDEN if word in _visible_gradescope(data)]
    for path in sorted((graded.a / "prairielearn").glob("*.json")):
        leaks += [path.name for word in HIDDEN if word in path.read_text(encoding="utf-8")]
    for path in sorted((graded.a / "feedback").iterdir()):
        leaks += [path.name for word in HIDDEN if word in path.read_text(encoding="utf-8")]
    assert leaks == []
    # the instructor's reports do name it
    assert "deep-saturated" in (graded.a / "class.html").read_text(encoding="utf-8")


def test_an_error_is_said_once_on_gradescope(graded):
    starter = next(d for d in graded.data if d["students"] and d["students"][0]["name"] == "Sam Student")
    data = json.loads(next((graded.a / "gradescope").glob(f"*{starter['id'].rsplit('/', 1)[1]}-*.json")).read_text())
    assert "not implemented yet (the starter's placeholder" in data["output"] and data["score"] == 0
    assert not any("not implemented yet" in t["output"] for t in data["tests"])
    assert {t["output"] for t in data["tests"] if t["visibility"] == "visible"} == {
        "not run: the submission could not be run (see the message above)"}


def test_a_visible_score_never_counts_hidden_points(graded):
    """zoe fails a visible check only; nobody's visible summary reports the hidden check's points."""
    for path in (graded.a / "feedback").glob("*.md"):
        text = path.read_text(encoding="utf-8")
        assert re.search(r"\*\*Score: [\d.]+ / 40 on the visible checks; hidden checks \(10 points\)", text), path.name


def test_reproducible_runs_give_identical_bytes(graded):
    assert "reused" not in graded.second_err  # --force graded everything again
    assert _files(graded.a) == _files(graded.b)


def test_the_class_page_is_self_contained(graded):
    page = (graded.a / "class.html").read_text(encoding="utf-8")

    class Refs(HTMLParser):
        def __init__(self):
            super().__init__()
            self.refs, self.tags = [], []

        def handle_starttag(self, tag, attrs):
            self.tags.append(tag)
            self.refs += [v for k, v in attrs if k in ("src", "href", "xlink:href", "action", "data") and v]

    parser = Refs()
    parser.feed(page)
    assert parser.tags.count("svg") == 4 and "script" not in parser.tags and "link" not in parser.tags
    external = [r for r in parser.refs if not (r.startswith("#") or r.startswith("../a/feedback/") or r.startswith("feedback/"))]
    assert external == []
    linked = [r for r in parser.refs if r.startswith("feedback/")]
    assert len(linked) == 32 and all((graded.a / r).is_file() for r in linked)
    assert "default-src 'none'" in page  # nothing could be fetched even if a reference slipped in


@pytest.mark.skipif(shutil.which("chromium") is None, reason="no chromium: apt-get install chromium to render the page")
def test_chromium_renders_the_class_page(graded, tmp_path):
    shot = tmp_path / "class.png"
    subprocess.run(["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
                    "--disable-component-update", "--disable-sync", f"--user-data-dir={tmp_path / 'profile'}", "--hide-scrollbars",
                    "--window-size=1280,1600", f"--screenshot={shot}", (graded.a / "class.html").as_uri()],
                   capture_output=True, timeout=120, check=False)
    from matplotlib.image import imread

    pixels = imread(shot)[..., :3]
    bar = (abs(pixels - [0x3a / 255, 0x6e / 255, 0xa5 / 255]).max(axis=-1) < 0.02).mean()  # the bars' blue
    fail = (abs(pixels - [0xd0 / 255, 0x8c / 255, 0x1a / 255]).max(axis=-1) < 0.02).mean()  # the histogram's fails
    assert pixels.shape[:2] == (1600, 1280) and bar > 0.005 and fail > 0.001


def test_table_at_80_columns_keeps_names_whole():
    checks = [Check("gradient: p", 10, 10, True, "ok"), Check("gradient: q", 0, 10, False, "wrong", hidden=True)]
    ids = ["section-a/a_rather_long_student_folder_name/submission.py", "section-b/another_long_folder_of_a_student/backprop.py"]
    results = [Result(i, "fail", 10, 20, checks, [{"summary": "differs only by a convention: sign", "correct": False}],
                      "m", "", 0.1, "k" + i, i) for i in ids]
    buf = io.StringIO()
    report.table(results, "title", Console(file=buf, width=80, color_system=None))
    text = buf.getvalue()
    assert max(len(line) for line in text.splitlines()) <= 80
    for part in ("a_rather_long_student_folder_name/", "another_long_folder_of_a_student/", "submission.py", "backprop.py"):
        assert part in text, (part, text)
    assert "2 gradient: q (hidden from students)" in text and "--format json" in text and "penalise_conventions" in text


def test_a_pass_under_an_accepted_convention_names_it_in_the_table_and_gradebook():
    checks = [Check("gradient: p", 10, 10, True, "ok")]
    results = [Result("own.py", "pass", 10, 10, checks, [], "all gradient checks pass", key="k1", id="own.py"),
               Result("half.py", "pass", 10, 10, checks, [], "all gradient checks pass (correct, with the loss ½Σ(a − y)²)",
                      key="k2", id="half.py", convention="the loss ½Σ(a − y)²")]
    buf = io.StringIO()
    report.table(results, "title", Console(file=buf, width=120, color_system=None))
    rows = {line.split()[0]: line for line in buf.getvalue().splitlines() if line.strip().startswith(("own.py", "half.py"))}
    assert "correct, with the loss ½Σ(a − y)²" in rows["half.py"] and "correct" not in rows["own.py"]
    gradebook = {row["submission"]: row for row in csv.DictReader(io.StringIO(report.gradebook_csv(results)))}
    assert gradebook["half.py"]["diagnosis"] == "correct, with the loss ½Σ(a − y)²" and gradebook["own.py"]["diagnosis"] == ""


def test_identical_submissions_are_listed_in_groups():
    checks = [Check("gradient: p", 10, 10, True, "ok")]
    results = [Result(i, "pass", 10, 10, checks, [], "ok", key=k, id=i)
               for i, k in (("class/ann", "k1"), ("class/ben", "k2"), ("class/cai", "k1"), ("class/dee", "k2"), ("class/eve", "k3"))]
    buf = io.StringIO()
    report.table(results, "title", Console(file=buf, width=100, color_system=None))
    groups = [line for line in buf.getvalue().splitlines() if line.startswith("identical files:")]
    assert groups == ["identical files: ann, cai", "identical files: ben, dee"]
    gradebook = {row["submission"]: row["identical_to"] for row in csv.DictReader(io.StringIO(report.gradebook_csv(results)))}
    assert gradebook == {"class/ann": "class/cai", "class/ben": "class/dee", "class/cai": "class/ann", "class/dee": "class/ben",
                         "class/eve": ""}


def test_every_report_and_feedback_file_is_readable_by_its_owner_only(tmp_path, monkeypatch):
    """docs/grading.md: reports hold grades and names; 0600 whatever the umask, so no submission's uid reads them."""
    require_report()
    checks = [Check("gradient: p", 10, 10, True, "ok"), Check("gradient: q", 0, 10, False, "wrong", hidden=True)]
    results = [Result(f"class/{n}.py", "fail", 10, 20, checks, [], "m", key=f"k{n}", id=f"class/{n}",
                      students=[{"id": str(n), "name": f"Student {n}", "email": ""}]) for n in range(2)]
    source = tmp_path / "results.json"
    source.write_text(report.as_json(results), encoding="utf-8")
    old = os.umask(0o022)
    try:
        out = tmp_path / "out"
        for fmt, target in (("table", "t.txt"), ("json", "r.json"), ("csv", "g.csv"), ("junit", "j.xml"),
                            ("gradescope", "gs"), ("prairielearn", "pl")):
            assert _run(["report", str(source), "--format", fmt, "--out", str(out / target)])[0] == 0
        assert _run(["report", str(source), "--html", str(out / "c.html"), "--feedback", str(out / "fb")])[0] == 0
    finally:
        os.umask(old)
    files = sorted(p for p in out.rglob("*") if p.is_file())
    assert len(files) == 5 + 2 * 2 + 2 * 2  # five reports, two results.json each for Gradescope and PrairieLearn, feedback
    assert {p.relative_to(out).as_posix(): oct(p.stat().st_mode & 0o777) for p in files} == {
        p.relative_to(out).as_posix(): "0o600" for p in files}


def test_what_a_submission_says_on_a_hidden_probe_never_reaches_the_student(tmp_path):
    """Right on the visible probes; on the hidden one (the deep network), an error carrying the probe's name in base64
    and its sizes, as a submission that read its job would raise.  Students see neither, nor the grader's own
    description of that probe; the instructor sees all of it."""
    import base64

    from bpcheck.grader import feedback, gradescope, prairielearn
    from bpcheck.grader.assignment import load
    from bpcheck.grader.grade import Grader

    from .sandboxes import for_trusted_code

    encoded = base64.b64encode(HIDDEN[0].encode()).decode()
    source = (ROOT / "examples" / "solutions" / "canonical.py").read_text().replace(
        "    n = x.shape[0]\n",
        f"    if len(weights) == 3:\n        raise ValueError('{encoded} ' + 'x'.join(str(w.shape[0]) for w in weights))\n"
        "    n = x.shape[0]\n")
    (tmp_path / "submission.py").write_text(source)
    r = Grader(load("canonical"), for_trusted_code()).grade(tmp_path / "submission.py")
    leaked = (encoded, "2x5x3", *HIDDEN)
    assert r.verdict == "fail" and encoded in report.as_json([r]) and "2-5-3-2" in report.as_json([r])  # the instructor's
    assert [c.passed for c in r.checks if c.name.startswith("gradient: ") and not c.hidden] == [True, True, True]
    gs = gradescope.results_json(r)
    shown = {"markdown": feedback.markdown(r, "t"), "html": feedback.html_page(r, "t"),
             "gradescope": gs["output"] + json.dumps([t for t in gs["tests"] if t["visibility"] == "visible"]),
             "prairielearn": json.dumps(prairielearn.results_json(r))}
    assert {where: [w for w in leaked if w in text] for where, text in shown.items()} == {where: [] for where in shown}
    assert "a hidden probe" in shown["markdown"]  # said, without saying which or what
