"""What a student may see of their result, and their feedback files (Markdown and HTML).

Hidden checks (a probe with ``hidden = true``, or a side check in ``hidden_checks``) are the
instructor's until the due date: student-facing text never names a hidden probe, never shows a hidden
check's output or points, and the score it shows covers the visible checks only.  ``reveal`` (after the
due date) shows everything.  The same view feeds Gradescope's and PrairieLearn's visible fields.
"""

from __future__ import annotations

import html
import re
from pathlib import Path
from typing import Sequence

from bpcheck.reference.bugs import CATALOG

from .diagnose import Voice
from .results import Check, Result
from .report import MARKS, clean, convention_only, file_stem, rid, students_text, write_atomic

HIDDEN_PROBE = "a hidden probe"
HIDDEN_ERROR = "an error on a hidden probe"
NOT_RUN = "not run: the submission could not be run (see the message above)"


def hidden_probe_names(r: Result) -> list[str]:
    return [c.name.removeprefix("gradient: ") for c in r.checks if c.hidden and c.name.startswith("gradient: ")]


def _hidden_texts(r: Result) -> dict[str, str]:
    """What the hidden probes' own check outputs hold that the visible ones do not, each with what a student sees
    instead: a probe's description (its sizes: "2-5-3-2 network, 4 examples") and what went wrong there (the
    submission's own error text, which may carry anything it read of its inputs).  The grader writes them as
    "wrong on DESCRIPTION: PROBLEM. Diagnosis: …", "correct on DESCRIPTION" or "accepted: … (on DESCRIPTION)"."""
    visible = " ".join(c.output for c in r.checks if not c.hidden)
    found: dict[str, str] = {}
    for c in r.checks:
        if not (c.hidden and c.name.startswith("gradient: ")):
            continue
        wrong = re.match(r"wrong on (.+?): (.*)", c.output, re.S)
        if wrong:
            for problem in wrong[2].split(". Diagnosis: ")[0].removesuffix(".").split("; "):
                found.setdefault(problem, HIDDEN_ERROR)
        for description in [wrong[1]] if wrong else re.findall(r"\bon (\d+(?:-\d+)+ network[^:;)]*)", c.output):
            found[description] = HIDDEN_PROBE
    return {t: found[t] for t in sorted(found, key=len, reverse=True) if len(t.strip()) >= 8 and t not in visible}


def redact(text: str, r: Result) -> str:
    """``text`` as a student may see it: no hidden probe named (its call too, ``name@v2``), described (its sizes) or
    quoted (what the submission said while running it), and no per-probe finding of a hidden probe (its loss, its
    shapes: "name: got 0.5, expected 0.7" becomes "a hidden probe")."""
    for piece, instead in _hidden_texts(r).items():
        text = re.sub(rf"(?<!\w){re.escape(piece)}(?!\w)", instead, text)  # whole words only
    for name in sorted(hidden_probe_names(r), key=len, reverse=True):
        quoted = rf"(?:probe )?(['\"]){re.escape(name)}(?:@v\d+)?\1"
        bare = rf"(?<![\w-]){re.escape(name)}(?:@v\d+)?(?![\w-])"
        text = re.sub(rf"(^|: |; )(?:{bare}): [^;]*", rf"\1{HIDDEN_PROBE}", text)  # a finding listed per probe
        text = re.sub(quoted, HIDDEN_PROBE, text)
        text = re.sub(bare, HIDDEN_PROBE, text)
    return text


def shown_checks(r: Result, reveal: bool = False) -> list[Check]:
    return [c for c in r.checks if reveal or not c.hidden]


def unshown_checks(r: Result, reveal: bool = False) -> list[Check]:
    """The hidden checks, until they are revealed."""
    return [] if reveal else [c for c in r.checks if c.hidden]


def summary(r: Result, reveal: bool = False) -> str:
    """One paragraph on what went wrong, from the checks the student may see."""
    if r.verdict == "error" or not r.diagnoses:
        text = r.message or "the submission could not be graded"
    elif all(c.passed for c in shown_checks(r, reveal)):
        hidden = len(unshown_checks(r, reveal))
        text = "All checks pass." if not hidden else (
            f"All visible checks pass; {hidden} hidden check(s) are scored and shown after the due date.")
    else:
        text = r.message or str(r.diagnoses[0].get("summary"))
        smallest = str(r.diagnoses[0].get("smallest_failing_case") or "")
        if smallest and not reveal and any(smallest.startswith(f"{name}: ") for name in hidden_probe_names(r)):
            text = text.replace(f" (smallest failing case: {smallest})", "")
        if convention_only(r):
            text += (". Only a convention differs from the reference (sign, factor or 1/N); "
                     "the assignment counts it as wrong")
    return clean(text if reveal else redact(text, r))


def check_output(c: Check, r: Result, top: str, reveal: bool = False) -> str:
    """A check's output for the student: an error the whole submission shares is said once, above."""
    if r.verdict == "error":
        return NOT_RUN
    out = clean(c.output if reveal else redact(c.output, r))
    return "see the message above" if out == top else out


def score_line(r: Result, reveal: bool = False) -> str:
    shown = shown_checks(r, reveal)
    got, total = sum(c.score for c in shown), sum(c.max_score for c in shown)
    hidden_points = r.max_score - total
    if hidden_points > 0 and not reveal:
        return f"{got:g} / {total:g} on the visible checks; hidden checks ({hidden_points:g} points) are scored after the due date"
    return f"{r.score:g} / {r.max_score:g}"


