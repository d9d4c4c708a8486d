"""The class report: one self-contained HTML page (inline CSS and SVG, nothing fetched, no script).

Plots are drawn by matplotlib straight to SVG (no pyplot state, text as paths, so no font is fetched
and the bytes do not depend on the date).  Sections: score histogram; how many students made each
catalog mistake, with the catalog's wrong and right formulas beside each bar; pass rate per check and
per probe; conventions detected; identical submissions; the slowest and the failed-to-run submissions;
every student, linked to their feedback.
"""

from __future__ import annotations

import html
import io
import os
import statistics
from collections import Counter
from typing import Optional, Sequence

from bpcheck.reference.bugs import CATALOG

from . import feedback
from .feedback import escape_html as _e
from .results import Result
from .report import clean, convention_only, diagnosis, identical_groups, rid, students_text
from .similarity import groups as similarity_groups

COLOURS = {"pass": "#2e7d4f", "fail": "#d08c1a", "error": "#b3261e", "bar": "#3a6ea5"}


def _label(text: str) -> str:
    """Plain text for matplotlib: a $ would start mathtext."""
    return clean(text).replace("$", r"\$")


def _svg(fig, salt: str) -> str:
    import matplotlib

    buf = io.StringIO()
    with matplotlib.rc_context({"svg.hashsalt": f"bpcheck-{salt}", "svg.fonttype": "path"}):
        fig.savefig(buf, format="svg", bbox_inches="tight", metadata={"Date": None, "Creator": None})
    svg = buf.getvalue()
    return svg[svg.index("<svg"):]


def _figure(width: float, height: float):
    try:
        from matplotlib.backends.backend_svg import FigureCanvasSVG
        from matplotlib.figure import Figure
    except ImportError:
        raise ImportError("the class report's plots need matplotlib: pip install 'bpcheck[report]'") from None

    fig = Figure(figsize=(width, height))
    FigureCanvasSVG(fig)
    ax = fig.add_subplot()
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    return fig, ax


def score_histogram(results: Sequence[Result]) -> str:
    fig, ax = _figure(7.0, 2.6)
    top = max((r.max_score for r in results), default=1.0) or 1.0
    bins = [top * i / 10 for i in range(11)]
    ax.hist([[r.score for r in results if r.verdict == v] for v in ("pass", "fail", "error")], bins=bins, stacked=True,
            color=[COLOURS[v] for v in ("pass", "fail", "error")], label=["pass", "fail", "error"], edgecolor="white")
    ax.set_xlabel(f"score (out of {top:g})")
    ax.set_ylabel("submissions")
    ax.yaxis.get_major_locator().set_params(integer=True)
    ax.legend(frameon=False, fontsize=8)
    return _svg(fig, "scores")


def mistake_counts(results: Sequence[Result]) -> list[tuple[str, int]]:
    """Catalog entries with how many submissions match them, most frequent first."""
    counts = Counter(b for r in results if r.verdict != "pass" and r.diagnoses for b in r.diagnoses[0].get("matches", []))
    return sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))


def mistakes_chart(counts: list[tuple[str, int]]) -> str:
    fig, ax = _figure(6.0, 0.45 * len(counts) + 0.6)
    ids = [k for k, _ in counts][::-1]
    values = [v for _, v in counts][::-1]
    ax.barh(range(len(ids)), values, color=COLOURS["bar"], height=0.6)
    ax.set_yticks(range(len(ids)), [_label(f"{i} (#{CATALOG[i].number})" if i in CATALOG else i) for i in ids])
    ax.set_xlabel("submissions")
    ax.xaxis.get_major_locator().set_params(integer=True)
    ax.set_xlim(0, max(values) * 1.05 + 0.5)
    for y, i in enumerate(ids):
        if i in CATALOG:
            b = CATALOG[i]
            ax.annotate(_label(f"wrong: {b.wrong}    right: {b.right}"), xy=(1.0, y), xycoords=("axes fraction", "data"),
                        xytext=(12, 0), textcoords="offset points", va="center", fontsize=8.5)
    return _svg(fig, "mistakes")


def pass_rates(results: Sequence[Result]) -> tuple[list[tuple[str, float, bool]], list[tuple[str, float, bool]]]:
    """(per check kind, per probe): (label, fraction of submissions passing, hidden)."""
    per_check: dict[str, list[bool]] = {}
    per_probe: dict[str, list[bool]] = {}
    hidden: set[str] = set()
    for r in results:
        grads = [c for c in r.checks if c.name.startswith("gradient: ")]
        if grads:
            per_check.setdefault("gradient, every probe", []).append(all(c.passed for c in grads))
        for c in r.checks:
            if c.hidden:
                hidden.add(c.name)
            if c.name.startswith("gradient: "):
                per_probe.setdefault(c.name.removeprefix("gradient: "), []).append(c.passed)
            else:
                per_check.setdefault(c.name, []).append(c.passed)
    rate = lambda v: sum(v) / len(v)  # noqa: E731
    return ([(k, rate(v), k in hidden) for k, v in per_check.items()],
            [(k, rate(v), f"gradient: {k}" in hidden) for k, v in per_probe.items()])


