"""The ``bpcheck`` command."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Optional, Sequence

from rich.console import Console
from rich.markup import escape
from rich.panel import Panel
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from bpcheck import oracles


def _bar(label: str, *tail: TextColumn) -> Progress:
    """A transient progress bar on stderr, only when stderr is a terminal: a log gets no bar and no blank line."""
    err = Console(stderr=True, highlight=False)
    err.quiet = not err.is_terminal  # rich 13.0 prints a blank line on stop even when disabled
    return Progress(TextColumn(label), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), *tail, console=err,
                    transient=True, disable=err.quiet)


def _verify(args: argparse.Namespace) -> int:
    from .verify import verify

    console = Console(stderr=args.format == "json")
    with _bar("verifying") as progress:
        task = progress.add_task("cases", total=args.cases)
        versus_exact: dict = {}
        tallies = verify(args.cases, args.seed, args.oracles, on_case=lambda: progress.advance(task),
                         versus_exact=versus_exact)
    if args.format == "json":
        print(json.dumps({"cases": args.cases, "oracles": [t.as_dict() for t in tallies],
                          "versus_exact": [t.as_dict() for t in versus_exact.values()]}, indent=2))
    else:
        table = Table(title=f"reference vs oracles on {args.cases} generated networks (float64)")
        for col in ("oracle", "cases", "max normwise rel. error (whole gradient)", "max elementwise error",
                    "worst error / its bound", "agrees"):
            table.add_column(col, justify="right" if col != "oracle" else "left")
        for t in tallies:
            if t.unavailable:
                table.add_row(t.name, "-", "-", "-", "-", f"[yellow]not run: {t.unavailable}[/]")
                continue
            cases = f"{t.cases}" + (f" ({t.skipped} n/a)" if t.skipped else "")
            agrees = "[green]yes[/]" if t.agrees else "[red]NO[/]"
            table.add_row(t.name, cases, f"{t.max_normwise:.2e}", f"{t.max_abs:.2e}", f"{t.worst_ratio:.3f}", agrees)
        console.print(table)
        console.print("Elementwise bound: 2·D·ε·(|o| + S) plus the oracle's own error estimate (oracles/compare.py); "
                      "finite differences are approximate, so their errors are large where their own bound is.")
        if versus_exact:
            _print_versus_exact(console, args.cases, versus_exact.values())
        for t in [*tallies, *versus_exact.values()]:
            for failure in t.failures[:3]:
                console.print(f"[red]{t.name}[/]: {escape(failure)}")
    ran = [t for t in tallies if not t.unavailable]
    return 0 if ran and all(t.agrees for t in ran) and all(t.within_bound for t in versus_exact.values()) else 1


def _print_versus_exact(console: Console, cases: int, tallies) -> None:
    table = Table(title=f"errors against the exact gradient on {cases} generated networks")
    for col in ("gradient from", "cases", "worst error (ulps)", "worst error / its bound", "median case", "within bound"):
        table.add_column(col, justify="right" if col != "gradient from" else "left")
    for t in tallies:
        within = "[green]yes[/]" if t.within_bound else "[red]NO[/]"
        table.add_row(t.name, str(t.cases), f"{t.max_ulps:.3g}", f"{t.worst_ratio:.3f}", f"{t.median_ratio:.3g}", within)
    console.print(table)
    console.print("Exact: ball arithmetic on the float64 inputs, correctly rounded (oracles/exact.py). ulps of the exact "
                  "value (large where cancellation leaves it small); the bound is the one each source is checked with.")


def _bugs(args: argparse.Namespace) -> int:
    from bpcheck.reference.bugs import BUGS, LOOKALIKES

    entries = list(BUGS) + (list(LOOKALIKES) if args.lookalikes else [])
    if args.format == "json":
        print(json.dumps([b.as_dict() for b in entries], indent=2, ensure_ascii=False))
        return 0
    table = Table(title="bpcheck bug catalog" + (" (with correct look-alikes)" if args.lookalikes else ""), show_lines=True)
    for col in ("#", "id", "title", "wrong", "right", "source"):
        table.add_column(col, overflow="fold")
    for b in entries:
        table.add_row(str(b.number) if not b.correct else "ok", b.id, b.title, b.wrong, b.right, b.source)
    Console().print(table)
    return 0


def _kill_matrix(args: argparse.Namespace) -> int:
    from bpcheck.reference.bugs import BUGS

    from .kill_matrix import FAMILIES, matrix

    with _bar("kill matrix") as progress:
        task = progress.add_task("cells", total=len(BUGS) * len(FAMILIES))
        cells = matrix(on_cell=lambda c: progress.advance(task))
    if args.format == "json":
        print(json.dumps([c.as_dict() for c in cells], indent=2, ensure_ascii=False))
    else:
        print(kill_matrix_markdown(cells, FAMILIES))
    applicable = [c for c in cells if c.detected is not None]
    return 0 if applicable and all(c.detected for c in applicable) else 1


def kill_matrix_markdown(cells, families) -> str:
    """The matrix as a markdown table: one row per bug, a column per oracle family, then the smallest case."""
    rows = {}
    for c in cells:
        rows.setdefault(c.bug, {})[c.oracle] = c
    mark = {True: "caught", False: "**MISSED**", None: "n/a"}
    lines = ["| bug | " + " | ".join(families) + " | smallest failing network (central) |",
             "|---|" + "---|" * len(families) + "---|"]
    for bug, by in rows.items():
        first = by.get("central") or next(iter(by.values()))
        lines.append(f"| {bug} | " + " | ".join(mark[by[f].detected] for f in families) + f" | {first.smallest or first.why} |")
    applicable = [c for c in cells if c.detected is not None]
    caught = sum(1 for c in applicable if c.detected)
    lines.append("")
    lines.append(f"{caught} of {len(applicable)} applicable cells caught ({100 * caught / max(1, len(applicable)):.0f} %); "
                 f"n/a: complex step cannot run on relu networks, the only ones those bugs live in.")
    return "\n".join(lines)


PROGRESS_EVERY = 10  # submissions between progress lines when stderr is not a terminal (logs, CI)


def _say(console: Console, text: str, style: str = "") -> None:
    """Print text that may hold a submission's words: never read as markup, controls escaped."""
    from .grader.report import clean

    console.print(Text(clean(text), style=style), soft_wrap=True)  # a log line: paths never broken


