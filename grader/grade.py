"""The grading pipeline: assignment → probe cases → sandboxed run → compare → diagnose → result.

Oracle answers (the reference's gradients, confirmed by an independent oracle) and every catalog
entry's behaviour are computed once per ``Grader``, never per submission, and never in a
submission's process.  Each result is written to the state directory the moment it is ready, so an
interrupted batch resumes without regrading anything.
"""

from __future__ import annotations

import concurrent.futures
import functools
import hashlib
import json
import os
import shutil
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path, PurePosixPath
from typing import Callable, Optional, Sequence

import numpy as np

import oracles

from . import sandbox, variants
from .untrusted import read_outputs
from .assignment import Assignment
from .contracts import Reading
from .diagnose import Diagnosis, Outcome, diagnose, explain_probe
from .submission import Submission, SubmissionError
from .submission import collect as collect_submission
from .variants import LARGE, Expected, VariantState

VERSION = "0.1.0"


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
    notes: list[str] = field(default_factory=list)  # what was read and run: notebook cells, skipped driver code
    convention: str = ""  # the accepted convention the submission was graded under, in words ("" for the assignment's own)
    environment: str = ""  # the fix, when the grading machine (not the student) kept the submission from running
    duplicate_of: str = ""  # the submission in this batch with identical files, whose grading this result copies

    def as_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "Result":
        known = {f.name for f in fields(cls)}
        d = {k: v for k, v in d.items() if k in known}
        d["checks"] = [Check(**c) for c in d.get("checks", [])]
        return cls(**d)


def _text(value: object, limit: int = 1500) -> Optional[str]:
    return str(value)[:limit] if value is not None else None