def rate_chart(rows: list[tuple[str, float, bool]], salt: str) -> str:
    fig, ax = _figure(6.0, 0.4 * len(rows) + 0.7)
    labels = [_label(k + (" (hidden)" if h else "")) for k, _, h in rows][::-1]
    values = [100 * v for _, v, _ in rows][::-1]
    ax.barh(range(len(rows)), values, color=COLOURS["bar"], height=0.6)
    ax.set_yticks(range(len(rows)), labels)
    ax.set_xlim(0, 100)
    ax.set_xlabel("% of submissions passing")
    for y, v in enumerate(values):
        ax.text(min(v + 1.5, 92), y, f"{v:.0f} %", va="center", fontsize=8)
    return _svg(fig, salt)


def conventions(results: Sequence[Result]) -> list[tuple[str, int, int]]:
    """(convention, submissions showing it, of which accepted)."""
    seen: Counter = Counter()
    accepted: Counter = Counter()
    for r in results:
        if not r.diagnoses:
            continue
        d = r.diagnoses[0]
        labels = {CATALOG[b].convention for b in d.get("matches", []) if b in CATALOG and CATALOG[b].convention}
        labels |= {str(v) for v in (d.get("conventions") or {}).values()}
        for c in r.checks:
            if c.output.startswith("accepted: differs only by a convention: "):
                labels.add(c.output.removeprefix("accepted: differs only by a convention: ").split(" (")[0])
        for label in labels:
            seen[label] += 1
            accepted[label] += r.verdict == "pass"
    return [(k, seen[k], accepted[k]) for k in sorted(seen, key=lambda k: (-seen[k], k))]


