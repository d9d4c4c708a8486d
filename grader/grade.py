"""The grading pipeline: assignment → probe cases → sandboxed run → compare → diagnose → result.

Oracle answers (the reference's gradients, confirmed by an independent oracle) and every catalog
entry's behaviour are computed once per ``Grader``, never per submission, and never in a
submission's process.  Each result is written to the state directory the moment it is ready, so an
interrupted batch resumes without regrading anything.
"""

from __future__ import annotations

import ast
import concurrent.futures
import difflib
import hashlib
import json
import os
import shutil
import stat
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Callable, Optional, Sequence

import numpy as np

import oracles
from reference import forward, train

from .assignment import Assignment
from .contracts import BLOG_LR, Reading
from .diagnose import Diagnosis, Outcome, Probe, ProbeSet, Terms, confirmed_gradients, diagnose, explain_probe
from . import sandbox
from . import untrusted
from .untrusted import read_outputs

VERSION = "0.1.0"
MAX_FILES = 100
MAX_FILE_BYTES = 1 << 20
MAX_SUBMISSION_BYTES = 8 << 20


@dataclass
class Check:
    name: str
    score: float
    max_score: float
    passed: bool
    output: str
    hidden: bool = False


@dataclass
class Result:
    submission: str
    verdict: str  # pass | fail | error
    score: float
    max_score: float
    checks: list[Check] = field(default_factory=list)
    diagnoses: list[dict] = field(default_factory=list)
    message: str = ""
    sandbox: str = ""
    seconds: float = 0.0
    key: str = ""
    id: str = ""  # the submission's id in its batch: unique, stable, derived from its path (grader/batch.py)
    students: list[dict] = field(default_factory=list)  # {"id", "name", "email"} from the class's metadata

    def as_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "Result":
        d = dict(d)
        d["checks"] = [Check(**c) for c in d.get("checks", [])]
        return cls(**d)


class SubmissionError(Exception):
    """The submission cannot be run at all (its files, its syntax, its entry point)."""


def collect(path: Path, module: str) -> dict[str, bytes]:
    """The submission's Python files, with the main one renamed to ``<module>.py`` as the runner imports it.

    Read as untrusted: links inside a folder are refused, never followed; sizes are checked before reading.
    """
    try:
        st = path.stat()  # the path given on the command line may itself be a link: resolved once, here
    except OSError:
        raise SubmissionError(f"not found: {path}") from None
    try:
        if stat.S_ISREG(st.st_mode):
            if path.suffix != ".py":
                raise SubmissionError(f"expected a .py file or a folder holding one, got {path.name}")
            if st.st_size > MAX_FILE_BYTES:
                raise SubmissionError(f"{path.name} is {st.st_size} bytes; at most {MAX_FILE_BYTES} are accepted")
            with untrusted.open_dir(str(path.resolve().parent)) as d:
                files = {path.name: untrusted.read_regular(path.resolve().name, MAX_FILE_BYTES, d)}
            main = path.name
        elif stat.S_ISDIR(st.st_mode):
            files = untrusted.read_tree(str(path.resolve()), lambda rel: rel.endswith(".py"), max_files=MAX_FILES,
                                        max_file_bytes=MAX_FILE_BYTES, max_total_bytes=MAX_SUBMISSION_BYTES)
            if not files:
                raise SubmissionError(f"no .py file in folder {path}")
            top = [k for k in files if "/" not in k]
            main = f"{module}.py" if f"{module}.py" in files else (top[0] if len(top) == 1 else "")
            if not main:
                raise SubmissionError(f"expected {module}.py in {path} (found {', '.join(sorted(top)) or 'no top-level .py file'})")
        else:
            raise SubmissionError(f"{path}: not a file or a folder")
    except untrusted.Refused as exc:
        raise SubmissionError(str(exc)) from None
    if main != f"{module}.py":
        files[f"{module}.py"] = files.pop(main)
    return files


