"""Hostile submissions, in every sandbox mode: each is contained, earns nothing and is told why; the batch goes on.

One batch per mode (``bubblewrap`` and ``process``) grades every submission below beside honest ones, in a
separate grader process whose peak memory is measured.  Afterwards: no process of the submissions' uids, no
changed grader file, no leaked temporary folder, no file, IPC object or key left behind, every result
serialisable.  A mode that cannot run here is skipped with the reason (process mode needs root, and a Python
environment other users can reach).
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from bpcheck.grader import sandbox
from bpcheck.grader.assignment import load
from bpcheck.grader.grade import Grader
from bpcheck.grader.results import Result
from bpcheck.grader.untrusted import remove_tree

from .sandboxes import mode_or_skip, one_private_uid

ROOT = Path(__file__).resolve().parents[1]
HOSTILE_TOML = ROOT / "tests" / "data" / "hostile.toml"
CORRECT = (ROOT / "examples" / "solutions" / "canonical.py").read_text()
WRONG = "\ndef backprop(weights, biases, x, y):\n    return [W * 0 + 1.0 for W in weights], [b * 0 + 1.0 for b in biases]\n"
UNREADABLE = ("No such file", "Permission denied")  # hidden (bubblewrap) or closed to the uid (process)
# With leave=True a submission ends the runner at once, with what it left in OUT (the runner's cwd) for the grader.


def _src(body: str, leave: bool = False) -> str:
    """A submission: the usual imports, then ``body``; with ``leave``, the call ends the runner at once."""
    return ("import os, sys, json, time, signal, socket, ctypes\nimport numpy as np\n" + textwrap.dedent(body)
            + ("\n    os._exit(0)\n" if leave else ""))


# A daemon (fork, setsid, fork) that, from the submission's own uid, sends ``sig`` to every other process of that
# uid except the runner (so the run ends as usual): the sweep that comes to clean up after it, if that runs as the uid.
_HUNTER = """
def backprop(weights, biases, x, y):
    runner = os.getpid()
    if os.fork() == 0:
        os.setsid()
        if os.fork() == 0:
            me, uid, end = os.getpid(), os.getuid(), time.monotonic() + 30
            while time.monotonic() < end:
                for p in os.listdir('/proc'):
                    try:
                        if p.isdigit() and int(p) not in (me, runner) and os.stat('/proc/' + p).st_uid == uid:
                            os.kill(int(p), signal.{sig})
                    except OSError:
                        pass
        os._exit(0)
    time.sleep(0.2)
    raise RuntimeError('hunter started')"""


# name -> (source, words the message must contain: a string, or a tuple of alternatives). Filled in per batch:
# {victim} another student's file, {grader_file} a grader source file, {state} the results folder,
# {marker} a file a pickle payload would create in the grader, {numpy_file} numpy's __init__.py, {solution} the
# checkout's solution of the canonical contract.
HOSTILE = {
    # --- round 1 ---
    "infinite_loop": ("def backprop(weights, biases, x, y):\n    while True:\n        pass\n", "timed out"),
    "sleep_at_import": ("import time\ntime.sleep(100)\ndef backprop(weights, biases, x, y):\n    pass\n", "while importing"),
    "memory_bomb": ("def backprop(weights, biases, x, y):\n    hog = [bytearray(10**8) for _ in range(100)]\n", "MemoryError"),
    "fork_bomb": ("import os\ndef backprop(weights, biases, x, y):\n    while True:\n        os.fork()\n", ""),
    "exit_at_import": ("import sys\nsys.exit(0)\ndef backprop(weights, biases, x, y):\n    pass\n", "SystemExit"),
    "os_exit_in_call": ("import os\ndef backprop(weights, biases, x, y):\n    os._exit(0)\n", "ended"),
    "kill_parent": ("import os, signal\ndef backprop(weights, biases, x, y):\n"
                    "    os.kill(os.getppid(), signal.SIGKILL)\n    os.kill(-1, signal.SIGKILL)\n", ""),
    "patch_numpy": ("import numpy as np\nnp.allclose = lambda *a, **k: True\nnp.array_equal = lambda *a, **k: True\n"
                    "np.testing.assert_allclose = lambda *a, **k: None\nnp.isclose = lambda a, b, *r, **k: np.ones(np.shape(a), bool)\n"
                    + WRONG, "wrong"),
    "lying_subclass": ("import numpy as np\nclass Liar(np.ndarray):\n    def __eq__(self, o): return np.ones(self.shape, bool)\n"
                       "    def __sub__(self, o): return np.zeros(self.shape)\n    def __rsub__(self, o): return np.zeros(self.shape)\n"
                       "    def __abs__(self): return np.zeros(self.shape)\n"
                       "def backprop(weights, biases, x, y):\n"
                       "    return [np.ones_like(W).view(Liar) for W in weights], [np.ones_like(b).view(Liar) for b in biases]\n", "wrong"),
    "pickle_payload": ("import os, pickle, numpy as np\n"
                       "class Boom:\n    def __reduce__(self): return (os.system, ('touch {marker}',))\n"
                       "def backprop(weights, biases, x, y):\n"
                       "    os.makedirs('small', exist_ok=True)\n"
                       "    np.save('small/gW0.npy', np.array([Boom()], dtype=object), allow_pickle=True)\n"
                       "    return [Boom() for W in weights], [Boom() for b in biases]\n", ""),
    "fake_results": ("import json, os\n"
                     "def backprop(weights, biases, x, y):\n"
                     "    print(json.dumps({{'score': 100, 'verdict': 'pass'}}))\n"
                     "    open('results.json', 'w').write(json.dumps({{'score': 100}}))\n"
                     "    open('status.json', 'w').write(json.dumps({{'phase': 'done', 'calls': {{}}}}))\n"
                     "    os._exit(0)\n", ""),
    "huge_output": ("import sys\ndef backprop(weights, biases, x, y):\n    s = 'x' * 10**6\n    while True:\n"
                    "        sys.stdout.write(s)\n        sys.stderr.write(s)\n", ""),
    "syntax_error": ("import numpy as np\nfor j in xrange(10):\n    print 'Error'\n", "SyntaxError"),
    "exception": ("def backprop(weights, biases, x, y):\n    raise RuntimeError('student bug here')\n", "student bug here"),
    "wrong_structure": ("def backprop(weights, biases, x, y):\n    return {{'W': 1}}\n", "pair"),
    "nan_inf": ("import numpy as np\ndef backprop(weights, biases, x, y):\n"
                "    return [np.full(W.shape, np.nan) for W in weights], [np.full(b.shape, np.inf) for b in biases]\n", "NaN or Inf"),
    "missing_entry": ("def back_prop(weights, biases, x, y):\n    pass\n", "did you mean 'back_prop'"),
    "reads_outside": ("import numpy as np\n"
                      "def backprop(weights, biases, x, y):\n"
                      "    stolen = open('{victim}').read()\n"
                      "    return [np.ones_like(W) for W in weights], [np.ones_like(b) for b in biases]\n", UNREADABLE),
    "imports_reference": ("def backprop(weights, biases, x, y):\n"
                          "    from reference import NetworkSpec, loss_and_grad\n"
                          "    raise AssertionError('the reference was importable')\n", ("No module named 'reference'", *UNREADABLE)),
    "reads_shadow": ("def backprop(weights, biases, x, y):\n"
                     "    open('/etc/shadow').read()\n"
                     "    raise AssertionError('/etc/shadow was readable')\n", UNREADABLE),
    "writes_grader": ("def backprop(weights, biases, x, y):\n"
                      "    open('{grader_file}', 'a').write('\\nraise SystemExit')\n", ("Read-only", *UNREADABLE)),
    # --- round 2: special files left behind ---
    "fifo_as_status": (_src("""
        def backprop(weights, biases, x, y):
            os.remove('status.json'); os.mkfifo('status.json')""", leave=True), "before reporting"),
    "fifo_as_output": (_src("""
        def backprop(weights, biases, x, y):
            os.makedirs('small', exist_ok=True)
            for n in ('gW0', 'gb0', 'gW1', 'gb1'):
                os.mkfifo('small/' + n + '.npy')""", leave=True), "FIFO"),
    "socket_as_output": (_src("""
        def backprop(weights, biases, x, y):
            os.makedirs('small', exist_ok=True)
            s = socket.socket(socket.AF_UNIX); s.bind('small/gW0.npy')""", leave=True), "socket"),
    "link_to_stdin": (_src("""
        def backprop(weights, biases, x, y):
            os.remove('status.json'); os.symlink('/proc/self/fd/0', 'status.json')
            os.makedirs('small', exist_ok=True); os.symlink('/proc/self/fd/0', 'small/gW0.npy')""", leave=True), "symbolic link"),
    "link_to_shadow": (_src("""
        def backprop(weights, biases, x, y):
            os.makedirs('small', exist_ok=True)
            os.symlink('/etc/shadow', 'small/gW0.npy'); os.symlink('/proc/self/mem', 'small/gb0.npy')""", leave=True), "symbolic link"),
    "out_folder_is_a_link": (_src("""
        def backprop(weights, biases, x, y):
            here = os.getcwd(); os.chdir('..'); os.rename(here, here + '.old'); os.symlink('/etc', here)""", leave=True), ""),
    "hardlink_passwd": (_src("""
        def backprop(weights, biases, x, y):
            os.makedirs('small', exist_ok=True)
            try:
                os.link('/etc/passwd', 'small/gW0.npy')
            except OSError as e:
                raise RuntimeError('no hard link: ' + e.strerror)""", leave=True), ("no hard link", "not an array", "refused")),
    # --- round 2: the grader's memory ---
    "wide_uint8_arrays": (_src("""
        def backprop(weights, biases, x, y):
            os.makedirs('small', exist_ok=True)
            for i in range(60):
                np.save('small/a%d.npy' % i, np.zeros(8 * 2**20 - 256, np.uint8))
            for n in ('gW0', 'gb0', 'gW1', 'gb1'):
                np.save('small/' + n + '.npy', np.zeros(8 * 2**20 - 256, np.uint8))""", leave=True), "as float64"),
    "lying_npy_header": (_src("""
        def backprop(weights, biases, x, y):
            os.makedirs('small', exist_ok=True)
            with open('small/gW0.npy', 'wb') as f:
                header = {{'descr': '<f8', 'fortran_order': False, 'shape': (10**12,)}}
                np.lib.format.write_array_header_1_0(f, header)""", leave=True), "as float64"),
    "overflowing_npy_shape": (_src("""
        def backprop(weights, biases, x, y):
            os.makedirs('small', exist_ok=True)
            for name, shape in (('gW0', (2**70,)), ('gb0', (2**32, 2**32))):  # past int64; wraps to 0 in int64
                with open('small/' + name + '.npy', 'wb') as f:
                    np.lib.format.write_array_header_1_0(f, {{'descr': '<f8', 'fortran_order': False, 'shape': shape}})""", leave=True),
        "as float64"),
    "object_array": (_src("""
        def backprop(weights, biases, x, y):
            os.makedirs('small', exist_ok=True)
            np.save('small/gW0.npy', np.array([{{}}, []], dtype=object), allow_pickle=True)""", leave=True), "not an array of real numbers"),
    # --- round 2: parsing and clean-up ---
    "deep_json_status": (_src("""
        def backprop(weights, biases, x, y):
            open('status.json', 'w').write('[' * 30000 + ']' * 30000)""", leave=True), "before reporting"),
    "deep_folders": (_src("""
        def backprop(weights, biases, x, y):
            fd = os.open('.', os.O_RDONLY)
            for i in range(5000):
                os.mkdir('d', dir_fd=fd); new = os.open('d', os.O_RDONLY, dir_fd=fd); os.close(fd); fd = new
            raise RuntimeError('made 5000 nested folders')"""), ("made 5000 nested folders", "nested more than")),
    "unremovable_folders": (_src("""
        def backprop(weights, biases, x, y):
            for d in ('a/b/c', 'e/f'):
                os.makedirs(d)
                open(d + '/file', 'w').write('x')
            for d in ('a/b/c', 'a/b', 'a', 'e/f', 'e'):
                os.chmod(d, 0)
            raise RuntimeError('locked my folders')"""), "locked my folders"),
    # --- round 2: state outliving a run ---
    "setsid_daemon": (_src("""
        def backprop(weights, biases, x, y):
            if os.fork() == 0:
                os.setsid()
                if os.fork() == 0:
                    for _ in range(600):
                        for target in ('{state}', '{victim}'):
                            try:
                                open(target + '/forged.json' if os.path.isdir(target) else target, 'w').write('{{"score": 50}}')
                            except OSError:
                                pass
                        time.sleep(0.1)
                os._exit(0)
            raise RuntimeError('daemon started')"""), "daemon started"),
    "leaves_files_and_ipc": (_src("""
        def backprop(weights, biases, x, y):
            for d in ('/tmp', '/dev/shm', '/var/tmp'):
                try:
                    open(d + '/bpcheck-leak', 'w').write('left behind')
                except OSError:
                    pass
            libc = ctypes.CDLL(None)
            libc.shmget(0, 4096, 0o1666)  # IPC_PRIVATE | IPC_CREAT
            raise RuntimeError('left files behind')"""), "left files behind"),
    "writes_numpy": (_src("""
        def backprop(weights, biases, x, y):
            open('{numpy_file}', 'a').write('\\nraise SystemExit')"""), ("Read-only", *UNREADABLE)),
    "writes_results": (_src("""
        def backprop(weights, biases, x, y):
            os.makedirs('{state}', exist_ok=True)
            open('{state}/forged.json', 'w').write('{{"score": 50}}')"""), ""),  # under bubblewrap it writes its own /tmp
    "reads_grader_source": (_src("""
        def backprop(weights, biases, x, y):
            raise AssertionError(open('{grader_file}').read()[:50])"""), UNREADABLE),
    # --- round 2: neighbours ---
    "fills_the_disk": (_src("""
        def backprop(weights, biases, x, y):
            chunk = b'x' * 2**20
            for i in range(100000):
                for d in ('.', '/tmp', '/dev/shm'):
                    try:
                        with open('%s/fill%d' % (d, i), 'wb') as f:
                            for _ in range(3):
                                f.write(chunk)
                    except OSError:
                        pass"""), "scratch limit"),
    "many_files": (_src("""
        def backprop(weights, biases, x, y):
            for i in range(10**6):
                open('f%d' % i, 'w').close()"""), ("more than", "timed out")),
    # --- round 3: the grader's and the class's files (each would earn full marks if it could read them) ---
    "imports_bpcheck_reference": (_src("""
        def backprop(weights, biases, x, y):
            from bpcheck.reference import NetworkSpec, loss_and_grad
            L = len(weights)
            spec = NetworkSpec(sizes=(weights[0].shape[0], *(W.shape[1] for W in weights)),
                               activations=('sigmoid',) * L, loss='half_sse', reduction='mean')
            params = {{**{{f'W{{l + 1}}': W for l, W in enumerate(weights)}}, **{{f'b{{l + 1}}': b for l, b in enumerate(biases)}}}}
            _, g = loss_and_grad(spec, params, x, y)
            return [g[f'W{{l + 1}}'] for l in range(L)], [g[f'b{{l + 1}}'] for l in range(L)]"""),
        ("No module named", *UNREADABLE)),
    "runs_the_checkouts_solution": (_src("""
        def backprop(weights, biases, x, y):
            solution = {{}}
            exec(open('{solution}').read(), solution)
            return solution['backprop'](weights, biases, x, y)"""), UNREADABLE),
    "copies_a_classmate_via_cmdline": (_src("""
        def classmates():
            words = []
            for pid in [str(os.getppid()), *os.listdir('/proc')]:
                try:
                    words += open('/proc/%s/cmdline' % pid, 'rb').read().decode(errors='replace').split('\\0')
                except OSError:
                    pass
            for w in words:
                try:
                    text = open(w).read()
                    found = json.loads(text) if w.endswith('.json') else [w]
                except (OSError, ValueError):
                    continue
                for f in found if isinstance(found, list) else []:
                    try:
                        src = open(str(f)).read()
                    except OSError:
                        continue
                    if 'def backprop' in src and 'classmates' not in src:
                        yield src
        def backprop(weights, biases, x, y):
            for src in classmates():
                theirs = {{}}
                exec(src, theirs)
                return theirs['backprop'](weights, biases, x, y)
            raise RuntimeError('found no classmate')"""), "found no classmate"),
    "reads_the_state_folder": (_src("""
        def backprop(weights, biases, x, y):
            raise RuntimeError('saved results: ' + repr(os.listdir('{state}')))"""), UNREADABLE),
    # --- round 2: untrusted text ---
    "markup_and_escapes": (_src("""
        def backprop(weights, biases, x, y):
            raise RuntimeError('[/] [bold red]pass[/bold red] \\x1b[2J\\x1b]0;pwned\\x07 \\udcff \\ud800 <testcase name="x"/> ]]>')"""),
        "RuntimeError"),
    # --- round 3: containment by the kernel, not by the submission's cooperation ---
    "daemon_kills_the_sweep": (_src(_HUNTER.format(sig="SIGKILL")), "hunter started"),
    "daemon_stops_the_sweep": (_src(_HUNTER.format(sig="SIGSTOP")), "hunter started"),
    "non_dumpable_daemon": (_src("""
        def backprop(weights, biases, x, y):
            if os.fork() == 0:
                os.setsid()
                ctypes.CDLL(None).prctl(4, 0, 0, 0, 0)  # PR_SET_DUMPABLE 0: /proc/<pid> now shows root as its owner
                time.sleep(60)
                os._exit(0)
            raise RuntimeError('hidden daemon started')"""), "hidden daemon started"),
    "memfd_beyond_memory": (_src("""
        def backprop(weights, biases, x, y):
            held, chunk = [], b'x' * ((4 << 20) - 4096)  # each under the 4 MB file size limit
            for i in range(240):  # ~960 MB in memory files, against memory_mb = 512
                fd = os.memfd_create('hold%d' % i)
                os.write(fd, chunk)
                held.append(fd)
            time.sleep(1)
            raise RuntimeError('held %d MB in memfds' % (4 * len(held)))"""), "scratch limit"),
    "unlinked_files_beyond_scratch": (_src("""
        def backprop(weights, biases, x, y):
            held, chunk = [], b'x' * ((4 << 20) - 4096)
            for i in range(50):  # ~200 MB, against scratch_mb = 64, in files no folder shows
                f = open('held%d' % i, 'wb')
                os.unlink('held%d' % i)
                f.write(chunk)
                f.flush()
                held.append(f)
            time.sleep(1)
            raise RuntimeError('held %d MB unlinked' % (4 * len(held)))"""), "scratch limit"),
    "ipc_handed_to_root": (_src("""
        def backprop(weights, biases, x, y):
            libc = ctypes.CDLL(None, use_errno=True)
            perm = ctypes.create_string_buffer(512)
            for get, ctl in ((lambda: libc.shmget(0, 4096, 0o1600), libc.shmctl),
                             (lambda: libc.msgget(0, 0o1600), libc.msgctl)):  # IPC_PRIVATE, IPC_CREAT | 0600
                ident = get()
                ctl(ident, 2, perm)  # IPC_STAT
                ctypes.c_uint32.from_buffer(perm, 4).value = 0  # ipc_perm.uid: hand it to root (cuid stays ours)
                ctl(ident, 1, perm)  # IPC_SET
            raise RuntimeError('handed IPC to root')"""), "handed IPC to root"),
    "posix_mqueue_left": (_src("""
        def backprop(weights, biases, x, y):
            libc = ctypes.CDLL(None, use_errno=True)
            q = libc.mq_open(b'/bpcheck-leak-%d' % os.getuid(), 0o102, 0o600, None)  # O_CREAT | O_RDWR
            raise RuntimeError('mqueue left' if q >= 0 else 'mq_open refused (errno %d)' % ctypes.get_errno())"""),
        ("mqueue left", "mq_open refused")),
}

# Honest submissions graded in the same batch: each must score full marks, whatever its neighbours do.
NEIGHBOURS = 8


def _hash_tree(root: Path) -> str:
    h = hashlib.sha256()
    for f in sorted(root.rglob("*.py")):
        h.update(f.read_bytes())
    return h.hexdigest()


def _pool_processes() -> list[str]:
    """Processes with a pool uid among their real, effective and saved uids (not the owner of /proc/<pid>, which a
    non-dumpable process hides), zombies included: a zombie of a pool uid is a process nobody reaped."""
    out = []
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                uid_line = next(line for line in Path(f"/proc/{pid}/status").read_text().splitlines() if line.startswith("Uid:"))
            except (OSError, StopIteration):
                continue
            if any(_pool_owned(int(u)) for u in uid_line.split()[1:4]):
                out.append(pid)
    return out


def _pool_owned(uid: int) -> bool:
    return sandbox.UID_BASE <= uid < sandbox.UID_BASE + sandbox.UID_COUNT


def _leftovers() -> list[str]:
    """Files and System V IPC objects of the pool's uids anywhere a submission could have written."""
    left = []
    for d in ("/tmp", "/var/tmp", "/dev/shm"):
        try:
            left += [e.path for e in os.scandir(d) if _pool_owned(e.stat(follow_symlinks=False).st_uid)]
        except OSError:
            continue
    for kind, cols in (("shm", (7, 9)), ("sem", (4, 6)), ("msg", (7, 9))):  # owner and creator (cuid)
        try:
            rows = Path(f"/proc/sysvipc/{kind}").read_text().splitlines()[1:]
        except OSError:
            continue
        left += [f"{kind} {r.split()[1]}" for r in rows if any(_pool_owned(int(r.split()[c])) for c in cols)]
    return left + _posix_queues()


