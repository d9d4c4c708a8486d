"""Run one submission's runner in its own process, contained by one of three sandbox modes.

``bubblewrap``  The submission sees the system's /usr, the Python environment bpcheck is installed
                in (read-only, with bpcheck's own packages and the autodiff libraries hidden), its job
                (read-only), its scratch folder, and a private, size-limited /tmp and /dev/shm.  No
                network; its own PID, IPC and UTS namespaces; a new session; it dies with the grader.
``process``     For machines where bubblewrap cannot start (Docker's default seccomp, as on
                Gradescope; no user namespaces) and the grader runs as root (as on Gradescope,
                PrairieLearn and CI).  The runner is started directly as an unprivileged uid of its
                own, from a pool (``UID_BASE``...), so it cannot signal, read or write the grader, its
                files, its results or other submissions; bpcheck's source and the autodiff libraries
                are closed to other users once, the grader's command line is blanked, and a batch
                a pool uid could read is refused.  Where the machine allows (``namespaces_refused``), it
                starts as root in new network and IPC namespaces and then drops to the uid (``setpriv``,
                no_new_privs): no network, and its IPC objects die with it; elsewhere its network is not
                isolated.
``none``        Only its own process and the limits below: it can read and write whatever the grader
                can.  Chosen only when asked for by name, with a loud warning.

``auto`` is bubblewrap when bubblewrap starts here (tried, not just found), else process as root;
otherwise there is no sandbox and ``select`` refuses, saying how to get one.

In every mode: limits on wall clock, CPU seconds, address space, processes, file size, open files;
a watchdog on the scratch folder's size, file count and depth and on the memory files and deleted
files its processes hold open (the ``scratch_mb`` limit), so a submission filling the disk or memory
is stopped before its neighbours notice; stdout and stderr go to files of which only the first bytes
are read.  Afterwards, as root (the kernel's work, not the submission's): every process of the uid
is killed by pid until none is left, its System V IPC objects (owned or created) and keyrings (user,
session, persistent) and every file it left in a world-writable folder are removed.  Nothing a
submission starts or creates outlives it; if something does, the uid is retired and the run is the
machine's failure (``CleanupFailed``).  Reading its outputs is ``untrusted``'s job.

Each run is a child forked from a warm interpreter of its grading thread (``_Warm``: numpy imported once,
nothing of the grader's), which takes on all of the above before any submission code runs; under bubblewrap
(as root) the warm interpreter runs inside bubblewrap and each child makes namespaces of its own.
``BPCHECK_WARM=0`` starts a new Python (or bubblewrap) per run instead.  What every run reads (the runner,
the inputs) is written once per grader (``SharedFolder``).
"""

from __future__ import annotations

import fcntl
import functools
import glob
import grp
import json
import importlib.util
import os
import pwd
import random
import re
import select as _select
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import threading
import time
import weakref
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator, Optional

from .untrusted import remove_tree

RUNNER = Path(__file__).with_name("runner.py")
#: bpcheck's package and subpackages, each looked up by its own name: with an editable install the subpackages are
#: folders of their own at the top of the checkout (reference/, oracles/, grader/), outside bpcheck/.  Never the bare
#: names, which find whatever module of that name the grader's path holds (a user's grader.py beside `python -m`).
OWN_PACKAGES = ("bpcheck", "bpcheck.reference", "bpcheck.oracles", "bpcheck.grader")
#: Top-level names a submission may import that are bpcheck's: its import name, and the names its folders were
#: imported by before 0.2.0.  A missing one is never a package the grading machine lacks.
OWN_NAMES = ("bpcheck", "reference", "oracles", "grader")
MODES = ("auto", "bubblewrap", "process", "none")
#: The pool of uids a root grader runs submissions as: one per running submission, never a real user.
UID_BASE = int(os.environ.get("BPCHECK_UID_BASE", "62000"))
UID_COUNT = int(os.environ.get("BPCHECK_UID_COUNT", "1000"))
#: Libraries that differentiate for the student (and their metadata, compiled parts and front ends): hidden from
#: every submission unless its assignment allows them ([environment] allow_autodiff).
AUTODIFF = ("torch", "functorch", "torchgen", "jax", "jaxlib", "flax", "haiku", "equinox", "tensorflow", "keras",
            "tf_keras", "autograd", "mxnet", "chainer", "theano", "pytensor", "aesara", "paddle", "tinygrad", "mlx",
            "micrograd", "sympy")
#: The groups of the grader's shared folders (``SharedFolder``), one per running grader, outside the uid pool (no
#: submission's own group is ever one of them) and never a real group.
SHARED_GID_BASE = int(os.environ.get("BPCHECK_SHARED_GID_BASE", str(UID_BASE + UID_COUNT)))
#: Process mode: the group that may still read them, given to a submission's uid only when its assignment allows them.
AUTODIFF_GID = int(os.environ.get("BPCHECK_AUTODIFF_GID", str(UID_BASE - 1)))
#: The watchdog looks at the scratch folder this often (seconds).
WATCH_INTERVAL = 0.2
MAX_DEPTH = 64


@dataclass(frozen=True)
class Limits:
    """Per-submission limits (an assignment's [limits] table)."""

    timeout_seconds: float = 20.0
    memory_mb: int = 1024
    processes: int = 64
    file_size_mb: int = 32
    open_files: int = 256
    output_bytes: int = 8192
    scratch_mb: int = 64  # everything it writes: scratch folder, /tmp, /dev/shm
    scratch_files: int = 4096


@dataclass
class RunResult:
    returncode: Optional[int]
    timed_out: bool
    seconds: float
    stdout: str
    stderr: str
    sandbox: str
    stopped: Optional[str] = None  # why the watchdog stopped it (a limit it broke), if it did


class SandboxUnavailable(RuntimeError):
    """The requested sandbox cannot run here; the message says why and how to get one."""


# --- what the submission may see: the Python environment bpcheck runs in ------------------------------


def own_folders() -> dict[str, Path]:
    """Each of bpcheck's packages (``OWN_PACKAGES``) → the folder it lives in: all inside bpcheck/ for an installed
    wheel, the checkout's top-level folders for an editable install."""
    out = {}
    for name in OWN_PACKAGES:
        spec = importlib.util.find_spec(name)
        if spec and spec.origin:
            out[name] = Path(os.path.realpath(os.path.dirname(spec.origin)))
    return out


def _own_package_dirs() -> list[str]:
    """The folders of bpcheck's packages, outermost only (an installed wheel has them all inside bpcheck/)."""
    return _outermost({str(d) for d in own_folders().values()})


def _outermost(paths: set[str]) -> list[str]:
    keep: list[str] = []
    for p in sorted(paths, key=len):
        if not any(p == k or p.startswith(k + os.sep) for k in keep):
            keep.append(p)
    return keep


def python_roots() -> list[str]:
    """Folders the interpreter needs: the venv (if any), the base installation, and every import path outside them.

    A folder that holds bpcheck's own packages directly (a source checkout on sys.path) is left out; inside a
    bound site-packages they are hidden instead (``_bwrap_command``).
    """
    own_parents = {os.path.dirname(d) for d in _own_package_dirs()}
    roots = {os.path.realpath(p) for p in (sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix)}
    roots.add(os.path.dirname(os.path.realpath(sys.executable)))
    # ``python -m``/``-c`` put the folder the grader was started from first on the path: often the class's folder,
    # never something the interpreter needs
    started_in = os.path.realpath(os.curdir)
    for entry in sys.path:
        real = os.path.realpath(entry or os.curdir)
        if os.path.isdir(real) and real not in own_parents and real != started_in and not real.startswith("/usr/"):
            roots.add(real)
    return [r for r in _outermost(roots) if r != "/usr" and not r.startswith("/usr/")]