def matched_bugs(r: Result) -> list[tuple[str, list[tuple[str, str]]]]:
    """The catalog entries the diagnosis names, one per fix, each in the network's own words: (heading, rows of
    (what, text)); a formula or symptom written with σ is left out where the network has no sigmoid."""
    d = r.diagnoses[0] if r.diagnoses else {}
    voice = Voice(**{"hidden": None, "output": None, **d.get("voice", {})})
    out = []
    for bug in voice.distinct(CATALOG[b] for b in d.get("matches", []) if b in CATALOG):
        rows = [("what the code computes", bug.wrong), ("the right formula", bug.right), ("how it shows", bug.symptom)]
        out.append((voice.words(bug), [(what, text) for what, text in rows if voice.says(text)]))
    return out


# -- files ----------------------------------------------------------------------------------------------


def _md(text: str) -> str:
    """Inline Markdown (never at a line's start): every character that could start markup, a link or HTML escaped."""
    return re.sub(r"([\\`*_\[\]<>&~|])", r"\\\1", clean(text)).replace("\n", " ")


def _md_block(text: str) -> str:
    """A fenced block: nothing inside is interpreted, whatever the text holds."""
    fence = "`" * max(3, 1 + max((len(m) for m in re.findall(r"`+", text)), default=0))
    return f"{fence}text\n{text}\n{fence}"


def markdown(r: Result, title: str, reveal: bool = False) -> str:
    top = summary(r, reveal)
    lines = [f"# Feedback: {_md(title)}", ""]
    lines.append(f"Submission: {_md(rid(r))}" + (f" ({_md(students_text(r))})" if r.students else ""))
    lines += ["", f"**Score: {_md(score_line(r, reveal))}**", "", "## What went wrong" if r.verdict != "pass" else "## Result",
              "", _md_block(top), ""]
    for heading, rows in matched_bugs(r):
        lines += [f"### {_md(heading)}", "", *(f"- {what}: {_md(text)}" for what, text in rows), ""]
    lines += ["## Checks", ""]
    for c in shown_checks(r, reveal):
        mark = "passed" if c.passed else "failed"
        lines += [f"- **{_md(c.name)}**: {mark}, {c.score:g} / {c.max_score:g}", "", _md_block(check_output(c, r, top, reveal)), ""]
    hidden = unshown_checks(r, reveal)
    if hidden:
        lines += [f"- {len(hidden)} hidden check(s), {sum(c.max_score for c in hidden):g} points: "
                  "results are shown after the due date", ""]
    return "\n".join(lines).rstrip() + "\n"


STYLE = """body{font:15px/1.45 system-ui,sans-serif;max-width:52em;margin:2em auto;padding:0 1em;color:#1d2329}
h1{font-size:1.4em}h2{font-size:1.15em;margin-top:1.6em}pre{background:#f4f5f7;padding:.6em;white-space:pre-wrap;
overflow-wrap:anywhere}.passed{color:#17723a}.failed{color:#b3261e}code{background:#f4f5f7;padding:0 .2em}
table{border-collapse:collapse}td,th{border-bottom:1px solid #ddd;padding:.25em .6em;text-align:left;vertical-align:top}"""
CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"


def escape_html(text: object) -> str:
    """Any text, a submission's included, as inert HTML."""
    return html.escape(clean(text))


def page(title: str, body: str, style: str = STYLE) -> str:
    """A self-contained page: inline style, nothing fetched, no script allowed to run."""
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<meta http-equiv=\"Content-Security-Policy\" content=\"{CSP}\">"
            "<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">"
            f"<title>{escape_html(title)}</title><style>{style}</style></head>\n<body>\n{body}\n</body></html>\n")


def html_page(r: Result, title: str, reveal: bool = False) -> str:
    e = escape_html
    top = summary(r, reveal)
    body = [f"<h1>Feedback: {e(title)}</h1>",
            f"<p>Submission <code>{e(rid(r))}</code>" + (f" — {e(students_text(r))}" if r.students else "") + "</p>",
            f"<p><strong>Score: {e(score_line(r, reveal))}</strong></p>",
            f"<h2>{'What went wrong' if r.verdict != 'pass' else 'Result'}</h2><pre>{e(top)}</pre>"]
    for heading, rows in matched_bugs(r):
        body.append(f"<h3>{e(heading)}</h3><table>" + "".join(
            f"<tr><th>{what}</th><td><code>{e(text)}</code></td></tr>" for what, text in rows) + "</table>")
    body.append("<h2>Checks</h2><table><tr><th>check</th><th>points</th><th>output</th></tr>")
    for c in shown_checks(r, reveal):
        cls = "passed" if c.passed else "failed"
        body.append(f"<tr><td class=\"{cls}\">{MARKS[c.passed]} {e(c.name)}</td><td>{c.score:g} / {c.max_score:g}</td>"
                    f"<td><pre>{e(check_output(c, r, top, reveal))}</pre></td></tr>")
    hidden = unshown_checks(r, reveal)
    if hidden:
        body.append(f"<tr><td>{len(hidden)} hidden check(s)</td><td>– / {sum(c.max_score for c in hidden):g}</td>"
                    "<td>results are shown after the due date</td></tr>")
    body.append("</table>")
    return page(f"Feedback: {title}", "\n".join(body))


def file_name(r: Result, ext: str) -> str:
    """The name of ``r``'s feedback file: unique in the batch, as its id is."""
    return f"{file_stem(rid(r))}.{ext}"


def write(results: Sequence[Result], out_dir: Path, title: str, reveal: bool = False) -> None:
    """One ``.md`` and one ``.html`` per submission in ``out_dir``."""
    for r in results:
        write_atomic(out_dir / file_name(r, "md"), markdown(r, title, reveal))
        write_atomic(out_dir / file_name(r, "html"), html_page(r, title, reveal))
