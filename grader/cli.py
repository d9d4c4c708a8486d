"""The ``bpcheck`` command."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Optional, Sequence

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

import oracles


def _verify(args: argparse.Namespace) -> int:
    from .verify import verify

    console = Console(stderr=args.format == "json")
    with Progress(TextColumn("verifying"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=console, transient=True) as progress:
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
    from reference.bugs import BUGS, LOOKALIKES

    entries = list(BUGS) + (list(LOOKALIKES) if args.lookalikes else [])
    if args.format == "json":
        print(json.dumps([b.as_dict() for b in entries], indent=2, ensure_ascii=False))
        return 0
    table = Table(title="bpcheck bug catalog" + (" (with correct look-alikes)" if args.lookalikes else ""), show_lines=True)
    for col in ("#", "id", "title", "wrong", "right", "source"):
        table.add_column(col, overflow="fold")
    for b in entries:
        table.add_row(str(b.number) if not b.correct else "ok", b.id, b.title, b.wrong, b.right, b.source)
    Console(width=max(Console().width, 160)).print(table)
    return 0


def _kill_matrix(args: argparse.Namespace) -> int:
    from reference.bugs import BUGS

    from .kill_matrix import FAMILIES, matrix

    console = Console(stderr=True)
    with Progress(TextColumn("kill matrix"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=console, transient=True) as progress:
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


def _grade(args: argparse.Namespace) -> int:
    from pathlib import Path

    from rich.panel import Panel

    from .assignment import load
    from .grade import Grader, grade_batch

    err = Console(stderr=True)
    try:
        assignment = load(args.assignment)
    except ValueError as exc:
        err.print(f"[red]bpcheck grade: {exc}[/]")
        return 2
    paths = [Path(p) for p in args.submissions]
    missing = [str(p) for p in paths if not p.exists()]
    if missing:
        err.print(f"[red]bpcheck grade: submission(s) not found: {', '.join(missing)}[/]")
        return 2
    if args.format == "gradescope" and len(paths) > 1 and not (args.out and Path(args.out).is_dir()):
        err.print("[red]bpcheck grade: --format gradescope writes one results.json per submission: "
                  "give one submission, or --out an existing directory[/]")
        return 2
    grader = Grader(assignment)
    if not grader.use_sandbox:
        err.print(Panel(grader.sandbox_message, title="WARNING: NO SANDBOX", style="bold red"))
    state = Path(args.state or f"bpcheck-state/{assignment.name}")
    reused = 0
    with Progress(TextColumn("grading"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), TextColumn("{task.description}"),
                  console=err, transient=True) as progress:
        task = progress.add_task("", total=len(paths))

        def done(result, from_state):
            nonlocal reused
            reused += from_state
            progress.update(task, advance=1, description=f"{Path(result.submission).name}: {result.verdict}")

        results = grade_batch(grader, paths, args.jobs, state, on_result=done)
    err.print(f"results saved in {state}/ ({reused} reused from an earlier run)" if reused else f"results saved in {state}/")

    def emit(text: str, target=None) -> None:
        target = target or args.out
        if target:
            Path(target).write_text(text)
        else:
            sys.stdout.write(text if text.endswith("\n") else text + "\n")

    try:
        _report(args, assignment, results, emit)
    except OSError as exc:
        err.print(f"[red]bpcheck grade: could not write the report ({exc}); every result is still saved in {state}/ "
                  "and a rerun with a writable --out reuses them without regrading[/]")
        return 2
    return 0


def _report(args: argparse.Namespace, assignment, results, emit) -> None:
    from pathlib import Path

    from . import report

    if args.format == "table":
        report.table(results, f"{assignment.title} ({assignment.name})", Console())
        if args.out:
            emit(report.as_json(results))
    elif args.format == "json":
        emit(report.as_json(results))
    elif args.format == "csv":
        emit(report.gradebook_csv(results))
    elif args.format == "junit":
        emit(report.junit(results, assignment.name))
    elif args.format == "gradescope":
        if len(results) == 1 and not (args.out and Path(args.out).is_dir()):
            emit(json.dumps(report.gradescope(results[0]), indent=2, ensure_ascii=False))
        else:
            for r in results:
                emit(json.dumps(report.gradescope(r), indent=2, ensure_ascii=False), Path(args.out) / f"{Path(r.submission).stem}.results.json")


def _autograder(args: argparse.Namespace) -> int:
    from pathlib import Path

    from .assignment import load
    from .gradescope import build_zip

    try:
        assignment = load(args.assignment)
    except ValueError as exc:
        Console(stderr=True).print(f"[red]bpcheck autograder: {exc}[/]")
        return 2
    out = Path(args.out or f"autograder-{assignment.name}.zip")
    build_zip(assignment, args.assignment, out)
    print(f"wrote {out}: upload it as the Gradescope autograder (setup.sh + run_autograder)")
    return 0


def _golden(args: argparse.Namespace) -> int:
    from oracles.exact import unavailable
    from reference.golden import builders, export, text

    if unavailable():
        Console(stderr=True).print(f"bpcheck golden needs the exact oracle: {unavailable()}", markup=False)
        return 2
    err = Console(stderr=True)
    with Progress(TextColumn("exact values"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.description}"),
                  TimeElapsedColumn(), console=err, transient=True, disable=not err.is_terminal) as progress:
        names = [name for name, _ in builders()]
        task = progress.add_task(names[0], total=len(names))

        def done(name: str) -> None:
            k = names.index(name) + 1
            progress.update(task, advance=1, description=names[k] if k < len(names) else "")

        content = text(export(on_entry=done))
    if args.out:
        with open(args.out, "w", encoding="utf-8") as fh:
            fh.write(content)
        err.print(f"wrote {args.out}", markup=False)
    else:
        sys.stdout.write(content)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="bpcheck", description="Reference backpropagation, gradient oracles and a grader.")
    sub = parser.add_subparsers(dest="command", required=True)

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

    g = sub.add_parser("grade", help="grade students' backprop submissions against an assignment contract")
    g.add_argument("submissions", nargs="+", metavar="SUBMISSION", help="a .py file or a folder holding one")
    g.add_argument("--assignment", required=True, metavar="NAME|PATH",
                   help="a bundled assignment (canonical, blog-class, nielsen, cs231n-two-layer, coursera-ex4) or a TOML file")
    g.add_argument("--jobs", type=int, default=1, help="submissions graded in parallel (default 1)")
    g.add_argument("--format", choices=["table", "json", "gradescope", "junit", "csv"], default="table")
    g.add_argument("--out", metavar="PATH", help="write the report here instead of standard output")
    g.add_argument("--state", metavar="DIR", help="where each result is saved as it finishes, for resuming "
                   "(default bpcheck-state/ASSIGNMENT)")
    g.set_defaults(func=_grade)

    gd = sub.add_parser("golden", help="export the golden data set (JSON, with provenance and published digits)")
    gd.add_argument("--out", metavar="PATH", help="write here instead of standard output")
    gd.set_defaults(func=_golden)

    z = sub.add_parser("autograder", help="build a Gradescope autograder zip (setup.sh + run_autograder) for an assignment")
    z.add_argument("--assignment", required=True, metavar="NAME|PATH")
    z.add_argument("--out", metavar="ZIP", help="default autograder-ASSIGNMENT.zip")
    z.set_defaults(func=_autograder)
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "cases", 1) < 1:
        parser.error(f"--cases: expected an integer >= 1, got {args.cases}")
    if getattr(args, "jobs", 1) < 1:
        parser.error(f"--jobs: expected an integer >= 1, got {args.jobs}")
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
