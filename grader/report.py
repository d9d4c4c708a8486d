"""Reports for a graded batch: terminal table, JSON, JUnit XML, CSV gradebook; and how every report is written.

Text a submission produced (messages, file names) is data.  ``clean`` makes it safe for every format
before any format sees it: lone surrogates (``os.fsdecode`` of a non-UTF-8 name), terminal controls
(ESC, CSI, OSC, BEL, other C0/C1), bidirectional overrides and characters illegal in XML 1.0 become
visible escapes such as ``\\x1b``; each format then adds its own escaping (Rich markup, HTML, XML, CSV).
Every file is written whole or not at all (``write_atomic``).  Reports are keyed by the submission's
id, never by a file's stem, and with ``reproducible`` hold no wall-clock time, so the same inputs give
the same bytes.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import math
import os
import re
import tempfile
import xml.etree.ElementTree as ET
from collections import defaultdict
from pathlib import Path
from typing import Any, Optional, Sequence, Union

from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from .results import Check, Result

# C0 controls but tab and newline, DEL, C1 controls, lone surrogates, bidi overrides, XML's non-characters.
_UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\ud800-\udfff\ufffe\uffff]")
MARKS = {True: "✓", False: "✗"}


def file_stem(submission_id: str) -> str:
    """A file name for per-submission outputs: readable, safe on any file system, unique per id (a hash of it)."""
    digest = hashlib.sha256(submission_id.encode("utf-8", "surrogatepass")).hexdigest()[:10]
    readable = re.sub(r"[^A-Za-z0-9._-]+", "_", submission_id).strip("._-")[-60:].lstrip("._-")
    return f"{readable}-{digest}" if readable else digest


def _escape_char(m: re.Match) -> str:
    o = ord(m.group())
    if 0xDC80 <= o <= 0xDCFF:  # a byte that os.fsdecode could not decode (surrogateescape)
        return f"\\x{o - 0xDC00:02x}"
    return f"\\x{o:02x}" if o < 0x100 else f"\\u{o:04x}"


def clean(text: object) -> str:
    """``text`` as valid, inert Unicode: every unsafe character replaced by a visible escape."""
    return _UNSAFE.sub(_escape_char, text if isinstance(text, str) else str(text))


def clean_tree(obj: Any) -> Any:
    """``clean`` applied to every string (and key) of a JSON-like tree; non-finite floats become strings."""
    if isinstance(obj, str):
        return clean(obj)
    if isinstance(obj, dict):
        return {clean(k): clean_tree(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [clean_tree(v) for v in obj]
    if isinstance(obj, float) and not math.isfinite(obj):
        return str(obj)
    return obj


def write_atomic(path: Union[str, Path], data: Union[str, bytes], private: bool = True) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same folder: the file is whole or untouched.

    ``private``: the file is 0600, readable by its owner only, as every report and feedback file is (grades and
    students' names; no submission's uid may read an earlier run's gradebook); else as the umask allows (a course's
    build files: the autograder zip, a PrairieLearn question).
    """
    blob = data.encode("utf-8") if isinstance(data, str) else data  # fails, if at all, before any file is made
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name[:60]}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(blob)
            fh.flush()
            os.fsync(fh.fileno())
        if not private:  # mkstemp made it 0600
            umask = os.umask(0)
            os.umask(umask)
            os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


# -- what the reports share ---------------------------------------------------------------------------


def rid(r: Result) -> str:
    """The submission's id (results made outside a batch have only their path)."""
    return r.id or r.submission


def check_names(results: Sequence[Result]) -> list[str]:
    """Every check's name, in the order the assignment runs them."""
    return list(dict.fromkeys(c.name for r in results for c in r.checks))


def identical_groups(results: Sequence[Result]) -> list[list[Result]]:
    """Submissions with byte-identical files (the same key), in groups of two or more, in batch order."""
    by_key: dict[str, list[Result]] = defaultdict(list)
    for r in results:
        if r.key:
            by_key[r.key].append(r)
    return [g for g in by_key.values() if len(g) > 1]


