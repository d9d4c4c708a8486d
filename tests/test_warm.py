"""The warm interpreter (issue 25): each run forked from a Python that already imported numpy, contained exactly as a
run started anew, holding nothing of the grader's, and leaving nothing to the next run.

Each test grades submissions that report what they see about themselves (in the message of an exception), once with
the warm interpreter and once started anew (``warm=False``, the previous path), and compares.
"""

from __future__ import annotations

import ast
import dataclasses
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bpcheck.grader import sandbox
from bpcheck.grader.assignment import load
from bpcheck.grader.grade import Grader

from .sandboxes import mode_or_skip, one_private_uid
from .test_sandbox import _alive

ROOT = Path(__file__).resolve().parents[1]
HOSTILE_TOML = str(ROOT / "tests" / "data" / "hostile.toml")

# What a run is, seen from inside: the kernel's answers, reported as a dict literal.
INTROSPECT = """
import os, resource, sys


def backprop(*args):
    status = dict(line.split(':', 1) for line in open('/proc/self/status').read().splitlines() if ':' in line)
    facts = {  # short: the message keeps only its first few hundred characters
        'r': os.getuid() == 0 or os.geteuid() == 0 or os.getgid() == 0,
        'g': sorted(set(os.getgroups()) - {os.getgid()}),
        'l': [resource.getrlimit(getattr(resource, 'RLIMIT_' + n))[0] for n in ('CPU', 'AS', 'FSIZE', 'NOFILE', 'NPROC', 'CORE')],
        'f': sorted(int(f) for f in os.listdir('/proc/self/fd')),
        'p': status['NoNewPrivs'].strip(),
        's': os.getsid(0) in (os.getpid(), os.getppid()),
        'n': sorted(line.split(':')[0].strip() for line in open('/proc/net/dev').read().splitlines()[2:]),
        'm': sorted(m for m in sys.modules if m.split('.')[0] in ('bpcheck', 'grader', 'reference', 'oracles')),
        'e': ' '.join(sorted(k[:3] for k in os.environ)),
        'o': os.path.basename(os.getcwd()) == 'out',
    }
    raise RuntimeError('FACTS' + repr(facts) + 'END')
"""

# The first leaves what it can; the second looks for it.
LEAVE = """
import os, time
import numpy as np


def backprop(*args):
    np.exp = lambda z: 0 * z          # the warm interpreter's numpy, changed in this run
    np.LEFT_BEHIND = True
    os.environ['LEFT_BEHIND'] = '1'
    open(os.path.join(os.environ.get('TMPDIR', '/tmp'), 'left_behind'), 'w').write('x')
    open('/tmp/bpcheck-left-behind-%d' % os.getuid(), 'w').write('x')
    if os.fork() == 0:
        os.setsid()
        time.sleep(30)
        os._exit(0)
    raise RuntimeError('left')
"""
LOOK = """
import glob, os
import numpy as np


def backprop(*args):
    found = [name for name, there in (
        ('numpy changed', np.exp(np.zeros(1))[0] != 1.0 or hasattr(np, 'LEFT_BEHIND')),
        ('environment', 'LEFT_BEHIND' in os.environ),
        ('file in /tmp', bool(glob.glob('/tmp/bpcheck-left-behind-*'))),
    ) if there]
    raise RuntimeError('FOUND' + repr(found) + 'END')
"""



def _between(text: str, start: str, end: str):
    assert start in text, text[:600]
    return ast.literal_eval(text.split(start, 1)[1].split(end, 1)[0])


def _facts(box: sandbox.Sandbox, tmp_path: Path) -> dict:
    sub = tmp_path / "introspect.py"
    sub.write_text(INTROSPECT)
    return _between(Grader(load(HOSTILE_TOML), box).grade(sub).message, "FACTS", "END")


@pytest.mark.parametrize("mode", ["bubblewrap", "process", "none"])
def test_a_warm_run_is_contained_exactly_as_a_run_started_anew(mode, tmp_path):
    """uid, groups, limits, descriptors, no_new_privs, session, network, environment, folder: the same whether the
    run was forked from the warm interpreter or started anew; and no module of the grader's in either."""
    chosen = mode_or_skip(mode)
    warm = _facts(dataclasses.replace(chosen, warm=True), tmp_path)
    cold = _facts(dataclasses.replace(chosen, warm=False), tmp_path)
    assert warm["m"] == [] and cold["m"] == []  # no module of the grader's
    if mode != "none" and os.geteuid() == 0:
        assert not warm["r"] and warm["p"] == "1"  # not root, and no setuid program gives root back
    assert len(warm.pop("g")) == len(cold.pop("g")) == (1 if chosen.drops_to_uid else 0)  # each grader's own group
    cold.pop("p")  # a cold start without namespaces drops to the uid without no_new_privs; a warm one always sets it
    warm.pop("p")
    assert warm == cold