def _grade(args: argparse.Namespace) -> int:
    from .grader.batch import usable_cpus
    from .grader.exports import expand
    from .grader.sandbox import SandboxUnavailable
    from .grader.submission import mentions_entry

    err = Console(stderr=True, highlight=False)
    assignment = _load_assignment(args, err)
    if assignment is None:
        return 2
    if not args.submissions:
        _say(err, "bpcheck grade: give at least one SUBMISSION (a .py file, a folder, a class folder or an export zip)", "red")
        return 2
    forms = [f.requires for f in assignment.contract.forms]
    with expand(args.submissions, assignment.module, single=args.as_is,
                is_submission=lambda p: mentions_entry(p, forms), exports=True if args.exports else None) as batch:
        for note in batch.notes:
            _say(err, f"note: {note}")
        items = _chosen_items(args, batch.items, err)
        if items is None:
            return 2
        grader = _grader(args, assignment, err)
        if grader is None:
            return 2
        if not grader.sandbox.contained:
            err.print(Panel(Text(grader.sandbox_message), title="WARNING: NO SANDBOX", style="bold red"))
        cpus = len(usable_cpus())
        if args.jobs > cpus and len(items) > cpus:  # measured: 4 jobs on 2 CPUs grade 8 % slower
            _say(err, f"note: --jobs {args.jobs} is more than the {cpus} CPUs this grader may use: the jobs take turns "
                      f"on them (--jobs auto is {cpus})")
        state = Path(args.state or f"bpcheck-state/{assignment.name}")
        try:
            results = _grade_with_progress(args, grader, items, state, err)
        except SandboxUnavailable as exc:  # a submission could read what it must not: nothing was run
            _say(err, f"bpcheck grade: {exc}", "red")
            return 2
    if results is None:
        return 130
    return _write_reports(args, assignment.name, _title(assignment.title, assignment.name), results, err, state)