def _posix_queues() -> list[str]:
    """The pool's POSIX message queues on this machine: listed by mounting the mqueue file system where only this
    listing sees it (a mount namespace of its own), as root; none where that cannot be done."""
    if os.geteuid() != 0:
        return []
    with tempfile.TemporaryDirectory(prefix="bpcheck-mq-") as d:
        listing = subprocess.run(["unshare", "--mount", "--propagation", "private", "sh", "-c",
                                  'mount -t mqueue mqueue "$1" && find "$1" -mindepth 1 -printf "%U %f\\n"', "sh", d],
                                 capture_output=True, text=True)
    rows = [line.split(" ", 1) for line in listing.stdout.splitlines()] if listing.returncode == 0 else []
    return [f"mqueue {name}" for uid, name in rows if _pool_owned(int(uid))]



# Runs in a grader process of its own, so that its peak memory is the grader's alone: VmHWM, the high-water
# mark of this process image (ru_maxrss would include the pytest process it was forked from, kept across exec).
BATCH = """
import json, re, sys
from pathlib import Path
from bpcheck.grader.assignment import load
from bpcheck.grader.batch import grade_batch
from bpcheck.grader.grade import Grader
from bpcheck.grader.report import as_json
mode, toml, listing, state, out = sys.argv[1:6]
paths = [Path(p) for p in json.loads(Path(listing).read_text())]
results = grade_batch(Grader(load(toml), mode), paths, jobs=2, state=Path(state))
Path(out).with_name("results.json").write_text(as_json(results), encoding="utf-8")
Path(out).write_text(json.dumps({"results": [r.as_dict() for r in results],
                                 "maxrss_kb": int(re.search(r"VmHWM:\\s*(\\d+) kB", open("/proc/self/status").read()).group(1))}))
"""