def _site_dirs() -> list[str]:
    """Every folder a Python here imports installed packages from: this interpreter's path, its installation's and
    the system's site-packages."""
    found = {os.path.realpath(p) for p in sys.path if p}
    patterns = ["/usr/lib/python3*/*-packages", "/usr/local/lib/python3*/*-packages",
                *(os.path.join(r, "lib", "python3*", "site-packages") for r in python_roots())]
    for pattern in patterns:
        found.update(os.path.realpath(p) for p in glob.glob(pattern))
    return sorted(d for d in found if os.path.isdir(d))


@functools.lru_cache(maxsize=1)
def autodiff_paths() -> tuple[str, ...]:
    """Every installed file or folder of an ``AUTODIFF`` library in ``_site_dirs``: its package, module file,
    compiled extension and metadata (torch/, torch.libs/, autograd.py, jaxlib-0.4.30.dist-info/, ...)."""
    out = set()
    for d in _site_dirs():
        try:
            names = os.listdir(d)
        except OSError:
            continue
        out.update(os.path.realpath(os.path.join(d, n)) for n in names
                   if any(n == lib or n.startswith((lib + ".", lib + "-")) for lib in AUTODIFF))
    return tuple(sorted(out))


def _hide(paths: list[str], visible: list[str]) -> list[str]:
    """bubblewrap's arguments that hide ``paths`` (those inside ``visible``): an empty folder, or an empty file."""
    args: list[str] = []
    for p in paths:
        if any(p.startswith(v + os.sep) for v in visible):
            args += ["--tmpfs", p] if os.path.isdir(p) else ["--ro-bind", "/dev/null", p]
    return args


def _system_dirs() -> list[str]:
    """/bin, /lib, ... as on the host: links (merged /usr) recreated as links, real folders bound read-only."""
    args: list[str] = []
    for d in ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"):
        if os.path.islink(d):
            args += ["--symlink", os.readlink(d), d]
        elif os.path.isdir(d):
            args += ["--ro-bind", d, d]
    return args


def _bwrap_prefix(limits: Limits, binds: list[str], allow_autodiff: bool = False) -> list[str]:
    """bubblewrap's arguments up to the command: namespaces, the system, this Python environment (bpcheck's own
    packages hidden, and the autodiff libraries unless allowed), ``binds``."""
    roots = python_roots()
    as_root = os.geteuid() == 0
    cmd = [shutil.which("bwrap") or "bwrap", *([] if as_root else ["--unshare-user"]),
           "--unshare-pid", "--unshare-net", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try",
           "--die-with-parent", "--new-session", "--ro-bind", "/usr", "/usr", *_system_dirs(),
           "--proc", "/proc", "--dev", "/dev",
           "--perms", "1777", "--size", str(limits.scratch_mb << 20), "--tmpfs", "/tmp",
           "--perms", "1777", "--size", str(limits.scratch_mb << 20), "--tmpfs", "/dev/shm"]
    made = {"/", "/usr", "/tmp", "/proc", "/dev"}
    for root in roots:
        parts = Path(root).parts
        for i in range(2, len(parts)):
            d = str(Path(*parts[:i]))
            if d not in made:
                cmd += ["--perms", "0755", "--dir", d]
                made.add(d)
        cmd += ["--ro-bind", root, root]
    cmd += _hide(_own_package_dirs(), roots)
    cmd += [] if allow_autodiff else _hide(list(autodiff_paths()), [*roots, "/usr"])
    return cmd + binds


#: Where a bubblewrap run sees its grader's shared folder (``SharedFolder``).
SHARED_IN_BWRAP = "/shared"


def _bwrap_command(job: Path, scratch: Path, limits: Limits, allow_autodiff: bool = False,
                   shared: Optional[Path] = None) -> list[str]:
    """The runner (``shared``'s, else the job's own) run on ``job`` in bubblewrap; ``shared`` bound read-only."""
    binds = ["--ro-bind", str(job), "/job", *(["--ro-bind", str(shared), SHARED_IN_BWRAP] if shared else []),
             "--bind", str(scratch), "/sandbox", "--chdir", "/sandbox/out",
             "--clearenv", *_env_args({"HOME": "/sandbox", "TMPDIR": "/tmp"})]
    runner = f"{SHARED_IN_BWRAP}/runner.py" if shared else "/job/runner.py"
    return [*_bwrap_prefix(limits, binds, allow_autodiff), sys.executable, "-I", "-B", runner, "/job",
            "/sandbox/submission", "/sandbox/out"]


def _env(extra: dict[str, str]) -> dict[str, str]:
    return {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1",
            "MKL_NUM_THREADS": "1", "MPLBACKEND": "Agg", **extra}


def _env_args(extra: dict[str, str]) -> list[str]:
    return [a for k, v in _env(extra).items() for a in ("--setenv", k, v)]


def _prlimit(limits: Limits) -> list[str]:
    """The limits as a ``prlimit`` prefix (util-linux): set in the child without running Python code after fork."""
    path = shutil.which("prlimit")
    if path is None:
        raise SandboxUnavailable("prlimit (util-linux) is not installed; it sets each submission's limits. "
                                 "Install it: apt-get install util-linux")
    cpu = int(limits.timeout_seconds) + 1
    return [path, f"--cpu={cpu}", f"--as={limits.memory_mb << 20}", f"--fsize={limits.file_size_mb << 20}",
            f"--nofile={limits.open_files}", f"--nproc={limits.processes}", "--core=0", "--"]


# --- the pool of unprivileged uids ---------------------------------------------------------------------


class CleanupFailed(RuntimeError):
    """Something of a submission survived its sweep: the machine's failure, never the student's; its uid is retired."""


def _lock_dir() -> Path:
    d = Path(os.environ.get("BPCHECK_LOCK_DIR", "/run/bpcheck" if os.access("/run", os.W_OK) else "/tmp/bpcheck-root"))
    d.mkdir(mode=0o700, exist_ok=True)
    st = os.lstat(d)
    if not stat.S_ISDIR(st.st_mode) or st.st_uid != 0 or st.st_mode & 0o077:
        raise SandboxUnavailable(f"{d}: the uid pool's lock folder must be a folder owned by root with mode 0700")
    return d


def _retired(uid: int) -> Path:
    """The mark of a uid whose sweep failed: while it exists (in the root-only lock folder) the uid is never used."""
    return _lock_dir() / f"uid-{uid}.retired"


def _swept_clean(uid: int) -> Path:
    """The mark of a uid whose last holder's sweep found nothing of it left (in the root-only lock folder): its next
    claim need not look at every process.  Only root makes a process of a uid, and the grader only while it holds the
    uid's lock; the claim takes the mark away, so a holder that dies before its own sweep leaves none."""
    return _lock_dir() / f"uid-{uid}.clean"


def _claim(uid: int, mode: str) -> Optional[int]:
    """A lock on ``uid`` with nothing of an earlier grader's left in it, or None (a real account, in use, retired)."""
    try:
        pwd.getpwuid(uid)
        return None  # a real account: never ours
    except KeyError:
        pass
    fd = _lock(f"uid-{uid}.lock")
    if fd is None:
        return None
    try:
        if _retired(uid).exists():
            raise BlockingIOError
        mark = _swept_clean(uid)
        if not mark.exists() and _uid_has_processes(uid):  # left over from a grader that was killed: clean it first
            sweep(uid, mode)
        mark.unlink(missing_ok=True)
        return fd
    except (BlockingIOError, CleanupFailed):
        os.close(fd)
        return None


