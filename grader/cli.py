"""The ``bpcheck`` command."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Optional, Sequence

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

import oracles


def _verify(args: argparse.Namespace) -> int:
    from .verify import verify

    console = Console(stderr=args.format == "json")
    with Progress(TextColumn("verifying"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=console, transient=True) as progress:
        task = progress.add_task("cases", total=args.cases)
        tallies = verify(args.cases, args.seed, args.oracles, on_case=lambda: progress.advance(task))
    if args.format == "json":
        print(json.dumps({"cases": args.cases, "oracles": [t.as_dict() for t in tallies]}, indent=2))
    else:
        table = Table(title=f"reference vs oracles on {args.cases} generated networks (float64)")
        for col in ("oracle", "cases", "max normwise rel. error", "max elementwise error", "agrees"):
            table.add_column(col, justify="right" if col != "oracle" else "left")
        for t in tallies:
            if t.unavailable:
                table.add_row(t.name, "-", "-", "-", f"[yellow]not run: {t.unavailable}[/]")
                continue
            cases = f"{t.cases}" + (f" ({t.skipped} n/a)" if t.skipped else "")
            agrees = "[green]yes[/]" if t.agrees else "[red]NO[/]"
            table.add_row(t.name, cases, f"{t.max_normwise:.2e}", f"{t.max_abs:.2e}", agrees)
        console.print(table)
        for t in tallies:
            for failure in t.failures[:3]:
                console.print(f"[red]{t.name}[/]: {failure}")
    ran = [t for t in tallies if not t.unavailable]
    return 0 if ran and all(t.agrees for t in ran) else 1


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
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "cases", 1) < 1:
        parser.error(f"--cases: expected an integer >= 1, got {args.cases}")
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
