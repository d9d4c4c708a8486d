"""Choosing a sandbox, the environment submissions run in, and failures that are the machine's, not the student's."""

from __future__ import annotations

import errno
import json
import os
import sysconfig
import uuid
from pathlib import Path

import pytest

from bpcheck.grader import sandbox
from bpcheck.grader.assignment import load
from bpcheck.cli import main
from bpcheck.grader.batch import grade_batch
from bpcheck.grader.grade import Grader

from .sandboxes import mode_or_skip, one_private_uid

ROOT = Path(__file__).resolve().parents[1]
HOSTILE_TOML = str(ROOT / "tests" / "data" / "hostile.toml")
CORRECT = (ROOT / "examples" / "solutions" / "canonical.py").read_text()



@pytest.mark.parametrize("mode", ["bubblewrap", "process"])
def test_submissions_import_what_is_installed_in_the_graders_environment(mode, tmp_path):
    """A module installed only where bpcheck runs (its venv, when it has one) is importable by a sandboxed submission."""
    chosen = mode_or_skip(mode)
    name = f"bpcheck_env_probe_{uuid.uuid4().hex[:8]}"
    module = Path(sysconfig.get_paths()["purelib"]) / f"{name}.py"
    module.write_text("def one():\n    return 1.0\n")
    os.chmod(module, 0o644)
    try:
        sub = tmp_path / "uses_env.py"
        sub.write_text(f"import {name}\n" + CORRECT.replace("import numpy as np", f"import numpy as np\nassert {name}.one() == 1.0"))
        r = Grader(load(HOSTILE_TOML), chosen).grade(sub)
    finally:
        module.unlink()
    assert r.verdict == "pass", r.message


def test_what_a_submission_leaves_at_exit_counts_against_its_scratch_limit(tmp_path, monkeypatch):
    """Process mode: ~80 MB written to /tmp as the runner exits (between two looks of the watchdog) is measured
    before the sweep removes it, so the run says it broke the limit; and the files are gone afterwards.  (Its
    answers were all written before, so they are still graded.)"""
    chosen = mode_or_skip("process")
    tag = uuid.uuid4().hex[:8]
    sub = tmp_path / "late_fill.py"
    sub.write_text(CORRECT.replace("def backprop(", "def correct_backprop(") + f"""

import atexit


def _fill():
    chunk = b"x" * ((4 << 20) - 4096)  # under the 4 MB file size limit of tests/data/hostile.toml
    for i in range(20):
        with open("/tmp/late_{tag}_%d" % i, "wb") as f:
            f.write(chunk)


def backprop(*args):
    atexit.register(_fill)
    return correct_backprop(*args)
""")
    runs = []
    real_run = sandbox.Sandbox.run
    monkeypatch.setattr(sandbox.Sandbox, "run", lambda self, *a: runs.append(real_run(self, *a)) or runs[-1])
    Grader(load(HOSTILE_TOML), chosen).grade(sub)
    (run,) = runs
    assert run.stopped == "wrote more than 64 MB (the scratch limit)"
    assert not list(Path("/tmp").glob(f"late_{tag}_*"))


def test_no_sandbox_is_refused_with_how_to_get_one(monkeypatch):
    monkeypatch.setattr(sandbox, "bubblewrap_starts", lambda: "bubblewrap is not installed")
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    for mode in ("auto", "process", "bubblewrap"):
        with pytest.raises(sandbox.SandboxUnavailable) as info:
            sandbox.select(mode)
        text = str(info.value)
        assert "apt-get install bubblewrap" in text and "root" in text and "--sandbox none" in text, (mode, text)
    chosen = sandbox.select("none")
    assert not chosen.contained and "NO SANDBOX" in chosen.description


def test_unknown_mode_is_named():
    with pytest.raises(ValueError, match="--sandbox: expected one of auto, bubblewrap, process, none, got 'docker'"):
        sandbox.select("docker")


