"""Which sandbox the tests grade trusted example files in, and the bundled assignments' graders, built once.

The examples are the project's own code, so a machine without any sandbox (not root, and bubblewrap unable
to start, as under Ubuntu's AppArmor user-namespace restriction) still runs the grading tests, with
``none``.  The hostile suite never does: it skips a mode that cannot run (tests/test_hostile.py).
"""

import copy
from functools import lru_cache
from pathlib import Path

from bpcheck.grader import sandbox
from bpcheck.grader.assignment import load
from bpcheck.grader.grade import Grader
from bpcheck.grader.results import Result

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


@lru_cache(maxsize=1)
def for_trusted_code() -> sandbox.Sandbox:
    try:
        return sandbox.select("auto")
    except sandbox.SandboxUnavailable:
        return sandbox.select("none")


def one_private_uid(monkeypatch, lock_dir) -> int:
    """A uid pool of one, outside the usual range (so never a uid another grader on this machine runs as), locked
    in ``lock_dir`` (so a uid this test retires stays retired only here); its uid."""
    import os

    monkeypatch.setattr(sandbox, "UID_BASE", 64000 + os.getpid() % 900)
    monkeypatch.setattr(sandbox, "UID_COUNT", 1)
    monkeypatch.setenv("BPCHECK_LOCK_DIR", str(lock_dir))
    return sandbox.UID_BASE


def mode_or_skip(mode: str) -> sandbox.Sandbox:
    """The sandbox of ``mode``; the test is skipped, saying why, where that mode cannot run on this machine."""
    import pytest

    try:
        return sandbox.select(mode)
    except sandbox.SandboxUnavailable as exc:
        pytest.skip(str(exc))


@lru_cache(maxsize=None)
def grader_for(name: str) -> Grader:
    """The grader of the bundled assignment ``name``, built once per test session (its expected answers take
    seconds), in the sandbox of ``for_trusted_code``."""
    return Grader(load(name), for_trusted_code())


def graded(name: str, example: Path) -> Result:
    """A bundled example file graded by ``name``'s grader, once per test session (many tests read the same result):
    a copy each caller may change.  Only files under examples/, which no test writes."""
    if EXAMPLES not in Path(example).resolve().parents:
        raise ValueError(f"graded() keeps results of examples/ only; got {example}")
    return copy.deepcopy(_graded(name, str(Path(example).resolve())))


@lru_cache(maxsize=None)
def _graded(name: str, example: str) -> Result:
    return grader_for(name).grade(Path(example))