@dataclass
class Evaluation:
    """A submission's outputs read under one combination of conventions, and what matched."""

    state: VariantState
    readings: dict[str, Reading]
    outcomes: dict[str, Outcome]
    problems: dict[str, Optional[str]]  # per gradient probe: None when right, else why not
    loss_bad: list[str]
    forward_bad: list[str]
    steps_bad: list[str]
    arrays_right: int = 0  # gradient arrays right, over every probe
    fitted_lr: Optional[float] = None  # the submission's own learning rate, when the conventions accept any
    read_lr: Optional[float] = None  # the learning rate its steps were read with (None: the conventions' own)

    @property
    def right(self) -> bool:
        return not any(self.problems.values()) and not (self.loss_bad or self.forward_bad or self.steps_bad)

    @property
    def score(self) -> int:
        """How much of the submission these conventions explain: right arrays, then the other checks."""
        return 2 * self.arrays_right + (not self.loss_bad) + (not self.forward_bad) + (not self.steps_bad)

    def words(self) -> str:
        return self.state.variant.words(self.fitted_lr)


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
        self.hidden = {pc.probe.name for pc in assignment.probes if pc.hidden}
        self.states, self.calls = variants.build(assignment)
        self.terms = {id(st): self.contract.terms(st.conventions) for st in self.states}
        self.default = self.states[0]
        self.probe_set = self.default.probe_set(self.default.lr())  # builds and confirms the expected answers
        self.large = self.default.large_probe()
        for name in [*self.probe_names, *([LARGE] if self.large else [])]:
            self.default.expected(name)

    @property
    def probe_names(self) -> list[str]:
        return [pc.probe.name for pc in self.a.probes]

    # -- one submission --------------------------------------------------------------------------------

    def collect(self, path: Path) -> Submission:
        """Read a submission and find the file that defines the entry point (SubmissionError if it cannot be run)."""
        return collect_submission(path, [f.requires for f in self.contract.forms], self.a.module)

    def key(self, files: dict[str, bytes]) -> str:
        """Changes with the submission's files, the assignment and the grader's own code, so nothing stale is reused."""
        h = hashlib.sha256(f"{VERSION}|{code_fingerprint()}|{self.a.fingerprint}".encode())
        for name in sorted(files):
            h.update(name.encode() + b"\0" + hashlib.sha256(files[name]).digest())
        return h.hexdigest()[:24]

    def _job(self, job: Path, sub: Submission, uid: Optional[int]) -> None:
        job.mkdir(parents=True)
        shutil.copy(sandbox.RUNNER, job / "runner.py")
        calls = []
        for name, enc, ops in self.calls:
            (job / name).mkdir()
            for k, v in enc.arrays.items():
                np.save(job / name / f"{k}.npy", np.asarray(v), allow_pickle=False)
            forms = [{"requires": [list(g) for g in f.requires], "ops": o} for f, o in zip(self.contract.forms, ops)]
            calls.append({"name": name, "inputs": sorted(enc.arrays), "forms": forms})
        own = _provided(sub.files)
        stubs = self.a.environment.stubs()
        stubs["inert"] = [s for s in stubs["inert"] if s.split(".")[0] not in own]
        spec = {"main": {"path": sub.main, "name": sub.module, "sys_path": sub.sys_path, "statements": sub.statements},
                "stubs": stubs, "calls": calls,
                "uid": uid if self.sandbox.mode == "bubblewrap" else None, "processes": self.a.limits.processes}
        (job / "job.json").write_text(json.dumps(spec))
        for dirpath, _, filenames in os.walk(job):
            os.chmod(dirpath, 0o755)
            for f in filenames:
                os.chmod(os.path.join(dirpath, f), 0o644)

    def grade(self, path: Path, sub: Optional[Submission] = None) -> Result:
        """Grade one submission; ``sub``: the already-collected submission, if the caller has read it."""
        path = Path(path)
        try:
            sub = sub if sub is not None else self.collect(path)
        except SubmissionError as exc:
            return self._error(str(path), str(exc), "")
        key = self.key(sub.files)
        with self.sandbox.workspace() as (tmp, uid):
            self._job(tmp / "job", sub, uid)
            scratch = tmp / "scratch"
            sandbox.prepare(scratch, sub.files, uid)
            run = self.sandbox.run(tmp / "job", scratch, self.a.limits, uid)
            arrays, refused, status = read_outputs(scratch / "out", [name for name, _, _ in self.calls])
        return self._assess(str(path), key, run, arrays, refused, status, sub)

    def _error(self, submission: str, message: str, key: str, notes: Optional[list[str]] = None, environment: str = "") -> Result:
        checks = [Check(name, 0.0, pts, False, message, hidden) for name, pts, hidden in self._check_plan()]
        return Result(submission, "error", 0.0, sum(c.max_score for c in checks), checks, [], message,
                      self.sandbox_message, 0.0, key, notes=list(notes or []), environment=environment)

    def _check_plan(self) -> list[tuple[str, float, bool]]:
        pts, hidden_checks = self.a.points, self.a.hidden_checks
        plan = [(f"gradient: {name}", pts["gradient"], name in self.hidden) for name in self.probe_names]
        if self.contract.has_loss and pts["loss"] > 0:
            plan.append(("loss value", pts["loss"], "loss" in hidden_checks))
        if self.contract.forward_symbol and pts["forward"] > 0:
            plan.append(("forward output", pts["forward"], "forward" in hidden_checks))
        if self.a.steps > 1 and pts["steps"] > 0:
            plan.append((f"{self.a.steps} training steps", pts["steps"], "steps" in hidden_checks))
        if pts["unmutated"] > 0:
            plan.append(("inputs left unmutated", pts["unmutated"], "unmutated" in hidden_checks))
        if self.large is not None and pts["large_inputs"] > 0:
            plan.append(("finite and right at large inputs", pts["large_inputs"], "large_inputs" in hidden_checks))
        return plan

    def _run_failure(self, run: sandbox.RunResult, status: dict, sub: Submission) -> Optional[str]:
        phase = _text(status.get("phase"), 200)
        probe = phase.split("@")[0] if phase else phase  # a call is named after its probe (@v<k>: another convention's)
        if run.stopped:
            return f"stopped: it {run.stopped}"
        if run.timed_out:
            where = "while importing the submission" if phase in (None, "import") else f"during probe {probe!r}"
            return f"timed out after {self.a.limits.timeout_seconds:g} s {where} (an infinite loop, a sleep, or very slow code)"
        if status.get("import"):
            return f"importing {sub.shown} failed: {describe_error(status['import'], sub)}"
        if phase not in ("done", None) and run.returncode is not None:
            return (f"the process ended (exit status {run.returncode}) during probe {probe!r} before finishing: "
                    "sys.exit/os._exit, a crash, or a resource limit (memory, processes, file size)")
        if run.returncode not in (0, None) or phase is None:
            tail = run.stderr.strip().splitlines()[-1:] if run.stderr.strip() else []
            return f"the process ended with exit status {run.returncode} before reporting" + (f": {tail[0][:300]}" if tail else "")
        return None

    def _read(self, state: VariantState, name: str, arrays: dict, refused: dict, status: dict, sub: Submission,
              failure: Optional[str], lr: Optional[float] = None) -> tuple[Reading, Outcome]:
        call = state.calls[name]
        got = arrays.get(call, {})
        forms = status.get("forms") if isinstance(status.get("forms"), dict) else {}
        form = forms.get(call)
        form = form if isinstance(form, int) and not isinstance(form, bool) and 0 <= form < len(self.contract.forms) else 0
        reading = self.contract.decode(self.contract.forms[form], state.encoders[name], got, lr)
        calls = status.get("calls") if isinstance(status.get("calls"), dict) else {}
        err = describe_error(calls[call], sub) if calls.get(call) else None
        complete = len(reading.grads) == len(state.encoders[name].case.spec.param_shapes())
        if err and not complete:
            reading.errors = [err]  # what is missing after that follows from it
        elif not got and not err:
            reading.errors = [failure or "produced no output"]
        if err and complete:
            reading.call_error = err
        left = [f"refused {k}: {v}" for k, v in refused.items() if k.startswith(call + "/")]
        reading.errors += left
        # Wrong shapes still go to the diagnosis, which names them; a call that failed or a refused file does not.
        complete = complete and not left and not (err and not reading.call_error)
        outcome = Outcome(reading.grads if complete else None, None if complete else "; ".join(reading.errors) or "error",
                          reading.mutated)
        return reading, outcome

    def _evaluate(self, state: VariantState, arrays: dict, refused: dict, status: dict, sub: Submission,
                  failure: Optional[str]) -> Evaluation:
        """The submission read under ``state``'s conventions (its own learning rate fitted, when they accept any)."""
        fitted, lr = None, None
        if state.updates and state.conventions.learning_rate == "any":
            fitted = self._fit_lr(state, arrays, refused, status, sub, failure)
            lr = fitted or 1.0  # no positive fit: read at 1, which cannot come out right
        readings, outcomes, problems, arrays_right = {}, {}, {}, 0
        for name in self.probe_names:
            readings[name], outcomes[name] = self._read(state, name, arrays, refused, status, sub, failure, lr)
            problems[name], right = self._compare(state.expected(name), readings[name], state)
            arrays_right += right
        loss_bad, forward_bad, steps_bad = [], [], []
        for name in self.probe_names:
            r, e = readings[name], state.expected(name)
            if self.contract.has_loss and (r.loss is None or not abs(r.loss - e.loss) <= e.rtol * (abs(e.loss) + 1.0)):
                got = "missing" + (f" ({r.call_error})" if r.call_error else "") if r.loss is None else f"got {r.loss!r}"
                loss_bad.append(f"{name}: {got}, expected {e.loss:.12g}")
            if self.contract.forward_symbol:
                f = r.forward
                if f is None or f.shape != e.forward.shape or not np.allclose(f, e.forward, rtol=e.rtol, atol=e.rtol):
                    forward_bad.append(f"{name}: " + ("missing" + (f" ({r.call_error})" if r.call_error else "") if f is None else
                                                      f"shape {f.shape} vs {e.forward.shape}" if f.shape != e.forward.shape else
                                                      f"max |error| {np.max(np.abs(f - e.forward)):.3g}"))
            if self.a.steps > 1:
                got, exp = r.steps or {}, state.trajectory(name, state.lr(lr), self.a.steps)
                for k in exp:
                    if k not in got or got[k].shape != exp[k].shape or not np.allclose(got[k], exp[k], rtol=1e-9, atol=1e-12):
                        steps_bad.append(f"{name}: {self.contract.display(k, state.conventions)} after {self.a.steps} steps")
        return Evaluation(state, readings, outcomes, problems, loss_bad, forward_bad, steps_bad, arrays_right, fitted, lr)

    def _fit_lr(self, state: VariantState, arrays: dict, refused: dict, status: dict, sub: Submission,
                failure: Optional[str]) -> Optional[float]:
        """The learning rate of the submission's own step: the least-squares factor between its step and the gradient.

        Rounded to 8 significant digits (a learning rate is a short decimal), so the comparison that follows runs under
        the usual tolerance; a bug that scales every gradient by one constant is indistinguishable from a learning rate.
        """
        num = den = 0.0
        for name in self.probe_names:
            reading, _ = self._read(state, name, arrays, refused, status, sub, failure, 1.0)
            exp = state.expected(name).grads
            for k, g in reading.grads.items():
                if g.shape == exp[k].shape and np.all(np.isfinite(g)):
                    num += float(np.vdot(g, exp[k]))
                    den += float(np.vdot(exp[k], exp[k]))
        if den == 0 or not np.isfinite(num) or num <= 0:
            return None
        return float(f"{num / den:.8g}")

    def _assess(self, submission: str, key: str, run: sandbox.RunResult, arrays: dict, refused: dict, status: dict,
                sub: Submission) -> Result:
        failure = self._run_failure(run, status, sub)
        notes = list(sub.notes) + _runner_notes(status, sub)
        environment = self._environment(status, sub)
        if environment:
            message = f"environment problem (the grading machine's, not the student's): {environment}"
            return self._error(submission, message, key, notes, environment)
        evaluations: list[Evaluation] = []
        chosen, diag = None, None
        for state in self.states:
            ev = self._evaluate(state, arrays, refused, status, sub, failure)
            evaluations.append(ev)
            if ev.right:
                chosen = ev
                break
        default = evaluations[0]
        if failure and not any(ev.outcomes[n].error is None for ev in evaluations for n in self.probe_names):
            left = "; ".join(f"refused {k}: {v}" for k, v in list(refused.items())[:4])
            result = self._error(submission, failure + (f"; {left}" if left else ""), key, notes)
            result.seconds = run.seconds
            return result
        if chosen is None:
            diag = diagnose(default.outcomes, self.probe_set, self.terms[id(default.state)])
            chosen = default if diag.matches else max(evaluations, key=lambda ev: ev.score)
            if chosen is not default:
                diag = None
        state = chosen.state
        if diag is None:
            ps = state.probe_set(state.lr(chosen.read_lr))
            diag = diagnose(chosen.outcomes, ps, self.terms[id(state)])
        share = 1.0 if state.variant.default else self.a.alternative_credit
        checks = [self._gradient_check(name, chosen, diag, share) for name in self.probe_names]
        plan = {name: (pts, hidden) for name, pts, hidden in self._check_plan()}

        def add(name: str, passed: bool, output: str) -> None:
            if name in plan:
                pts, hidden = plan[name]
                checks.append(Check(name, pts * share if passed else 0.0, pts, passed, output, hidden))

        if self.contract.has_loss:
            add("loss value", not chosen.loss_bad,
                "loss matches on every probe" if not chosen.loss_bad else "wrong loss: " + "; ".join(chosen.loss_bad))
        if self.contract.forward_symbol:
            add("forward output", not chosen.forward_bad, "forward output matches" if not chosen.forward_bad
                else "wrong forward output: " + "; ".join(chosen.forward_bad))
        if self.a.steps > 1:
            add(f"{self.a.steps} training steps", not chosen.steps_bad, "weights follow the reference trajectory"
                if not chosen.steps_bad else "training diverges from the reference: " + "; ".join(chosen.steps_bad))
        # Side checks earn credit only alongside at least one right gradient: garbage left unmutated earns nothing.
        some_right = any(c.passed for c in checks)
        changed = sorted({m for r in chosen.readings.values() for m in r.mutated})
        finished = all(chosen.outcomes[n].error is None for n in self.probe_names)
        add("inputs left unmutated", finished and some_right and not changed,
            f"modified its inputs in place: {', '.join(changed)}" if changed else
            "not checked: the calls did not all finish" if not finished else
            "inputs unchanged" if some_right else "not credited: no gradient was right")
        if self.large is not None:
            r, outcome = self._read(state, LARGE, arrays, refused, status, sub, failure, chosen.read_lr)
            finite = bool(r.grads) and all(np.all(np.isfinite(g)) for g in r.grads.values())
            problem = None if r.errors or not r.grads else self._compare(state.expected(LARGE), r, state)[0]
            ok = some_right and finite and not r.errors and bool(r.grads) and problem is None
            named = ""
            if not (ok or r.errors or not r.grads or (finite and problem is None)):
                exp = state.expected(LARGE)
                named = explain_probe(outcome, state.large_probe(), exp.grads, exp.rtol, exp.scale, self.terms[id(state)],
                                      diag.matches)
            where = "at large inputs (pre-activations ~1e4)"
            add("finite and right at large inputs", ok,
                "finite and right for pre-activations ~1e4" if ok else
                "; ".join(r.errors) if r.errors or not r.grads else
                f"NaN or Inf {where}: {named or 'an unstable sigmoid, softmax or log?'}" if not finite else
                f"wrong {where}: {named or problem}" if problem else
                f"right {where}, but not credited: no gradient was right on the other probes")

        verdict = "pass" if all(c.passed for c in checks) else "fail"
        if not any(chosen.outcomes[n].error is None for n in self.probe_names):
            verdict = "error"  # not one probe produced gradients: nothing was graded on its merits
        checks = credit(verdict, checks)
        score = sum(c.score for c in checks)
        max_score = sum(c.max_score for c in checks)
        words = chosen.words()
        message = self._summary(diag, checks)
        if words and chosen.right:
            message += f" (correct, with {words})"
            own = diagnose(default.outcomes, self.probe_set, self.terms[id(default.state)])
            if own.matches and not all(b.convention for b in own.matches):
                message += (f"; note: under the assignment's own conventions the same numbers are {own.summary}, "
                            "so check which the student meant")
            if share < 1:
                message += f"; the assignment gives {share:.0%} of the points for that convention"
        elif words:
            message += f" (graded as following its convention: {words})"
        if failure and verdict != "pass":
            message = f"{failure}; {message}"
        d = diag.as_dict()
        d["smallest_failing_case"] = self._smallest_failing(checks)
        if verdict == "fail" and d["smallest_failing_case"]:
            message += f" (smallest failing case: {d['smallest_failing_case']})"
        if sub.cells_used:
            message += f" [{sub.cells_used}]"
        return Result(submission, verdict, score, max_score, checks, [d], message, self.sandbox_message, run.seconds, key,
                      notes=notes, convention=words)

    def _environment(self, status: dict, sub: Submission) -> str:
        """The fix for a package the grading machine lacks, if that is why the submission could not run."""
        errors = [status.get("import")] + list((status.get("calls") or {}).values() if isinstance(status.get("calls"), dict) else [])
        for err in errors:
            name = err.get("missing_module") if isinstance(err, dict) else None
            if not isinstance(name, str) or not name:
                continue
            root = name.split(".")[0][:100]
            if root in _provided(sub.files) or root in sandbox.OWN_PACKAGES:
                continue
            pip = PIP_NAMES.get(root, root)
            return (f"the submission imports {name[:100]!r}, which is not installed where bpcheck grades. Install it "
                    f"(pip install {pip}), or, if the graded code does not need it, add stub = [{root!r}] to the "
                    f"assignment's environment table. (If it is the student's own module, {root}.py is missing from the "
                    "submission.)")
        return ""

    def _compare(self, e: Expected, r: Reading, state: VariantState) -> tuple[Optional[str], int]:
        """(None when the reading's gradients match the expected ones, else which arrays are wrong in the student's names;
        how many arrays are right)."""
        terms = self.terms[id(state)]
        if r.errors:
            return "; ".join(r.errors), 0
        if any(np.iscomplexobj(g) for g in r.grads.values()):
            return f"complex values in {', '.join(terms.array(k) for k, g in r.grads.items() if np.iscomplexobj(g))}", 0
        try:
            result = oracles.compare(r.grads, e.grads, e.rtol, r.uncertainty or None,
                                     "the reference (confirmed by an independent oracle)", e.scale)
        except ValueError as exc:
            return str(exc), 0
        if result.ok:
            return None, len(e.grads)
        bad = result.failures()
        worst = max(a.normwise for a in bad)
        names = [terms.array(a.name) for a in bad]
        listed = ", ".join(names) if len(names) <= 3 else f"{', '.join(names[:2])} and {len(names) - 2} more arrays"
        return f"{listed} wrong (relative error up to {worst:.1e})", len(e.grads) - len(bad)

    def _gradient_check(self, name: str, ev: Evaluation, diag: Diagnosis, share: float) -> Check:
        pts = self.a.points["gradient"]
        problem = ev.problems[name]
        hidden = name in self.hidden
        where = f"on {self.terms[id(ev.state)].describe(ev.state.encoders[name].case)}"
        words = ev.words()
        if problem is None:
            return Check(f"gradient: {name}", pts * share, pts, True, f"correct{', with ' + words + ',' if words else ''} {where}",
                         hidden)
        explanation = f" Diagnosis: {diag.summary}." if not diag.correct else ""
        if diag.convention_only and not self.a.penalise_conventions:
            return Check(f"gradient: {name}", pts * share, pts, True, f"accepted: {diag.summary} ({where})", hidden)
        return Check(f"gradient: {name}", 0.0, pts, False, f"wrong {where}: {problem}.{explanation}", hidden)

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

    def _smallest_failing(self, checks: list[Check]) -> Optional[str]:
        failing = [p for p, c in zip(self.probe_set.probes, checks) if not c.passed]
        if not failing:
            return None
        p = min(failing, key=lambda q: (sum(q.case.spec.sizes), q.case.batch))
        return f"{p.name}: {self.terms[id(self.default)].describe(p.case)}"