def _chosen_items(args: argparse.Namespace, items: list, err: Console) -> Optional[list]:
    """The items to grade (``--only``), or None after saying why there is nothing gradable."""
    if args.only:
        chosen = [i for i in items if args.only in (i.id, *(s.id for s in i.students))]
        if not chosen:
            _say(err, f"bpcheck grade --only: no submission has the id {args.only!r}; the ids are: "
                      + ", ".join(i.id for i in items[:8]) + (" ..." if len(items) > 8 else ""), "red")
            return None
        items = chosen
    if all(i.path is None for i in items):
        for i in items:
            _say(err, f"bpcheck grade: {i.error}", "red")
        return None
    if _wants_out_folder(args, len(items), "grade", err):
        return None
    return items


def _wants_out_folder(args: argparse.Namespace, n: int, command: str, err: Console) -> bool:
    """Whether --format gradescope or prairielearn was asked for ``n`` > 1 submissions without --out DIR (said)."""
    if args.format in ("gradescope", "prairielearn") and n > 1 and not args.out:
        _say(err, f"bpcheck {command}: --format {args.format} writes one results.json per submission: "
                  f"give --out DIR for these {n} submissions", "red")
        return True
    return False


def _grade_with_progress(args: argparse.Namespace, grader, items: list, state: Path, err: Console) -> Optional[list]:
    """Grade ``items`` with a progress bar (progress lines in a log) and record the batch; None when interrupted."""
    from .grader.batch import grade_items, load_index, save_index
    from .grader.report import clean, identical_groups

    total = sum(1 for i in items if i.path is not None)
    tally = {"pass": 0, "fail": 0, "error": 0, "done": 0, "reused": 0}

    def finished(result, from_state: bool) -> None:
        tally["done"] += 1
        tally["reused"] += from_state
        tally[result.verdict] = tally.get(result.verdict, 0) + 1
        progress.update(task, advance=1, description=escape(clean(f"{result.id}: {result.verdict}")))
        if not err.is_terminal and (tally["done"] % PROGRESS_EVERY == 0 or tally["done"] == total):
            _say(err, f"graded {tally['done']} of {total}: {tally['pass']} pass, {tally['fail']} fail, {tally['error']} error")

    try:
        with _bar("grading", TextColumn("{task.description}")) as progress:
            task = progress.add_task("", total=total)
            results = grade_items(grader, items, args.jobs, state, finished, args.force)
    except KeyboardInterrupt:
        _say(err, f"interrupted: {tally['done']} results saved in {state}/; rerun the same command to resume", "yellow")
        return None
    keep = load_index(state).get("submissions", {}) if args.only else None
    save_index(state, grader.a.name, grader.a.title, results, keep)
    copies = sum(len(g) - 1 for g in identical_groups(results))
    extra = [f"{copies} identical to another submission in this batch, graded once" if copies else "",
             f"{tally['reused']} reused from an earlier run; --force regrades them" if tally["reused"] else ""]
    _say(err, f"results saved in {state}/" + (f" ({'; '.join(e for e in extra if e)})" if any(extra) else ""))
    return results


def _title(title: str, name: str) -> str:
    """The assignment's title, with its name unless the title says it already."""
    return title if name in title else f"{title} ({name})" if title else (name or "bpcheck")