def static_check(source: bytes, filename: str, entry: str) -> None:
    """Compile (never run) the main file: a SyntaxError, or a missing entry point with its near misses."""
    try:
        tree = ast.parse(source, filename=filename)
    except SyntaxError as exc:
        hint = " (Python 2 syntax? this grader runs Python 3)" if "print" in (exc.text or "") or "Missing parentheses" in str(exc.msg) else ""
        raise SubmissionError(f"SyntaxError in {filename} line {exc.lineno}: {exc.msg}{hint}") from None
    defined = set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            defined.add(node.name)
        elif isinstance(node, ast.Assign):
            defined.update(t.id for t in node.targets if isinstance(t, ast.Name))
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            defined.update((a.asname or a.name).split(".")[0] for a in node.names)
    if entry not in defined:
        near = difflib.get_close_matches(entry, sorted(defined), n=3, cutoff=0.5)
        near += [d for d in sorted(defined) if d.lower() == entry.lower() and d not in near]
        raise SubmissionError(f"{filename} does not define {entry!r}, the contract's entry point"
                              + (f"; did you mean {', '.join(repr(n) for n in near)}?" if near else f"; it defines {sorted(defined) or 'nothing'}"))


def _text(value: object, limit: int = 1500) -> Optional[str]:
    return str(value)[:limit] if value is not None else None


def student_file(path: Path, module: str) -> str:
    """The name the student gave the file bpcheck imports as ``<module>.py``."""
    if path.is_file():
        return path.name
    top = sorted(p.name for p in path.glob("*.py") if p.is_file())
    return top[0] if f"{module}.py" not in top and len(top) == 1 else f"{module}.py"


def credit(verdict: str, checks: list[Check]) -> list[Check]:
    """The one scoring rule beyond each check's own: an ``error`` verdict (not one probe produced
    gradients, so nothing was graded on its merits) earns nothing, whatever the side checks say."""
    if verdict != "error":
        return checks
    return [replace(c, score=0.0, passed=False) for c in checks]