#: pip's name for modules whose import name differs
PIP_NAMES = {"sklearn": "scikit-learn", "cv2": "opencv-python", "PIL": "pillow", "yaml": "pyyaml", "skimage": "scikit-image",
             "past": "future", "mpl_toolkits": "matplotlib", "IPython": "ipython"}
#: Python 2 names that fail at run time, and what Python 3 calls them
PY2_NAMES = {"xrange": "range", "raw_input": "input", "unicode": "str", "basestring": "str", "long": "int",
             "iteritems": "items()", "itervalues": "values()", "iterkeys": "keys()", "has_key": "the in operator",
             "cPickle": "pickle", "izip": "zip", "reduce": "functools.reduce"}


#: Messages of library changes that break code written for older versions, and what the change was.
DRIFT = {
    "only 0-dimensional arrays can be converted to Python scalars":
        "float() of an array with dimensions, such as a 1×1 matrix, no longer works in NumPy 2.x: the code was written "
        "for an older NumPy; .item() works in both",
    "object has no attribute 'as_matrix'": "DataFrame.as_matrix was removed in pandas 1.0: .to_numpy()",
    "module 'numpy' has no attribute 'float'": "np.float, np.int and np.bool were removed in NumPy 1.24: float, int, bool",
}


def _provided(files: dict[str, bytes]) -> set[str]:
    """Every module or package name the submission's own files could provide."""
    names = set()
    for rel in files:
        for part in PurePosixPath(rel).parts:
            names.add(part[:-3] if part.endswith(".py") else part)
    return names


