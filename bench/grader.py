"""The grader's throughput, side by side: this tree against an earlier commit, each mode, --jobs 1 and 2.

    python bench/run.py --only grader                      # this tree, every mode that runs here
    python bench/run.py --only grader --against main       # and main's grader, interleaved, in one run
    python bench/run.py --only mooc [--against main]       # 2,000 distinct submissions per mode (minutes)

Each measurement runs in a fresh Python (``python bench/grader.py TREE MODE ...``) that builds its grader before the
clock starts (expected answers, the process mode's one walk for world-writable folders) and times ``grade_batch``
only; it reports submissions per second, CPU time per submission and the grader's peak memory (``_PeakMemory``:
the grader's processes, never the submissions').  An earlier commit is exported with ``git archive`` and laid out as an
installed wheel (bpcheck/ with reference/, oracles/, grader/ inside), imported instead of this checkout.
"""

from __future__ import annotations

import gc
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MODES = ("bubblewrap", "process", "none")
#: The canonical submissions of the timed bench: correct and buggy, made distinct per copy (nothing is reused).
CANONICAL = ["examples/solutions/canonical.py", "examples/buggy/canonical_deriv_on_z.py",
             "examples/buggy/canonical_sign.py", "examples/solutions/canonical.py"]
#: A MOOC's mix: mostly correct, some buggy, some raising, some never finishing (the hostile suite's limits).
MOOC_TIMEOUT = 2.0
UNPARSABLE = "\nif True\n    pass\n"
RAISES = "\ndef backprop(*args):\n    return [][1]\n"
STALLS = "\nimport time\n\n\ndef backprop(*args):\n    t = time.monotonic()\n    while time.monotonic() - t < 60:\n        pass\n"


# --- an earlier commit, importable in place of this checkout -----------------------------------------------


def export(rev: str, into: Path) -> Path:
    """``rev``'s bpcheck laid out as an installed package under ``into`` (a folder to put first on sys.path)."""
    src = into / "src"
    src.mkdir(parents=True)
    os.chmod(into.parent, 0o755)
    archive = subprocess.run(["git", "archive", rev], cwd=ROOT, capture_output=True, check=True).stdout
    subprocess.run(["tar", "-x", "-C", str(src)], input=archive, check=True)
    site = into / "site"
    shutil.copytree(src / "bpcheck", site / "bpcheck")
    for sub in ("reference", "oracles", "grader"):
        shutil.copytree(src / sub, site / "bpcheck" / sub)
    os.chmod(into, 0o755)
    return site


def _import_from(site: str) -> None:
    """Import bpcheck from ``site`` instead of the editable install (whose finder maps it to this checkout)."""
    sys.meta_path[:] = [f for f in sys.meta_path if "editable" not in getattr(f, "__module__", "")
                        and "editable" not in getattr(type(f), "__module__", "")]
    sys.path.insert(0, site)


# --- one measurement, in its own Python --------------------------------------------------------------------


def _copies(sources: list[tuple[str, str]], folder: Path) -> list[Path]:
    """One file per (source text, tail), each distinct; readable by the pool uids as a class folder must not be,
    so the folder is closed (0700) and the grader reads it as root."""
    folder.mkdir(mode=0o700)
    paths = []
    for i, (text, tail) in enumerate(sources):
        p = folder / f"student{i:05d}.py"
        p.write_text(text + tail + f"\n# copy {i}\n")
        paths.append(p)
    return paths


def mooc_sources(n: int) -> list[tuple[str, str]]:
    """``n`` submissions: 70 % correct, 20 % buggy (every canonical bug of examples/buggy), 4 % that do not parse,
    3 % raising in backprop, 3 % never finishing (a backprop that loops).  Top-level code a submission's entry point
    does not need is not run, so the failures are where grading reaches them."""
    correct = (ROOT / "examples" / "solutions" / "canonical.py").read_text()
    buggy = [p.read_text() for p in sorted((ROOT / "examples" / "buggy").glob("canonical_*.py"))]
    out = []
    for i in range(n):
        k = i % 100
        if k < 70:
            out.append((correct, ""))
        elif k < 90:
            out.append((buggy[i % len(buggy)], ""))
        elif k < 94:
            out.append((correct, UNPARSABLE))
        else:
            out.append((correct.replace("def backprop(", "def _unused(", 1), RAISES if k < 97 else STALLS))
    return out


