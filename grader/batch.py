"""Grading a batch: every submission graded once, saved the moment it is ready, retried when the machine failed.

``grade_items`` is the batch part of ``bpcheck grade``: it grades what ``exports.expand`` found, names each
result after its item, and records the batch in the state folder's index.  ``grade_batch`` grades paths in
parallel threads; identical submissions are graded once; a result that failed because of the machine (disk
full, a sandbox that could not clean up after a submission, the grader's own error) is retried and never saved,
so a rerun grades it again.  ``load_results``
reads a graded batch back for ``bpcheck report``.
"""

from __future__ import annotations

import concurrent.futures
import json
import multiprocessing
import multiprocessing.util
import os
import sys
import tempfile
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterator, Optional, Sequence

from . import sandbox
from .exports import Item
from .report import write_atomic
from .results import Result
from .submission import Submission

if TYPE_CHECKING:
    from .grade import Grader

OnResult = Callable[[Result, bool], None]


# -- the machine's failures: a full disk -----------------------------------------------------------------

#: Words of a full disk.  A submission can print them too, so they only earn a retry; a result is the
#: machine's (never saved) when they persist while the disk really is short.
FULL_DISK = ("No space left on device", "[Errno 28]", "Disk quota exceeded", "[Errno 122]")
RETRIES = 2
DISK_MARGIN = 256 << 20


def _texts(result: Result) -> list[str]:
    return [result.message, *(c.output for c in result.checks)]


def _suspect(result: Result) -> bool:
    """Worth grading again: something reported a full disk."""
    return result.verdict != "pass" and any(m in t for t in _texts(result) for m in FULL_DISK)


def environmental(result: Result, *folders: Path) -> bool:
    """Whether a full disk reported in ``result`` is real: the machine's failure, not the submission's."""
    return _suspect(result) and any(_free_bytes(f) < DISK_MARGIN for f in folders)


def _free_bytes(folder: Path) -> int:
    try:
        st = os.statvfs(folder)
    except OSError:
        return 0
    return st.f_bavail * st.f_frsize


# -- grading paths in parallel ---------------------------------------------------------------------------


class _BatchRun:
    """One call of ``grade_batch``: its threads share the lock, the first grading of each key and the callback."""

    def __init__(self, grader: "Grader", state: Path, on_result: Optional[OnResult], force: bool,
                 grade: Callable[[Path, Optional[Submission]], Result]):
        self.grader, self.state, self.on_result, self.force, self.grade = grader, state, on_result, force, grade
        self.lock = threading.Lock()
        self.first: dict[str, tuple[str, concurrent.futures.Future]] = {}  # key -> (submission, its (result, reused))

    def report(self, result: Result, reused: bool) -> Result:
        with self.lock:
            if self.on_result:
                self.on_result(result, reused)
        return result

    def attempt(self, path: Path, sub: Optional[Submission], key: str) -> tuple[Result, bool]:
        """The result, and whether the grader itself failed: known here, never guessed from texts a submission wrote.
        A sweep that left something of a submission alive raises (``sandbox.CleanupFailed``): the machine's failure."""
        try:
            return self.grade(path, sub), False
        except Exception as exc:  # the grader's own failure on one submission must not stop the batch
            return self.grader.error_result(str(path), f"internal grader error: {type(exc).__name__}: {exc}", key), True

    def graded(self, path: Path, sub: Optional[Submission], key: str, record: Optional[Path]) -> tuple[Result, bool]:
        """The saved result when there is one (and not --force), else a fresh grading, retried and saved."""
        if record is not None and record.exists() and not self.force:
            try:
                result = Result.from_dict(json.loads(record.read_text()))
                result.submission = str(path)
                return result, True
            except (ValueError, TypeError):
                pass  # a damaged record is regraded
        result, internal = self.attempt(path, sub, key)
        for _ in range(RETRIES):
            if not (internal or _suspect(result)):
                break
            time.sleep(1.0)
            result, internal = self.attempt(path, sub, key)
        if internal or environmental(result, self.state, Path(sandbox.work_root() or tempfile.gettempdir())):
            result.verdict = "error"
            result.message = f"not graded: the grading machine failed, not the submission (not saved; rerun to grade it): {result.message}"
        elif record is not None:
            self._save(result, record)
        return result, False

    def _save(self, result: Result, record: Path) -> None:
        try:  # private (0600): write_atomic then leaves the process-wide umask alone, safe in the grading threads
            write_atomic(record, json.dumps(result.as_dict()))
        except OSError as exc:  # the state folder's disk is full: the grade stands, only resuming loses it
            result.message += f" (not saved for resuming: {exc.strerror})"

    def one(self, path: Path) -> Result:
        """Grade ``path``, or copy the result of an identical submission graded earlier in this batch."""
        try:
            sub: Optional[Submission] = self.grader.collect(path)
            key = self.grader.key(sub.files)
        except Exception:  # unreadable, or the grader failed reading it: graded below, where either becomes its result
            sub, key = None, ""
        if not key:
            return self.report(*self.graded(path, None, "", None))
        with self.lock:
            original, future = self.first.get(key, (str(path), None))
            mine = None if future else concurrent.futures.Future()
            if mine:
                self.first[key] = (original, mine)
        if future is not None:  # an identical submission earlier in this batch: its result, not a second grading
            done, reused = future.result()
            result = Result.from_dict(done.as_dict())
            result.submission, result.duplicate_of = str(path), original
            return self.report(result, reused)
        try:
            outcome = self.graded(path, sub, key, self.state / f"{key}.json")
        except BaseException as exc:
            mine.set_exception(exc)
            raise
        mine.set_result(outcome)
        return self.report(*outcome)