class Grader:
    """Grades submissions against one assignment; expected answers are computed once, here."""

    def __init__(self, assignment: Assignment, sandbox_mode: "str | sandbox.Sandbox" = "auto"):
        """``sandbox_mode``: auto | bubblewrap | process | none, or a chosen ``sandbox.Sandbox``; SandboxUnavailable
        when the mode cannot run here (``auto`` never falls back to none)."""
        self.a = assignment
        self.contract = assignment.contract
        self.sandbox = sandbox_mode if isinstance(sandbox_mode, sandbox.Sandbox) else sandbox.select(sandbox_mode)
        self.sandbox_message = self.sandbox.description
        probes = [pc.probe for pc in assignment.probes]
        self.hidden = {pc.probe.name for pc in assignment.probes if pc.hidden}
        if assignment.large_inputs:
            p = probes[0]
            big = type(p.case)(p.case.spec, p.case.params, p.case.x * 1e4, p.case.y)
            self.large = Probe("large-inputs", big, p.lr, "inputs ×1e4: pre-activations up to ~1e4")
        else:
            self.large = None
        self.probe_set = ProbeSet.build(probes)
        self.all_probes = probes + ([self.large] if self.large else [])
        self.expected: dict[str, dict] = {}
        for p in self.all_probes:
            c = p.case
            C, cache = forward(c.spec, c.params, c.x, c.y)
            grads = self.probe_set.expected[p.name].grads if p is not self.large else confirmed_gradients(p)
            self.expected[p.name] = {
                "loss": C,
                "forward": cache.z[-1] if self.contract.name == "cs231n-two-layer" else cache.a[-1],
                "grads": grads,
                "rtol": oracles.rtol_for(c.spec, c.batch),
                "scale": oracles.term_scale(c.spec, c.params, c.x, c.y),
            }
        if assignment.steps > 1 and self.contract.name == "blog-class":
            for p in probes:
                c = p.case
                self.expected[p.name]["steps"] = train(c.spec, c.params, c.x, c.y, lr=BLOG_LR, steps=assignment.steps)

    # -- one submission --------------------------------------------------------------------------------

    def key(self, files: dict[str, bytes]) -> str:
        h = hashlib.sha256(f"{VERSION}|{self.a.fingerprint}".encode())
        for name in sorted(files):
            h.update(name.encode() + b"\0" + hashlib.sha256(files[name]).digest())
        return h.hexdigest()[:24]

    def _job(self, job: Path, uid: Optional[int]) -> None:
        job.mkdir(parents=True)
        shutil.copy(sandbox.RUNNER, job / "runner.py")
        calls = []
        for p in self.all_probes:
            inputs = self.contract.inputs(p.case, self.a.steps)
            (job / p.name).mkdir()
            for k, v in inputs.items():
                np.save(job / p.name / f"{k}.npy", np.asarray(v), allow_pickle=False)
            calls.append({"name": p.name, "inputs": sorted(inputs)})
        spec = {"contract": self.contract.name, "module": self.a.module, "calls": calls,
                "uid": uid if self.sandbox.mode == "bubblewrap" else None, "processes": self.a.limits.processes}
        (job / "job.json").write_text(json.dumps(spec))
        for dirpath, _, filenames in os.walk(job):
            os.chmod(dirpath, 0o755)
            for f in filenames:
                os.chmod(os.path.join(dirpath, f), 0o644)

    def grade(self, path: Path, files: Optional[dict[str, bytes]] = None) -> Result:
        """Grade one submission; ``files``: its already-collected files, if the caller has read them."""
        path = Path(path)
        try:
            files = files if files is not None else collect(path, self.a.module)
        except SubmissionError as exc:
            return self._error(str(path), str(exc), "")
        key = self.key(files)
        try:
            static_check(files[f"{self.a.module}.py"], f"{self.a.module}.py" if path.is_dir() else path.name, self.contract.entry)
        except SubmissionError as exc:
            return self._error(str(path), str(exc), key)
        terms = replace(self.contract.terms, files=((f"{self.a.module}.py", student_file(path, self.a.module)),))
        with self.sandbox.workspace() as (tmp, uid):
            self._job(tmp / "job", uid)
            scratch = tmp / "scratch"
            sandbox.prepare(scratch, files, uid)
            run = self.sandbox.run(tmp / "job", scratch, self.a.limits, uid)
            arrays, refused, status = read_outputs(scratch / "out", [p.name for p in self.all_probes])
        return self._assess(str(path), key, run, arrays, refused, status, terms)

    def _error(self, submission: str, message: str, key: str) -> Result:
        checks = [Check(name, 0.0, pts, False, message, hidden) for name, pts, hidden in self._check_plan()]
        return Result(submission, "error", 0.0, sum(c.max_score for c in checks), checks, [], message,
                      self.sandbox_message, 0.0, key)

    def _check_plan(self) -> list[tuple[str, float, bool]]:
        pts = self.a.points
        plan = [(f"gradient: {p.name}", pts["gradient"], p.name in self.hidden) for p in self.probe_set.probes]
        if self.contract.has_loss:
            plan.append(("loss value", pts["loss"], "loss" in self.a.hidden_checks))
        if self.contract.has_forward:
            plan.append(("forward output", pts["forward"], "forward" in self.a.hidden_checks))
        if self.contract.name == "blog-class" and self.a.steps > 1:
            plan.append((f"{self.a.steps} training steps", pts["steps"], "steps" in self.a.hidden_checks))
        if self.contract.name != "nielsen":
            plan.append(("inputs left unmutated", pts["unmutated"], "unmutated" in self.a.hidden_checks))
        if self.large is not None:
            plan.append(("finite and right at large inputs", pts["large_inputs"], "large_inputs" in self.a.hidden_checks))
        return plan

    def _run_failure(self, run: sandbox.RunResult, status: dict) -> Optional[str]:
        phase = _text(status.get("phase"), 200)
        if run.stopped:
            return f"stopped: it {run.stopped}"
        if run.timed_out:
            where = "while importing the submission" if phase in (None, "import") else f"during probe {phase!r}"
            return f"timed out after {self.a.limits.timeout_seconds:g} s {where} (an infinite loop, a sleep, or very slow code)"
        if status.get("import"):
            return f"importing the submission failed: {_text(status['import'])}"
        if phase not in ("done", None) and run.returncode is not None:
            return (f"the process ended (exit status {run.returncode}) during probe {phase!r} before finishing: "
                    "sys.exit/os._exit, a crash, or a resource limit (memory, processes, file size)")
        if run.returncode not in (0, None) or phase is None:
            tail = run.stderr.strip().splitlines()[-1:] if run.stderr.strip() else []
            return f"the process ended with exit status {run.returncode} before reporting" + (f": {tail[0][:300]}" if tail else "")
        return None

    def _assess(self, submission: str, key: str, run: sandbox.RunResult, arrays: dict, refused: dict, status: dict,
                terms: Optional[Terms] = None) -> Result:
        contract, calls = self.contract, status.get("calls") if isinstance(status.get("calls"), dict) else {}
        terms = terms or contract.terms
        failure = self._run_failure(run, status)
        failure = terms.say(failure) if failure else failure
        readings: dict[str, Reading] = {}
        outcomes: dict[str, Outcome] = {}
        for p in self.all_probes:
            reading = contract.read(p.case, arrays.get(p.name, {}))
            err = f"raised {terms.say(_text(calls[p.name]))}" if calls.get(p.name) else None
            if not arrays.get(p.name) and not err:
                err = failure or "produced no output"
            if err:
                reading.errors = [err]  # what is missing after that follows from it
            reading.errors += [f"refused {k}: {v}" for k, v in refused.items() if k.startswith(p.name + "/")]
            readings[p.name] = reading
            complete = len(reading.grads) == len(p.case.spec.param_shapes()) and not err
            outcomes[p.name] = Outcome(reading.grads if complete else None, None if complete else "; ".join(reading.errors) or "error",
                                       reading.mutated)
        ran_any = any(outcomes[p.name].error is None for p in self.all_probes)
        if not ran_any and failure:
            left = "; ".join(f"refused {k}: {v}" for k, v in list(refused.items())[:4])
            result = self._error(submission, failure + (f"; {left}" if left else ""), key)
            result.sandbox, result.seconds = self.sandbox_message, run.seconds
            return result

        diag = diagnose({p.name: outcomes[p.name] for p in self.probe_set.probes}, self.probe_set, terms)
        checks = [self._gradient_check(p, readings[p.name], diag, terms) for p in self.probe_set.probes]
        plan = {name: (pts, hidden) for name, pts, hidden in self._check_plan()}

        def add(name: str, passed: bool, output: str) -> None:
            pts, hidden = plan[name]
            checks.append(Check(name, pts if passed else 0.0, pts, passed, output, hidden))

        if contract.has_loss:
            bad = []
            for p in self.probe_set.probes:
                r, e = readings[p.name], self.expected[p.name]
                if r.loss is None or not abs(r.loss - e["loss"]) <= e["rtol"] * (abs(e["loss"]) + 1.0):
                    bad.append(f"{p.name}: got {r.loss!r}, expected {e['loss']:.12g}")
            add("loss value", not bad, "loss matches on every probe" if not bad else "wrong loss: " + "; ".join(bad))
        if contract.has_forward:
            bad = []
            for p in self.probe_set.probes:
                f, e = readings[p.name].forward, self.expected[p.name]
                if f is None or f.shape != e["forward"].shape or not np.allclose(f, e["forward"], rtol=e["rtol"], atol=e["rtol"]):
                    bad.append(f"{p.name}: " + ("missing" if f is None else f"shape {f.shape} vs {e['forward'].shape}"
                                                if f.shape != e["forward"].shape else f"max |error| {np.max(np.abs(f - e['forward'])):.3g}"))
            add("forward output", not bad, "forward output matches" if not bad else "wrong forward output: " + "; ".join(bad))
        if contract.name == "blog-class" and self.a.steps > 1:
            bad = []
            for p in self.probe_set.probes:
                got, exp = readings[p.name].steps or {}, self.expected[p.name]["steps"]
                for k in ("W1", "W2"):
                    if k not in got or got[k].shape != exp[k].shape or not np.allclose(got[k], exp[k], rtol=1e-9, atol=1e-12):
                        bad.append(f"{p.name}: {contract.names(k)} after {self.a.steps} steps")
            add(f"{self.a.steps} training steps", not bad,
                "weights follow the reference trajectory" if not bad else "training diverges from the reference: " + "; ".join(bad))
        # Side checks earn credit only alongside at least one right gradient: garbage left unmutated earns nothing.
        some_right = any(c.passed for c in checks)
        if "inputs left unmutated" in plan:
            changed = sorted({m for r in readings.values() for m in r.mutated})
            finished = all(outcomes[p.name].error is None for p in self.probe_set.probes)
            add("inputs left unmutated", finished and some_right and not changed,
                f"modified its inputs in place: {', '.join(changed)}" if changed else
                "not checked: the calls did not all finish" if not finished else
                "inputs unchanged" if some_right else "not credited: no gradient was right")
        if self.large is not None:
            r = readings[self.large.name]
            finite = bool(r.grads) and all(np.all(np.isfinite(g)) for g in r.grads.values())
            problem = None if r.errors or not r.grads else self._matches(self.large, r, terms)
            ok = some_right and finite and not r.errors and bool(r.grads) and problem is None
            named = "" if ok or r.errors or not r.grads or (finite and problem is None) else explain_probe(
                outcomes[self.large.name], self.large, self.expected[self.large.name]["grads"], terms, diag.matches)
            where = "at large inputs (pre-activations ~1e4)"
            add("finite and right at large inputs", ok,
                "finite and right for pre-activations ~1e4" if ok else
                "; ".join(r.errors) if r.errors or not r.grads else
                f"NaN or Inf {where}: {named or 'an unstable sigmoid, softmax or log?'}" if not finite else
                f"wrong {where}: {named or problem}" if problem else
                f"right {where}, but not credited: no gradient was right on the other probes")

        verdict = "pass" if all(c.passed for c in checks) else "fail"
        if not any(outcomes[p.name].error is None for p in self.probe_set.probes):
            verdict = "error"  # not one probe produced gradients: nothing was graded on its merits
        checks = credit(verdict, checks)
        score = sum(c.score for c in checks)
        max_score = sum(c.max_score for c in checks)
        message = self._summary(diag, checks)
        if failure and verdict != "pass":
            message = f"{failure}; {message}"
        d = diag.as_dict()
        d["smallest_failing_case"] = self._smallest_failing(checks, terms)
        if verdict == "fail" and d["smallest_failing_case"]:
            message += f" (smallest failing case: {d['smallest_failing_case']})"
        return Result(submission, verdict, score, max_score, checks, [d], message, self.sandbox_message, run.seconds, key)

    def _matches(self, p: Probe, r: Reading, terms: Terms) -> Optional[str]:
        """None when the reading's gradients match the expected ones; else which arrays are wrong, in the student's names."""
        e = self.expected[p.name]
        if r.errors:
            return "; ".join(terms.say(m) for m in r.errors)
        if any(np.iscomplexobj(g) for g in r.grads.values()):
            return f"complex values in {', '.join(terms.array(k) for k, g in r.grads.items() if np.iscomplexobj(g))}"
        try:
            result = oracles.compare(r.grads, e["grads"], e["rtol"], r.uncertainty or None,
                                     "the reference (confirmed by an independent oracle)", e["scale"])
        except ValueError as exc:
            return str(exc)
        if result.ok:
            return None
        bad = result.failures()
        worst = max(a.normwise for a in bad)
        names = [terms.array(a.name) for a in bad]
        listed = ", ".join(names) if len(names) <= 3 else f"{', '.join(names[:2])} and {len(names) - 2} more arrays"
        return f"{listed} wrong (relative error up to {worst:.1e})"

    def _gradient_check(self, p: Probe, r: Reading, diag: Diagnosis, terms: Terms) -> Check:
        pts = self.a.points["gradient"]
        problem = self._matches(p, r, terms)
        hidden = p.name in self.hidden
        where = f"on {terms.describe(p.case)}"
        if problem is None:
            return Check(f"gradient: {p.name}", pts, pts, True, f"correct {where}", hidden)
        explanation = f" Diagnosis: {diag.summary}." if not diag.correct else ""
        if diag.convention_only and (diag.accepted or not self.a.penalise_conventions):
            return Check(f"gradient: {p.name}", pts, pts, True, f"accepted: {diag.summary} ({where})", hidden)
        return Check(f"gradient: {p.name}", 0.0, pts, False, f"wrong {where}: {problem}.{explanation}", hidden)

    @staticmethod
    def _summary(diag: Diagnosis, checks: list[Check]) -> str:
        """The result in one line; it never calls gradients right when one is wrong, nor all right when a side check failed."""
        failed = [c for c in checks if not c.passed]
        if not diag.correct:
            return diag.summary
        if not failed:
            return "all gradient checks pass"
        head = "" if failed[0].name.startswith("gradient") else "gradients correct on every probe, but "
        return f"{head}{failed[0].name} failed: {failed[0].output}" + (
            f" (and {len(failed) - 1} more check{'s' if len(failed) > 2 else ''})" if len(failed) > 1 else "")

    def _smallest_failing(self, checks: list[Check], terms: Terms) -> Optional[str]:
        failing = [p for p, c in zip(self.probe_set.probes, checks) if not c.passed]
        if not failing:
            return None
        p = min(failing, key=lambda q: (sum(q.case.spec.sizes), q.case.batch))
        return f"{p.name}: {terms.describe(p.case)}"


