"""Any bytes a submission can produce go through every report format escaped, never interpreted, and parse back."""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import shutil
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path

import pytest
from rich.console import Console

from bpcheck.grader import feedback, gradescope, html_report, prairielearn, report
from bpcheck.cli import main
from bpcheck.grader.results import Check, Result
from .extras import needs_report

ROOT = Path(__file__).resolve().parents[1]

HOSTILE = {
    "lone surrogate": "a\ud800b",
    "undecodable file name": os.fsdecode(b"st\xff\xfeudent.py"),
    "rich markup": "[/] [bold red]boom[/] [link=http://example.com]x[/link]",
    "CSI clear screen": "\x1b[2J\x1b[31mred",
    "OSC title with BEL": "\x1b]0;pwned\x07",
    "C1 CSI": "\x9b31m",
    "other C0": "nul\x00 bs\x08 vt\x0b cr\r",
    "XML-illegal": "\x01\ufffe\uffff",
    "bidi override": "\u202eevil",
    "markup": "<script>alert(1)</script> `` ``` | # *x* [l](javascript:x)",
    "formula": "=HYPERLINK(\"http://example.com\")",
}


def _result(label: str, text: str) -> Result:
    checks = [Check(f"gradient: {text}", 0.0, 10.0, False, f"output {text}"),
              Check("gradient: secret", 0.0, 10.0, False, f"hidden {text}", hidden=True)]
    return Result(f"class/{text}/submission.py", "fail", 0.0, 20.0, checks,
                  [{"summary": f"summary {text}", "matches": [], "correct": False, "smallest_failing_case": f"{text}: 2-2"}],
                  f"message {text}", "", 0.5, "", f"class/{label}/{text}", [{"id": text, "name": f"name {text}", "email": ""}])


RESULTS = [_result(label, text) for label, text in HOSTILE.items()]
RAW = ["\x1b", "\x07", "\x9b", "\x00", "\x08", "\x0b", "\r", "\x01", "\ufffe", "\uffff", "\u202e"]


def _inert(text: str) -> None:
    """Valid Unicode that a terminal or an XML parser cannot take for anything but text (CSV's CRLF aside)."""
    text.encode("utf-8")  # no lone surrogate left
    text = text.replace("\r\n", "\n")
    assert not [c for c in RAW if c in text], [hex(ord(c)) for c in RAW if c in text]


def test_clean_escapes_visibly_and_keeps_ordinary_text():
    assert report.clean("ok σ ✓\tx\ny") == "ok σ ✓\tx\ny"
    assert report.clean("\x1b[2J") == "\\x1b[2J" and report.clean("\udcff") == "\\xff" and report.clean("\ud800") == "\\ud800"
    assert report.clean("\u202e") == "\\u202e" and report.clean("\x9b") == "\\x9b"


