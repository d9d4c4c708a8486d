"""The one way the grading tests check a result: its verdict, the words of its message, and a score to match.

A catalog entry's id in quotes ("'reg-half'") is the instructor's word: it is looked for in the result's
diagnosis (``Result.diagnoses``), and it must not reach the student's message (issue 27)."""

import re

from bpcheck.grader.layers import MISTAKES, DROPOUT_SCALES
from bpcheck.reference.bugs import CATALOG

#: Every id the instructor reads: the reference's catalog and the layer catalog (grader/layers.py).
IDS = [*CATALOG, *(m.slug for m in DROPOUT_SCALES), *(m.slug for ms in MISTAKES.values() for m in ms)]


def slugs_in(text: str) -> list[str]:
    """The catalog ids a text names: the instructor's words, never the student's."""
    return [b for b in IDS if re.search(rf"(?<![\w-]){re.escape(b)}(?![\w-])", text)]


def assert_said(r, words: str) -> None:
    """``words`` in the student's message, or, for a catalog id in quotes, in the instructor's diagnosis."""
    slug = re.fullmatch(r"'([a-z0-9-]+)'", words)
    if slug and slug[1] in IDS:
        named = [n for d in r.diagnoses for n in [*d.get("matches", []), *d.get("named", [])]]
        assert any(n.split(" (")[0] == slug[1] for n in named), (slug[1], named, r.message)
    else:
        assert words in r.message, r.message
    assert not slugs_in(r.message), r.message


def assert_graded(r, verdict: str, words: str) -> None:
    assert r.verdict == verdict, (r.message, [(c.name, c.output[:300]) for c in r.checks if not c.passed])
    assert_said(r, words)
    if verdict == "pass":
        assert r.score == r.max_score > 0
    else:
        assert r.score < r.max_score