# -- a batch ---------------------------------------------------------------------------------------------


#: Words that mark a failure of the grading machine rather than of the submission (disk full, quota).
#: Words of a full disk.  A submission can print them too, so they only earn a retry; a result is the
#: machine's (never saved) when they persist while the disk really is short, or when the grader itself failed.
FULL_DISK = ("No space left on device", "[Errno 28]", "Disk quota exceeded", "[Errno 122]")
INTERNAL = "internal grader error"
RETRIES = 2
DISK_MARGIN = 256 << 20


def _texts(result: Result) -> list[str]:
    return [result.message, *(c.output for c in result.checks)]


def _suspect(result: Result) -> bool:
    """Worth grading again: the grader failed, or something reported a full disk."""
    return result.verdict != "pass" and any(m in t for t in _texts(result) for m in (INTERNAL, *FULL_DISK))


def environmental(result: Result, *folders: Path) -> bool:
    """Whether ``result`` is the grading machine's failure, not the submission's (never saved, never final)."""
    if result.verdict == "pass":
        return False
    if any(INTERNAL in t for t in _texts(result)):
        return True
    return _suspect(result) and any(_free_bytes(f) < DISK_MARGIN for f in folders)


def _free_bytes(folder: Path) -> int:
    try:
        st = os.statvfs(folder)
    except OSError:
        return 0
    return st.f_bavail * st.f_frsize