def grade_batch(grader: "Grader", paths: Sequence[Path], jobs: int, state: Path,
                on_result: Optional[OnResult] = None, force: bool = False) -> list[Result]:
    """Grade ``paths`` with ``jobs`` in parallel; each result is saved under ``state`` as it finishes and reused on rerun.

    ``on_result(result, reused)``: ``reused`` is True only for a result saved by an earlier run.  Identical submissions
    in one batch are graded once; the others copy that result, with ``duplicate_of`` naming the first.
    A result that failed because of the machine (disk full, a failed sandbox clean-up, the grader's own error) is
    retried, and never saved:
    a rerun grades it again.  ``force``: regrade, ignoring results saved before this call (identical submissions in
    the batch are still graded once).
    """
    state.mkdir(parents=True, exist_ok=True)
    os.chmod(state, 0o700)  # results are the grader's: no submission's uid may read or write them
    _refuse_what_submissions_could_read(grader, paths, state)
    with _graders(grader, jobs) as (grade, threads):
        run = _BatchRun(grader, state, on_result, force, grade)
        with concurrent.futures.ThreadPoolExecutor(max_workers=threads) as pool:
            return list(pool.map(run.one, paths))


#: The graders of the batches graded in forked workers, by id: the workers inherit them, nothing is sent.
_FORKED: dict[int, "Grader"] = {}


def _grade_in_worker(grader_id: int, path: Path, sub: Optional[Submission]) -> Result:
    return _FORKED[grader_id].grade(path, sub)


def _worker_started(cpus: list[int], started: Any) -> None:
    # a worker ends with os._exit, past weakref finalizers: its warm interpreter is stopped and waited for here
    multiprocessing.util.Finalize(None, sandbox.stop_warm, exitpriority=10)
    if cpus:
        keep_to_one_cpu(cpus, started)


def keep_to_one_cpu(cpus: list[int], started: Any) -> None:
    """This process kept to the next of ``cpus`` (``started``: a shared count of the workers placed so far).  Where
    the kernel refuses (a CPU taken offline, a cpuset changed since), the worker stays unpinned: an error here would
    break the whole pool, and with it the batch."""
    with started.get_lock():
        k, started.value = started.value, started.value + 1
    try:
        os.sched_setaffinity(0, {cpus[k % len(cpus)]})
    except OSError:
        pass


#: ``BPCHECK_AFFINITY=0`` leaves the grading workers wherever the kernel puts them (one of ``sandbox.SWITCHES``).
AFFINITY = "BPCHECK_AFFINITY"