def _write_reports(args: argparse.Namespace, name: str, title: str, results, err: Console, state: Optional[Path] = None) -> int:
    """Every report the options ask for; a report that cannot be written never loses a result."""
    from .grader import feedback, gradescope, html_report, prairielearn, report
    from .grader.report import file_stem, rid

    def emit(text: str, target: Optional[str] = None) -> None:
        if target:
            report.write_atomic(target, text)
        elif getattr(sys.stdout, "buffer", None) is not None:
            sys.stdout.flush()
            sys.stdout.buffer.write(text.encode("utf-8"))
            sys.stdout.buffer.flush()
        else:
            sys.stdout.write(text)

    try:
        if args.format == "table":
            if args.out:
                emit(report.table_text(results, title), args.out)
            else:
                report.table(results, title, Console(highlight=False))
        elif args.format == "json":
            emit(report.as_json(results, args.reproducible, name), args.out)
        elif args.format == "csv":
            emit(report.gradebook_csv(results), args.out)
        elif args.format == "junit":
            emit(report.junit(results, name, args.reproducible), args.out)
        else:
            def one(r) -> str:
                data = (gradescope.results_json(r, args.hidden_visibility, args.reproducible) if args.format == "gradescope"
                        else prairielearn.results_json(r))
                return json.dumps(data, indent=2, ensure_ascii=False) + "\n"

            if len(results) == 1 and not (args.out and Path(args.out).is_dir()):
                emit(one(results[0]), args.out)
            else:
                for r in results:
                    emit(one(r), str(Path(args.out) / f"{file_stem(rid(r))}.results.json"))
        links = None
        if args.feedback:
            feedback.write(results, Path(args.feedback), title, args.reveal_hidden)
            _say(err, f"feedback for {len(results)} submissions in {args.feedback}/ (Markdown and HTML)")
            if args.html:
                links = os.path.relpath(args.feedback, os.path.dirname(os.path.abspath(args.html)) or ".")
        if args.html:
            report.write_atomic(args.html, html_report.page(results, title, name, links, args.reproducible))
            _say(err, f"class report: {args.html}")
    except (OSError, ImportError) as exc:
        saved = f"every result is still saved in {state}/, and a rerun reuses them without regrading" if state else \
            "the results it reads are untouched"
        _say(err, f"bpcheck: could not write a report ({exc}); {saved}", "red")
        return 2
    return 0


def _report(args: argparse.Namespace) -> int:
    """bpcheck report: the reports of a graded batch, from its state folder or a --format json file, without regrading."""
    from .grader import report
    from .grader.batch import load_results

    err = Console(stderr=True, highlight=False)
    source = Path(args.source)
    try:
        if source.is_dir():
            name, title, results = load_results(source)
        else:
            data = json.loads(source.read_bytes().decode("utf-8", errors="replace"))
            results = report.from_json(data)
            name = str(data[0].get("assignment", "")) if data else ""
            title = name
    except (OSError, ValueError) as exc:
        _say(err, f"bpcheck report: cannot read {args.source}: {exc}", "red")
        return 2
    if _wants_out_folder(args, len(results), "report", err):
        return 2
    return _write_reports(args, name, _title(title, name), results, err)


def _load_assignment(args: argparse.Namespace, err: Console):
    """The assignment --assignment names, or None after saying why it cannot be loaded."""
    from .grader.assignment import load

    try:
        return load(args.assignment)
    except ValueError as exc:
        _say(err, f"bpcheck {args.command}: {exc}", "red")
        return None


def _grader(args: argparse.Namespace, assignment, err: Console):
    """A Grader for ``assignment`` in the --sandbox mode, or None after saying why there is none."""
    from .grader.grade import Grader
    from .grader.sandbox import SandboxUnavailable

    try:
        return Grader(assignment, args.sandbox)
    except (SandboxUnavailable, ValueError) as exc:  # ValueError: an unknown mode in $BPCHECK_SANDBOX
        _say(err, f"bpcheck {args.command}: {exc}", "red")
        return None


def _assignment_check(args: argparse.Namespace) -> int:
    """Validate an assignment file, then grade its solution against it: the solution must pass with every point."""
    err = Console(stderr=True, highlight=False)
    args.assignment, args.command = args.file, "assignment check"
    a = _load_assignment(args, err)
    if a is None:
        return 2
    variants = a.contract.variants()
    cases = sum(len(p.layer.cases) for p in a.parts if p.layer)
    print(f"{a.path}: valid. {_title(a.title, a.name)}: {len(a.probes)} probes, "
          + (f"{cases} layer cases, " if cases else "")
          + (f"{len(a.parts)} graded functions ([[part]]), " if a.parts else f"{len(a.contract.forms)} entry form(s), ")
          + f"{len(variants)} accepted combination(s) of conventions")
    for v in variants[1:]:
        print(f"  also accepted: {v.words()}")
    blind = _blind_spots(a) if args.mutants else 0
    solution = Path(args.solution) if args.solution else a.solution
    if solution is None:
        print("no solution to grade: add solution = \"path/to/solution.py\" to the file, or pass --solution")
        return 1 if blind else 0
    grader = _grader(args, a, err)
    if grader is None:
        return 2
    r = grader.grade(solution)
    print(f"solution {solution}: {r.verdict} {r.score:g}/{r.max_score:g}: {r.message}")
    for c in r.checks:
        if not c.passed:
            print(f"  {c.name}: {c.output}")
    return 0 if r.verdict == "pass" and r.score == r.max_score and not blind else 1


