"""Similarity groups across a class: submissions that share their code, or their exact wrong answer.

Two kinds of group, from what each ``Result`` kept at grading time (grader/fingerprint.py; the source itself is
not read again):

- **code**: the main files are equal once names, literals, comments and the order of definitions are set aside
  (the same ``code`` hash), or share most of their winnowed k-gram hashes: Jaccard ≥ ``SHARED`` over the hashes
  that fewer than ``COMMON`` of the class have (the starter code every student was given, and the idioms every
  solution writes, say nothing about copying);
- **gradients**: failing submissions whose gradient arrays are bit-identical, with the same diagnosis.

Pairs are linked and grouped transitively.  Each group carries the lines its members share, side by side: the
statements of its first member whose normalised hash every other member has, each member's own line beside it.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from itertools import combinations
from typing import Sequence

from .report import diagnosis, rid
from .results import Result

#: The Jaccard similarity of two files' distinctive k-gram hashes at and above which they are grouped: the middle of
#: the gap measured on the generated class (docs/reports.md): independent solutions reached 0.55, disguised copies
#: with a line of their own added never fell below 0.71.
SHARED = 0.63
#: A hash held by more than this share of the class (and by more than two submissions) is common code, not evidence.
COMMON = 0.5
#: Files with fewer statements are never grouped by code: an untouched starter (a def and a raise) is no evidence.
MIN_STATEMENTS = 6
#: The most shared lines a group shows, and the most members it shows them for, side by side.
MAX_ROWS, MAX_COLUMNS = 40, 6


@dataclass
class Group:
    """Submissions grouped by ``kind`` ("code" or "gradients"), why in words, and their shared lines, one column each."""

    kind: str
    why: str
    members: list[Result]
    rows: list[list[str]] = field(default_factory=list)


class _Links:
    """Union-find over submission indices."""

    def __init__(self, n: int):
        self.parent = list(range(n))

    def find(self, i: int) -> int:
        while self.parent[i] != i:
            self.parent[i] = self.parent[self.parent[i]]
            i = self.parent[i]
        return i

    def join(self, i: int, j: int) -> None:
        self.parent[self.find(i)] = self.find(j)

    def groups(self) -> list[list[int]]:
        out: dict[int, list[int]] = defaultdict(list)
        for i in range(len(self.parent)):
            out[self.find(i)].append(i)
        return [g for g in out.values() if len(g) > 1]


# --- code ----------------------------------------------------------------------------------------------


def _distinctive(results: Sequence[Result]) -> list[set[int]]:
    """Each result's k-gram hashes, less those common to the class."""
    prints = [set(r.similarity.get("prints", [])) for r in results]
    held = Counter(h for p in prints for h in p)
    limit = max(2, COMMON * len(results))
    return [{h for h in p if held[h] <= limit} for p in prints]


def jaccard(a: set[int], b: set[int]) -> float:
    return len(a & b) / len(a | b) if a and b else 0.0


def _code_links(results: Sequence[Result]) -> _Links:
    links = _Links(len(results))
    by_code: dict[str, list[int]] = defaultdict(list)
    small = {i for i, r in enumerate(results) if len(r.similarity.get("lines", [])) < MIN_STATEMENTS}
    for i, r in enumerate(results):
        if r.similarity.get("code") and i not in small:
            by_code[r.similarity["code"]].append(i)
    for same in by_code.values():
        for j in same[1:]:
            links.join(same[0], j)
    prints = [set() if i in small else p for i, p in enumerate(_distinctive(results))]
    for i, j in sorted(_candidates(prints)):
        if jaccard(prints[i], prints[j]) >= SHARED:
            links.join(i, j)
    return links


def _candidates(prints: list[set[int]]) -> set[tuple[int, int]]:
    """The pairs that can reach ``SHARED`` (a prefix filter): with the hashes ordered rarest first, two sets whose
    Jaccard is at least t share one of each set's first |A| − ⌈t·|A|⌉ + 1 hashes, so only those are indexed."""
    held = Counter(h for p in prints for h in p)
    holders: dict[int, list[int]] = defaultdict(list)
    for i, p in enumerate(prints):
        ordered = sorted(p, key=lambda h: (held[h], h))
        for h in ordered[:len(p) - math.ceil(SHARED * len(p)) + 1]:
            holders[h].append(i)
    return {pair for group in holders.values() for pair in combinations(group, 2)}


# --- shared lines --------------------------------------------------------------------------------------


def shared_lines(members: Sequence[Result]) -> list[list[str]]:
    """The first member's statements that every other shown member has too (by normalised hash), each member's line
    beside (the first ``MAX_COLUMNS`` members)."""
    columns = [r.similarity.get("lines", []) for r in members[:MAX_COLUMNS]]
    if not all(columns):
        return []
    rows = []
    unused = [Counter(h for h, _, _ in col) for col in columns[1:]]
    for h, line, text in columns[0]:
        if not all(u[h] > 0 for u in unused):
            continue
        row = [f"{line}: {text}"]
        for col, u in zip(columns[1:], unused):
            taken = sum(1 for hh, _, _ in col if hh == h) - u[h]  # the occurrences already shown
            other = [(ln, tx) for hh, ln, tx in col if hh == h][taken]
            row.append(f"{other[0]}: {other[1]}")
            u[h] -= 1
        rows.append(row)
        if len(rows) == MAX_ROWS:
            break
    return rows


# --- the groups ----------------------------------------------------------------------------------------


def groups(results: Sequence[Result]) -> list[Group]:
    """Every similarity group of two or more submissions: code groups first, then gradient groups, in batch order."""
    out = []
    for idx in _code_links(results).groups():
        members = [results[i] for i in idx]
        codes = {m.similarity.get("code") for m in members}
        why = ("the same code once names, literals, comments and order are set aside" if len(codes) == 1
               else f"most of their code in common (≥ {SHARED:.0%} of the distinctive k-grams)")
        out.append(Group("code", why, members, shared_lines(members)))
    by_answer: dict[tuple[str, str], list[Result]] = defaultdict(list)
    for r in results:
        if r.verdict == "fail" and r.gradients:
            by_answer[(r.gradients, diagnosis(r))].append(r)
    for (_, words), members in by_answer.items():
        if len(members) > 1:
            out.append(Group("gradients", f"bit-identical wrong gradients; {words}", members, shared_lines(members)))
    return out


def similar_to(results: Sequence[Result]) -> dict[str, list[str]]:
    """Submission id → the ids of every other submission it shares a group with."""
    out: dict[str, list[str]] = defaultdict(list)
    for g in groups(results):
        for r in g.members:
            out[rid(r)] += [rid(o) for o in g.members if o is not r and rid(o) not in out[rid(r)]]
    return dict(out)