@needs_report
def test_every_format_parses_back(tmp_path):
    table = io.StringIO()
    report.table(RESULTS, "hostile", Console(file=table, width=100, color_system=None, force_terminal=False))
    outputs = {
        "table.txt": table.getvalue(),
        "table-out.txt": report.table_text(RESULTS, "hostile"),
        "results.json": report.as_json(RESULTS),
        "junit.xml": report.junit(RESULTS, "hostile"),
        "grades.csv": report.gradebook_csv(RESULTS),
        "class.html": html_report.page(RESULTS, "hostile", "hostile", "feedback"),
    }
    for r in RESULTS:
        outputs[f"{r.id}.gradescope.json"] = json.dumps(gradescope.results_json(r), ensure_ascii=False)
        outputs[f"{r.id}.pl.json"] = json.dumps(prairielearn.results_json(r), ensure_ascii=False)
        outputs[f"{r.id}.md"] = feedback.markdown(r, "hostile")
        outputs[f"{r.id}.html"] = feedback.html_page(r, "hostile")
    for name, text in outputs.items():
        target = tmp_path / report.clean(name).replace("/", "_").replace("\\", "_")
        report.write_atomic(target, text)
        back = target.read_bytes().decode("utf-8")  # strict: every byte valid UTF-8
        _inert(back)
        if name.endswith(".json"):
            json.loads(back)
        elif name.endswith(".xml"):
            ET.fromstring(back.encode("utf-8"))
        elif name.endswith(".csv"):
            rows = list(csv.reader(io.StringIO(back)))
            assert len(rows) == 1 + len(RESULTS) and all(len(r) == len(rows[0]) for r in rows)
            assert not any(cell.startswith("=") for row in rows for cell in row)  # no formula for a spreadsheet
        elif name.endswith(".html"):
            HTMLParser().feed(back)
            assert "<script>" not in back and ("&lt;script&gt;" in back) == ("script" in name or name == "class.html")
    assert "[bold red]boom[/]" in outputs["table.txt"]  # markup shown, not interpreted
    messages = {d["id"].split("/")[1]: d["message"] for d in json.loads(outputs["results.json"])}
    assert messages["CSI clear screen"] == "message \\x1b[2J\\x1b[31mred"  # shown as text, byte for byte
    assert messages["undecodable file name"] == "message st\\xff\\xfeudent.py"


def test_markdown_feedback_keeps_hostile_text_inside_its_fences():
    md = feedback.markdown(_result("markup", HOSTILE["markup"]), "hostile")
    fences = [line for line in md.splitlines() if line.startswith("```")]
    assert len(fences) % 2 == 0 and all(len(f.rstrip("text")) >= 4 for f in fences)  # longer than any ``` inside
    assert "\\<script\\>" in md  # inline text escaped; fenced text shown verbatim


@needs_report
def test_the_cli_writes_every_format_from_hostile_results_twice(tmp_path, capsys):
    source = tmp_path / "hostile.json"
    source.write_text(report.as_json(RESULTS), encoding="utf-8")
    for attempt in range(2):  # a rerun must not crash the way a first run could
        out = tmp_path / f"run{attempt}"
        for fmt, target in (("table", "t.txt"), ("json", "r.json"), ("csv", "g.csv"), ("junit", "j.xml"),
                            ("gradescope", "gs"), ("prairielearn", "pl")):
            assert main(["report", str(source), "--format", fmt, "--out", str(out / target)]) == 0
        assert main(["report", str(source), "--html", str(out / "c.html"), "--feedback", str(out / "fb")]) == 0
        assert main(["report", str(source)]) == 0  # the table on standard output
        captured = capsys.readouterr()
        _inert(captured.out)
        _inert(captured.err)
        files = [p for p in out.rglob("*") if p.is_file()]
        assert len(files) == 5 + 2 * len(RESULTS) + 2 * len(RESULTS)
        for p in files:
            assert p.stat().st_size > 0 and not p.name.endswith(".tmp")
            _inert(p.read_bytes().decode("utf-8"))


@needs_report
def test_a_real_submission_with_an_undecodable_name_and_a_lone_surrogate(tmp_path):
    folder = tmp_path / "class" / os.fsdecode(b"st\xffudent")
    folder.mkdir(parents=True)
    source = (ROOT / "examples" / "solutions" / "canonical.py").read_text()
    (folder / "submission.py").write_text(source.replace("    n = x.shape[0]\n", "    raise ValueError('\\ud800 \\x1b[2J [/]')\n"))
    state, out = tmp_path / "state", tmp_path / "out"
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        assert main(["grade", str(tmp_path / "class"), "--assignment", "canonical", "--state", str(state),
                     "--format", "json", "--out", str(out / "r.json")]) == 0
    for fmt, target in (("table", "t.txt"), ("csv", "g.csv"), ("junit", "j.xml"), ("gradescope", "gs")):
        assert main(["report", str(state), "--format", fmt, "--out", str(out / target)]) == 0
    assert main(["report", str(state), "--html", str(out / "c.html"), "--feedback", str(out / "fb")]) == 0
    (r,) = json.loads((out / "r.json").read_text(encoding="utf-8"))
    assert r["id"].endswith("st\\xffudent") and r["verdict"] == "error" and "\\ud800 \\x1b[2J [/]" in r["message"]
    _inert(err.getvalue())
    for p in out.rglob("*"):
        if p.is_file():
            _inert(p.read_bytes().decode("utf-8"))