@pytest.fixture(scope="module", params=["bubblewrap", "process"])
def batch(request, tmp_path_factory):
    mode = request.param
    mode_or_skip(mode)
    d = tmp_path_factory.mktemp(f"subs-{mode}")
    state = d / "state"
    victim = d / "victim.py"
    victim.write_text(CORRECT)
    marker = tmp_path_factory.mktemp("marker") / "pwned"
    values = {"victim": victim, "grader_file": ROOT / "grader" / "grade.py", "marker": marker, "state": state,
              "numpy_file": Path(np.__file__), "solution": ROOT / "examples" / "solutions" / "canonical.py"}
    paths = [victim]
    for i in range(NEIGHBOURS):
        p = d / f"neighbour_{i}.py"
        p.write_text(f"# neighbour {i}\n" + CORRECT)
        paths.append(p)
    for name, (source, _) in HOSTILE.items():
        p = d / f"{name}.py"
        p.write_text(source.format(**values))
        paths.append(p)
    paths += _hostile_folders(d)
    listing = d / "paths.json"
    listing.write_text(json.dumps([str(p) for p in paths]))
    watched = (ROOT / "grader", ROOT / "reference", ROOT / "oracles")
    before = [_hash_tree(w) for w in watched], victim.read_bytes(), Path(np.__file__).read_bytes()
    # The batch's own temporary folder (reachable by the submissions' uids, as /tmp is), so that what it leaves
    # is told apart from other graders running on this machine.
    work = Path(tempfile.mkdtemp(prefix="bpcheck-hostile-"))
    os.chmod(work, 0o711)
    out = d / "out.json"
    start = time.monotonic()
    run = subprocess.run([sys.executable, "-c", BATCH, mode, str(HOSTILE_TOML), str(listing), str(state), str(out)],
                         capture_output=True, text=True, cwd=ROOT, timeout=900, env={**os.environ, "TMPDIR": str(work)})
    seconds = time.monotonic() - start
    assert run.returncode == 0, run.stderr[-3000:]
    data = json.loads(out.read_text())
    after = [_hash_tree(w) for w in watched], victim.read_bytes(), Path(np.__file__).read_bytes()
    results = {Path(r["submission"]).stem: Result.from_dict(r) for r in data["results"]}
    return {"mode": mode, "results": results, "before": before, "after": after, "marker": marker, "state": state,
            "maxrss_mb": data["maxrss_kb"] / 1024, "seconds": seconds, "count": len(paths),
            "leaked_temps": _drain(work)}