def child(site: str, mode: str, jobs_list: str, n: int, kind: str) -> dict:
    """Time ``grade_batch`` on ``n`` distinct submissions per --jobs value, in ``mode``, with the bpcheck in ``site``."""
    if site != "-":
        _import_from(site)
    from bpcheck.grader import sandbox
    from bpcheck.grader.assignment import load
    from bpcheck.grader.batch import grade_batch
    from bpcheck.grader.grade import Grader

    a = load("canonical")
    if kind == "mooc":
        from dataclasses import replace

        a = replace(a, limits=replace(a.limits, timeout_seconds=MOOC_TIMEOUT))
        sources = mooc_sources(n)
    else:
        sources = [((ROOT / CANONICAL[i % len(CANONICAL)]).read_text(), "") for i in range(n)]
    grader = Grader(a, mode)
    if mode == "process":
        sandbox.world_writable_dirs()  # once per grader process, not per submission: outside the clock
    out: dict = {"sandbox": grader.sandbox.description, "submissions": n}
    with tempfile.TemporaryDirectory() as tmp:
        for k, jobs in enumerate(map(int, jobs_list.split(","))):
            paths = _copies(sources, Path(tmp) / f"class-{k}")
            t, cpu, busy, memory = time.perf_counter(), _cpu_seconds(), _busy_seconds(), _PeakMemory()
            results = grade_batch(grader, paths, jobs, Path(tmp) / f"state-{k}")
            elapsed = time.perf_counter() - t
            out.setdefault("order", []).append([jobs, n / elapsed])
            _record(out, f"jobs={jobs}", n / elapsed)
            _record(out, f"cores busy jobs={jobs}", (_busy_seconds() - busy) / elapsed)
            _record(out, f"cpu ms per submission jobs={jobs}", (_cpu_seconds() - cpu) / n * 1e3)
            out["peak_mb"] = max(out.get("peak_mb", 0.0), memory.stop())
            out[f"verdicts jobs={jobs}"] = {v: sum(r.verdict == v for r in results) for v in ("pass", "fail", "error")}
    return out


def _record(out: dict, name: str, value: float) -> None:
    """``value`` added to the runs of ``name``, which is their median."""
    runs = out.setdefault(f"{name} runs", [])
    runs.append(value)
    out[name] = statistics.median(runs)


class _PeakMemory:
    """The grader's peak memory, sampled every 0.2 s: the proportional set size (PSS: shared pages counted once) of
    this process, its forked grading workers and their warm interpreters; never a submission's run."""

    def __init__(self) -> None:
        self.peak_mb, self._stop = 0.0, threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def _sample(self) -> None:
        while not self._stop.wait(0.2):
            self.peak_mb = max(self.peak_mb, sum(map(_pss_mb, _grader_processes())))

    def stop(self) -> float:
        self._stop.set()
        self._thread.join()
        return self.peak_mb