def test_write_atomic_leaves_the_old_file_whole_when_writing_fails(tmp_path, monkeypatch):
    target = tmp_path / "report.json"
    target.write_text("old")
    with pytest.raises(UnicodeEncodeError):
        report.write_atomic(target, "new \ud800")  # raw, unclean text: refused before any file is touched
    monkeypatch.setattr(os, "replace", lambda *a: (_ for _ in ()).throw(OSError(28, "No space left on device")))
    with pytest.raises(OSError):
        report.write_atomic(target, "new")
    assert target.read_text() == "old" and sorted(p.name for p in tmp_path.iterdir()) == ["report.json"]


@pytest.mark.skipif(shutil.which("script") is None, reason="needs util-linux script for a terminal")
def test_nothing_raw_reaches_a_terminal(tmp_path):
    """The table printed to a real terminal (a pty) shows the escapes as text."""
    import subprocess
    import sys

    source = tmp_path / "hostile.json"
    source.write_text(report.as_json(RESULTS), encoding="utf-8")
    log = tmp_path / "tty.log"
    cmd = f"{sys.executable} -m bpcheck report {source}"
    subprocess.run(["script", "-qec", cmd, str(log)], cwd=ROOT, capture_output=True, timeout=120,
                   env={**os.environ, "COLUMNS": "120", "TERM": "xterm"}, check=True)
    text = log.read_bytes().decode("utf-8", errors="strict")
    assert "\x1b[2J" not in text and "\x1b]0;" not in text and "\x07" not in text and "\\x1b[2J" in text


FORMULAS = {  # where a spreadsheet that splits on ';' or tab (continental Excel) would find a formula
    "message": "fine;=HYPERLINK(\"http://example.com\",\"x\")",
    "tab": "fine\t+cmd|' /C calc'!A0",
    "quoted": "fine; \"@SUM(1+1)*cmd|' /C calc'!A0",
    "leading space": "  -2+3+cmd|' /C calc'!A0",
}


def _formula_results() -> list[Result]:
    """A message, a file name (the id), a check name and a Gradescope name, each carrying a formula after a separator."""
    out = []
    for label, text in FORMULAS.items():
        checks = [Check("gradient: p", 0.0, 10.0, False, text)]
        out.append(Result(f"class/{label}/x;=1+1.py", "fail", 0.0, 10.0, checks, [{"summary": text, "correct": False,
                          "smallest_failing_case": text}], text, "", 0.1, "", f"class/{label};-1+1",
                          [{"id": "1;=2", "name": text, "email": "a\t=b@example.edu"}]))
    return out


@pytest.mark.parametrize("separator", [",", ";", "\t", "|"])
def test_no_gradebook_cell_starts_a_formula_whatever_the_separator(separator):
    text = report.gradebook_csv(_formula_results())
    assert all(line.startswith('"') and line.endswith('"') for line in text.split("\r\n") if line)  # every field quoted
    cells = [cell for row in csv.reader(io.StringIO(text), delimiter=separator) for cell in row]
    assert len(cells) >= 10
    starting = [cell for cell in cells if cell.lstrip(" \"")[:1] in ("=", "+", "-", "@")]
    assert starting == []
    if separator == ",":  # where the file is read as written, the text is all there, each formula behind an apostrophe
        rows = list(csv.DictReader(io.StringIO(text)))
        assert rows[0]["diagnosis"] == "fine;'=HYPERLINK(\"http://example.com\",\"x\")"
        assert rows[3]["name"] == "'  -2+3+cmd|' /C calc'!A0" and rows[0]["student_id"] == "1;'=2"