def _drain(work: Path) -> list[str]:
    """What the batch left in its temporary folder (the bubblewrap probe's and the submissions'); then it goes."""
    left = sorted(e.name for e in os.scandir(work))
    remove_tree(str(work))
    return left


# Folder submissions whose files are links or too large: refused while collecting, before anything is read.
FOLDERS = {
    "folder_link_to_victim": ("a symbolic link",),
    "folder_link_to_shadow": ("a symbolic link",),
    "folder_link_to_proc_mem": ("a symbolic link",),
    "folder_dir_link_to_root": ("a symbolic link",),
    "folder_huge_file": ("bytes; at most",),
    "folder_fifo": ("FIFO",),
}


def _hostile_folders(d: Path) -> list[Path]:
    made = []
    for name in FOLDERS:
        f = d / name
        f.mkdir()
        (f / "helpers.py").write_text("X = 1\n")
        made.append(f)
    (d / "folder_link_to_victim" / "submission.py").symlink_to(d / "victim.py")
    (d / "folder_link_to_shadow" / "submission.py").write_text(CORRECT)
    (d / "folder_link_to_shadow" / "secret.py").symlink_to("/etc/shadow")
    (d / "folder_link_to_proc_mem" / "submission.py").symlink_to("/proc/self/mem")
    (d / "folder_dir_link_to_root" / "submission.py").write_text(CORRECT)
    (d / "folder_dir_link_to_root" / "lib").symlink_to("/")
    (d / "folder_huge_file" / "submission.py").write_text(CORRECT)
    with open(d / "folder_huge_file" / "data.py", "wb") as fh:
        fh.truncate(1 << 30)  # 1 GB, sparse: costs nothing on disk, would cost 1 GB to read
    (d / "folder_fifo" / "submission.py").write_text(CORRECT)
    os.mkfifo(d / "folder_fifo" / "pipe.py")
    return made