@pytest.mark.parametrize("mode", ["bubblewrap", "process"])
def test_nothing_a_warm_run_leaves_reaches_the_next(mode, tmp_path, monkeypatch):
    """Both runs as the same uid, forked from the same warm interpreter: the first changes numpy, its environment,
    leaves files and a process; the second finds none of it."""
    chosen = mode_or_skip(mode)
    if os.geteuid() != 0:
        pytest.skip("runs are forked from a warm interpreter as pool uids only when the grader is root")
    one_private_uid(monkeypatch, tmp_path / "locks")
    grader = Grader(load(HOSTILE_TOML), dataclasses.replace(chosen, warm=True))
    leave, look = tmp_path / "leave.py", tmp_path / "look.py"
    leave.write_text(LEAVE)
    look.write_text(LOOK)
    assert "left" in grader.grade(leave).message
    assert not _alive(sandbox.UID_BASE)  # its process
    assert _between(grader.grade(look).message, "FOUND", "END") == []
    assert not _alive(sandbox.UID_BASE)


def test_the_warm_interpreter_holds_nothing_of_the_grader():
    """It is a Python started anew on runner.py, with numpy: never a fork of the grader (whose memory holds the
    expected answers, the solutions and every result)."""
    server = sandbox._warm()
    cmdline = Path(f"/proc/{server.proc.pid}/cmdline").read_bytes().split(b"\0")
    assert cmdline[1:5] == [b"-I", b"-B", str(sandbox.RUNNER).encode(), b"--serve"]
    assert os.getpid() != server.proc.pid and os.readlink(f"/proc/{server.proc.pid}/exe") == os.path.realpath(
        os.readlink("/proc/self/exe"))


WHO_GRADES = """
import os


def backprop(*args):
    status = open('/proc/%d/status' % os.getppid()).read()  # the warm interpreter's; its parent grades this run
    raise RuntimeError('GRADER' + repr([int(line.split()[1]) for line in status.splitlines() if line.startswith('PPid:')][0]) + 'END')
"""