def grade_batch(grader: Grader, paths: Sequence[Path], jobs: int, state: Path,
                on_result: Optional[Callable[[Result, bool], None]] = None, force: bool = False) -> list[Result]:
    """Grade ``paths`` with ``jobs`` in parallel; each result is saved under ``state`` as it finishes and reused on rerun.

    A result that failed because of the machine (disk full, the grader's own error) is retried, and never saved:
    a rerun grades it again.  ``force``: regrade, ignoring results saved before this call (identical submissions in
    the batch are still graded once).
    """
    state.mkdir(parents=True, exist_ok=True)
    os.chmod(state, 0o700)  # results are the grader's: no submission's uid may read or write them
    lock = threading.Lock()
    written: set[str] = set()

    def attempt(path: Path, files: Optional[dict[str, bytes]], key: str) -> Result:
        try:
            return grader.grade(path, files)
        except Exception as exc:  # the grader's own failure on one submission must not stop the batch
            return grader._error(str(path), f"internal grader error: {type(exc).__name__}: {exc}", key)

    def one(path: Path) -> Result:
        try:
            files: Optional[dict[str, bytes]] = collect(path, grader.a.module)
            key = grader.key(files)
        except SubmissionError:
            files, key = None, ""
        record = state / f"{key}.json" if key else None
        if record is not None and record.exists() and (not force or key in written):
            try:
                result = Result.from_dict(json.loads(record.read_text()))
                result.submission = str(path)
                with lock:
                    if on_result:
                        on_result(result, True)
                return result
            except (ValueError, TypeError):
                pass  # a damaged record is regraded
        result = attempt(path, files, key)
        for _ in range(RETRIES):
            if not _suspect(result):
                break
            time.sleep(1.0)
            result = attempt(path, files, key)
        if environmental(result, state, Path(tempfile.gettempdir())):
            result.verdict = "error"
            result.message = f"not graded: the grading machine failed, not the submission (not saved; rerun to grade it): {result.message}"
        elif record is not None:
            try:
                fd, tmp = tempfile.mkstemp(dir=state, prefix=f".{key}.", suffix=".tmp")
                with os.fdopen(fd, "w") as fh:
                    fh.write(json.dumps(result.as_dict()))
                os.replace(tmp, record)
            except OSError as exc:  # the state folder's disk is full: the grade stands, only resuming loses it
                result.message += f" (not saved for resuming: {exc.strerror})"
        with lock:
            written.add(key)
            if on_result:
                on_result(result, False)
        return result

    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        return list(pool.map(one, paths))