def test_the_suite_is_large_enough():
    assert len(HOSTILE) + len(FOLDERS) >= 40


def test_the_batch_goes_on_and_honest_submissions_pass(batch):
    results = batch["results"]
    assert len(results) == batch["count"]
    for name in ["victim", *(f"neighbour_{i}" for i in range(NEIGHBOURS))]:
        r = results[name]
        assert r.verdict == "pass" and r.score == r.max_score, (batch["mode"], name, r.message)


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_submission_earns_nothing_and_is_told_why(batch, name):
    r = batch["results"][name]
    assert r.score == 0, (name, [(c.name, c.score, c.output) for c in r.checks])
    assert r.verdict in ("fail", "error")
    words = HOSTILE[name][1]
    text = r.message + " " + " ".join(c.output for c in r.checks)
    alternatives = words if isinstance(words, tuple) else (words,)
    assert any(w in text for w in alternatives), (batch["mode"], name, text[:800])
    assert r.message  # never an empty explanation
    if r.verdict == "error":
        assert "catalog" not in r.message  # a crash is reported as the crash, not dressed up as a known bug
    assert "root:" not in text  # nothing of /etc/shadow or /etc/passwd reaches the feedback


@pytest.mark.parametrize("name", sorted(FOLDERS))
def test_links_and_special_files_in_folders_are_refused(batch, name):
    r = batch["results"][name]
    assert r.verdict == "error" and r.score == 0
    assert any(w in r.message for w in FOLDERS[name]), r.message
    assert "root:" not in r.message