def test_jobs_2_grades_in_two_forked_workers(tmp_path):
    """--jobs 2: the grader's own work (reading, comparing, diagnosing) runs in two worker processes forked from it,
    not in two threads taking turns under one interpreter lock; --jobs 1 grades in the grader's own process.  With
    jax or torch loaded (their threads do not survive a fork) the batch grades in its threads.  In a fresh
    interpreter, as a grader runs: this test session has jax and torch loaded."""
    mode_or_skip("process")
    folder = tmp_path / "class"
    folder.mkdir(mode=0o700)
    for i in range(8):
        (folder / f"s{i}.py").write_text(WHO_GRADES + f"# {i}\n")
    script = tmp_path / "batch.py"
    script.write_text(BATCH_SCRIPT)
    run = subprocess.run([sys.executable, str(script), HOSTILE_TOML, str(folder), str(tmp_path)], capture_output=True,
                         text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    me, one, two, three = ast.literal_eval(run.stdout.strip().splitlines()[-1])
    assert one == [me]
    assert len(two) == 2 and me not in two
    assert three == [me]


BATCH_SCRIPT = """
import dataclasses, os, sys, types
from pathlib import Path
from bpcheck.grader import sandbox
from bpcheck.grader.assignment import load
from bpcheck.grader.batch import grade_batch
from bpcheck.grader.grade import Grader

toml, folder, tmp = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
grader = Grader(load(toml), dataclasses.replace(sandbox.select("process"), warm=True))
paths = sorted(folder.iterdir())


def pids(batch, jobs, state):
    return sorted({int(r.message.split("GRADER", 1)[1].split("END", 1)[0]) for r in grade_batch(grader, batch, jobs, tmp / state)})


one, two = pids(paths[:2], 1, "s1"), pids(paths[2:5], 2, "s2")
sys.modules["jax"] = types.ModuleType("jax")  # what the grader looks at: a fork-unsafe library is loaded
three = pids(paths[5:], 2, "s3")
print([os.getpid(), one, two, three])
"""


class _GoneWarm:
    """A warm interpreter that takes nothing: gone before the run (or the sweep) was sent."""

    def start(self, request, out, err):
        raise sandbox.WarmUnavailable("gone")

    def sweep(self, uid):
        return self.start(None, None, None)


@pytest.mark.parametrize("mode", ["bubblewrap", "process"])
def test_without_a_warm_interpreter_runs_start_anew(mode, monkeypatch):
    """The previous path stays as the fallback: a warm interpreter that cannot take a run costs speed, never a grade."""
    chosen = mode_or_skip(mode)
    monkeypatch.setattr(sandbox, "_warm", lambda *a: _GoneWarm())
    grader = Grader(load("canonical"), dataclasses.replace(chosen, warm=True))
    r = grader.grade(ROOT / "examples" / "solutions" / "canonical.py")
    assert r.verdict == "pass" and r.score == r.max_score, r.message


WHERE_IT_RUNS = """
import os


def backprop(*args):
    raise RuntimeError('CPUS' + repr(sorted(os.sched_getaffinity(0))) + 'END')
"""

AFFINITY_SCRIPT = """
import dataclasses, sys
from pathlib import Path
from bpcheck.grader import sandbox
from bpcheck.grader.assignment import load
from bpcheck.grader.batch import grade_batch
from bpcheck.grader.grade import Grader

toml, mode, folder, tmp, jobs = sys.argv[1], sys.argv[2], Path(sys.argv[3]), Path(sys.argv[4]), int(sys.argv[5])
grader = Grader(load(toml), dataclasses.replace(sandbox.select(mode), warm=True))
results = grade_batch(grader, sorted(folder.iterdir()), jobs, tmp / sys.argv[6])
print([r.message.split("CPUS", 1)[1].split("END", 1)[0] for r in results])
"""


@pytest.mark.parametrize("mode", ["bubblewrap", "process"])
def test_each_worker_and_its_runs_keep_to_one_cpu(mode, tmp_path, monkeypatch):
    """--jobs 2 on a machine with two CPUs or more: each worker keeps to a CPU of its own, and so does every run it
    starts (forked by its warm interpreter); one job, or ``BPCHECK_AFFINITY=0``, leaves every CPU to the kernel."""
    mode_or_skip(mode)
    monkeypatch.delenv("BPCHECK_AFFINITY", raising=False)  # the default, whatever this shell set
    allowed = sorted(os.sched_getaffinity(0))
    if len(allowed) < 2:
        pytest.skip("one CPU: there is nothing to keep apart")
    folder = tmp_path / "class"
    folder.mkdir(mode=0o700)
    for i in range(6):
        (folder / f"s{i}.py").write_text(WHERE_IT_RUNS + f"# {i}\n")
    (tmp_path / "bin").mkdir()
    script = tmp_path / "bin" / "affinity.py"  # its folder is on its sys.path, which bubblewrap shows to the runs
    script.write_text(AFFINITY_SCRIPT)

    def cpus_seen(jobs: int, **env: str) -> list[list[int]]:
        state = f"state-{jobs}-{len(env)}"  # each batch graded afresh, not resumed from the one before
        run = subprocess.run([sys.executable, str(script), HOSTILE_TOML, mode, str(folder), str(tmp_path), str(jobs), state],
                             capture_output=True, text=True, timeout=300, env=os.environ | env)
        assert run.returncode == 0, run.stderr[-3000:]
        return [ast.literal_eval(cpus) for cpus in ast.literal_eval(run.stdout.strip().splitlines()[-1])]

    from bpcheck.grader.batch import worker_cpus

    pinned, chosen = cpus_seen(2), worker_cpus(2)  # two CPUs on distinct cores where there are two cores
    assert len(chosen) == 2 and len(pinned) == 6 and all(len(cpus) == 1 and cpus[0] in chosen for cpus in pinned), pinned
    assert cpus_seen(2, BPCHECK_AFFINITY="0") == [allowed] * 6
    assert cpus_seen(1) == [allowed] * 6


def test_a_cpu_the_kernel_refuses_leaves_the_worker_unpinned():
    """A worker whose CPU went offline (or left its cpuset) after the batch chose it grades unpinned: an exception
    in a worker's start would break the pool and lose the batch."""
    import multiprocessing

    from bpcheck.grader.batch import keep_to_one_cpu

    before = os.sched_getaffinity(0)
    started = multiprocessing.get_context("fork").Value("i", 0)
    keep_to_one_cpu([max(before) + 4096], started)  # no such CPU: the kernel says EINVAL
    assert os.sched_getaffinity(0) == before and started.value == 1


def test_workers_are_pinned_only_where_each_has_a_cpu_of_its_own(monkeypatch):
    from bpcheck.grader import batch

    monkeypatch.setattr(batch.os, "sched_getaffinity", lambda pid: {5, 3, 9})  # a cpuset: CPUs 3, 5 and 9
    monkeypatch.delenv(batch.AFFINITY, raising=False)
    assert batch.worker_cpus(2) == [3, 5] and batch.worker_cpus(3) == [3, 5, 9]
    assert batch.worker_cpus(1) == [] and batch.worker_cpus(4) == []  # one job moves freely; four share three CPUs
    monkeypatch.setenv(batch.AFFINITY, "0")
    assert batch.worker_cpus(2) == []


def test_pinned_workers_take_distinct_cores_before_a_second_thread_of_one(monkeypatch):
    """CPUs 0 and 1 are two threads of one core, 2 and 3 of another (siblings numbered side by side, as on many
    machines): two workers go to 0 and 2, not to one core's two threads."""
    from bpcheck.grader import batch

    monkeypatch.setattr(batch.os, "sched_getaffinity", lambda pid: {0, 1, 2, 3})
    monkeypatch.setattr(batch, "core_of", lambda cpu: {0: "0-1", 1: "0-1", 2: "2-3", 3: "2-3"}[cpu])
    monkeypatch.delenv(batch.AFFINITY, raising=False)
    assert batch.worker_cpus(2) == [0, 2] and batch.worker_cpus(3) == [0, 2, 1] and batch.worker_cpus(4) == [0, 2, 1, 3]