def _blind_spots(a) -> int:
    """Print the catalog's bugs and transforms that ``a``'s probes cannot see; return how many."""
    from .grader.blindspots import blind_spots

    spots, applicable = blind_spots(a)
    if not spots:
        print(f"mutants: the probes tell all {applicable} applicable catalog entries and transforms from a right answer")
        return 0
    print(f"mutants: {len(spots)} of {applicable} applicable catalog entries and transforms pass these probes:")
    for s in spots:
        print(f"  {s.words()}")
    return len(spots)


def _autograder(args: argparse.Namespace) -> int:
    from .grader.gradescope import build_zip

    assignment = _load_assignment(args, Console(stderr=True))
    if assignment is None:
        return 2
    out = Path(args.out or f"autograder-{assignment.name}.zip")
    build_zip(assignment, out, args.hidden_visibility)
    print(f"wrote {out}: upload it as the Gradescope autograder (setup.sh + run_autograder); "
          f"hidden checks are shown {args.hidden_visibility.replace('_', ' ')}")
    return 0


def _kit(args: argparse.Namespace) -> int:
    from .grader.assignment import AssignmentError
    from .grader.kit import build

    err = Console(stderr=True, highlight=False)
    try:
        check = build(args.assignment, Path(args.out))
    except (AssignmentError, OSError) as exc:
        _say(err, f"bpcheck kit: {exc}", "red")
        return 2
    print(f"wrote the pre-check kit in {args.out}/: students run `python {check.name} THEIR_FILE.py` with numpy alone "
          "(public probes only; no hidden probe, no solution)")
    return 0


def _prairielearn(args: argparse.Namespace) -> int:
    from .grader.prairielearn import build

    assignment = _load_assignment(args, Console(stderr=True))
    if assignment is None:
        return 2
    out = Path(args.out)
    written = build(assignment, out, args.image)
    print(f"wrote {len(written)} files and bpcheck's source under {out}/: copy questions/ and serverFilesCourse/ into "
          f"your course; the question runs {args.image} (see serverFilesCourse/bpcheck/Dockerfile to build your own)")
    return 0


def _golden(args: argparse.Namespace) -> int:
    from bpcheck.oracles.exact import unavailable
    from bpcheck.golden import builders, export, text

    if unavailable():
        Console(stderr=True).print(f"bpcheck golden needs the exact oracle: {unavailable()}", markup=False)
        return 2
    err = Console(stderr=True)
    with _bar("exact values", TextColumn("{task.description}")) as progress:
        names = [name for name, _ in builders()]
        task = progress.add_task(names[0], total=len(names))

        def done(name: str) -> None:
            k = names.index(name) + 1
            progress.update(task, advance=1, description=names[k] if k < len(names) else "")
            if not err.is_terminal and (k % PROGRESS_EVERY == 0 or k == len(names)):  # a log gets lines, not a bar
                err.print(f"exact values: {k} of {len(names)} entries", markup=False)

        content = text(export(on_entry=done))
    if args.out:
        with open(args.out, "w", encoding="utf-8") as fh:
            fh.write(content)
        _say(err, f"wrote {args.out}")  # a path in a log: never broken across lines
    else:
        sys.stdout.write(content)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="bpcheck", description="Reference backpropagation, gradient oracles and a grader.")
    parser.add_argument("--version", action="version", version=f"bpcheck {version()}")
    sub = parser.add_subparsers(dest="command", required=True)
    _add_reference_commands(sub)
    _add_grading_commands(sub)
    _add_course_commands(sub)
    return parser


