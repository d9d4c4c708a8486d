"""Nothing of the grader or the class is readable by a submission: what process mode cannot hide, it refuses.

In process mode a submission runs as a pool uid on the machine's own filesystem and /proc.  The grader's command
line names the batch, so a class folder other users may read would hand one student another's file: the grader
blanks its command line and refuses to grade where a pool uid could read a classmate's submission, the assignment
or the saved results, saying how to close them.  Under bubblewrap none of it is visible in the first place.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from bpcheck.grader import sandbox

from .sandboxes import mode_or_skip

ROOT = Path(__file__).resolve().parents[1]
CORRECT = (ROOT / "examples" / "solutions" / "canonical.py").read_text()
# Copies whichever file the grader's command line names that defines backprop and is not itself.
THIEF = """
import os

def backprop(weights, biases, x, y):
    words = open('/proc/%d/cmdline' % os.getppid(), 'rb').read().decode(errors='replace').split('\\0')
    for w in words:
        try:
            src = open(w).read()
        except (OSError, ValueError):
            continue
        if 'def backprop' in src and 'cmdline' not in src:
            theirs = {}
            exec(src, theirs)
            return theirs['backprop'](weights, biases, x, y)
    raise RuntimeError('found no classmate in ' + repr(words)[:200])
"""


@pytest.fixture
def open_class():
    """A class folder as an instructor leaves it: world-readable, outside any private temporary folder."""
    d = Path(tempfile.mkdtemp(prefix="bpcheck-open-class-", dir="/tmp"))
    os.chmod(d, 0o755)
    (d / "victim.py").write_text(CORRECT)
    (d / "thief.py").write_text(THIEF)
    for f in d.iterdir():
        os.chmod(f, 0o644)
    yield d
    subprocess.run(["rm", "-rf", str(d)], check=False)


def _grade(folder: Path, mode: str, state: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "bpcheck", "grade", str(folder / "victim.py"), str(folder / "thief.py"),
                           "--assignment", "canonical", "--sandbox", mode, "--state", str(state), "--format", "json"],
                          capture_output=True, text=True, cwd=folder, timeout=600)


def test_process_mode_refuses_a_class_folder_others_can_read(open_class, tmp_path):
    mode_or_skip("process")
    run = _grade(open_class, "process", tmp_path / "state")
    assert run.returncode == 2, (run.returncode, run.stdout[-2000:])
    assert "could read another student's submission" in run.stderr and "chmod" in run.stderr, run.stderr
    assert not run.stdout.strip()  # nothing was graded


def test_process_mode_grades_a_closed_class_folder_and_the_thief_finds_nothing(open_class, tmp_path):
    mode_or_skip("process")
    os.chmod(open_class, 0o700)
    run = _grade(open_class, "process", tmp_path / "state")
    assert run.returncode == 0, run.stderr[-2000:]
    results = {Path(r["submission"]).stem: r for r in json.loads(run.stdout)}
    assert results["victim"]["verdict"] == "pass"
    assert results["thief"]["score"] == 0
    assert "found no classmate" in results["thief"]["message"]
    assert "victim" not in results["thief"]["message"]  # the grader's command line named no one


def test_under_bubblewrap_the_class_folder_is_out_of_sight(open_class, tmp_path):
    mode_or_skip("bubblewrap")
    run = _grade(open_class, "bubblewrap", tmp_path / "state")
    assert run.returncode == 0, run.stderr[-2000:]
    results = {Path(r["submission"]).stem: r for r in json.loads(run.stdout)}
    assert results["victim"]["verdict"] == "pass"
    assert results["thief"]["score"] == 0 and "found no classmate" in results["thief"]["message"]


def test_process_mode_refuses_an_assignment_others_can_read(open_class, tmp_path):
    mode_or_skip("process")
    toml = open_class / "course.toml"
    toml.write_text('name = "course"\ncontract = "canonical"\n[[probe]]\nname = "p"\nsizes = [2, 3, 1]\nbatch = 2\nseed = 1\n')
    os.chmod(toml, 0o644)
    run = subprocess.run([sys.executable, "-m", "bpcheck", "grade", str(open_class / "victim.py"), "--assignment",
                          str(toml), "--sandbox", "process", "--state", str(tmp_path / "state")],
                         capture_output=True, text=True, cwd=tmp_path, timeout=600)
    assert run.returncode == 2 and "could read the assignment" in run.stderr, run.stderr


def test_the_grader_blanks_its_command_line_in_process_mode():
    mode_or_skip("process")
    code = ("import sys; from bpcheck.grader import sandbox; sandbox.select('process'); "
            "sys.stdout.write(repr((open('/proc/self/cmdline', 'rb').read(), sys.argv[1:])))")
    run = subprocess.run([sys.executable, "-c", code, "alice_smith.py", "bob_jones.py"], capture_output=True, text=True,
                         cwd="/", timeout=300)
    cmdline, argv = eval(run.stdout)
    assert argv == ["alice_smith.py", "bob_jones.py"]  # the grader keeps its own copy
    assert b"alice_smith" not in cmdline and b"bob_jones" not in cmdline


def test_process_mode_closes_the_checkout_it_runs_from():
    mode_or_skip("process")
    assert sandbox.readable_by_submissions([str(ROOT / "examples" / "solutions" / "canonical.py"), str(ROOT)],
                                           "process") == []


@pytest.mark.parametrize("mode", ["bubblewrap", "process"])
def test_a_job_is_readable_by_its_own_uid_only(mode, tmp_path):
    from bpcheck.grader.assignment import load
    from bpcheck.grader.grade import Grader

    mode_or_skip(mode)
    grader = Grader(load("canonical"), mode)
    if not grader.sandbox.drops_to_uid:
        pytest.skip("submissions run as the grader's own uid here")
    sub = grader.collect(ROOT / "examples" / "solutions" / "canonical.py")
    with grader.sandbox.workspace() as (work, uid):
        grader._job(work / "job", sub, uid, grader.a.environment.beside(sub.files, sub.main))
        files = [str(p) for p in (work / "job").rglob("*")]
        assert files and sandbox.readable_by_submissions(files, "process") == []  # asked as another pool uid
    assert grader.grade(ROOT / "examples" / "solutions" / "canonical.py").verdict == "pass"  # its own uid still reads it


@pytest.mark.parametrize("mode", ["bubblewrap", "process"])
def test_the_inputs_are_written_once_and_only_the_graders_submissions_read_them(mode, tmp_path):
    """The runner and the probes' inputs are written once per grader, not once per submission (issue 25), into a
    folder no other pool uid may read: a submission of another grader on this machine learns nothing from it."""
    from bpcheck.grader.assignment import load
    from bpcheck.grader.grade import Grader

    mode_or_skip(mode)
    grader = Grader(load("canonical"), mode)
    if not grader.sandbox.drops_to_uid:
        pytest.skip("submissions run as the grader's own uid here")
    sub = grader.collect(ROOT / "examples" / "solutions" / "canonical.py")
    course = grader.a.environment.beside(sub.files, sub.main)
    with grader.sandbox.workspace() as (work, uid):
        grader._job(work / "job", sub, uid, course)
        assert sorted(p.name for p in (work / "job").iterdir()) == ["job.json"]
        inputs = json.loads((work / "job" / "job.json").read_text())["inputs"]
    shared = grader._shared().path
    npy = sorted(shared.rglob("*.npy"))
    assert len(npy) >= len(grader.calls) and (shared / "runner.py").is_file()
    written = {p: p.stat().st_mtime_ns for p in npy}
    for f in ("solutions/canonical.py", "buggy/canonical_sign.py"):
        assert grader.grade(ROOT / "examples" / f).verdict in ("pass", "fail")
    assert {p: p.stat().st_mtime_ns for p in npy} == written  # not written again
    assert inputs == (sandbox.SHARED_IN_BWRAP if mode == "bubblewrap" else str(shared))
    assert sandbox.readable_by_submissions([str(p) for p in [shared, *shared.rglob("*")]], "process") == []
    grader._shared().close()
    assert not shared.exists()
