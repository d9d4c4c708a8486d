"""Code fingerprints: what a submission's main file is once names, literals, comments and order are set aside.

Computed at intake, while the source is at hand, and kept in the ``Result`` (grader/similarity.py groups them at
report time).  The main file is parsed, never run.  Each top-level statement (a function, a class, anything else)
becomes a stream of tokens: node kinds, with every name the student chose replaced by its order of first appearance
in that statement (``v0``, ``v1``, ...; for the k-grams and the lines, by one token ``V``, so an added line shifts
nothing after it), every literal by ``C``, docstrings dropped (comments are gone with the parse).  numpy's own
names (``dot``, ``T``, ``sum``) stay as they are, so two different formulas stay different.

Two fingerprints come out of the streams:

- ``code``: a hash of the sorted statement hashes, the same for two files equal up to renaming, literals, comments
  and the order of definitions;
- ``prints``: the winnowed k-gram hashes (Schleimer, Wilkerson and Aiken's winnowing, as MOSS uses it) of every
  statement's stream, whose overlap measures how much code two files share when they are not equal.

``lines`` keep, per simple statement, its normalised hash and its first source line (clipped), so the class report
can show the lines two submissions share side by side; nothing else of the source is kept.
"""

from __future__ import annotations

import ast
import hashlib
import warnings
import zlib
from dataclasses import dataclass, field
from typing import Iterator, Optional

import numpy as np

#: Tokens per k-gram, and the window winnowing picks one hash from: a shared run of K + WINDOW - 1 tokens (a few
#: statements) is always found; runs shorter than K never are (common idioms such as ``a = np.dot(W, x)``).
K, WINDOW = 12, 8
#: The longest source line kept for display.
LINE_CHARS = 160
#: numpy's own names: kept verbatim, as they carry the formula (``dot`` is not ``outer``).
_LIBRARY = frozenset(dir(np)) | frozenset(dir(np.ndarray))


@dataclass
class Fingerprint:
    code: str = ""  # hash of the normalised file (equal up to names, literals, comments, order)
    prints: list[int] = field(default_factory=list)  # winnowed k-gram hashes, sorted
    lines: list[list] = field(default_factory=list)  # [statement hash, line number, first source line]

    def as_dict(self) -> dict:
        return {"code": self.code, "prints": self.prints, "lines": self.lines}


# --- normalising -----------------------------------------------------------------------------------------


class _Names:
    """The student's names in one top-level statement: numbered by first appearance, or (``numbered`` False) all
    one token, as the k-grams use them, so a line added in the middle renumbers nothing after it."""

    def __init__(self, numbered: bool = True) -> None:
        self.seen: dict[str, str] = {}
        self.numbered = numbered

    def __call__(self, name: str) -> str:
        if name in _LIBRARY:
            return name
        return self.seen.setdefault(name, f"v{len(self.seen)}") if self.numbered else "V"


def _is_docstring(node: ast.AST) -> bool:
    return isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str)


def tokens(node: ast.AST, names: _Names) -> Iterator[str]:
    """The statement's tokens in source order: node kinds, normalised names, ``C`` for literals."""
    if _is_docstring(node):
        return
    kind = type(node).__name__
    if isinstance(node, ast.Constant):
        yield "C"
        return
    yield kind
    yield from _own_names(node, names)
    for child in ast.iter_child_nodes(node):
        if not isinstance(child, ast.expr_context):
            yield from tokens(child, names)


def _own_names(node: ast.AST, names: _Names) -> Iterator[str]:
    for attr in ("id", "arg", "name", "attr", "module", "asname"):
        value = getattr(node, attr, None)
        if isinstance(value, str):
            yield names(value)


def _hash(text: str) -> int:
    """A hash that is the same in every process (Python's own ``hash`` of a str is salted per run)."""
    return zlib.crc32(text.encode("utf-8"))


# --- winnowing -------------------------------------------------------------------------------------------


def winnow(stream: list[str], k: int = K, window: int = WINDOW) -> set[int]:
    """The minimum hash of every window of ``window`` consecutive k-gram hashes (the rightmost on ties)."""
    grams = [_hash(" ".join(stream[i:i + k])) for i in range(max(len(stream) - k + 1, 1))] if stream else []
    if len(grams) <= window:
        return {min(grams)} if grams else set()
    picked = set()
    for i in range(len(grams) - window + 1):
        chunk = grams[i:i + window]
        picked.add(min(chunk))
    return picked


# --- one file --------------------------------------------------------------------------------------------


_BODIES = ("body", "orelse", "finalbody", "handlers", "cases")


def _statement_lines(unit: ast.stmt, names: _Names, source: list[str]) -> list[list]:
    """Each simple statement inside ``unit`` (and each compound statement's header): [hash, line, text]."""
    out = []
    for node in ast.walk(unit):
        if not isinstance(node, ast.stmt) or _is_docstring(node):
            continue
        head = [c for f, v in ast.iter_fields(node) if f not in _BODIES
                for c in (v if isinstance(v, list) else [v]) if isinstance(c, ast.AST)]
        head_tokens = [type(node).__name__, *_own_names(node, names), *[t for c in head for t in tokens(c, names)]]
        text = source[node.lineno - 1].strip()[:LINE_CHARS] if node.lineno <= len(source) else ""
        out.append([_hash(" ".join(head_tokens)), node.lineno, text])
    return sorted(out, key=lambda row: row[1])


def fingerprint(source: bytes) -> Optional[Fingerprint]:
    """The file's fingerprints, or None when it does not parse (a syntax error has nothing to compare)."""
    text = source.decode("utf-8", "replace")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # invalid escapes in the student's strings are not ours to report
            tree = ast.parse(text)
    except (SyntaxError, ValueError, RecursionError):
        return None
    lines_of = text.splitlines()
    units, prints, lines = [], set(), []
    for unit in tree.body:
        if _is_docstring(unit):
            continue
        try:
            units.append(" ".join(tokens(unit, _Names())))
            stream = list(tokens(unit, _Names(numbered=False)))
        except RecursionError:  # a pathologically nested expression: left out rather than crash the grader
            continue
        prints |= winnow(stream)
        lines += _statement_lines(unit, _Names(numbered=False), lines_of)
    code = hashlib.sha256("\n".join(sorted(units)).encode("utf-8")).hexdigest()[:20] if units else ""
    return Fingerprint(code, sorted(prints), lines)