def _add_reference_commands(sub: argparse._SubParsersAction) -> None:
    """verify, bugs, kill-matrix: the reference, its catalog and its oracles."""
    v = sub.add_parser("verify", help="check the reference against every installed oracle on generated networks")
    v.add_argument("--cases", type=int, default=50, help="how many networks to generate (default 50)")
    v.add_argument("--seed", type=int, default=0, help="seed of the generator: the same seed draws the same networks (default 0)")
    v.add_argument("--oracles", nargs="+", default=list(oracles.ORACLES), choices=list(oracles.ORACLES), metavar="NAME",
                   help=f"which oracles (default all: {', '.join(oracles.ORACLES)})")
    v.add_argument("--format", choices=["table", "json"], default="table")
    v.set_defaults(func=_verify)

    b = sub.add_parser("bugs", help="list the catalog of known backprop bugs")
    b.add_argument("--format", choices=["table", "json"], default="table")
    b.add_argument("--lookalikes", action="store_true", help="also list the correct look-alikes that must not be flagged")
    b.set_defaults(func=_bugs)

    k = sub.add_parser("kill-matrix", help="search for the smallest network on which each oracle family catches each bug")
    k.add_argument("--format", choices=["markdown", "json"], default="markdown")
    k.set_defaults(func=_kill_matrix)


def _add_grading_commands(sub: argparse._SubParsersAction) -> None:
    """grade and report: a batch of submissions and its reports."""
    g = sub.add_parser("grade", help="grade students' backprop submissions against an assignment contract")
    g.add_argument("submissions", nargs="*", metavar="SUBMISSION",
                   help="a .py file or a folder holding one; a class folder (a sub-folder per student); a Gradescope "
                        "'Export Submissions' zip or an LMS zip of files named by student (expanded when it is the "
                        "one path given, or with --exports)")
    g.add_argument("--assignment", required=True, metavar="NAME|PATH",
                   help="a bundled assignment (canonical, blog-class, nielsen, cs231n-two-layer, coursera-ex4, dls-planar, "
                        "dls-deep) or a TOML file")
    g.add_argument("--jobs", type=_jobs, default=1, metavar="N|auto",
                   help="submissions graded in parallel: N, or auto for one per CPU this process may use (default 1)")
    _sandbox_option(g, "how submissions are contained: auto (default, or $BPCHECK_SANDBOX) is bubblewrap when it starts "
                       "here, else process (needs root: each submission as its own unprivileged uid); none only for code you trust")
    g.add_argument("--state", metavar="DIR", help="where each result is saved as it finishes, for resuming "
                   "(default bpcheck-state/ASSIGNMENT)")
    g.add_argument("--force", action="store_true", help="regrade, ignoring results saved by earlier runs")
    g.add_argument("--as-is", action="store_true", help="each SUBMISSION is one submission, never a class folder or an "
                   "export (what an autograder's submission folder is)")
    g.add_argument("--exports", action="store_true", help="expand every Gradescope export or LMS download among the "
                   "SUBMISSIONs (without it, one is expanded only when it is the one path given: among several paths it "
                   "may be a student's own hand-in)")
    g.add_argument("--only", metavar="ID", help="grade only the submission with this id (or student id); "
                   "the other students' saved results stay in the state folder's index")
    _output_options(g, "table")
    g.set_defaults(func=_grade)

    r = sub.add_parser("report", help="reports of a graded batch (class HTML page, feedback, any format), without regrading")
    r.add_argument("source", metavar="STATE_DIR|RESULTS.json", help="a --state folder of bpcheck grade, or its --format json output")
    _output_options(r, "table")
    r.set_defaults(func=_report)