def worker_cpus(jobs: int) -> list[int]:
    """The CPU each of ``jobs`` grading workers keeps to, or [] where the kernel places them.

    A worker's grading is one sequential chain: the worker hands a submission to its warm interpreter, which forks the
    run, which hands its answers back; then the sweep, the same way.  Left free, the kernel moves each step of two
    chains from CPU to CPU and at times puts both on one CPU while the other idles: on 2 cores two unpinned workers kept
    1.7 cores busy, pinned 1.9 (docs/performance.md).  Everything a worker starts inherits its CPU.  Only where every
    worker has a CPU of its own among those this process may use, taken from distinct cores first (two hardware
    threads of one core share its units); one job is never pinned, so it can move off a busy CPU."""
    if jobs <= 1 or not sandbox.switched_on(AFFINITY) or not hasattr(os, "sched_setaffinity"):
        return []
    cpus = usable_cpus()
    if jobs > len(cpus):
        return []
    threads_seen: dict[str, int] = {}
    nth_of_its_core = {}
    for cpu in cpus:  # a core's first CPU here ranks 0, its second 1, ...
        core = core_of(cpu)
        nth_of_its_core[cpu] = threads_seen.get(core, 0)
        threads_seen[core] = nth_of_its_core[cpu] + 1
    return sorted(cpus, key=lambda cpu: (nth_of_its_core[cpu], cpu))[:jobs]


def usable_cpus() -> list[int]:
    """The CPUs this process may use, in order: a cpuset or taskset counts, not the machine's total."""
    return sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else list(range(os.cpu_count() or 1))


def core_of(cpu: int) -> str:
    """Which core ``cpu`` is a hardware thread of: the CPUs sharing it, as the kernel lists them (itself where unknown)."""
    try:
        return Path(f"/sys/devices/system/cpu/cpu{cpu}/topology/thread_siblings_list").read_text().strip()
    except OSError:
        return str(cpu)


#: Libraries whose own threads make a fork of this process unsafe (jax warns that it will likely deadlock; torch's
#: thread pools do not survive it).  The grader imports neither; a program that did (a test session) grades in threads.
FORK_UNSAFE = ("jax", "torch", "tensorflow")


def _threaded_libraries() -> list[str]:
    return [name for name in FORK_UNSAFE if name in sys.modules]


@contextmanager
def _graders(grader: "Grader", jobs: int) -> Iterator[tuple[Callable[[Path, Optional[Submission]], Result], int]]:
    """How each submission is graded, and by how many of the batch's threads: in this process (--jobs 1, or where
    processes cannot be forked), by ``jobs`` threads; else in one of ``jobs`` worker processes forked from this one
    once the grader is built (its expected answers shared, copy-on-write), so that the grader's own Python work
    (reading the outputs, comparing, diagnosing) runs on every core instead of taking turns under one interpreter
    lock.  Deduplication, retries, saving and the callback stay here, in the batch's threads: two per worker, so that
    a worker's next submission is read and queued while it grades one, and never waits for a result to be saved."""
    context = multiprocessing.get_context("fork") if "fork" in multiprocessing.get_all_start_methods() else None
    if jobs <= 1 or context is None or _threaded_libraries():
        yield grader.grade, max(1, jobs)
        return
    grader.prepare()  # what every run reads, made here once: a worker never makes (nor removes) it
    _FORKED[id(grader)] = grader
    try:
        with concurrent.futures.ProcessPoolExecutor(jobs, mp_context=context, initializer=_worker_started,
                                                    initargs=(worker_cpus(jobs), context.Value("i", 0))) as pool:
            pool.submit(int).result()  # every worker forked now, before this process starts the batch's threads
            yield (lambda path, sub: pool.submit(_grade_in_worker, id(grader), path, sub).result()), 2 * jobs
    finally:
        del _FORKED[id(grader)]