def test_no_grader_file_changes_and_no_payload_runs(batch):
    assert batch["before"] == batch["after"]  # grader, reference, oracles, another student's file, numpy
    assert not batch["marker"].exists()  # the pickle payload never ran in the grader
    assert not list(batch["state"].glob("forged*"))


def test_nothing_outlives_its_submission(batch):
    deadline = time.monotonic() + 3  # a killed namespace takes a moment to be reaped
    while (leftover := _pool_processes()) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not leftover, f"processes of submission uids still running after the batch: {leftover}"
    assert not _leftovers()
    assert not batch["leaked_temps"], batch["leaked_temps"]


def test_grader_memory_is_bounded(batch):
    assert batch["maxrss_mb"] < 1024, batch["maxrss_mb"]


def test_timeouts_are_bounded(batch):
    for name in ("infinite_loop", "sleep_at_import", "huge_output"):
        assert batch["results"][name].seconds < 4 + 3, (name, batch["results"][name].seconds)


def test_every_result_serialises(batch):
    for r in batch["results"].values():
        json.loads(json.dumps(r.as_dict()))


@pytest.mark.parametrize("mode", ["bubblewrap", "process"])
def test_a_key_left_in_a_keyring_is_gone_for_the_next_submission(mode, tmp_path, monkeypatch):
    """In the uid's user keyring and in its persistent keyring (which outlives every session of the uid)."""
    chosen = mode_or_skip(mode)
    if platform.machine() != "x86_64":
        pytest.skip("the planted submissions call keyctl by its x86_64 syscall number")
    if os.geteuid() != 0:
        pytest.skip("keyrings are per uid: only a root grader reuses a uid across submissions")
    one_private_uid(monkeypatch, tmp_path / "locks")  # both submissions run as the same uid
    plant = tmp_path / "plant.py"
    plant.write_text(_src("""
        def backprop(weights, biases, x, y):
            libc = ctypes.CDLL(None, use_errno=True)
            key = libc.syscall(248, b'user', b'bpcheck-secret', b'payload', 7, -4)  # add_key to the user keyring
            if key <= 0:
                raise RuntimeError('keyctl refused here (errno %d)' % ctypes.get_errno())
            kept = libc.syscall(250, 22, -1, -3)  # KEYCTL_GET_PERSISTENT: the uid's keyring that outlives its sessions
            if kept > 0:
                libc.syscall(248, b'user', b'bpcheck-kept', b'payload', 7, kept)
            raise RuntimeError('planted' + (' and kept' if kept > 0 else ''))"""))
    read = tmp_path / "read.py"
    read.write_text(_src("""
        def backprop(weights, biases, x, y):
            libc = ctypes.CDLL(None, use_errno=True)
            found = [libc.syscall(250, 10, -4, b'user', b'bpcheck-secret', 0)]  # KEYCTL_SEARCH the user keyring
            kept = libc.syscall(250, 22, -1, -3)
            if kept > 0:
                found.append(libc.syscall(250, 10, kept, b'user', b'bpcheck-kept', 0))
            raise RuntimeError('found a key' if max(found) > 0 else 'no key')"""))
    grader = Grader(load(str(HOSTILE_TOML)), chosen)
    planted = grader.grade(plant)
    if "keyctl refused" in planted.message:
        pytest.skip("this kernel or seccomp profile forbids keyrings: nothing can be left in one")
    assert "planted" in planted.message
    assert "no key" in grader.grade(read).message