def _table(head: Sequence[str], rows: list[list[str]], cls: str = "") -> str:
    out = [f"<table class=\"{cls}\"><thead><tr>" + "".join(f"<th>{h}</th>" for h in head) + "</tr></thead><tbody>"]
    out += ["<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows]
    return "\n".join(out) + "</tbody></table>"


STYLE = """body{font:14px/1.45 system-ui,sans-serif;margin:1.5em auto;max-width:78em;padding:0 1.2em;color:#1d2329}
h1{font-size:1.5em;margin-bottom:.2em}h2{font-size:1.15em;margin-top:2em;border-bottom:1px solid #d5d9de}
.lead{color:#4a525a}.stats span{display:inline-block;margin-right:1.6em}.stats b{font-size:1.3em}
table{border-collapse:collapse;margin:.6em 0}td,th{border-bottom:1px solid #e2e5e9;padding:.3em .7em;text-align:left;
vertical-align:top}th{background:#f4f5f7}td.num{text-align:right}.pass{color:#2e7d4f}.fail{color:#a86a00}
.error{color:#b3261e}code{font-size:.92em}svg{max-width:100%;height:auto}.wide td:last-child{max-width:40em;
overflow-wrap:anywhere}.note{color:#4a525a;font-size:.92em}"""


def page(results: Sequence[Result], title: str, assignment: str, feedback_dir: Optional[str] = None,
         reproducible: bool = False) -> str:
    """The class report as one HTML document; ``feedback_dir``: where the feedback files are, relative to the page."""
    n = len(results)
    counts = Counter(r.verdict for r in results)
    scores = [r.score for r in results]
    top = max((r.max_score for r in results), default=0.0)
    body = [f"<h1>{_e(title)}</h1>",
            f"<p class=\"lead\">bpcheck class report for assignment <code>{_e(assignment)}</code>: {n} submissions.</p>",
            "<p class=\"stats\">" + "".join(f"<span class=\"{v}\"><b>{counts.get(v, 0)}</b> {v}</span>"
                                          for v in ("pass", "fail", "error"))
            + (f"<span><b>{statistics.mean(scores):.1f}</b> mean score</span>"
               f"<span><b>{statistics.median(scores):g}</b> median</span><span>out of {top:g}</span>" if scores else "")
            + "</p>"]
    if not results:
        return feedback.page(title, "\n".join(body + ["<p>No submissions.</p>"]), STYLE)
    body += ["<h2>Scores</h2>", score_histogram(results), *_mistakes_section(results)]
    per_check, per_probe = pass_rates(results)
    body += ["<h2>Pass rate per check</h2>", rate_chart(per_check, "checks"),
             "<h2>Pass rate per probe</h2>", "<p class=\"note\">The gradient check on each probe network.</p>",
             rate_chart(per_probe, "probes")]
    body += [*_conventions_section(results), *_identical_section(results), *_similar_section(results), *_slowest_section(results, reproducible)]
    body.append("<h2>Failed to run</h2>")
    errors = [r for r in results if r.verdict == "error"]
    body.append(_table(["submission", "student", "why"], [[f"<code>{_e(rid(r))}</code>", _e(students_text(r)), _e(r.message[:400])]
                                                          for r in errors], "wide") if errors else
                "<p>Every submission ran.</p>")
    body += ["<h2>Students</h2>", _students_table(results, feedback_dir)]
    return feedback.page(title, "\n".join(body), STYLE)


def _mistakes_section(results: Sequence[Result]) -> list[str]:
    mistakes = mistake_counts(results)
    if not mistakes:
        return ["<h2>Catalog mistakes</h2>", "<p>No submission matched a catalog mistake.</p>"]
    return ["<h2>Catalog mistakes</h2>",
            "<p class=\"note\">How many submissions each known mistake explains, with the catalog's wrong formula "
            "beside the right one (<code>bpcheck bugs</code> lists them all).</p>", mistakes_chart(mistakes),
            _table(["entry", "mistake", "submissions", "wrong", "right"],
                   [[f"{CATALOG[i].number} <code>{_e(i)}</code>" if i in CATALOG else _e(i),
                     _e(CATALOG[i].title) if i in CATALOG else "", f"{k}",
                     f"<code>{_e(CATALOG[i].wrong)}</code>" if i in CATALOG else "",
                     f"<code>{_e(CATALOG[i].right)}</code>" if i in CATALOG else ""] for i, k in mistakes])]


def _conventions_section(results: Sequence[Result]) -> list[str]:
    conv = conventions(results)
    out = ["<h2>Conventions detected</h2>",
           _table(["convention", "submissions", "accepted"], [[_e(k), f"{s}", f"{a}"] for k, s, a in conv])
           if conv else "<p>No submission differs from the reference by a convention only.</p>"]
    penalised = sum(1 for r in results if convention_only(r))
    if penalised:
        out.append(f"<p class=\"note\">{penalised} submission(s) lost points for a convention alone; "
                   "<code>penalise_conventions = false</code> under <code>[grading]</code> accepts such slips.</p>")
    return out


def _identical_section(results: Sequence[Result]) -> list[str]:
    groups = identical_groups(results)
    return ["<h2>Identical submissions</h2>",
            _table(["files identical in", "submissions"], [[f"{len(g)}", ", ".join(f"<code>{_e(rid(r))}</code>" for r in g)]
                                                           for g in groups]) if groups else
            "<p>No two submissions have identical files.</p>"]


def _similar_section(results: Sequence[Result]) -> list[str]:
    groups = similarity_groups(results)
    out = ["<h2>Similar submissions</h2>",
           "<p class=\"note\">Code equal once names, literals, comments and order are set aside, or sharing most of it; "
           "failing submissions with bit-identical gradients and the same diagnosis. Each group shows the lines its "
           "members share, side by side (docs/reports.md). A group is a reason to look, not a verdict.</p>"]
    if not groups:
        return out + ["<p>No two submissions are similar.</p>"]
    for g in groups:
        out.append(f"<h3>{len(g.members)} submissions: {_e(g.why)}</h3>")
        shown = g.members[:len(g.rows[0])] if g.rows else []
        if g.rows:
            out.append(_table([f"<code>{_e(rid(r))}</code>" for r in shown],
                              [[f"<code>{_e(cell)}</code>" for cell in row] for row in g.rows], "shared"))
        rest = g.members[len(shown):]
        if rest:
            out.append("<p>" + ("Also: " if shown else "No shared line kept: ")
                       + ", ".join(f"<code>{_e(rid(r))}</code>" for r in rest) + "</p>")
    return out


def _slowest_section(results: Sequence[Result], reproducible: bool) -> list[str]:
    if reproducible:
        return ["<h2>Slowest submissions</h2>", "<p class=\"note\">Times are left out of reproducible reports (--reproducible).</p>"]
    slow = sorted(results, key=lambda r: -r.seconds)[:10]
    return ["<h2>Slowest submissions</h2>",
            _table(["submission", "seconds", "verdict"],
                   [[f"<code>{_e(rid(r))}</code>", f"{r.seconds:.2f}", f"<span class=\"{r.verdict}\">{r.verdict}</span>"]
                    for r in slow])]


def _students_table(results: Sequence[Result], feedback_dir: Optional[str]) -> str:
    rows = []
    for r in results:
        sid = f"<code>{_e(rid(r))}</code>"
        if feedback_dir is not None:
            href = html.escape(os.path.join(feedback_dir, feedback.file_name(r, "html")).replace(os.sep, "/"), quote=True)
            sid = f"<a href=\"{href}\">{sid}</a>"
        rows.append([sid, _e(students_text(r)), f"<span class=\"{r.verdict}\">{r.verdict}</span>",
                     f"{r.score:g} / {r.max_score:g}", _e(diagnosis(r)[:300])])
    return _table(["submission", "student", "verdict", "score", "what went wrong"], rows, "wide")