def _add_course_commands(sub: argparse._SubParsersAction) -> None:
    """golden, assignment check, autograder, prairielearn: what a course or a paper takes away."""
    gd = sub.add_parser("golden", help="export the golden data set (JSON, with provenance and published digits)")
    gd.add_argument("--out", metavar="PATH", help="write here instead of standard output")
    gd.set_defaults(func=_golden)

    asg = sub.add_parser("assignment", help="work with assignment files (docs/assignments.md)")
    asg_sub = asg.add_subparsers(dest="action", required=True)
    chk = asg_sub.add_parser("check", help="validate an assignment TOML and grade its solution against it")
    chk.add_argument("file", metavar="NAME|PATH", help="a bundled assignment or a TOML file")
    chk.add_argument("--solution", metavar="PATH", help="the solution to grade (default: the file's solution = ...)")
    chk.add_argument("--mutants", action="store_true",
                     help="also run every catalog bug and simple transform on the probes; list those they cannot see")
    _sandbox_option(chk, "how the solution is contained (as for bpcheck grade)")
    chk.set_defaults(func=_assignment_check)

    z = sub.add_parser("autograder", help="build a Gradescope autograder zip (setup.sh + run_autograder) for an assignment")
    z.add_argument("--assignment", required=True, metavar="NAME|PATH")
    z.add_argument("--out", metavar="ZIP", help="default autograder-ASSIGNMENT.zip")
    _hidden_visibility(z)
    z.set_defaults(func=_autograder)

    kit = sub.add_parser("kit", help="build a student's pre-check kit: python check.py FILE, numpy only, public probes")
    kit.add_argument("assignment", metavar="NAME|PATH", help="a bundled assignment or a TOML file")
    kit.add_argument("--out", required=True, metavar="DIR", help="a new or empty folder")
    kit.set_defaults(func=_kit)

    pl = sub.add_parser("prairielearn", help="build a PrairieLearn externally graded question for an assignment")
    pl.add_argument("--assignment", required=True, metavar="NAME|PATH")
    pl.add_argument("--out", required=True, metavar="DIR", help="gets questions/bpcheck-NAME/ and serverFilesCourse/bpcheck/")
    pl.add_argument("--image", default="prairielearn/grader-python",
                    help="the grading container image (default prairielearn/grader-python; it needs numpy, rich and hypothesis)")
    pl.set_defaults(func=_prairielearn)


def _jobs(text: str) -> int:
    """--jobs: a count, or auto (one per CPU this process may use)."""
    if text == "auto":
        from .grader.batch import usable_cpus

        return len(usable_cpus())
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1 or auto, got {text!r}") from None


def _sandbox_option(p: argparse.ArgumentParser, help: str) -> None:
    p.add_argument("--sandbox", choices=["auto", "bubblewrap", "process", "none"],
                   default=os.environ.get("BPCHECK_SANDBOX") or "auto", help=help)


def _hidden_visibility(p: argparse.ArgumentParser) -> None:
    p.add_argument("--hidden-visibility", choices=["after_due_date", "after_published"], default="after_due_date",
                   help="when Gradescope shows students the hidden checks and a total that counts them (default after_due_date)")


def _output_options(p: argparse.ArgumentParser, default: str) -> None:
    p.add_argument("--format", choices=["table", "json", "csv", "junit", "gradescope", "prairielearn"], default=default,
                   help="table (terminal), json (everything), csv (gradebook: a row per student), junit, "
                        "gradescope / prairielearn (a results.json per submission)")
    p.add_argument("--out", metavar="PATH", help="write the --format report here (a folder for one results.json per submission)")
    p.add_argument("--html", metavar="FILE", help="also write the class report: one self-contained HTML page")
    p.add_argument("--feedback", metavar="DIR", help="also write each student's feedback, Markdown and HTML, here")
    p.add_argument("--reveal-hidden", action="store_true", help="feedback shows hidden checks too (after the due date)")
    p.add_argument("--reproducible", action="store_true", help="leave out times, so that the same inputs give the same bytes")
    _hidden_visibility(p)


def version() -> str:
    from bpcheck import __version__

    return __version__


def _paths_as_paths(argv: list[str]) -> list[str]:
    """``bpcheck grade *.py`` with a file named ``-rf.py``: an existing path is a submission, never an option."""
    if "grade" not in argv:
        return argv
    at = argv.index("grade") + 1
    return argv[:at] + [f"./{a}" if a.startswith("-") and a not in ("-h", "--help") and os.path.lexists(a) else a
                        for a in argv[at:]]


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = build_parser()
    args = parser.parse_args(_paths_as_paths(list(sys.argv[1:] if argv is None else argv)))
    if getattr(args, "cases", 1) < 1:
        parser.error(f"--cases: expected an integer >= 1, got {args.cases}")
    if getattr(args, "jobs", 1) < 1:
        parser.error(f"--jobs: expected an integer >= 1, got {args.jobs}")
    try:
        return args.func(args)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