def test_cli_refuses_without_a_sandbox_and_warns_with_none(monkeypatch, tmp_path, capsys):
    sub = tmp_path / "submission.py"
    sub.write_text(CORRECT)
    monkeypatch.setattr(sandbox, "bubblewrap_starts", lambda: "bubblewrap is not installed")
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    monkeypatch.delenv("BPCHECK_SANDBOX", raising=False)
    assert main(["grade", str(sub), "--assignment", HOSTILE_TOML, "--state", str(tmp_path / "s1")]) == 2
    assert "no sandbox available" in capsys.readouterr().err
    assert not (tmp_path / "s1").exists()  # refused before anything ran
    out = tmp_path / "r.json"
    assert main(["grade", str(sub), "--assignment", HOSTILE_TOML, "--state", str(tmp_path / "s2"), "--sandbox", "none",
                 "--format", "json", "--out", str(out)]) == 0
    assert "NO SANDBOX" in capsys.readouterr().err
    assert json.loads(out.read_text())[0]["verdict"] == "pass"
    monkeypatch.setenv("BPCHECK_SANDBOX", "none")  # the default of --sandbox, for machines without one
    assert main(["grade", str(sub), "--assignment", HOSTILE_TOML, "--state", str(tmp_path / "s3")]) == 0
    assert "NO SANDBOX" in capsys.readouterr().err


def test_a_full_disk_is_never_saved_as_a_grade(tmp_path, monkeypatch):
    """The machine's failure (ENOSPC while preparing a submission) is retried, then reported, never cached."""
    sub = tmp_path / "submission.py"
    sub.write_text(CORRECT)
    grader = Grader(load(HOSTILE_TOML), sandbox.select("none"))
    real_prepare, calls = sandbox.prepare, []

    def full_disk(*args, **kwargs):
        calls.append(1)
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(sandbox, "prepare", full_disk)
    monkeypatch.setattr("bpcheck.grader.batch.time.sleep", lambda s: None)
    state = tmp_path / "state"
    [r] = grade_batch(grader, [sub], 1, state)
    assert r.verdict == "error" and r.score == 0 and "not graded: the grading machine failed" in r.message
    assert len(calls) == 1 + 2  # retried twice
    assert not list(state.glob("*.json"))  # nothing saved: a rerun grades it again
    monkeypatch.setattr(sandbox, "prepare", real_prepare)
    [again] = grade_batch(grader, [sub], 1, state)
    assert again.verdict == "pass"
    assert len(list(state.glob("*.json"))) == 1


def test_a_submission_claiming_a_full_disk_is_graded_as_itself(tmp_path, monkeypatch):
    """The words of a full disk only earn a retry: on a machine with room, the result is the submission's, and saved."""
    sub = tmp_path / "submission.py"
    sub.write_text("def backprop(weights, biases, x, y):\n    raise OSError(28, 'No space left on device')\n")
    grader = Grader(load(HOSTILE_TOML), sandbox.select("none"))
    monkeypatch.setattr("bpcheck.grader.batch.time.sleep", lambda s: None)
    state = tmp_path / "state"
    [r] = grade_batch(grader, [sub], 1, state)
    assert r.verdict == "error" and r.score == 0 and "No space left on device" in r.message
    assert "not graded" not in r.message
    assert len(list(state.glob("*.json"))) == 1


def test_a_mode_chosen_by_name_is_described_as_itself():
    chosen = mode_or_skip("process")
    assert chosen.description.startswith("process: each submission as its own unprivileged uid")
    assert "bubblewrap unavailable" not in chosen.description  # nobody asked for bubblewrap


# --- containment by the kernel, not by the submission's cooperation ---------------------------------------


def _root_or_skip() -> None:
    if os.geteuid() != 0:
        pytest.skip("submissions run as pool uids only when the grader is root")


def _alive(uid: int) -> list[int]:
    """Processes (not zombies) with ``uid`` among their uids, read from /proc/<pid>/status: owner-independent."""
    pids = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            continue
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        if str(uid) in fields["Uid"].split() and not fields["State"].strip().startswith(("Z", "X")):
            pids.append(int(pid))
    return pids


@pytest.fixture
def one_uid(monkeypatch, tmp_path):
    """A pool of one uid of its own, with its own lock folder (tests/sandboxes.py)."""
    _root_or_skip()
    uid = one_private_uid(monkeypatch, tmp_path / "locks")
    yield uid
    for pid in _alive(uid):  # whatever a failing run left
        os.kill(pid, 9)


HUNTER = CORRECT.replace("def backprop(", "def correct_backprop(") + """

import os, signal, time


def backprop(*args):
    runner = os.getpid()
    if os.fork() == 0:
        os.setsid()
        if os.fork() == 0:  # from the uid: kills every other process of it, the sweep and the next student included
            me, uid, end = os.getpid(), os.getuid(), time.monotonic() + 20
            while time.monotonic() < end:
                for p in os.listdir('/proc'):
                    try:
                        if p.isdigit() and int(p) not in (me, runner) and os.stat('/proc/' + p).st_uid == uid:
                            os.kill(int(p), signal.SIGKILL)
                    except OSError:
                        pass
        os._exit(0)
    time.sleep(0.2)
    raise RuntimeError('hunter started')
"""


