"""Which sandbox the tests grade trusted example files in.

The examples are the project's own code, so a machine without any sandbox (not root, and bubblewrap unable
to start, as under Ubuntu's AppArmor user-namespace restriction) still runs the grading tests, with
``none``.  The hostile suite never does: it skips a mode that cannot run (tests/test_hostile.py).
"""

from functools import lru_cache

from bpcheck.grader import sandbox


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