def _refuse_what_submissions_could_read(grader: "Grader", paths: Sequence[Path], state: Path) -> None:
    """SandboxUnavailable, with the fix, where a submission could read the assignment (its probes, its solution), the
    saved results, or in a batch of several another student's files."""
    mode, a = grader.sandbox.mode, grader.a
    sandbox.refuse_if_readable([str(p) for p in (a.path, a.solution, state) if p], mode,
                               "the assignment, its solution or the saved results")
    if len(paths) > 1:
        files = [str(p) for p in paths]
        for p in paths:
            files += [os.path.join(d, f) for d, _, names in os.walk(p) for f in names][:MAX_PROBED]
        sandbox.refuse_if_readable(files, mode, "another student's submission")


#: Files probed per folder submission: enough to find a folder left open, bounded for a class of large folders.
MAX_PROBED = 50


# -- a batch as the command grades it ---------------------------------------------------------------------


def _name(result: Result, item: Item) -> Result:
    result.id, result.submission, result.students = item.id, item.id, [s.as_dict() for s in item.students]
    return result


def grade_items(grader: "Grader", items: Sequence[Item], jobs: int, state: Path, on_result: Optional[OnResult] = None,
                force: bool = False) -> list[Result]:
    """Every item's result in batch order, named after its item (an unreadable item's result says why).

    ``on_result`` sees each graded result, already named, as it finishes.  On KeyboardInterrupt the results finished
    so far are recorded in the index before the interrupt goes on, so a rerun resumes without regrading them.
    """
    gradable = [i for i in items if i.path is not None]
    by_path = {str(i.path): i for i in gradable}
    done: list[Result] = []

    def finished(result: Result, reused: bool) -> None:
        item = by_path.get(result.submission)
        done.append(_name(result, item) if item is not None else result)
        if on_result:
            on_result(result, reused)

    try:
        graded = iter(grade_batch(grader, [i.path for i in gradable], jobs, state, finished, force))
    except KeyboardInterrupt:
        save_index(state, grader.a.name, grader.a.title, done, load_index(state).get("submissions", {}))
        raise
    return [next(graded) if item.path is not None else _name(grader.error_result(item.id, item.error, ""), item)
            for item in items]


# -- the batch's index in the state folder ------------------------------------------------------------------

INDEX = "submissions.json"


def load_index(state: Path) -> dict:
    """The state folder's index: the assignment, and per submission id its students and result key, in batch order."""
    try:
        data = json.loads((state / INDEX).read_text(encoding="utf-8"))
        return data if isinstance(data, dict) and isinstance(data.get("submissions"), dict) else {}
    except (OSError, ValueError):
        return {}


def save_index(state: Path, assignment: str, title: str, results: Sequence[Any], keep: Optional[dict] = None) -> None:
    """Record which result each submission of this batch has (``keep``: entries of an earlier run to leave as they are)."""
    entries = dict(keep or {})
    for r in results:
        entry = {"submission": r.submission, "students": r.students, "key": r.key}
        if not r.key:  # nothing saved under a key (it could not be read): keep the result itself
            entry["result"] = r.as_dict()
        entries[r.id] = entry
    data = {"assignment": assignment, "title": title, "submissions": entries}
    write_atomic(state / INDEX, json.dumps(data, indent=1, ensure_ascii=True) + "\n")


def load_results(state: Path) -> tuple[str, str, list]:
    """(assignment, title, results) of the last batch graded into ``state``, as ``bpcheck report STATE_DIR`` reads them."""
    index = load_index(state)
    if not index:
        raise ValueError(f"{state}: no {INDEX} here (is it the --state folder of a bpcheck grade run?)")
    results = []
    for sid, entry in index["submissions"].items():
        raw = entry.get("result")
        if raw is None:
            try:
                raw = json.loads((state / f"{entry.get('key')}.json").read_text(encoding="utf-8"))
            except (OSError, ValueError):
                raw = {"submission": sid, "verdict": "error", "score": 0.0, "max_score": 0.0,
                       "message": f"its saved result is missing from {state}: rerun bpcheck grade"}
        r = Result.from_dict(raw)  # unknown fields dropped there
        r.id, r.submission, r.students = sid, entry.get("submission", sid), list(entry.get("students", []))
        results.append(r)
    return str(index.get("assignment", "")), str(index.get("title", "")), results