@pytest.mark.parametrize("mode", ["bubblewrap", "process"])
def test_a_daemon_cannot_outlive_its_sweep_and_kill_the_next_student(mode, one_uid, tmp_path):
    """Both submissions run as the same uid: the daemon of the first (which kills, from that uid, whatever else
    runs as it) is gone before the second starts, so the honest one scores full marks."""
    chosen = mode_or_skip(mode)
    hunter, honest = tmp_path / "hunter.py", tmp_path / "honest.py"
    hunter.write_text(HUNTER)
    honest.write_text(CORRECT)
    grader = Grader(load(HOSTILE_TOML), chosen)
    assert "hunter started" in grader.grade(hunter).message
    assert not _alive(one_uid)
    r = grader.grade(honest)
    assert r.verdict == "pass" and r.score == r.max_score, r.message


def test_a_failed_sweep_retires_its_uid_and_is_never_saved_as_a_grade(one_uid, tmp_path, monkeypatch):
    """When a submission's processes cannot be killed (here: the kill is made to do nothing), the grade is the
    machine's failure, not saved, and the uid is never handed to another submission."""
    chosen = mode_or_skip("process")
    daemon = tmp_path / "daemon.py"
    daemon.write_text("import os, time\ndef backprop(weights, biases, x, y):\n    if os.fork() == 0:\n        os.setsid()\n"
                      "        time.sleep(60)\n    raise RuntimeError('daemon left')\n")
    monkeypatch.setattr(sandbox, "_kill", lambda pid, uid: None)
    monkeypatch.setattr(sandbox, "SWEEP_SECONDS", 0.5)
    monkeypatch.setattr("bpcheck.grader.batch.time.sleep", lambda s: None)
    state = tmp_path / "state"
    [r] = grade_batch(Grader(load(HOSTILE_TOML), chosen), [daemon], 1, state)
    assert r.verdict == "error" and r.score == 0 and "not graded: the grading machine failed" in r.message, r.message
    assert not list(state.glob("*.json"))
    assert _alive(one_uid)  # the daemon the kill missed: its uid must not be reused
    with pytest.raises(sandbox.SandboxUnavailable, match="retired after a failed clean-up"):
        with sandbox.uid_slot():
            pass


@pytest.mark.parametrize("mode", ["bubblewrap", "process"])
def test_a_submission_cannot_reach_a_local_listener(mode, tmp_path):
    """Process mode too: a new network namespace (as root, before the uid is dropped) has no route to the host."""
    chosen = mode_or_skip(mode)
    import socket

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(4)
    listener.setblocking(False)
    port = listener.getsockname()[1]
    sub = tmp_path / "connects.py"
    sub.write_text("import socket\ndef backprop(weights, biases, x, y):\n    try:\n"
                   f"        socket.create_connection(('127.0.0.1', {port}), timeout=2).sendall(b'stolen answers')\n"
                   "    except OSError as exc:\n        raise RuntimeError('no network: %s' % exc)\n"
                   "    raise RuntimeError('reached the listener')\n")
    try:
        r = Grader(load(HOSTILE_TOML), chosen).grade(sub)
        with pytest.raises(BlockingIOError):
            listener.accept()
    finally:
        listener.close()
    assert "no network" in r.message, r.message
    assert "network" in chosen.description


def test_bpchecks_own_folders_are_found_by_its_own_names_never_a_users_module(tmp_path):
    """What the sandbox hides and closes as bpcheck's source: bpcheck's package folders, never a folder that holds a
    user's grader.py or reference.py (`python -m bpcheck` from a course folder puts it first on the path)."""
    import subprocess
    import sys

    import bpcheck.grader
    import bpcheck.oracles
    import bpcheck.reference

    for name in ("grader", "reference", "oracles"):
        (tmp_path / f"{name}.py").write_text("x = 1\n")
    code = ("import sys; sys.path.insert(0, ''); from bpcheck.grader import sandbox; "
            "print('\\n'.join(sandbox._own_package_dirs()))")
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    dirs = out.stdout.split()
    assert str(tmp_path.resolve()) not in dirs
    for pkg in (bpcheck.reference, bpcheck.oracles, bpcheck.grader):
        here = os.path.realpath(os.path.dirname(pkg.__file__))
        assert any(here == d or here.startswith(d + os.sep) for d in dirs), (here, dirs)
