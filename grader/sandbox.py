"""Run one submission's runner in its own process, under bubblewrap when it is installed.

Under bubblewrap the submission sees: the system's /usr, the Python installation (read-only,
with bpcheck's own packages hidden so the reference cannot be imported), its job (read-only) and
a fresh scratch directory (the only writable place besides a private /tmp).  It has no network,
its own PID, IPC and UTS namespaces, a new session, and dies with the grader.  When the grader
runs as root the runner drops to uid/gid 65534 before importing the submission, so the process
limit applies.  Limits: wall clock, CPU seconds, address space, processes, file size, open files;
stdout and stderr go to files whose size the file-size limit caps, and only their first bytes
are ever read.

Without bubblewrap the submission still runs in its own process with every limit, but it can read
(and, if the grader runs as root, write) the grader's files: ``sandbox_status`` says so, and the
grader prints it loudly.
"""

from __future__ import annotations

import importlib.util
import os
import resource
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

RUNNER = Path(__file__).with_name("runner.py")
NOBODY = 65534
OWN_PACKAGES = ("reference", "oracles", "grader")


@dataclass(frozen=True)
class Limits:
    """Per-submission limits (an assignment's [limits] table)."""

    timeout_seconds: float = 20.0
    memory_mb: int = 1024
    processes: int = 64
    file_size_mb: int = 32
    open_files: int = 256
    output_bytes: int = 8192


@dataclass
class RunResult:
    returncode: Optional[int]
    timed_out: bool
    seconds: float
    stdout: str
    stderr: str
    sandbox: str


def bwrap_path() -> Optional[str]:
    return shutil.which("bwrap")


def sandbox_status() -> tuple[bool, str]:
    """(True, description) when submissions will run under bubblewrap; (False, the loud warning) otherwise."""
    path = bwrap_path()
    if path is None:
        return False, ("NO SANDBOX: bubblewrap (Debian package 'bubblewrap') is not installed. Submissions run in their own "
                       "process with resource limits, but can read and write this machine's files. Install it: apt-get install bubblewrap")
    probe = subprocess.run([path, *_namespaces(), "--ro-bind", "/", "/", "--die-with-parent", "true"],
                           capture_output=True, text=True, timeout=30)
    if probe.returncode != 0:
        return False, f"NO SANDBOX: bubblewrap is installed but cannot create namespaces here ({probe.stderr.strip()[:200]})"
    who = "uid 65534" if os.geteuid() == 0 else f"uid {os.geteuid()}"
    return True, f"bubblewrap {path}: read-only system, no network, own PID namespace, runs as {who}"


