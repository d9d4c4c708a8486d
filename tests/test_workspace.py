"""Where runs are laid out (``sandbox.work_root``): a tmpfs when there is one with room, else the temporary folder;
a user's TMPDIR and BPCHECK_TMPFS=0 win."""

from __future__ import annotations

import os
import tempfile

import pytest

from bpcheck.grader import sandbox


@pytest.fixture
def fresh(monkeypatch):
    """work_root decided anew under the test's environment, and again afterwards for the rest of the session."""
    monkeypatch.delenv("TMPDIR", raising=False)
    monkeypatch.delenv("BPCHECK_TMPFS", raising=False)
    decide = sandbox.work_root
    decide.cache_clear()
    yield monkeypatch
    decide.cache_clear()


def _is_tmpfs(path: str) -> bool:
    with open("/proc/self/mounts") as fh:
        return any(line.split()[1:3] == [path, "tmpfs"] for line in fh)


def test_a_tmpfs_with_room_is_used(fresh):
    if not _is_tmpfs(sandbox.TMPFS) or not os.access(sandbox.TMPFS, os.W_OK):
        pytest.skip(f"{sandbox.TMPFS} is no writable tmpfs here")
    st = os.statvfs(sandbox.TMPFS)
    fresh.setattr(sandbox, "TMPFS_MIN_FREE", st.f_bavail * st.f_frsize // 2)
    assert sandbox.work_root() == sandbox.TMPFS


def test_a_tmpfs_without_room_is_not(fresh):
    st = os.statvfs(sandbox.TMPFS) if os.path.isdir(sandbox.TMPFS) else None
    fresh.setattr(sandbox, "TMPFS_MIN_FREE", (st.f_blocks * st.f_frsize if st else 0) + 1)
    assert sandbox.work_root() is None


@pytest.mark.parametrize("variable, value", [("TMPDIR", "/var/tmp"), ("BPCHECK_TMPFS", "0")])
def test_the_users_choice_wins(fresh, variable, value):
    fresh.setattr(sandbox, "TMPFS_MIN_FREE", 0)
    fresh.setenv(variable, value)
    assert sandbox.work_root() is None


def test_a_folder_that_is_no_tmpfs_is_not_used(fresh, tmp_path):
    fresh.setattr(sandbox, "TMPFS", str(tmp_path))  # a folder of the test's temporary file system
    fresh.setattr(sandbox, "TMPFS_MIN_FREE", 0)
    if _is_tmpfs(str(tmp_path)):
        pytest.skip("the test's temporary folder is itself a tmpfs mount point")
    assert sandbox.work_root() is None


def test_workspaces_go_where_work_root_says(fresh, tmp_path):
    """A workspace of a mode without warm bubblewrap is made in work_root's folder, and removed afterwards."""
    fresh.setattr(sandbox, "work_root", lambda: str(tmp_path))
    box = sandbox.Sandbox("none", "test", warm=False)
    with box.workspace() as (folder, _):
        assert folder.parent == tmp_path and folder.is_dir()
    assert not folder.exists()
    assert tempfile.gettempdir() != str(tmp_path)


def test_a_uid_swept_clean_is_claimed_without_a_scan_and_any_other_with_one(tmp_path, monkeypatch):
    """A claim looks at every process for what an earlier holder of the uid left (a grader killed mid-run) unless
    the lock folder says the last holder's sweep found it empty; the mark goes with the claim, so a holder that dies
    before its own sweep leaves none."""
    if os.geteuid() != 0:
        pytest.skip("the uid pool is root's")
    from .sandboxes import one_private_uid

    uid = one_private_uid(monkeypatch, tmp_path / "locks")
    looked = []
    monkeypatch.setattr(sandbox, "_uid_has_processes", lambda u: looked.append(u) or False)
    with sandbox.uid_slot("process"):
        pass  # claimed, never swept (as by a grader killed mid-run)
    with sandbox.uid_slot("process"):
        sandbox.sweep(uid, "process")
    assert looked == [uid, uid]
    with sandbox.uid_slot("process"):  # the last holder's sweep found it empty: no scan
        pass
    with sandbox.uid_slot("process"):  # that claim took the mark, and nothing swept since
        pass
    assert looked == [uid, uid, uid]