def identical_to(results: Sequence[Result]) -> dict[str, list[str]]:
    """Submission id → the ids of the other submissions identical to it."""
    out: dict[str, list[str]] = {}
    for group in identical_groups(results):
        for r in group:
            out[rid(r)] = [rid(o) for o in group if o is not r]
    return out


def diagnosis(r: Result) -> str:
    """What went wrong, in a line (the instructor's: with the catalog ids it names): the diagnosis, or the failed
    checks when every gradient was right; for a pass, the accepted convention it follows, if any (instructors want
    to see who used which)."""
    if r.verdict == "pass":
        return f"correct, with {r.convention}" if r.convention else ""
    if r.verdict == "error" or not r.diagnoses:
        return r.message
    d = r.diagnoses[0]
    if d.get("correct"):
        return "; ".join(f"{c.name}: {c.output}" for c in r.checks if not c.passed) or r.message
    # the student reads the summary in their network's words; the instructor also gets the catalog's ids
    entries = ", ".join(map(str, d.get("named", []))) if d.get("matches") else ""
    return (d.get("summary") or r.message) + (f" [catalog: {entries}]" if entries else "")


def convention_only(r: Result) -> bool:
    """A fail whose only fault is a convention (sign, factor, 1/N) that the assignment penalises."""
    if r.verdict != "fail" or not r.diagnoses:
        return False
    d = r.diagnoses[0]
    return bool(d["convention_only"]) if "convention_only" in d else str(d.get("summary", "")).startswith("differs only by a convention")


def students_text(r: Result) -> str:
    return ", ".join(f"{s.get('name') or '?'}" + (f" ({s['id']})" if s.get("id") else "") for s in r.students)


PENALISE_HINT = ("differ from the reference only by a convention (sign, factor, 1/N) and lost those points; "
                 "to accept such slips set penalise_conventions = false under [grading] in the assignment's TOML")


# -- terminal table -----------------------------------------------------------------------------------


def _short_ids(results: Sequence[Result]) -> tuple[str, dict[str, str]]:
    """The folder all ids share (shown once, in the title) and each id without it."""
    ids = [rid(r) for r in results]
    same_kind = all(i.startswith("/") == ids[0].startswith("/") for i in ids)
    common = os.path.commonpath(ids) if len(ids) > 1 and same_kind else ""
    if common in ids:
        common = os.path.dirname(common)
    cut = len(common) + 1 if common else 0
    return common, {i: i[cut:] for i in ids}


def wrap_path(path: str, width: int) -> str:
    """``path`` on lines of at most ``width``, broken after a ``/`` (a name longer than a line is cut with …)."""
    parts = re.findall(r"[^/]*/|[^/]+$", path) or [path]
    lines = [""]
    for part in parts:
        if lines[-1] and len(lines[-1]) + len(part) > width:
            lines.append("")
        lines[-1] += part
    return "\n".join(line if len(line) <= width else line[:width - 1] + "…" for line in lines)