def _namespaces() -> list[str]:
    # As root, no user namespace: the runner then drops to uid 65534 for real, so RLIMIT_NPROC binds.
    ns = ["--unshare-pid", "--unshare-net", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try"]
    return ns if os.geteuid() == 0 else ["--unshare-user", *ns]


def _python_roots() -> list[str]:
    """Directories the interpreter and numpy need, outermost first."""
    import numpy

    roots = {os.path.realpath(sys.base_prefix), os.path.realpath(sys.prefix),
             os.path.realpath(os.path.dirname(os.path.dirname(numpy.__file__)))}
    keep = []
    for r in sorted(roots, key=len):
        if not any(r == k or r.startswith(k + os.sep) for k in keep):
            keep.append(r)
    return keep


def _hidden_packages(roots: list[str]) -> list[str]:
    """bpcheck's own packages when they sit inside a bound directory (a non-editable install)."""
    hidden = []
    for name in OWN_PACKAGES:
        spec = importlib.util.find_spec(name)
        if spec and spec.origin:
            d = os.path.realpath(os.path.dirname(spec.origin))
            if any(d.startswith(r + os.sep) for r in roots):
                hidden.append(d)
    return hidden


def _bwrap_command(job: Path, scratch: Path) -> list[str]:
    roots = _python_roots()
    cmd = [bwrap_path(), *_namespaces(), "--die-with-parent", "--new-session",
           "--ro-bind", "/usr", "/usr", "--symlink", "usr/lib", "/lib", "--symlink", "usr/lib64", "/lib64",
           "--symlink", "usr/bin", "/bin", "--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp"]
    made = {"/", "/usr", "/tmp", "/proc", "/dev"}
    for root in roots:
        parts = Path(root).parts
        for i in range(2, len(parts)):
            d = str(Path(*parts[:i]))
            if d not in made:
                cmd += ["--perms", "0755", "--dir", d]
                made.add(d)
        cmd += ["--ro-bind", root, root]
    for d in _hidden_packages(roots):
        cmd += ["--tmpfs", d]
    cmd += ["--ro-bind", str(job), "/job", "--bind", str(scratch), "/sandbox", "--chdir", "/sandbox/out",
            "--clearenv", "--setenv", "PATH", "/usr/bin:/bin", "--setenv", "HOME", "/sandbox",
            "--setenv", "LANG", "C.UTF-8", "--setenv", "OPENBLAS_NUM_THREADS", "1", "--setenv", "OMP_NUM_THREADS", "1",
            os.path.realpath(sys.executable), "-I", "-B", "/job/runner.py", "/job", "/sandbox/submission", "/sandbox/out"]
    return cmd


def _prlimit(limits: Limits) -> Optional[list[str]]:
    """The limits as a ``prlimit`` prefix (util-linux), which sets them without running Python in a forked child."""
    path = shutil.which("prlimit")
    if path is None:
        return None
    cpu = int(limits.timeout_seconds) + 1
    args = [path, f"--cpu={cpu}", f"--as={limits.memory_mb * 1024 * 1024}", f"--fsize={limits.file_size_mb * 1024 * 1024}",
            f"--nofile={limits.open_files}", "--core=0"]
    if os.geteuid() != 0:
        args.append(f"--nproc={limits.processes}")
    return [*args, "--"]


def _limit(limits: Limits):
    """The same limits as a preexec_fn, for machines without prlimit (Python code in a forked child: a last resort)."""

    def apply() -> None:
        cpu = int(limits.timeout_seconds) + 1
        resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu))
        mem = limits.memory_mb * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (mem, mem))
        fsize = limits.file_size_mb * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_FSIZE, (fsize, fsize))
        resource.setrlimit(resource.RLIMIT_NOFILE, (limits.open_files, limits.open_files))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        if os.geteuid() != 0:  # as root the runner sets it after dropping to nobody (root is exempt anyway)
            resource.setrlimit(resource.RLIMIT_NPROC, (limits.processes, limits.processes))

    return apply


def _head(path: Path, limit: int) -> str:
    with open(path, "rb") as fh:
        data = fh.read(limit + 1)
    text = data[:limit].decode("utf-8", errors="replace")
    return text + ("\n[... output truncated]" if len(data) > limit else "")


def prepare(scratch: Path, submission_files: dict[str, bytes]) -> None:
    """A fresh scratch directory: submission/ with the student's files, out/ for results; writable by the runner."""
    for sub in ("submission", "out"):
        (scratch / sub).mkdir(parents=True, exist_ok=True)
    for rel, data in submission_files.items():
        target = scratch / "submission" / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    for dirpath, dirnames, filenames in os.walk(scratch):
        os.chmod(dirpath, 0o777)
        for f in filenames:
            os.chmod(os.path.join(dirpath, f), 0o666)


def run(job: Path, scratch: Path, limits: Limits, use_sandbox: bool) -> RunResult:
    """Run the runner on ``job`` with the submission already in ``scratch`` (see ``prepare``)."""
    logs = scratch.parent / (scratch.name + ".logs")
    logs.mkdir(exist_ok=True)
    out_path, err_path = logs / "stdout", logs / "stderr"
    if use_sandbox:
        cmd = _bwrap_command(job, scratch)
        mode = "bubblewrap"
    else:
        cmd = [sys.executable, "-I", "-B", str(job / "runner.py"), str(job), str(scratch / "submission"), str(scratch / "out")]
        mode = "none"
    env = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
    start = time.monotonic()
    with open(out_path, "wb") as out, open(err_path, "wb") as err:
        prefix = _prlimit(limits)
        proc = subprocess.Popen([*prefix, *cmd] if prefix else cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                                cwd=scratch / "out", env=env, preexec_fn=None if prefix else _limit(limits),
                                start_new_session=True)
        timed_out = False
        try:
            proc.wait(timeout=limits.timeout_seconds)
        except subprocess.TimeoutExpired:
            timed_out = True
        finally:
            try:
                os.killpg(proc.pid, signal.SIGKILL)  # bwrap's children die with it (--die-with-parent)
            except ProcessLookupError:
                pass
            proc.wait()
    return RunResult(None if timed_out else proc.returncode, timed_out, time.monotonic() - start,
                     _head(out_path, limits.output_bytes), _head(err_path, limits.output_bytes), mode)