def _lock(name: str) -> Optional[int]:
    """The descriptor of an exclusive lock on ``name`` in the lock folder (held until closed), or None: held already."""
    fd = os.open(_lock_dir() / name, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return fd
    except BlockingIOError:
        os.close(fd)
        return None


def _pool_id(base: int, claim: Callable[[int], Optional[int]], taken: str) -> tuple[int, int]:
    """An id from the pool at ``base`` (tried from a random start) that ``claim`` locks, and its lock's descriptor."""
    start = random.randrange(UID_COUNT)
    for i in range(UID_COUNT):
        found = base + (start + i) % UID_COUNT
        fd = claim(found)
        if fd is not None:
            return found, fd
    raise SandboxUnavailable(taken)


@contextmanager
def uid_slot(mode: str = "process") -> Iterator[int]:
    """An unused uid from the pool, held (by a lock file) for as long as the block runs.  Never preferably the uid
    just swept: its killed processes may not all be reaped yet, and until they are they count against the next run's
    process limit (RLIMIT_NPROC counts a uid's processes machine-wide)."""
    uid, fd = _first_free(mode)
    try:
        yield uid
    finally:
        os.close(fd)


def _first_free(mode: str) -> tuple[int, int]:
    """An unused id from the pool and the descriptor of its lock (held until closed)."""
    return _pool_id(UID_BASE, lambda uid: _claim(uid, mode),
                    f"all {UID_COUNT} uids from {UID_BASE} are in use by running submissions or retired after "
                    f"a failed clean-up (remove {_lock_dir()}/uid-N.retired once uid N runs nothing)")


# --- what every submission of one grader reads: the runner and the calls' inputs, written once ----------


class SharedFolder:
    """A folder every submission of one grader reads and none may change: the runner and the input arrays of every
    call, written once per grader instead of once per submission.  Owned by root (the grader); with a uid pool it is
    readable only through a group of its own, a pool id held (locked) for the folder's life so that no process ever
    runs as it, which the grader's submissions join: a submission of another grader on this machine cannot read it.
    It holds nothing a submission does not receive anyway (never the expected answers).  Removed by ``close``, or
    when it is garbage-collected or the grader exits."""

    def __init__(self, box: "Sandbox", fill: Callable[[Path], None]):
        self.gid, lock = _free_group() if box.drops_to_uid else (None, None)
        self.path = Path(tempfile.mkdtemp(prefix="bpcheck-shared-", dir=_runs() if box.warm_bubblewrap else work_root()))
        self._finalizer = weakref.finalize(self, _release_shared, str(self.path), lock)
        _SHARED.add(self)
        fill(self.path)
        shutil.copy(RUNNER, self.path / "runner.py")
        dir_mode, file_mode = (0o750, 0o640) if self.gid is not None else (0o700, 0o600)
        for dirpath, _, filenames in os.walk(self.path):
            for name in [dirpath, *(os.path.join(dirpath, f) for f in filenames)]:
                if self.gid is not None:
                    os.chown(name, -1, self.gid, follow_symlinks=False)
                os.chmod(name, dir_mode if name == dirpath else file_mode)
        # the folder that holds it (the temporary folder) must let the pool uids through: select() checks that

    @property
    def groups(self) -> list[int]:
        """The supplementary groups a submission needs to read it."""
        return [self.gid] if self.gid is not None else []

    def close(self) -> None:
        self._finalizer()


_SHARED: "weakref.WeakSet[SharedFolder]" = weakref.WeakSet()


def _free_group() -> tuple[int, int]:
    """A group id from ``SHARED_GID_BASE`` that is no real group and no other grader's, and its lock (held until
    closed)."""
    return _pool_id(SHARED_GID_BASE, _claim_group, f"all {UID_COUNT} group ids from {SHARED_GID_BASE} are held by running graders")


def _claim_group(gid: int) -> Optional[int]:
    try:
        grp.getgrgid(gid)
        return None  # a real group: never ours
    except KeyError:
        return _lock(f"gid-{gid}.lock")


def _release_shared(path: str, lock: Optional[int]) -> None:
    try:
        remove_tree(path)
    finally:
        if lock is not None:
            os.close(lock)


# --- a submission's processes, as the kernel lists them ------------------------------------------------


def _status(pid: int) -> Optional[tuple[int, tuple[int, ...]]]:
    """(parent pid, real/effective/saved/fs uids) of ``pid`` while it runs; None when gone or a zombie (it runs nothing).

    Read from /proc/<pid>/status, not from the owner of /proc/<pid>: a process that made itself non-dumpable
    shows as root's there, and a setuid program keeps the submission's uid among its real and saved ones.
    """
    try:
        fd = os.open(f"/proc/{pid}/status", os.O_RDONLY | os.O_CLOEXEC)  # no file object: this runs for every process
        try:
            found = _STATUS.search(os.read(fd, 4096))  # its Uid line is within the first 300 bytes
        finally:
            os.close(fd)
    except OSError:
        return None
    if found is None or found[1] in (b"Z", b"X"):
        return None
    return int(found[2]), tuple(int(u) for u in found[3].split())


#: State, PPid and Uid, in the order /proc/<pid>/status gives them (a regular expression: this runs five times a second).
_STATUS = re.compile(rb"^State:\s*(\S).*?^PPid:\s*(\d+).*?^Uid:([\d\s]+?)$", re.M | re.S)


def _process_table() -> list[tuple[int, int, tuple[int, ...]]]:
    """(pid, parent pid, uids) of every process that runs."""
    return [(int(name), *st) for name in os.listdir("/proc") if name.isdigit() and (st := _status(int(name)))]


def _members(uid: Optional[int], root: Optional[int] = None) -> list[int]:
    """The processes running as ``uid``; with no uid (no pool: a grader that is not root), ``root`` and its descendants."""
    table = _process_table()
    if uid is not None:
        return [pid for pid, _, uids in table if uid in uids]
    children: dict[int, list[int]] = {}
    for pid, parent, _ in table:
        children.setdefault(parent, []).append(pid)
    found, todo = [], [root] if root is not None else []
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo += children.get(pid, [])
    return found


def _uid_has_processes(uid: int) -> bool:
    return bool(_members(uid))


def _kill(pid: int, uid: int) -> None:
    """SIGKILL ``pid`` if it runs as ``uid``, through a pidfd: checked, then killed, the same process even if the pid
    is reused meanwhile.  Where pidfds are refused (an old kernel or seccomp profile) by pid, just after the check."""
    try:
        fd: Optional[int] = os.pidfd_open(pid)
    except OSError:
        fd = None
    try:
        if uid in (_status(pid) or (0, ()))[1]:
            signal.pidfd_send_signal(fd, signal.SIGKILL) if fd is not None else os.kill(pid, signal.SIGKILL)
    except OSError:
        pass
    finally:
        if fd is not None:
            os.close(fd)


# --- after a submission: nothing it started or created survives -----------------------------------------

#: How long the sweep may take to see every process of a uid gone (SIGKILL is not instant: memory is freed first).
SWEEP_SECONDS = 10.0

# Runs as root, once every process of the uid is dead: removes the System V IPC objects the uid owns or created
# (its owner can hand one to root, never its creator, cuid), then becomes the uid to clear its user, user-session
# and persistent keyrings (keyrings outlive processes; root cannot name another uid's user keyring).  Everything
# is imported before becoming the uid.  Standard library only, no site (-S).  Exit 1 if an object stays.
_SWEEP = r"""
import ctypes, os, platform, sys
uid = int(sys.argv[1])
libc = ctypes.CDLL(None, use_errno=True)
left = 0
for kind, cols, rm in (("shm", (7, 9), lambda i: libc.shmctl(i, 0, None)), ("sem", (4, 6), lambda i: libc.semctl(i, 0, 0)),
                       ("msg", (7, 9), lambda i: libc.msgctl(i, 0, None))):
    try:
        rows = open("/proc/sysvipc/" + kind).read().splitlines()[1:]
    except OSError:
        continue
    for row in rows:
        f = row.split()
        if any(int(f[c]) == uid for c in cols) and rm(int(f[1])) != 0:
            left += 1
nr = {"x86_64": 250, "aarch64": 219, "i686": 288, "ppc64le": 289, "s390x": 280}.get(platform.machine())
os.setgroups([]); os.setgid(uid); os.setuid(uid)
if nr:
    libc.syscall(nr, 1, None)  # join a fresh session keyring first: never touch the grader's inherited one
    kept = libc.syscall(nr, 22, -1, -3)  # KEYCTL_GET_PERSISTENT: the uid's keyring that outlives its sessions
    for ring in (-4, -5, *([kept] if kept > 0 else [])):  # user, user-session, persistent
        libc.syscall(nr, 7, ring)  # KEYCTL_CLEAR
    if kept > 0:
        libc.syscall(nr, 21, kept)  # KEYCTL_INVALIDATE: the persistent keyring itself goes
sys.exit(1 if left else 0)
"""


def sweep(uid: int, mode: str, warm: bool = False) -> None:
    """As root: kill every process of ``uid`` by pid (none of them can signal root, so none can stop this), then
    remove its IPC objects and keys; in process mode also its files in world-writable folders.

    CleanupFailed, and the uid retired for good, if anything of it survives: a grade read after a failed sweep
    could be the work of what survived, and a uid reused after one would hand it the next student.  ``warm``: the
    IPC objects and keys are removed by a child of this thread's server of sweeps, not by a Python started anew."""
    problems = []
    end = time.monotonic() + SWEEP_SECONDS
    while (alive := _members(uid)) and time.monotonic() < end:
        for pid in alive:
            _kill(pid, uid)
        time.sleep(0.01)
    if alive:
        problems.append(f"{len(alive)} of its processes outlived SIGKILL for {SWEEP_SECONDS:g} s")
    else:
        try:
            try:
                code, said = _sweeper().sweep(uid) if warm else _cold_sweep(uid)
            except WarmUnavailable:
                code, said = _cold_sweep(uid)
            if code != 0:
                problems.append(f"its IPC objects or keys could not be removed ({said.decode(errors='replace')[-200:]})")
        except subprocess.TimeoutExpired:
            problems.append("removing its IPC objects and keys took over 30 s")
    if mode == "process":
        problems += _remove_files(uid)
    if problems:
        _retired(uid).write_text("; ".join(problems) + "\n")
        raise CleanupFailed(f"the sandbox could not clean up after uid {uid}: {'; '.join(problems)}; the uid is retired")
    _swept_clean(uid).touch()


def _cold_sweep(uid: int) -> tuple[int, bytes]:
    """``_SWEEP`` for ``uid`` in a Python started for it: (exit status, what it wrote to stderr)."""
    done = subprocess.run([sys.executable, "-I", "-S", "-c", _SWEEP, str(uid)], stdin=subprocess.DEVNULL,
                          capture_output=True, env={"PATH": "/usr/bin:/bin"}, cwd="/", timeout=30)
    return done.returncode, done.stderr


def _remove_files(uid: int) -> list[str]:
    """Remove what ``uid`` owns in world-writable folders; what could not be removed."""
    failed = []
    for d in world_writable_dirs():
        try:
            with os.scandir(d) as it:
                theirs = [e.path for e in it if e.stat(follow_symlinks=False).st_uid == uid]
        except OSError:
            continue
        for path in theirs:
            try:
                remove_tree(path)
            except OSError as exc:
                failed.append(f"{path} could not be removed ({exc})")
    return failed


def _scan(roots: list[str], enter) -> Iterator[tuple[os.DirEntry, os.stat_result, int]]:
    """Every entry below ``roots`` with its lstat and depth, iteratively; folders entered where ``enter(st)``."""
    stack = [(r, 0) for r in roots]
    while stack:
        d, depth = stack.pop()
        try:
            it = os.scandir(d)
        except OSError:
            continue
        with it:
            for e in it:
                try:
                    st = e.stat(follow_symlinks=False)
                except OSError:
                    continue
                yield e, st, depth + 1
                if stat.S_ISDIR(st.st_mode) and enter(e, st):
                    stack.append((e.path, depth + 1))


@functools.lru_cache(maxsize=1)
def world_writable_dirs() -> tuple[str, ...]:
    """Every folder an unprivileged uid with no groups can create files in: world-writable and reachable.

    Found once per grader process by walking from / through folders others may enter (o+x), skipping /proc,
    /sys and the distribution's /usr; /dev/shm and /dev/mqueue are added by name.
    """
    found = {d for d in ("/dev/shm", "/dev/mqueue") if os.path.isdir(d) and os.stat(d).st_mode & 0o003 == 0o003}
    skip = {"/proc", "/sys", "/dev", "/usr"}
    for e, st, _ in _scan(["/"], lambda e, st: e.path not in skip and st.st_mode & 0o001):
        if stat.S_ISDIR(st.st_mode) and e.path not in skip and st.st_mode & 0o003 == 0o003:
            found.add(e.path)
    return tuple(sorted(found))


# --- the watchdog --------------------------------------------------------------------------------------


def _held_bytes(pids: list[int]) -> int:
    """Bytes held by ``pids`` in files no folder shows: memory files (memfd_create) and files deleted while open.

    Memory written to a memfd is not address space (RLIMIT_AS misses it) and a deleted file is in no folder the
    watchdog walks, yet both hold memory or disk until their last descriptor closes: counted here, once per file,
    by the blocks it has (a sparse file costs nothing).  Each is at most ``file_size_mb`` (RLIMIT_FSIZE bounds
    write, ftruncate and fallocate alike), and a process holds at most ``open_files`` of them.
    """
    seen, held = set(), 0
    for pid in pids:
        fds = f"/proc/{pid}/fd"
        try:
            names = os.listdir(fds)
        except OSError:
            continue
        for fd in names:
            try:
                target = os.readlink(f"{fds}/{fd}")
                if not (target.startswith("/memfd:") or target.endswith(" (deleted)")):
                    continue
                st = os.stat(f"{fds}/{fd}")
            except OSError:
                continue
            if stat.S_ISREG(st.st_mode) and (st.st_dev, st.st_ino) not in seen:
                seen.add((st.st_dev, st.st_ino))
                held += st.st_blocks * 512
    return held


def _usage(roots: list[str], uid: Optional[int], limits: Limits, held: int = 0) -> Optional[str]:
    """The limit broken by the files below ``roots`` (only those owned by ``uid``, if given) and the ``held``
    bytes of files no folder shows (``_held_bytes``), or None."""
    if held > limits.scratch_mb << 20:
        return f"held more than {limits.scratch_mb} MB in memory files or deleted files (the scratch limit)"
    used, files = held, 0
    for _, st, depth in _scan(roots, lambda e, st: uid is None or st.st_uid == uid):
        if uid is not None and st.st_uid != uid:
            continue
        files += 1
        used += st.st_blocks * 512
        if stat.S_ISDIR(st.st_mode) and depth > MAX_DEPTH:
            return f"made folders nested more than {MAX_DEPTH} deep"
        if used > limits.scratch_mb << 20:
            return f"wrote more than {limits.scratch_mb} MB (the scratch limit)"
        if files > limits.scratch_files:
            return f"created more than {limits.scratch_files} files (the scratch limit)"
    return None


# --- where runs are laid out: a tmpfs when there is one with room ----------------------------------------

#: The tmpfs workspaces go to, and the room it must have left for them to go there (else the disk's temporary folder).
TMPFS, TMPFS_MIN_FREE = "/dev/shm", 4 << 30


#: The grader's on/off switches in the environment: each on unless set to 0 (checked by ``select``).
SWITCHES = ("BPCHECK_WARM", "BPCHECK_TMPFS", "BPCHECK_AFFINITY")


def switched_on(name: str) -> bool:
    """Whether the switch ``name`` is on: unset or 1 is on, 0 off; any other value is refused, never read as either."""
    value = os.environ.get(name, "1")
    if value not in ("0", "1"):
        raise ValueError(f"{name}: expected 0 (off) or 1 (on), got {value!r}")
    return value == "1"


@functools.lru_cache(maxsize=1)
def work_root() -> Optional[str]:
    """Where this grader lays out its runs (workspaces, shared folder): ``TMPFS`` when it is a tmpfs this process can
    write with ``TMPFS_MIN_FREE`` bytes free, unless TMPDIR names a folder (a user's choice wins) or BPCHECK_TMPFS=0;
    else None (``tempfile``'s folder).  A run creates and removes some twenty files and folders: on a disk's journal
    that cost more than the student's code (0.5 ms per folder removed).  Decided once per grader process; what a
    run may write there stays bounded by the watchdog's ``scratch_mb``, as on a disk."""
    if os.environ.get("TMPDIR") or not switched_on("BPCHECK_TMPFS"):
        return None
    try:
        room = os.statvfs(TMPFS)
        with open("/proc/self/mounts") as fh:
            tmpfs = any(f[1] == TMPFS and f[2] == "tmpfs" for f in (line.split() for line in fh) if len(f) > 2)
    except OSError:
        return None
    return TMPFS if tmpfs and os.access(TMPFS, os.W_OK) and room.f_bavail * room.f_frsize >= TMPFS_MIN_FREE else None


# --- the warm interpreter: numpy imported once per grading thread, a fresh child per run ------------------

#: Whether runs start as children forked from a warm interpreter (BPCHECK_WARM=0: a new Python per run, as before).
WARM = os.environ.get("BPCHECK_WARM", "1") != "0"
_THREAD = threading.local()
#: Where a warm bubblewrap interpreter sees the grader's runs folder (``_runs``) and its own copy of the runner.
RUNS_IN_BWRAP, RUNNER_IN_BWRAP = "/runs", "/warm/runner.py"


class WarmUnavailable(RuntimeError):
    """No warm interpreter took the run (none could start, or it ended): the run starts anew instead."""


class _Warm:
    """One of this thread's ``runner.py --serve``: a Python started anew (never a fork of the grader) that imports
    numpy and nothing of the grader's, and forks a child per request, which takes on the run's namespaces, limits,
    uid and groups before any submission code runs (``runner._become_in_child``).  ``bwrap``: the arguments that
    start it inside bubblewrap, as root, where each child makes namespaces of its own (``runner._isolate``).  It
    ends when this object's socket closes (the thread or the grader ended)."""

    def __init__(self, bwrap: Optional[list[str]] = None, runs: bool = True) -> None:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        runner = RUNNER_IN_BWRAP if bwrap else str(RUNNER)
        with theirs:
            self.proc = subprocess.Popen([*(bwrap or []), sys.executable, "-I", "-B", runner,
                                          "--serve" if runs else "--serve-sweeps",
                                          str(theirs.fileno())], pass_fds=[theirs.fileno()], stdin=subprocess.DEVNULL,
                                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd="/", env=_env({}),
                                         start_new_session=True)
        self.sock = ours
        self._finalizer = weakref.finalize(self, _stop_warm, ours, self.proc)

    def start(self, request: dict, out, err) -> "_WarmChild":
        """A child running ``request`` with ``out`` and ``err`` as its stdout and stderr.  ``WarmUnavailable`` when
        the request could not even be sent (the interpreter never started, or is gone): nothing runs."""
        try:
            socket.send_fds(self.sock, [json.dumps(request).encode()], [out.fileno(), err.fileno()])
        except OSError as exc:
            self._finalizer()
            raise WarmUnavailable(f"the warm interpreter is gone ({exc})") from exc
        return _WarmChild(self, int(self._reply()))

    def _reply(self, timeout: Optional[float] = None) -> Optional[bytes]:
        """The server's next reply; None if none came within ``timeout``; RuntimeError if the server is gone."""
        if not _select.select([self.sock], [], [], timeout)[0]:
            return None
        msg = self.sock.recv(64)
        if not msg:
            self._finalizer()  # never asked again: the next run starts a new one
            raise RuntimeError("the warm interpreter ended unexpectedly")
        return msg

    def sweep(self, uid: int) -> tuple[int, bytes]:
        """``_SWEEP`` for ``uid`` in a child: (exit status, what it wrote to stderr)."""
        with tempfile.TemporaryFile() as err, open(os.devnull, "wb") as out:
            request = {"code": _SWEEP, "argv0": "-c", "args": [str(uid)], "uid": None, "groups": [], "rlimits": {},
                       "namespaces": False, "cwd": "/", "env": {"PATH": "/usr/bin:/bin"}}
            code = self.start(request, out, err).wait(30)
            err.seek(0)
            return code, err.read(4096)


def _stop_warm(sock: socket.socket, proc: subprocess.Popen) -> None:
    sock.close()  # the server reads the end of its socket and returns
    try:
        proc.wait(5)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


class _WarmChild:
    """A run forked by the warm interpreter, waited for as a ``subprocess.Popen`` is (``pid``, ``poll``, ``wait``).
    Under bubblewrap ``pid`` is a pid of the interpreter's own PID namespace, never one to signal from here."""

    def __init__(self, server: _Warm, pid: int):
        self.server, self.pid, self.returncode = server, pid, None

    def poll(self) -> Optional[int]:
        if self.returncode is None:
            self._take(self.server._reply(0))
        return self.returncode

    def wait(self, timeout: Optional[float] = None) -> int:
        if self.returncode is None:
            reply = self.server._reply(timeout)
            if reply is None:
                raise subprocess.TimeoutExpired(f"run {self.pid}", timeout or 0)
            self._take(reply)
        return self.returncode

    def _take(self, reply: Optional[bytes]) -> None:
        if reply is not None:
            self.returncode = int(reply)


def _servers() -> dict:
    if not hasattr(_THREAD, "servers"):
        _THREAD.servers = {}
    return _THREAD.servers


def _after_fork_in_child() -> None:
    """In a process forked from the grader (a grading worker): the warm interpreters this thread inherited serve the
    parent and the shared and runs folders are the parent's to remove; it uses none of them, and removes nothing."""
    global _THREAD
    for inherited in _servers().values():
        inherited._finalizer.detach()
        inherited.sock.close()  # this process's copy of the descriptor only
    _THREAD = threading.local()
    for folder in [*_SHARED, *_RUNS]:
        folder._finalizer.detach()


os.register_at_fork(after_in_child=_after_fork_in_child)


def stop_warm() -> None:
    """Stop this thread's warm interpreters now and wait for them (a process that ends without running its
    finalizers, such as a grading worker, calls this first)."""
    servers = _servers()
    while servers:
        servers.popitem()[1]._finalizer()


def _warm(allow_autodiff: Optional[bool] = None) -> _Warm:
    """This thread's warm interpreter, started on first use (one per grading thread: runs never wait for each
    other): on the machine itself, or (``allow_autodiff`` not None) inside bubblewrap, seeing what a bubblewrap run
    of that kind sees and the runs folder."""
    if allow_autodiff is None:
        return _server("machine", lambda: _Warm())

    def start() -> _Warm:
        binds = ["--ro-bind", str(RUNNER), RUNNER_IN_BWRAP, "--bind", _runs(), RUNS_IN_BWRAP,
                 *(a for d in ("/job", "/sandbox", SHARED_IN_BWRAP) for a in ("--dir", d)),
                 "--clearenv", *_env_args({"HOME": "/", "TMPDIR": "/tmp"})]
        return _Warm(_bwrap_prefix(Limits(), binds, allow_autodiff))

    return _server(f"bubblewrap autodiff={allow_autodiff}", start)


def _sweeper() -> _Warm:
    """This thread's server of sweeps: on the machine, without numpy (a sweep forked from a server with numpy cost
    6.0 ms of CPU, 3.5 ms without)."""
    return _server("sweeps", lambda: _Warm(runs=False))


def _server(key: str, start: Callable[[], _Warm]) -> _Warm:
    """This thread's server ``key``, started (``start``) on first use or when the last one ended."""
    server = _servers().get(key)
    if server is None or not server._finalizer.alive or server.proc.poll() is not None:
        server = _servers()[key] = start()
    return server


class _RunsFolder:
    """The folder that holds a root grader's warm bubblewrap runs (their workspaces and shared folders), bound into
    its warm interpreters; each run binds its own folders from it and then unmounts it, so it sees no other run."""

    def __init__(self) -> None:
        self.path = tempfile.mkdtemp(prefix="bpcheck-runs-", dir=work_root())
        self._finalizer = weakref.finalize(self, remove_tree, self.path)


_RUNS: list[_RunsFolder] = []
_RUNS_LOCK = threading.Lock()


def _runs() -> str:
    with _RUNS_LOCK:  # grading threads ask at once on their first runs: one folder for all
        if not _RUNS:
            _RUNS.append(_RunsFolder())
        return _RUNS[0].path


def _limits_request(limits: Limits) -> dict:
    return {"RLIMIT_CPU": int(limits.timeout_seconds) + 1, "RLIMIT_AS": limits.memory_mb << 20,
            "RLIMIT_FSIZE": limits.file_size_mb << 20, "RLIMIT_NOFILE": limits.open_files,
            "RLIMIT_NPROC": limits.processes, "RLIMIT_CORE": 0}


def _warm_request(job: Path, scratch: Path, limits: Limits, uid: Optional[int], groups: list[int],
                  runner: Path) -> dict:
    """What ``_start`` runs in a warm child: the command line, environment and limits of a cold start."""
    args = [str(job), str(scratch / "submission"), str(scratch / "out")]
    return {"argv0": str(runner), "args": args, "uid": uid, "groups": groups, "cwd": args[2],
            "namespaces": uid is not None and namespaces_refused() is None,
            "env": _env({"HOME": str(scratch), "TMPDIR": str(scratch / "tmp")}), "rlimits": _limits_request(limits)}


def _warm_bwrap_request(job: Path, scratch: Path, limits: Limits, uid: int, groups: list[int],
                        shared: SharedFolder) -> dict:
    """What a warm bubblewrap child runs: as a cold bubblewrap run, its job at /job (read-only), its scratch at
    /sandbox, the shared folder at /shared (read-only), a fresh /tmp and /dev/shm of ``scratch_mb``; all found in
    the runs folder, which it then unmounts."""
    inside = {name: os.path.join(RUNS_IN_BWRAP, os.path.relpath(path, _runs()))
              for name, path in (("job", job), ("scratch", scratch), ("shared", shared.path))}
    return {"argv0": f"{SHARED_IN_BWRAP}/runner.py", "args": ["/job", "/sandbox/submission", "/sandbox/out"],
            "uid": uid, "groups": groups, "cwd": "/sandbox/out", "namespaces": False,
            "isolate": {**inside, "tmp_bytes": limits.scratch_mb << 20, "runs": RUNS_IN_BWRAP},
            "env": _env({"HOME": "/sandbox", "TMPDIR": "/tmp", "PWD": "/sandbox/out"}),  # bubblewrap sets PWD
            "rlimits": _limits_request(limits)}


# --- the modes -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Sandbox:
    """A chosen sandbox mode; ``run`` runs one submission's runner in it."""

    mode: str  # bubblewrap | process | none
    description: str
    warm: bool = False  # runs forked from a warm interpreter (process, none) and swept by one (``_Warm``)

    @property
    def contained(self) -> bool:
        return self.mode != "none"

    @property
    def drops_to_uid(self) -> bool:
        """Whether submissions run as a pool uid (the grader is root and the mode is a real sandbox)."""
        return self.contained and os.geteuid() == 0

    @property
    def warm_bubblewrap(self) -> bool:
        """Whether bubblewrap runs are forked from a warm interpreter inside bubblewrap: only as root, which can give
        each run namespaces of its own from there."""
        return self.warm and self.mode == "bubblewrap" and self.drops_to_uid

    @contextmanager
    def workspace(self) -> Iterator[tuple[Path, Optional[int]]]:
        """A fresh temporary folder for one submission, and its uid; afterwards nothing of it is left."""
        with uid_slot(self.mode) if self.drops_to_uid else _no_uid() as uid:
            tmp = Path(tempfile.mkdtemp(prefix="bpcheck-sub-", dir=_runs() if self.warm_bubblewrap else work_root()))
            _THREAD.swept = None
            try:
                os.chmod(tmp, 0o711)  # the uid may reach job/ and scratch/ by name, never list or write here
                yield tmp, uid
            finally:
                try:
                    # after a sweep that found the uid empty nothing can start as it again (only root makes a
                    # process of a uid): the look at every process is needed only when the run never reached it
                    if (uid is not None and _THREAD.swept != uid and not _retired(uid).exists()
                            and _uid_has_processes(uid)):
                        sweep(uid, self.mode)  # the run never reached its own sweep
                finally:
                    remove_tree(str(tmp))

    def run(self, job: Path, scratch: Path, limits: Limits, uid: Optional[int], allow_autodiff: bool = False,
            shared: Optional[SharedFolder] = None) -> RunResult:
        """Run the runner on ``job`` with the submission already in ``scratch`` (see ``prepare``), as ``uid``;
        the autodiff libraries stay out of its reach unless ``allow_autodiff``.  With ``shared``, the runner and
        the inputs are read from there (the job says where), else from ``job``."""
        logs = scratch.parent / "logs"
        logs.mkdir(mode=0o700)
        out_path, err_path = logs / "stdout", logs / "stderr"
        start = time.monotonic()
        with open(out_path, "wb") as out, open(err_path, "wb") as err:
            proc = self._start(job, scratch, limits, uid, out, err, allow_autodiff, shared)
            look = functools.partial(self._look, scratch, limits, uid, proc.pid)
            timed_out, stopped = False, None
            try:
                timed_out, stopped = _watch(proc, look, limits.timeout_seconds, start)
            finally:
                self._stop(proc, uid)
                proc.wait()
                try:  # what it left counts too, before the sweep removes it (a last write between two looks)
                    if stopped is None and not timed_out:
                        # an ended warm bubblewrap run has no process left to hold a file: its PID namespace is gone
                        stopped = look(gone=isinstance(proc, _WarmChild) and self.mode == "bubblewrap")
                finally:
                    if uid is not None:
                        sweep(uid, self.mode, self.warm)  # before anything it left is read: nothing can change it any more
                        _THREAD.swept = uid
        return RunResult(None if timed_out or stopped else proc.returncode, timed_out, time.monotonic() - start,
                         _head(out_path, limits.output_bytes), _head(err_path, limits.output_bytes), self.mode, stopped)

    def _stop(self, proc: "subprocess.Popen | _WarmChild", uid: Optional[int]) -> None:
        """Kill the run: its process group (under bubblewrap the whole PID namespace dies with it); a warm
        bubblewrap run, whose pid is its interpreter's, by its uid (its PID namespace dies with its first process)."""
        if isinstance(proc, _WarmChild) and self.mode == "bubblewrap":
            if proc.poll() is None:  # once it ended, its PID namespace is gone with it, and the sweep looks anyway
                for pid in _members(uid):
                    _kill(pid, uid)
            return
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass

    def groups(self, allow_autodiff: bool, shared: Optional[SharedFolder]) -> list[int]:
        """A submission's supplementary groups: its grader's shared folder's, and the autodiff libraries' if allowed."""
        return [*(shared.groups if shared else []), *([AUTODIFF_GID] if allow_autodiff else [])]

    def _start(self, job: Path, scratch: Path, limits: Limits, uid: Optional[int], out, err,
               allow_autodiff: bool, shared: Optional[SharedFolder]) -> subprocess.Popen:
        """The runner, started with the limits: in bubblewrap; as ``uid`` (process mode); or as the grader (none).
        The autodiff libraries are hidden (bubblewrap) or closed to the uid (process) unless ``allow_autodiff``."""
        prefix: list[str] = []
        extra: dict = {}
        if self.mode == "bubblewrap":
            if self.warm_bubblewrap and shared is not None and uid is not None:
                try:
                    return _warm(allow_autodiff).start(_warm_bwrap_request(
                        job, scratch, limits, uid, self.groups(allow_autodiff, shared), shared), out, err)
                except WarmUnavailable:
                    pass  # started anew below: bubblewrap, with its job and scratch bound where they are
            cmd, env = _bwrap_command(job, scratch, limits, allow_autodiff, shared.path if shared else None), _env({})
        else:
            runner = (shared.path if shared else job) / "runner.py"
            if self.warm:
                groups = self.groups(allow_autodiff, shared) if self.mode == "process" and uid is not None else []
                try:
                    return _warm().start(_warm_request(job, scratch, limits, uid if self.mode == "process" else None,
                                                       groups, runner), out, err)
                except WarmUnavailable:
                    pass  # started anew below
            cmd = [sys.executable, "-I", "-B", str(runner), str(job), str(scratch / "submission"), str(scratch / "out")]
            env = _env({"HOME": str(scratch), "TMPDIR": str(scratch / "tmp")})
            if self.mode == "process" and uid is not None:
                prefix, extra = _become(uid, self.groups(allow_autodiff, shared))
        return subprocess.Popen([*prefix, *_prlimit(limits), *cmd], stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                                cwd=scratch / "out", env=env, start_new_session=True, **extra)

    def _look(self, scratch: Path, limits: Limits, uid: Optional[int], pid: int, gone: bool = False) -> Optional[str]:
        """One look of the watchdog: the limit the run's files break, or None.  In process mode that is everything
        its uid owns in world-writable folders too; in every mode the files its processes hold open unseen (none
        when its processes are ``gone``)."""
        held = 0 if gone else _held_bytes(_members(uid, pid))
        if self.mode == "process":
            return _usage([str(scratch), *world_writable_dirs()], uid, limits, held)
        return _usage([str(scratch)], None, limits, held)


def _watch(proc: "subprocess.Popen | _WarmChild", look, timeout: float, start: float) -> tuple[bool, Optional[str]]:
    """Wait for ``proc``, calling ``look`` every WATCH_INTERVAL: (timed out, the limit ``look`` found broken).
    Between looks it waits on the process itself, so a run that ends is seen at once, not at the next tick."""
    next_look = start + WATCH_INTERVAL
    while proc.poll() is None:
        now = time.monotonic()
        if now - start > timeout:
            return True, None
        if now >= next_look:
            stopped = look()
            if stopped:
                return False, stopped
            next_look = time.monotonic() + WATCH_INTERVAL
        try:
            proc.wait(max(0.0, min(next_look, start + timeout) - time.monotonic()) + 0.001)
        except subprocess.TimeoutExpired:
            pass
    return False, None


def _become(uid: int, groups: list[int]) -> tuple[list[str], dict]:
    """How a process-mode run becomes ``uid`` with supplementary ``groups``: (a command prefix, Popen's arguments).

    Where the machine allows it, the run starts as root in new network and IPC namespaces (no network at all, and
    its System V objects and POSIX queues die with it), then ``setpriv`` drops to the uid with no_new_privs, so no
    setuid program gives root back.  Elsewhere Popen itself drops to the uid, in the machine's namespaces.
    """
    if namespaces_refused() is None:
        group_args = [f"--groups={','.join(map(str, groups))}"] if groups else ["--clear-groups"]
        return [shutil.which("unshare") or "unshare", "--net", "--ipc", "--", shutil.which("setpriv") or "setpriv",
                f"--reuid={uid}", f"--regid={uid}", *group_args, "--no-new-privs", "--"], {}
    return [], {"user": uid, "group": uid, "extra_groups": groups}


@functools.lru_cache(maxsize=None)
def namespaces_refused() -> Optional[str]:
    """None when, as root, a run can have network and IPC namespaces of its own here (tried); else why not."""
    if os.geteuid() != 0:
        return "the grader is not root"
    missing = [tool for tool in ("unshare", "setpriv") if shutil.which(tool) is None]
    if missing:
        return f"{' and '.join(missing)} (util-linux) not installed"
    try:
        probe = subprocess.run([shutil.which("unshare") or "unshare", "--net", "--ipc", "--", "true"],
                               capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"unshare could not run: {exc}"
    return None if probe.returncode == 0 else (probe.stderr.strip() or f"unshare: exit {probe.returncode}")[:200]


@contextmanager
def _no_uid() -> Iterator[None]:
    yield None


def _head(path: Path, limit: int) -> str:
    with open(path, "rb") as fh:
        data = fh.read(limit + 1)
    text = data[:limit].decode("utf-8", errors="replace")
    return text + ("\n[... output truncated]" if len(data) > limit else "")


def prepare(scratch: Path, submission_files: dict[str, bytes], uid: Optional[int]) -> None:
    """A fresh scratch folder: submission/ with the student's files, out/ for results, tmp/; owned by ``uid``."""
    for sub in ("submission", "out", "tmp"):
        (scratch / sub).mkdir(parents=True, exist_ok=True)
    for rel, data in submission_files.items():
        target = scratch / "submission" / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
    for dirpath, dirnames, filenames in os.walk(scratch):
        for name in [dirpath, *(os.path.join(dirpath, f) for f in filenames)]:
            if uid is not None:
                os.chown(name, uid, uid, follow_symlinks=False)
            os.chmod(name, 0o700 if os.path.isdir(name) else 0o600)


# --- choosing a mode -----------------------------------------------------------------------------------


def _entries(folder: str) -> list[str]:
    try:
        return [e.path for e in os.scandir(folder)]
    except OSError:
        return []


def source_trees() -> list[str]:
    """bpcheck's own package folders, and the checkout that holds them when there is one (a folder with a
    pyproject.toml: an editable install, or PYTHONPATH=src): its examples/solutions/, tests/, assignments."""
    dirs = _own_package_dirs()
    checkouts = {p for p in map(os.path.dirname, dirs) if os.path.isfile(os.path.join(p, "pyproject.toml"))}
    return sorted({*dirs, *checkouts})


def _close_to_others(path: str, keep: list[str]) -> None:
    """``path`` closed to other users (o-rwx).  A folder that holds one of ``keep`` (the Python environment, as in
    a checkout with its .venv inside) keeps o+x only, and each of its entries is closed the same way instead."""
    st = os.lstat(path)
    if stat.S_ISLNK(st.st_mode) or path in keep:
        return
    inside = [k for k in keep if k.startswith(path + os.sep)]
    if not inside:
        if st.st_mode & 0o007:
            os.chmod(path, stat.S_IMODE(st.st_mode) & ~0o007)
        return
    os.chmod(path, (stat.S_IMODE(st.st_mode) & ~0o007) | 0o001)
    for e in os.scandir(path):
        _close_to_others(e.path, inside)


def _close_source() -> None:
    """As root, in process mode: bpcheck's source (its packages and its checkout) closed to other users, once."""
    for tree in source_trees():
        _close_to_others(tree, python_roots())


_READABLE = r"""
import os, sys
for p in sys.stdin.read().split("\0"):
    try:
        os.listdir(p) if os.path.isdir(p) else open(p, "rb").close()
    except (OSError, ValueError):
        continue
    sys.stdout.write(p + "\0")
"""


def readable_by_submissions(paths: list[str], mode: str) -> list[str]:
    """Those of ``paths`` a submission could read (a file) or list (a folder) in ``mode``.  Process mode asks the
    kernel, by trying as a pool uid; under bubblewrap a path is visible when it lies in a folder bound into the
    sandbox and not hidden there."""
    paths = [os.path.realpath(p) for p in paths if os.path.exists(p)]
    if mode == "bubblewrap":
        shown, hidden = [*python_roots(), "/usr"], [*_own_package_dirs(), *autodiff_paths()]
        return [p for p in paths if any(p == v or p.startswith(v + os.sep) for v in shown)
                and not any(p == h or p.startswith(h + os.sep) for h in hidden)]
    if mode != "process" or not paths:
        return []
    with uid_slot() as uid:
        probe = _as_pool_uid(uid, ["-S", "-c", _READABLE], "\0".join(paths))
    return [p for p in probe.stdout.split("\0") if p in paths]


def _as_pool_uid(uid: int, args: list[str], stdin: str = "") -> subprocess.CompletedProcess:
    """This Python, isolated (-I), run as ``uid`` with no supplementary group, from /, with a bare PATH: what a
    process-mode submission could do, asked of the kernel."""
    return subprocess.run([sys.executable, "-I", *args], input=stdin, user=uid, group=uid, extra_groups=[],
                          capture_output=True, text=True, timeout=60, cwd="/", env={"PATH": "/usr/bin:/bin"})


def refuse_if_readable(paths: list[str], mode: str, what: str) -> None:
    """SandboxUnavailable, with the fix, when a submission could read one of ``paths`` (``what`` they are)."""
    seen = readable_by_submissions(paths, mode)
    if seen:
        more = f" (and {len(seen) - 1} more)" if len(seen) > 1 else ""
        raise SandboxUnavailable(f"{mode} mode: a submission could read {what}: {seen[0]}{more}. Close it to other "
                                 f"users (chmod -R o-rwx {seen[0]}, or chmod o-rwx on the folder that holds it), "
                                 "then grade again")


def hide_command_line() -> None:
    """Blank this process's command line in place: in process mode every uid may read /proc/<pid>/cmdline, and a
    grader's lists the batch (students' names, their files).  sys.argv is Python's own copy and stays."""
    try:
        fields = Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()
        start, end = int(fields[45]), int(fields[46])  # arg_start and arg_end, fields 48 and 49 of proc(5)
    except (OSError, IndexError, ValueError):
        return
    if 0 < start < end:
        import ctypes

        ctypes.memset(start, 0, end - start)


def _close_autodiff() -> list[str]:
    """As root, in process mode: each autodiff library closed to other users and opened to ``AUTODIFF_GID`` (g+rX), the
    group a submission's uid joins only when its assignment allows them; once (the kernel enforces it, not an import
    hook)."""
    changed = []
    for p in autodiff_paths():
        st = os.stat(p)
        want = (stat.S_IMODE(st.st_mode) & ~0o077) | (0o050 if stat.S_ISDIR(st.st_mode) else 0o040)
        if st.st_gid != AUTODIFF_GID or stat.S_IMODE(st.st_mode) != want:
            os.chown(p, -1, AUTODIFF_GID)
            os.chmod(p, want)
            changed.append(p)
    return changed


@functools.lru_cache(maxsize=None)
def bubblewrap_starts() -> Optional[str]:
    """None when bubblewrap runs this environment's Python here; else why not (tried, not just found)."""
    if shutil.which("bwrap") is None:
        return "bubblewrap is not installed (Debian/Ubuntu: apt-get install bubblewrap)"
    with tempfile.TemporaryDirectory(prefix="bpcheck-probe-") as tmp:
        job, scratch = Path(tmp) / "job", Path(tmp) / "scratch"
        for d in (job, scratch / "out", scratch / "submission"):
            d.mkdir(parents=True)
        (job / "runner.py").write_text("import numpy\n")
        os.chmod(tmp, 0o755)
        cmd = _bwrap_command(job, scratch, Limits())
        try:
            probe = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
        except (OSError, subprocess.TimeoutExpired) as exc:
            return f"bubblewrap could not start: {exc}"
    if probe.returncode != 0:
        return f"bubblewrap is installed but cannot start here ({(probe.stderr.strip() or 'exit ' + str(probe.returncode))[:300]})"
    return None


def _closed_to_others(path: str) -> Optional[str]:
    """The first folder on the way to ``path`` that other users may not pass through (with its mode), or None."""
    for p in [*reversed(Path(path).parents), Path(path)]:
        try:
            mode = os.stat(p).st_mode
        except OSError as exc:
            return f"{p} ({exc.strerror})"
        if not mode & 0o001:
            return f"{p} (mode {stat.S_IMODE(mode):o})"
    return None


def _interpreter_reachable(uid: int) -> Optional[str]:
    """None when ``uid`` can run this Python environment and import numpy; else why not."""
    try:
        probe = _as_pool_uid(uid, ["-c", "import numpy"])
    except OSError as exc:
        probe = None
        why = exc.strerror
    else:
        why = (probe.stderr.strip().splitlines() or [f"exit {probe.returncode}"])[-1]
    if probe is not None and probe.returncode == 0:
        return None
    blocked = _closed_to_others(os.path.dirname(sys.executable)) or _closed_to_others(os.path.dirname(os.path.realpath(sys.executable)))
    return (f"an unprivileged uid cannot run {sys.executable} ({why})"
            + (f": {blocked} is closed to other users; chmod o+x {blocked.split(' (')[0]}, or install bpcheck in a venv made "
               "from a system Python (e.g. /usr/bin/python3 -m venv /opt/bpcheck)" if blocked else ""))


HOW_TO = ("Ways to get a sandbox: install bubblewrap (apt-get install bubblewrap) where user namespaces are allowed; "
          "or run the grader as root (as Gradescope, PrairieLearn and CI do), which uses --sandbox process; "
          "or, only for code you trust, pass --sandbox none.")


def select(requested: str = "auto") -> Sandbox:
    """The sandbox for ``requested`` (auto | bubblewrap | process | none); SandboxUnavailable says why and what to do."""
    if requested not in MODES:
        raise ValueError(f"--sandbox: expected one of {', '.join(MODES)}, got {requested!r}")
    for name in SWITCHES:
        switched_on(name)
    if requested in ("auto", "bubblewrap"):
        why = bubblewrap_starts()
        if why is None:
            who = ("each submission as its own unprivileged uid, swept as root by pid" if os.geteuid() == 0
                   else f"uid {os.geteuid()} in a user namespace")
            return Sandbox("bubblewrap", f"bubblewrap: read-only system, no network, own PID namespace, {who}", WARM)
        if requested == "bubblewrap":
            raise SandboxUnavailable(f"--sandbox bubblewrap: {why}. {HOW_TO}")
    if requested in ("auto", "process"):
        if os.geteuid() != 0:
            prefix = "no sandbox available" if requested == "auto" else "--sandbox process needs root"
            raise SandboxUnavailable(f"{prefix}: bubblewrap cannot run ({bubblewrap_starts()}) and the grader is not root, "
                                     f"so submissions cannot be run as another user. {HOW_TO}")
        _prlimit(Limits())
        with uid_slot() as uid:
            why = _interpreter_reachable(uid)
        runs_in = work_root() or tempfile.gettempdir()
        closed = _closed_to_others(runs_in)
        if not why and closed:
            why = (f"the uid could not reach its temporary folder in {runs_in}: {closed} is closed to "
                   "other users; set TMPDIR to a folder they may pass through (such as /tmp)")
        if why:
            raise SandboxUnavailable(f"no sandbox available: bubblewrap cannot run ({bubblewrap_starts()}), and in process mode {why}. {HOW_TO}"
                                     if requested == "auto" else f"--sandbox process: {why}. {HOW_TO}")
        _close_source()
        _close_autodiff()
        hide_command_line()
        refuse_if_readable([p for t in source_trees() for p in [t, *_entries(t)]], "process", "bpcheck's own source")
        net = namespaces_refused()
        return Sandbox("process", "process: each submission as its own unprivileged uid, with limits, swept as root by pid; "
                       + ("no network (its own network and IPC namespaces)" if net is None
                          else f"network NOT isolated (no network namespace can be made here: {net})")
                       + (f"; bubblewrap unavailable ({bubblewrap_starts()})" if requested == "auto" else ""), WARM)
    return Sandbox("none", "NO SANDBOX (--sandbox none): submissions run as the grader's own user and can read and "
                   "write everything it can. Use only for code you trust. " + HOW_TO, WARM)