def table(results: Sequence[Result], title: str, console: Console) -> None:
    """A row per submission: verdict, score, one mark per check, what went wrong; then the legend and the hints."""
    common, short = _short_ids(results)
    names = check_names(results)
    hidden = {c.name for r in results for c in r.checks if c.hidden}
    shown = [clean(s) for s in short.values()]
    longest_name = max((len(part) + 1 for s in shown for part in s.split("/")), default=12)
    id_width = max(12, min(max(map(len, shown), default=12), max(longest_name, int(console.width * 0.3)), console.width - 46))
    t = Table(title=Text(clean(title + (f" — submissions in {common}/" if common else ""))), title_justify="left",
              box=box.SIMPLE_HEAD)
    t.add_column("submission", no_wrap=True, width=id_width)
    t.add_column("verdict", no_wrap=True)
    t.add_column("score", justify="right", no_wrap=True)
    t.add_column("checks", no_wrap=True)
    t.add_column("what went wrong", overflow="fold", ratio=1, min_width=16)
    colour = {"pass": "green", "fail": "yellow", "error": "red"}
    for r in results:
        by_name = {c.name: c for c in r.checks}
        ran = r.verdict != "error"
        marks = "".join(MARKS[by_name[n].passed] if ran and n in by_name else "·" for n in names)
        what = diagnosis(r)[:300] + (" †" if convention_only(r) else "")
        t.add_row(Text(wrap_path(clean(short[rid(r)]), id_width)), Text(r.verdict, style=colour.get(r.verdict, "")),
                  f"{r.score:g}/{r.max_score:g}", Text(marks), Text(clean(what)))
    console.print(t)
    counts = {v: sum(1 for r in results if r.verdict == v) for v in ("pass", "fail", "error")}
    console.print(Text(f"{len(results)} graded: {counts['pass']} pass, {counts['fail']} fail, {counts['error']} error"))
    console.print(Text(f"checks, in column order ({MARKS[True]} passed, {MARKS[False]} failed, · not run):"))
    for i, n in enumerate(names):
        console.print(Text(clean(f"  {i + 1} {n}" + (" (hidden from students)" if n in hidden else ""))))
    penalised = sum(1 for r in results if convention_only(r))
    if penalised:
        console.print(Text(f"† {penalised} submission(s) {PENALISE_HINT}."))
    for group in identical_groups(results):
        console.print(Text(clean(f"identical files: {', '.join(short[rid(r)] for r in group)}")))
    console.print(Text("Every check's full output: --format json; the class report: --html FILE; "
                       "each student's feedback: --feedback DIR."))


def table_text(results: Sequence[Result], title: str, width: int = 120) -> str:
    """The table as plain text, for --out."""
    buf = io.StringIO()
    table(results, title, Console(file=buf, width=width, color_system=None, force_terminal=False, legacy_windows=False))
    return buf.getvalue()


# -- JSON -----------------------------------------------------------------------------------------------


def result_dict(r: Result, reproducible: bool = False, copies: Optional[list[str]] = None) -> dict:
    d = {
        "id": rid(r),
        "submission": r.submission,
        "students": r.students,
        "verdict": r.verdict,
        "score": r.score,
        "max_score": r.max_score,
        "checks": [{"name": c.name, "score": c.score, "max_score": c.max_score,
                    "status": "passed" if c.passed else "failed", "output": c.output, "hidden": c.hidden} for c in r.checks],
        "diagnoses": r.diagnoses,
        "message": r.message,
        "sandbox": r.sandbox,
        "key": r.key,
        "identical_to": copies or [],
        "convention": r.convention,  # the accepted convention it was graded under ("" for the assignment's own)
        "environment": r.environment,  # the fix, when the grading machine kept it from running
        "notes": r.notes,  # what of it was read and run: notebook cells, skipped driver code
    }
    if not reproducible:
        d["seconds"] = round(r.seconds, 3)
    return clean_tree(d)


def as_json(results: Sequence[Result], reproducible: bool = False, assignment: str = "") -> str:
    copies = identical_to(results)
    out = []
    for r in results:
        d = result_dict(r, reproducible, copies.get(rid(r)))
        if assignment:
            d["assignment"] = clean(assignment)
        out.append(d)
    return json.dumps(out, indent=2, ensure_ascii=False) + "\n"


def from_json(data: list) -> list[Result]:
    """Results back from ``as_json``'s list (for ``bpcheck report RESULTS.json``)."""
    if not isinstance(data, list) or not all(isinstance(d, dict) for d in data):
        raise ValueError("expected a list of submissions, as written by bpcheck grade --format json")
    out = []
    for d in data:
        try:
            checks = [Check(c["name"], float(c["score"]), float(c["max_score"]), c["status"] == "passed",
                            str(c.get("output", "")), bool(c.get("hidden", False))) for c in d.get("checks", [])]
            out.append(Result(str(d["submission"]), str(d["verdict"]), float(d["score"]), float(d["max_score"]), checks,
                              list(d.get("diagnoses", [])), str(d.get("message", "")), str(d.get("sandbox", "")),
                              float(d.get("seconds", 0.0)), str(d.get("key", "")), str(d.get("id") or d["submission"]),
                              list(d.get("students", [])), notes=[str(n) for n in d.get("notes", [])],
                              convention=str(d.get("convention", "")), environment=str(d.get("environment", ""))))
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"submission {d.get('id') or d.get('submission')!r}: missing or malformed field ({exc})") from None
    return out


