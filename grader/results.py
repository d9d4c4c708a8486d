"""What a grading run returns: one ``Check`` per graded item, one ``Result`` per submission.

A result is plain data: saved as JSON in the state folder the moment it is ready, read back by
``bpcheck report`` and by a rerun, and turned into every report format by ``report``, ``feedback``,
``gradescope``, ``prairielearn`` and ``html_report``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields, replace
from typing import Optional


@dataclass
class Check:
    name: str
    score: float
    max_score: float
    passed: bool
    output: str
    hidden: bool = False


@dataclass
class Result:
    submission: str
    verdict: str  # pass | fail | error
    score: float
    max_score: float
    checks: list[Check] = field(default_factory=list)
    diagnoses: list[dict] = field(default_factory=list)
    message: str = ""
    sandbox: str = ""
    seconds: float = 0.0
    key: str = ""
    id: str = ""  # the submission's id in its batch: unique, stable, derived from its path (grader/exports.py)
    students: list[dict] = field(default_factory=list)  # {"id", "name", "email"} from the class's metadata
    notes: list[str] = field(default_factory=list)  # what was read and run: notebook cells, skipped driver code
    convention: str = ""  # the accepted convention the submission was graded under, in words ("" for the assignment's own)
    environment: str = ""  # the fix, when the grading machine (not the student) kept the submission from running
    duplicate_of: str = ""  # the submission in this batch with identical files, whose grading this result copies
    similarity: dict = field(default_factory=dict)  # the main file's fingerprints (grader/fingerprint.py); state only
    gradients: str = ""  # a digest of a failing submission's gradient arrays, bit for bit ("" unless it failed)

    def as_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "Result":
        known = {f.name for f in fields(cls)}
        d = {k: v for k, v in d.items() if k in known}
        d["checks"] = [Check(**c) for c in d.get("checks", [])]
        return cls(**d)


def clip(value: object, limit: int = 1500) -> Optional[str]:
    return str(value)[:limit] if value is not None else None



def credit(verdict: str, checks: list[Check]) -> list[Check]:
    """The one scoring rule beyond each check's own: an ``error`` verdict (not one probe produced
    gradients, so nothing was graded on its merits) earns nothing, whatever the side checks say."""
    if verdict != "error":
        return checks
    return [replace(c, score=0.0, passed=False) for c in checks]