def test_every_report_format_is_written_for_the_hostile_batch(batch, tmp_path):
    """What the hostile submissions left in the results (their messages, file names) goes into every format."""
    import csv
    import xml.etree.ElementTree as ET

    from bpcheck.cli import main

    results, out = str(batch["state"].with_name("results.json")), tmp_path
    saved = batch["count"]
    for fmt, target in (("table", "table.txt"), ("json", "r.json"), ("csv", "g.csv"), ("junit", "j.xml"),
                        ("gradescope", "gs"), ("prairielearn", "pl")):
        assert main(["report", results, "--format", fmt, "--out", str(out / target)]) == 0, fmt
    assert main(["report", results, "--html", str(out / "class.html"), "--feedback", str(out / "fb")]) == 0
    written = [p for p in out.rglob("*") if p.is_file()]
    for p in written:
        data = p.read_bytes()
        assert data and b"\x1b" not in data and b"\x07" not in data, p  # never raw terminal escapes
        data.decode("utf-8")
    assert len(json.loads((out / "r.json").read_text())) == saved
    ET.fromstring((out / "j.xml").read_bytes())
    assert len(list(csv.reader((out / "g.csv").open(encoding="utf-8")))) == saved + 1
    assert len(list((out / "gs").glob("*.json"))) == saved and len(list((out / "fb").glob("*.html"))) >= saved