def describe_error(err: object, sub: Submission) -> str:
    """An error the runner reported, in words, at the student's own file and line (the runner's text is data)."""
    if not isinstance(err, dict):
        return _text(err) or "error"
    typ = _text(err.get("type"), 100) or "Error"
    msg = (_text(err.get("message")) or "").strip()
    op = _text(err.get("op"), 200)
    file, line = err.get("file"), err.get("line")
    where = sub.where(_text(file, 300), line if isinstance(line, int) and not isinstance(line, bool) else None)
    if typ == "NotImplementedError":
        text = f"{op or 'the entry point'} is not implemented yet (the starter's placeholder{': ' + msg if msg else ''})"
    else:
        text = (f"{op} raised " if op else "") + f"{typ}: {msg}" if msg else (f"{op} raised " if op else "") + typ
        for old, new in PY2_NAMES.items():
            if f"'{old}'" in msg and typ in ("NameError", "AttributeError", "ModuleNotFoundError", "ImportError"):
                text += f" (Python 2's {old}: in Python 3 use {new})"
                break
        text += next((f" ({why})" for words, why in DRIFT.items() if words in msg), "")
    return text + (f" (at {where})" if where else "")


def _runner_notes(status: dict, sub: Submission) -> list[str]:
    out = []
    for item in (status.get("skipped") or [])[:20] if isinstance(status.get("skipped"), list) else []:
        if isinstance(item, dict):
            line = item.get("line") if isinstance(item.get("line"), int) else None
            out.append(f"skipped top-level code the entry point does not need at {sub.where(sub.main, line)}: "
                       f"{_text(item.get('error'), 300)}")
    for note in (status.get("notes") or [])[:5] if isinstance(status.get("notes"), list) else []:
        out.append(_text(note, 300))
    return out