def _grader_processes() -> list[int]:
    """This process, the processes forked from it (its own command line), and the warm interpreters they started."""
    me, found = os.getpid(), []
    mine = Path(f"/proc/{me}/cmdline").read_bytes()
    for name in filter(str.isdigit, os.listdir("/proc")):
        try:
            cmdline = Path(f"/proc/{name}/cmdline").read_bytes()
            parent = int(Path(f"/proc/{name}/stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        if int(name) == me or (cmdline == mine and parent == me):
            found.append(int(name))
        elif b"--serve" in cmdline and (parent == me or Path(f"/proc/{parent}/cmdline").exists()
                                        and _safe_read(f"/proc/{parent}/cmdline") == mine):
            found.append(int(name))
    return found


def _safe_read(path: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError:
        return b""


def _pss_mb(pid: int) -> float:
    text = _safe_read(f"/proc/{pid}/smaps_rollup").decode()
    found = re.search(r"^Pss:\s*(\d+) kB", text, re.M)
    return int(found[1]) / 1024 if found else 0.0


def _busy_seconds() -> float:
    """Seconds the machine's CPUs were busy (anything but idle and waiting for I/O) since boot, all processes."""
    ticks = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return (sum(ticks) - ticks[3] - ticks[4]) / os.sysconf("SC_CLK_TCK")


def _cpu_seconds() -> float:
    """CPU time of this process and of every process it started and waited for (each run, its sandbox, the warm
    interpreters once their threads ended): what a submission costs, whatever else the machine is doing."""
    import resource

    gc.collect()  # the grading threads' warm interpreters, stopped and waited for when collected
    return sum(r.ru_utime + r.ru_stime for r in (resource.getrusage(resource.RUSAGE_SELF),
                                                 resource.getrusage(resource.RUSAGE_CHILDREN)))


# --- the bench: trees and modes interleaved ------------------------------------------------------------


#: --jobs 1 and 2 in pairs, in one Python, the order turned every other pair (ABBA: a steady drift cancels): the
#: host's speed drifts by tens of percent within minutes here, so a ratio is taken within a pair, and medians reported.
ROUNDS = "1,2,2,1,1,2,2,1"


def run(n: int, against: str = "", kind: str = "canonical", jobs: str = ROUNDS, this_tree: bool = True) -> dict:
    """Per mode, this tree (unless not ``this_tree``) and each revision of ``against`` (comma-separated, exported)
    measured one after the other, modes interleaved; in each, the --jobs values of ``jobs`` in that order."""
    trees = {"this tree": "-"} if this_tree else {}
    with tempfile.TemporaryDirectory(prefix="bpcheck-bench-") as tmp:
        for rev in filter(None, against.split(",")):
            trees[rev] = str(export(rev, Path(tmp) / rev))
        out: dict = {"submissions": n, "kind": kind, "trees": list(trees), "by_mode": {}}
        for mode in MODES:
            for name, site in trees.items():
                proc = subprocess.run([sys.executable, __file__, site, mode, jobs, str(n), kind], cwd=ROOT,
                                      capture_output=True, text=True)
                if proc.returncode != 0:
                    print(f"  {mode}, {name}: not run ({proc.stderr.strip().splitlines()[-1:]})", file=sys.stderr)
                    continue
                out["by_mode"].setdefault(mode, {})[name] = json.loads(proc.stdout)
    return out


def ratios(t: dict) -> list[float]:
    """jobs 2 over jobs 1 within each pair of neighbouring runs (``order``: [--jobs, submissions/s] of each run)."""
    pairs = [dict(t["order"][k:k + 2]) for k in range(0, len(t.get("order", [])) - 1, 2)]
    return [pair[2] / pair[1] for pair in pairs if set(pair) == {1, 2}]


def markdown(r: dict) -> list[str]:
    jobs = sorted({k for m in r["by_mode"].values() for t in m.values() for k in t if re.fullmatch(r"jobs=\d+", k)})
    cpu = [f"CPU ms per submission, {j}" for j in jobs]
    busy = [f"cores busy, {j}" for j in jobs]
    lines = [f"| mode | tree | {' | '.join(jobs)} | jobs 2 / jobs 1 (each round) | {' | '.join(cpu + busy)} | peak memory |",
             "|---" * (3 * len(jobs) + 4) + "|"]
    for mode, trees in r["by_mode"].items():
        for tree, t in trees.items():
            each = ratios(t)
            ratio = f"{statistics.median(each):.2f}× ({', '.join(f'{x:.2f}' for x in each)})" if each else ""
            ms = " | ".join(f"{t.get('cpu ms per submission ' + j, float('nan')):.0f}" for j in jobs)
            cores = " | ".join(f"{t.get('cores busy ' + j, float('nan')):.2f}" for j in jobs)
            runs = " | ".join(f"{t[j]:.2f}/s" + (f" ({', '.join(f'{x:.1f}' for x in t[j + ' runs'])})"
                                                 if len(t.get(j + " runs", [])) > 1 else "") for j in jobs)
            lines.append(f"| {mode} | {tree} | {runs} | {ratio} | {ms} | {cores} | {t['peak_mb']:.0f} MB |")
    return lines


if __name__ == "__main__":
    # bench/ is first on the path as this script's folder: the grader would count it as its Python environment
    # (kept open to the pool uids) and then refuse, in process mode, a checkout it cannot close
    sys.path.remove(os.path.dirname(os.path.abspath(__file__)))
    print(json.dumps(child(sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5])))