# -- JUnit XML ------------------------------------------------------------------------------------------


def junit(results: Sequence[Result], assignment: str, reproducible: bool = False) -> str:
    """One <testsuite> per submission, named by its id; an error is reported once, its checks are skipped."""
    suites = ET.Element("testsuites", name=clean(f"bpcheck {assignment}"))
    for r in results:
        name = clean(rid(r))
        failed = [c for c in r.checks if not c.passed]
        attrs = {"name": name, "tests": str(len(r.checks) + (r.verdict == "error")),
                 "failures": str(len(failed) if r.verdict == "fail" else 0), "errors": str(int(r.verdict == "error")),
                 "skipped": str(len(r.checks) if r.verdict == "error" else 0)}
        if not reproducible:
            attrs["time"] = f"{r.seconds:.3f}"
        suite = ET.SubElement(suites, "testsuite", attrs)
        props = ET.SubElement(suite, "properties")
        for k, v in (("submission", r.submission), ("students", students_text(r)), ("score", f"{r.score:g}/{r.max_score:g}")):
            ET.SubElement(props, "property", name=k, value=clean(v))
        if r.verdict == "error":
            case = ET.SubElement(suite, "testcase", classname=name, name="submission runs")
            ET.SubElement(case, "error", message=clean(r.message[:500])).text = clean(r.message)
        for c in r.checks:
            case = ET.SubElement(suite, "testcase", classname=name, name=clean(c.name))
            if r.verdict == "error":
                ET.SubElement(case, "skipped", message="not run: the submission could not be run (see 'submission runs')")
            elif not c.passed:
                ET.SubElement(case, "failure", message=clean(c.output[:500])).text = clean(c.output)
    ET.indent(suites)
    return ET.tostring(suites, encoding="unicode", xml_declaration=True) + "\n"


# -- CSV gradebook --------------------------------------------------------------------------------------


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
#: A separator some spreadsheet splits on (continental Excel: ';'; tab), then what would start a formula in the cell
#: that split makes (spaces and quotes before it are dropped by some).
_SPLIT_FORMULA = re.compile(r"([;\t|])(?=[\s\"]*[=+\-@])")


def _cell(text: object) -> str:
    """A text cell a spreadsheet shows as text, whichever separator it splits on: a leading = + - @ would start a
    formula, so an apostrophe goes before it, at the cell's start and after every ';', tab or '|' inside it."""
    s = _SPLIT_FORMULA.sub(r"\1'", clean(text))
    return "'" + s if s.lstrip(" ")[:1] in _FORMULA_START else s


def gradebook_csv(results: Sequence[Result]) -> str:
    """A row per student (a group submission gives each member a row): ids and names first, then total and every check.

    Canvas and Moodle import it by matching ``student_id`` (or ``email``) and taking ``total``.
    """
    from .similarity import similar_to  # similarity reads this module's rid and diagnosis

    names = check_names(results)
    copies, similar = identical_to(results), similar_to(results)
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n", quoting=csv.QUOTE_ALL)  # a quoted cell stays whole where quotes are honoured
    w.writerow(["student_id", "name", "email", "submission", "total", "max_score", "verdict", *map(_cell, names),
                "diagnosis", "smallest_failing_case", "identical_to", "similar_to"])
    for r in results:
        by_name = {c.name: c for c in r.checks}
        smallest = (r.diagnoses[0].get("smallest_failing_case") if r.diagnoses else None) or ""
        tail = [f"{r.score:g}", f"{r.max_score:g}", r.verdict,
                *[f"{by_name[n].score:g}" if n in by_name else "" for n in names]]
        for s in r.students or [{}]:
            w.writerow([_cell(s.get("id", "")), _cell(s.get("name", "")), _cell(s.get("email", "")), _cell(rid(r)),
                        *tail, _cell(diagnosis(r)), _cell(smallest), _cell(" ".join(copies.get(rid(r), []))),
                        _cell(" ".join(similar.get(rid(r), [])))])
    return buf.getvalue()