@functools.lru_cache(maxsize=1)
def code_fingerprint() -> str:
    """A hash of the code that decides a grade (grader, reference, oracles): an upgraded grader never reuses a result."""
    root = Path(__file__).resolve().parents[1]
    h = hashlib.sha256()
    for pkg in ("grader", "reference", "oracles"):
        for f in sorted([*(root / pkg).rglob("*.py"), *(root / pkg).rglob("*.toml")]):
            h.update(str(f.relative_to(root)).encode() + b"\0" + f.read_bytes())
    return h.hexdigest()[:16]


# -- a batch ---------------------------------------------------------------------------------------------


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


def grade_batch(grader: Grader, paths: Sequence[Path], jobs: int, state: Path,
                on_result: Optional[Callable[[Result, bool], None]] = None, force: bool = False) -> list[Result]:
    """Grade ``paths`` with ``jobs`` in parallel; each result is saved under ``state`` as it finishes and reused on rerun.

    ``on_result(result, reused)``: ``reused`` is True only for a result saved by an earlier run.  Identical submissions
    in one batch are graded once; the others copy that result, with ``duplicate_of`` naming the first.
    A result that failed because of the machine (disk full, the grader's own error) is retried, and never saved:
    a rerun grades it again.  ``force``: regrade, ignoring results saved before this call (identical submissions in
    the batch are still graded once).
    """
    state.mkdir(parents=True, exist_ok=True)
    os.chmod(state, 0o700)  # results are the grader's: no submission's uid may read or write them
    lock = threading.Lock()
    first: dict[str, tuple[str, concurrent.futures.Future]] = {}  # key -> (submission, its (result, reused)) in this batch

    def report(result: Result, reused: bool) -> Result:
        with lock:
            if on_result:
                on_result(result, reused)
        return result

    def attempt(path: Path, sub: Optional[Submission], key: str) -> tuple[Result, bool]:
        """The result, and whether the grader itself failed: known here, never guessed from texts a submission wrote."""
        try:
            return grader.grade(path, sub), False
        except Exception as exc:  # the grader's own failure on one submission must not stop the batch
            return grader._error(str(path), f"internal grader error: {type(exc).__name__}: {exc}", key), True

    def graded(path: Path, sub: Optional[Submission], key: str, record: Optional[Path]) -> tuple[Result, bool]:
        if record is not None and record.exists() and not force:
            try:
                result = Result.from_dict(json.loads(record.read_text()))
                result.submission = str(path)
                return result, True
            except (ValueError, TypeError):
                pass  # a damaged record is regraded
        result, internal = attempt(path, sub, key)
        for _ in range(RETRIES):
            if not (internal or _suspect(result)):
                break
            time.sleep(1.0)
            result, internal = attempt(path, sub, key)
        if internal or environmental(result, state, Path(tempfile.gettempdir())):
            result.verdict = "error"
            result.message = f"not graded: the grading machine failed, not the submission (not saved; rerun to grade it): {result.message}"
        elif record is not None:
            # not report.write_atomic: its umask dance is process-wide, and this runs in the grading threads
            tmp = None
            try:
                fd, tmp = tempfile.mkstemp(dir=state, prefix=f".{key}.", suffix=".tmp")
                with os.fdopen(fd, "w") as fh:
                    fh.write(json.dumps(result.as_dict()))
                os.replace(tmp, record)
            except OSError as exc:  # the state folder's disk is full: the grade stands, only resuming loses it
                result.message += f" (not saved for resuming: {exc.strerror})"
                if tmp is not None and os.path.exists(tmp):
                    os.unlink(tmp)
        return result, False

    def one(path: Path) -> Result:
        try:
            sub: Optional[Submission] = grader.collect(path)
            key = grader.key(sub.files)
        except Exception:  # unreadable, or the grader failed reading it: graded below, where either becomes its result
            sub, key = None, ""
        if not key:
            return report(*graded(path, None, "", None))
        with lock:
            original, future = first.get(key, (str(path), None))
            mine = None if future else concurrent.futures.Future()
            if mine:
                first[key] = (original, mine)
        if future is not None:  # an identical submission earlier in this batch: its result, not a second grading
            done, reused = future.result()
            result = Result.from_dict(done.as_dict())
            result.submission, result.duplicate_of = str(path), original
            return report(result, reused)
        try:
            outcome = graded(path, sub, key, state / f"{key}.json")
        except BaseException as exc:
            mine.set_exception(exc)
            raise
        mine.set_result(outcome)
        return report(*outcome)

    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        return list(pool.map(one, paths))
