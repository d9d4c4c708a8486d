"""The grading pipeline: assignment → probe cases → sandboxed run → compare → diagnose → result.

Oracle answers (the reference's gradients, confirmed by an independent oracle) and every catalog
entry's behaviour are computed once per ``Grader``, never per submission, and never in a
submission's process.  Each result is written to the state directory the moment it is ready, so an
interrupted batch resumes without regrading anything.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import threading
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Optional

import numpy as np

from bpcheck import oracles
from bpcheck.reference.bugs import CATALOG

from bpcheck import __version__ as VERSION

from . import layers, sandbox, variants
from .assignment import Assignment
from .contracts import Reading, scores_as_delta, scores_shape
from .diagnose import Diagnosis, Voice, diagnose, evidence, explain_probe
from .failures import autodiff_import, describe_error, missing_package, provided_modules, run_failure, runner_notes
from .fingerprint import fingerprint
from .lines import (Record, caught_line, first_with, first_wrong_line, loss_line, mutation_line, returned_line,
                    shape_line)
from .probes import Outcome, Probe, ProbeSet
from .results import Check, Result, credit
from .submission import Submission, SubmissionError
from .submission import collect as collect_submission
from .untrusted import read_outputs
from .variants import LARGE, Expected, VariantState

#: The side checks' names, as reports show them.
LOSS, FORWARD, UNMUTATED, LARGE_INPUTS = "loss value", "forward output", "inputs left unmutated", "finite and right at large inputs"


#: Where a gradient problem's values begin ("(e.g. grads['W1'] holds 0.26 where 0.13 is expected)"), and the
#: longest check text a student reads (a Gradescope test's output): the values give way first.
EVIDENCE = " (e.g. "
MAX_CHECK = 400
#: Between a part's number and its call's name, in a run of every part ("3~case 1"): no probe or case name holds it
PART = "~"
#: How a part's run says the file lacks its function (runner.NotDefined, worded by failures.describe_error)
NOT_DEFINED = " does not define "
#: The folder of a call's line-by-line arrays (runner._Tracer)
TRACE = ".trace"


@dataclass
class Returned:
    """What one sandboxed run gave back, read once: the run itself, the arrays written per call, the files refused,
    the runner's status, the submission, and why the run ended early (None when it finished)."""

    run: sandbox.RunResult
    arrays: dict
    refused: dict
    status: dict
    sub: Submission
    failure: Optional[str]
    dtypes: dict = field(default_factory=dict)  # per call, the dtype each array was written in

    def call_error(self, call: str) -> Optional[str]:
        """The error ``call`` raised, in words at the student's line (``failures.describe_error``), or None."""
        calls = self.status.get("calls") if isinstance(self.status.get("calls"), dict) else {}
        return describe_error(calls[call], self.sub) if calls.get(call) else None

    def refused_of(self, call: str) -> list[str]:
        """What of ``call``'s outputs the grader refused to read, and why."""
        return [f"refused {k}: {v}" for k, v in self.refused.items() if k.startswith(call + "/")]

    @property
    def precision(self) -> str:
        """float32 when every floating array the submission returned is float32 (its dtype says so), else float64;
        the inputs as the call left them ("after.*", saved by the runner to see mutation) are not returned values."""
        kinds = {d for c, call in self.dtypes.items() for k, d in call.items()
                 if d.startswith("float") and not k.startswith("after.") and not c.endswith(TRACE)}
        return "float32" if kinds == {"float32"} else "float64"


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
    precision: str = "float64"  # the dtype of the returned arrays: every check allows that dtype's rounding

    @property
    def right(self) -> bool:
        return not any(self.problems.values()) and not (self.loss_bad or self.forward_bad or self.steps_bad)

    @property
    def score(self) -> int:
        """How much of the submission these conventions explain: right arrays, then the other checks."""
        return 2 * self.arrays_right + (not self.loss_bad) + (not self.forward_bad) + (not self.steps_bad)

    def words(self) -> str:
        return self.state.variant.words(self.fitted_lr)


class Grader:
    """Grades submissions against one assignment; expected answers are computed once, here."""

    def __init__(self, assignment: Assignment, sandbox_mode: "str | sandbox.Sandbox" = "auto"):
        """``sandbox_mode``: auto | bubblewrap | process | none, or a chosen ``sandbox.Sandbox``; SandboxUnavailable
        when the mode cannot run here (``auto`` never falls back to none)."""
        self._contain(assignment, sandbox_mode)
        # One grader per graded function ([[part]] tables), each with its own run: a crash costs that function only.
        self.parts = [(LayerGrader if part.layer else Grader)(part, self.sandbox) for part in assignment.parts]
        if self.parts:  # one run makes every part's calls, each under its part's number (``_parts_graded``)
            self.calls = [(f"{i}{PART}{name}", enc, ops) for i, part in enumerate(self.parts) for name, enc, ops in part.calls]
            self.traced = {}
            return
        self.gradients = bool(self.contract.kinds() & {"gradient", "update"})  # else only outputs are checked
        self.hidden = {pc.probe.name for pc in assignment.probes if pc.hidden}
        self.states, self.calls = variants.build(assignment)
        self.terms = {id(st): self.contract.terms(st.conventions) for st in self.states}
        self.default = self.states[0]
        # builds and confirms the expected answers; the catalog's behaviours only where there are gradients to diagnose
        self.probe_set = self.default.probe_set(self.default.lr()) if self.gradients else None
        self.large = self.default.large_probe()
        # the calls whose lines the runner records (lines.py): every probe's, under the assignment's own conventions,
        # where there are gradients or a loss to place
        traced = self.probe_set.probes if self.probe_set else self.default.probes(None) if self.contract.has_loss else []
        self.traced = {self.default.calls[p.name]: p for p in [*traced, *([self.large] if self.large and traced else [])]}
        for name in [*self.probe_names, *([LARGE] if self.large else [])]:
            self.default.expected(name)

    def _contain(self, assignment: Assignment, sandbox_mode: "str | sandbox.Sandbox") -> None:
        """The assignment, and the sandbox its runs go to (the shared inputs folder made on first use)."""
        self.a = assignment
        self.contract = assignment.contract
        self.sandbox = sandbox_mode if isinstance(sandbox_mode, sandbox.Sandbox) else sandbox.select(sandbox_mode)
        self.sandbox_message = self.sandbox.description
        self._shared_lock, self._shared_folder = threading.Lock(), None

    @property
    def probe_names(self) -> list[str]:
        return [pc.probe.name for pc in self.a.probes]

    # -- one submission --------------------------------------------------------------------------------

    def collect(self, path: Path) -> Submission:
        """Read a submission and find the file that defines the entry point (SubmissionError if it cannot be run).
        With [[part]] tables, a file that defines one part's functions is graded: a function missing costs its part."""
        if not self.parts:
            return collect_submission(path, [f.requires for f in self.contract.forms], self.a.module)
        forms = [self.contract.forms[0].requires, *(part.contract.forms[0].requires for part in self.parts)]
        return collect_submission(path, forms, self.a.module, parts=True)

    def key(self, files: dict[str, bytes]) -> str:
        """Changes with the submission's files, the assignment and the grader's own code, so nothing stale is reused."""
        h = hashlib.sha256(f"{VERSION}|{code_fingerprint()}|{self.a.fingerprint}".encode())
        for name in sorted(files):
            h.update(name.encode() + b"\0" + hashlib.sha256(files[name]).digest())
        return h.hexdigest()[:24]

    def prepare(self) -> None:
        """What every run reads (``_shared``), made now, in this process: before grading workers are forked from it."""
        for grader in [self, *self.parts]:  # a part's own: for a part run again on its own
            grader._shared()

    def _shared(self) -> sandbox.SharedFolder:
        """The runner and every call's inputs, written once for all this grader's submissions (read-only to them)."""
        with self._shared_lock:
            if self._shared_folder is None:
                self._shared_folder = sandbox.SharedFolder(self.sandbox, self._write_inputs)
            return self._shared_folder

    def _write_inputs(self, folder: Path) -> None:
        for name, enc, _ in self.calls:
            (folder / name).mkdir()
            for k, v in enc.arrays.items():
                np.save(folder / name / f"{k}.npy", np.asarray(v), allow_pickle=False)

    def _job(self, job: Path, sub: Submission, uid: Optional[int], course: dict[str, bytes], trace: bool = True) -> None:
        """The one file that differs per submission, job.json: what to load and call; the inputs are shared."""
        job.mkdir(parents=True)
        shared = self._shared()
        calls = []
        for name, enc, ops in self.calls:
            forms = [{"requires": [list(g) for g in f.requires], "ops": o} for f, o in zip(self._forms(name), ops)]
            calls.append({"name": name, "inputs": sorted(enc.arrays), "forms": forms, "trace": trace and name in self.traced,
                          "fresh": self._fresh(name, calls)})
        own = provided_modules(sub.files)
        stubs = self.a.environment.stubs()
        stubs["inert"] = [s for s in stubs["inert"] if s.split(".")[0] not in own]
        allowed = self.a.environment.allow_autodiff
        blocked = [] if allowed else [m for m in sandbox.AUTODIFF if m not in own]
        bwrap = self.sandbox.mode == "bubblewrap"
        spec = {"main": {"path": sub.main, "name": sub.module, "sys_path": sub.sys_path, "statements": sub.statements},
                "stubs": stubs, "calls": calls, "course_files": sorted(course),
                "inputs": sandbox.SHARED_IN_BWRAP if bwrap else str(shared.path),
                "blocked": blocked, "uid": uid if bwrap else None,
                "processes": self.a.limits.processes, "groups": self.sandbox.groups(allowed, shared)}
        (job / "job.json").write_text(json.dumps(spec))
        # With a uid of its own, only that uid (through its own group) reads the job: not a neighbour running beside it,
        # which would learn the probes and the file names of another student's hand-in.
        dir_mode, file_mode = (0o750, 0o640) if uid is not None else (0o755, 0o644)
        for dirpath, _, filenames in os.walk(job):
            for path in [dirpath, *(os.path.join(dirpath, f) for f in filenames)]:
                if uid is not None:
                    os.chown(path, -1, uid)
                os.chmod(path, dir_mode if path == dirpath else file_mode)

    def grade(self, path: Path, sub: Optional[Submission] = None) -> Result:
        """Grade one submission; ``sub``: the already-collected submission, if the caller has read it."""
        path = Path(path)
        try:
            sub = sub if sub is not None else self.collect(path)
        except SubmissionError as exc:
            return self.error_result(str(path), str(exc), "")
        key = self.key(sub.files)
        if self.parts:
            result = self._combine(str(path), key, self._parts_graded(str(path), key, sub))
        else:
            result = self._graded(str(path), key, sub)
        fp = fingerprint(sub.files.get(sub.main, b""))
        result.similarity = fp.as_dict() if fp else {}
        return result

    def _graded(self, submission: str, key: str, sub: Submission, ret: Optional[Returned] = None) -> Result:
        """``sub`` run (or ``ret``, its run already made) and assessed; a failing one is run again with its lines traced,
        for the first wrong line.

        Tracing every line of every call halved the throughput of a class of correct submissions (bubblewrap,
        one job: 3.5–4.4/s traced, 6.3–7.0/s not), and only a failing result reads a line.
        """
        result = self._assess(submission, key, ret or self._run(sub, trace=False))
        if result.verdict == "fail" and self.traced:
            result = self._assess(submission, key, self._run(sub, trace=True))
        return result

    def _fresh(self, call: str, before: list[dict]) -> bool:
        """Whether ``call`` begins another part's calls in a run of every part: the module is then imported afresh,
        so that no global one graded function set reaches the next (parts once had a process each)."""
        return bool(self.parts and before) and call.split(PART, 1)[0] != before[-1]["name"].split(PART, 1)[0]

    def _forms(self, call: str) -> tuple:
        """The forms a call's operations follow: the contract's, or in a run of every part, that call's part's."""
        return self.parts[int(call.split(PART, 1)[0])].contract.forms if self.parts else self.contract.forms

    def _parts_graded(self, submission: str, key: str, sub: Submission) -> list[Result]:
        """Every part's result from one sandboxed run of all their calls.  A run that ended early for another reason
        than its import (a timeout, the memory limit: one part's doing, at the others' cost) is made again part by
        part, so a crash still costs its own function only.

        One run instead of one per part: cs231n-bn-dropout-conv has ten parts (bench/grader.py measures it)."""
        ret = self._run(sub, trace=False)
        if ret.failure and not ret.status.get("import"):
            return [part._graded(submission, key, sub) for part in self.parts]
        return [part._graded(submission, key, sub, _part_of(ret, i, len(self.parts))) for i, part in enumerate(self.parts)]

    def _run(self, sub: Submission, trace: bool = True) -> Returned:
        """Run ``sub`` on every call in the sandbox and read back what it wrote (``trace``: with its lines traced)."""
        course = self.a.environment.beside(sub.files, sub.main)  # the course files placed beside the submission
        with self.sandbox.workspace() as (tmp, uid):
            self._job(tmp / "job", sub, uid, course, trace)
            scratch = tmp / "scratch"
            sandbox.prepare(scratch, {**course, **sub.files}, uid)
            run = self.sandbox.run(tmp / "job", scratch, self.a.limits, uid, self.a.environment.allow_autodiff,
                                   self._shared())
            calls = [name for name, _, _ in self.calls] + [c + TRACE for c in self.traced if trace]  # traces last: they crowd out nothing
            arrays, refused, status, dtypes = read_outputs(scratch / "out", calls)
        failure = run_failure(run, status, sub, self.a.limits.timeout_seconds)
        return Returned(run, arrays, refused, status, sub, failure, dtypes)

    def error_result(self, submission: str, message: str, key: str, notes: Optional[list[str]] = None,
                     environment: str = "") -> Result:
        """A result that grades nothing: every check at 0 with ``message``."""
        checks = [Check(name, 0.0, pts, False, message, hidden) for name, pts, hidden in self._check_plan()]
        return Result(submission, "error", 0.0, sum(c.max_score for c in checks), checks, [], message,
                      self.sandbox_message, 0.0, key, notes=list(notes or []), environment=environment)

    def _check_plan(self) -> list[tuple[str, float, bool]]:
        if self.parts:
            return [(f"{part.a.name}: {name}", pts, hidden) for part in self.parts for name, pts, hidden in part._check_plan()]
        pts, hidden_checks = self.a.points, self.a.hidden_checks
        plan = [(f"gradient: {name}", pts["gradient"], name in self.hidden) for name in self.probe_names if self.gradients]
        if self.contract.has_loss and pts["loss"] > 0:
            plan.append((LOSS, pts["loss"], "loss" in hidden_checks))
        if self.contract.forward_symbol and pts["forward"] > 0:
            plan.append((FORWARD, pts["forward"], "forward" in hidden_checks))
        if self.a.steps > 1 and pts["steps"] > 0:
            plan.append((f"{self.a.steps} training steps", pts["steps"], "steps" in hidden_checks))
        if pts["unmutated"] > 0:
            plan.append((UNMUTATED, pts["unmutated"], "unmutated" in hidden_checks))
        if self.large is not None and pts["large_inputs"] > 0:
            plan.append((LARGE_INPUTS, pts["large_inputs"], "large_inputs" in hidden_checks))
        return plan

    # -- reading the outputs under a set of conventions ------------------------------------------------------

    def _read(self, state: VariantState, name: str, ret: Returned, lr: Optional[float] = None) -> tuple[Reading, Outcome]:
        """Probe ``name``'s outputs decoded under ``state``'s conventions, and the outcome the diagnosis sees."""
        call = state.calls[name]
        got = ret.arrays.get(call, {})
        forms = ret.status.get("forms") if isinstance(ret.status.get("forms"), dict) else {}
        form = forms.get(call)
        form = form if isinstance(form, int) and not isinstance(form, bool) and 0 <= form < len(self.contract.forms) else 0
        reading = self.contract.decode(self.contract.forms[form], state.encoders[name], got, lr)
        err = ret.call_error(call)
        # outputs only (no gradients returned): complete when the calls finished
        complete = len(reading.grads) == len(state.encoders[name].case.spec.param_shapes()) if self.gradients else not err
        if err and not complete:
            reading.errors = [err]  # what is missing after that follows from it
        elif not got and not err:
            reading.errors = [ret.failure or "produced no output"]
        if err and (complete or not self.gradients):  # a function without gradients: its outputs name the error
            reading.call_error = err
        left = ret.refused_of(call)
        reading.errors += left
        # Wrong shapes still go to the diagnosis, which names them; a call that failed or a refused file does not.
        complete = complete and not left and not (err and not reading.call_error) and (self.gradients or not reading.errors)
        outcome = Outcome(reading.grads if complete else None, None if complete else "; ".join(reading.errors) or "error",
                          reading.mutated)
        return reading, outcome

    def _evaluate(self, state: VariantState, ret: Returned) -> Evaluation:
        """The submission read under ``state``'s conventions (its own learning rate fitted, when they accept any)."""
        fitted, lr = None, None
        if state.updates and state.conventions.learning_rate == "any":
            fitted = self._fit_lr(state, ret)
            lr = fitted or 1.0  # no positive fit: read at 1, which cannot come out right
        readings, outcomes, problems, arrays_right = {}, {}, {}, 0
        p32 = self._judged_precision(ret)
        for name in self.probe_names:
            readings[name], outcomes[name] = self._read(state, name, ret, lr)
            problems[name], right = self._compare(state.expected(name), readings[name], state, p32) if self.gradients else (None, 0)
            arrays_right += right
        loss_bad = [p for name in self.probe_names if (p := self._loss_problem(name, readings[name], state, p32))]
        forward_bad = [p for name in self.probe_names if (p := self._forward_problem(name, readings[name], state, p32))]
        steps_bad = [p for name in self.probe_names for p in self._steps_problems(name, readings[name], state, lr, p32)]
        return Evaluation(state, readings, outcomes, problems, loss_bad, forward_bad, steps_bad, arrays_right, fitted, lr, p32)

    def _judged_precision(self, ret: Returned) -> str:
        """The dtype whose rounding every check allows: the returned one, unless the assignment asks for float64."""
        return ret.precision if self.a.precision == "any" else "float64"

    def _loss_problem(self, name: str, r: Reading, state: VariantState, precision: str = "float64") -> Optional[str]:
        """Why probe ``name``'s loss is wrong, or None; a NaN or inf loss never holds (the test fails closed)."""
        e = at_precision(state.expected(name), precision)
        if not self.contract.has_loss or (r.loss is not None and abs(r.loss - e.loss) <= e.rtol * (abs(e.loss) + 1.0)):
            return None
        got = "missing" + (f" ({r.call_error})" if r.call_error else "") if r.loss is None else f"got {r.loss!r}"
        return f"{name}: {got}, expected {e.loss:.12g}"

    def _forward_problem(self, name: str, r: Reading, state: VariantState, precision: str = "float64") -> Optional[str]:
        """Why probe ``name``'s forward output is wrong, or None (np.allclose is False on NaN: fails closed)."""
        e, f = at_precision(state.expected(name), precision), r.forward
        if not self.contract.forward_symbol or (
                f is not None and f.shape == e.forward.shape and np.allclose(f, e.forward, rtol=e.rtol, atol=e.rtol)):
            return None
        if f is None:
            return f"{name}: missing" + (f" ({r.call_error})" if r.call_error else "")
        if f.shape != e.forward.shape:
            return f"{name}: shape {f.shape} vs {e.forward.shape}"
        return f"{name}: max |error| {np.max(np.abs(f - e.forward)):.3g}"

    def _steps_problems(self, name: str, r: Reading, state: VariantState, lr: Optional[float],
                        precision: str = "float64") -> list[str]:
        """The arrays of probe ``name`` that leave the reference trajectory after the assignment's steps: beyond
        steps · 2·D·ε · (|value| + 1), one step's bound added up once per step (CONTRIBUTING, "How tolerances are
        chosen"), with the returned dtype's ε."""
        if self.a.steps <= 1:
            return []
        got, exp = r.steps or {}, state.trajectory(name, state.lr(lr), self.a.steps)
        bound = self.a.steps * at_precision(state.expected(name), precision).rtol
        return [f"{name}: {self.contract.display(k, state.conventions)} after {self.a.steps} steps" for k in exp
                if k not in got or got[k].shape != exp[k].shape or not np.allclose(got[k], exp[k], rtol=bound, atol=bound)]

    def _fit_lr(self, state: VariantState, ret: Returned) -> Optional[float]:
        """The learning rate of the submission's own step: the least-squares factor between its step and the gradient.

        Rounded to 8 significant digits (a learning rate is a short decimal), so the comparison that follows runs under
        the usual tolerance; a bug that scales every gradient by one constant is indistinguishable from a learning rate.
        """
        num = den = 0.0
        for name in self.probe_names:
            reading, _ = self._read(state, name, ret, 1.0)
            exp = state.expected(name).grads
            for k, g in reading.grads.items():
                if g.shape == exp[k].shape and np.all(np.isfinite(g)):
                    num += float(np.vdot(g, exp[k]))
                    den += float(np.vdot(exp[k], exp[k]))
        if den == 0 or not np.isfinite(num) or num <= 0:
            return None
        return float(f"{num / den:.8g}")

    # -- judging: the conventions that explain it, then one method per check -----------------------------------

    def _refused(self, submission: str, key: str, ret: Returned) -> tuple[list[str], Optional[Result]]:
        """The run's notes (the submission's and the runner's), and the result of a run that imported autodiff or
        missed a package, before anything is judged (else None)."""
        notes = list(ret.sub.notes) + runner_notes(ret.status, ret.sub)
        used = autodiff_import(ret.status, ret.sub, self.a.environment.allow_autodiff)
        if used:  # the student's choice, not the machine's: graded (0), saved, never retried as an environment problem
            return notes, self.error_result(submission, used, key, notes)
        environment = missing_package(ret.status, ret.sub)
        if environment:
            message = f"environment problem (the grading machine's, not the student's): {environment}"
            return notes, self.error_result(submission, message, key, notes, environment)
        return notes, None

    def _assess(self, submission: str, key: str, ret: Returned) -> Result:
        notes, refused = self._refused(submission, key, ret)
        if refused:
            return refused
        evaluations = self._evaluations(ret)
        if ret.failure and not any(ev.outcomes[n].error is None for ev in evaluations for n in self.probe_names):
            left = "; ".join(f"refused {k}: {v}" for k, v in list(ret.refused.items())[:4])
            result = self.error_result(submission, ret.failure + (f"; {left}" if left else ""), key, notes)
            result.seconds = ret.run.seconds
            return result
        chosen, diag = self._choose(evaluations, self._judged_precision(ret))
        share = 1.0 if chosen.state.variant.default else self.a.alternative_credit
        checks = [self._gradient_check(name, chosen, diag, share) for name in self.probe_names if self.gradients]
        checks += self._scored([self._loss_check(chosen), self._forward_check(chosen), self._steps_check(chosen)], share)
        # What follows earns credit only beside a right gradient: unmutated garbage, or a right forward pass with no
        # backprop, is not a pass of backprop (a function that returns no gradient: beside a right output).
        some_right = any(c.passed for c in (checks[:len(self.probe_names)] if self.gradients else checks))
        checks += self._scored([self._unmutated_check(chosen, some_right),
                                self._large_inputs_check(chosen, diag, ret, some_right)], share)
        return self._result(submission, key, ret, evaluations[0], chosen, diag, checks, share, notes)

    def _scored(self, side: list[Optional[tuple[str, bool, str]]], share: float) -> list[Check]:
        """The side checks the assignment gives points for, scored: (name, passed, output) → Check."""
        plan = {name: (pts, hidden) for name, pts, hidden in self._check_plan()}
        return [Check(name, plan[name][0] * share if passed else 0.0, plan[name][0], passed, output, plan[name][1])
                for name, passed, output in filter(None, side) if name in plan]

    def _evaluations(self, ret: Returned) -> list[Evaluation]:
        """The submission read under each set of conventions in turn, stopping at the first that makes it right."""
        evaluations = []
        for state in self.states:
            evaluations.append(self._evaluate(state, ret))
            if evaluations[-1].right:
                break
        return evaluations

    def _choose(self, evaluations: list[Evaluation], precision: str = "float64") -> tuple[Evaluation, Diagnosis]:
        """The conventions to grade under (right ones, else the assignment's own when the catalog names the mistake
        there, else the ones that explain most), and the diagnosis under them."""
        default, last = evaluations[0], evaluations[-1]
        if not self.gradients:  # outputs only: nothing for the catalog to explain
            return (last if last.right else default), Diagnosis(True, [], {}, [], [], "")
        if last.right:
            chosen, diag = last, None
        else:
            diag = diagnose(default.outcomes, probes_at(self.probe_set, precision), self.terms[id(default.state)], precision)
            chosen = default if diag.matches else max(evaluations, key=lambda ev: ev.score)
            if chosen is not default:
                diag = None
        if diag is None:
            state = chosen.state
            diag = diagnose(chosen.outcomes, probes_at(state.probe_set(state.lr(chosen.read_lr)), precision), self.terms[id(state)],
                            precision)
        return chosen, diag

    def _loss_check(self, ev: Evaluation) -> Optional[tuple[str, bool, str]]:
        if not self.contract.has_loss:
            return None
        return LOSS, not ev.loss_bad, "loss matches on every probe" if not ev.loss_bad else "wrong loss: " + "; ".join(ev.loss_bad)

    def _forward_check(self, ev: Evaluation) -> Optional[tuple[str, bool, str]]:
        if not self.contract.forward_symbol:
            return None
        return FORWARD, not ev.forward_bad, ("forward output matches" if not ev.forward_bad
                                             else "wrong forward output: " + "; ".join(ev.forward_bad))

    def _steps_check(self, ev: Evaluation) -> Optional[tuple[str, bool, str]]:
        if self.a.steps <= 1:
            return None
        return (f"{self.a.steps} training steps", not ev.steps_bad, "weights follow the reference trajectory"
                if not ev.steps_bad else "training diverges from the reference: " + "; ".join(ev.steps_bad))

    def _unmutated_check(self, ev: Evaluation, some_right: bool) -> tuple[str, bool, str]:
        """Garbage left unmutated earns nothing: the check needs every call finished and a right gradient."""
        changed = sorted({m for r in ev.readings.values() for m in r.mutated})
        finished = all(ev.outcomes[n].error is None for n in self.probe_names)
        return (UNMUTATED, finished and some_right and not changed,
                f"modified its inputs in place: {', '.join(changed)}" if changed else
                "not checked: the calls did not all finish" if not finished else
                "inputs unchanged" if some_right else "not credited: no gradient was right")

    def _large_inputs_check(self, ev: Evaluation, diag: Diagnosis, ret: Returned,
                            some_right: bool) -> Optional[tuple[str, bool, str]]:
        """Finite and right where pre-activations are ~1e4 (an unstable sigmoid, softmax or log shows here)."""
        if self.large is None:
            return None
        state = ev.state
        r, outcome = self._read(state, LARGE, ret, ev.read_lr)
        finite = bool(r.grads) and all(np.all(np.isfinite(g)) for g in r.grads.values())
        problem = None if r.errors or not r.grads else self._compare(state.expected(LARGE), r, state, ev.precision)[0]
        ok = some_right and finite and not r.errors and bool(r.grads) and problem is None
        named = ""
        if not (ok or r.errors or not r.grads or (finite and problem is None)):
            exp = state.expected(LARGE)
            named = explain_probe(outcome, state.large_probe(), exp.grads, exp.rtol, exp.scale, self.terms[id(state)],
                                  diag.matches)
        where = "at large inputs (pre-activations ~1e4)"
        return (LARGE_INPUTS, ok,
                "finite and right for pre-activations ~1e4" if ok else
                "; ".join(r.errors) if r.errors or not r.grads else
                f"NaN or Inf {where}: {named or 'an unstable sigmoid, softmax or log?'}" if not finite else
                f"wrong {where}: {named or problem}" if problem else
                f"right {where}, but not credited: no gradient was right on the other probes")

    def _result(self, submission: str, key: str, ret: Returned, default: Evaluation, chosen: Evaluation,
                diag: Diagnosis, checks: list[Check], share: float, notes: list[str]) -> Result:
        """The checks scored, with the verdict and the one-line message."""
        verdict = "pass" if all(c.passed for c in checks) else "fail"
        if not any(chosen.outcomes[n].error is None for n in self.probe_names):
            verdict = "error"  # not one probe produced gradients: nothing was graded on its merits
        checks = credit(verdict, checks)
        words = chosen.words()
        message = self._summary(diag, checks) + self._convention_words(default, chosen, share)
        if ret.failure and verdict != "pass":
            message = f"{ret.failure}; {message}"
        d = diag.as_dict()
        d["smallest_failing_case"] = self._smallest_failing(checks)
        if verdict == "fail" and d["smallest_failing_case"]:
            message += f" (smallest failing case: {d['smallest_failing_case']})"
        line = self._first_line(ret, diag, chosen) if verdict == "fail" and chosen is default else None
        if line:
            message += f"; {line}"
        if ret.precision != self._judged_precision(ret):
            message += f"; the returned arrays are {ret.precision}, and this assignment asks for float64: compute in np.float64"
        elif ret.precision != "float64":  # said, not guessed: the dtype of every array it returned
            message += (f"; the returned arrays are {ret.precision}: judged within {ret.precision}'s rounding "
                        f"(ε = {np.finfo(np.dtype(ret.precision)).eps:.2g} in every bound)")
        if ret.sub.cells_used:
            message += f" [{ret.sub.cells_used}]"
        return Result(submission, verdict, sum(c.score for c in checks), sum(c.max_score for c in checks), checks, [d],
                      message, self.sandbox_message, ret.run.seconds, key, notes=notes, convention=words,
                      gradients=self._digest(chosen) if verdict == "fail" else "")

    def _digest(self, ev: Evaluation) -> str:
        """The gradients as returned, bit for bit, over every probe: equal digests mean the same arrays."""
        h = hashlib.sha256()
        for name in self.probe_names:
            out = ev.outcomes[name]
            h.update(f"{name}|{out.error or ''}|".encode("utf-8", "replace"))
            for k, g in sorted((out.grads or {}).items()):
                a = np.ascontiguousarray(g)
                h.update(f"{k}|{a.dtype.str}|{a.shape}|".encode("utf-8", "replace") + a.tobytes())
        return h.hexdigest()[:20]

    def _first_line(self, ret: Returned, diag: Diagnosis, ev: Evaluation) -> Optional[str]:
        """The student's first line whose value is wrong (lines.py), on the smallest failing probe: the catalog
        mistake's value; else a wrong returned array's, a wrong shape's or a complex value's; else the wrong loss's;
        else, at large inputs, the first inf or NaN."""
        failing = [p for p in self._shown() if ev.problems.get(p.name)]
        ran = [p for p in failing if ev.outcomes[p.name].error is None]  # a call that crashed computed no gradient
        probe = _smallest(ran or failing) if self.gradients else None
        line = self._mistake_line(ret, diag, probe) if probe else None
        if line and line.startswith("first wrong value"):
            return line
        returned = self._returned_line(ret, ev, probe) if probe and ev.outcomes[probe.name].error is None else None
        return (returned or self._caught_line(ret, probe) or self._loss_line(ret, ev) or self._large_line(ret, ev)
                or self._mutation_line(ret, ev) or line)

    def _caught_line(self, ret: Returned, probe: Optional[Probe]) -> Optional[str]:
        """The first exception ``probe``'s call raised, when the call still returned (the submission caught it)."""
        call = self.default.calls[probe.name] if probe else None
        calls, caught = ret.status.get("calls"), ret.status.get("caught")
        if call is None or not isinstance(calls, dict) or calls.get(call, "") is not None or not isinstance(caught, dict):
            return None
        item = caught.get(call)
        record = _record(item, np.zeros(0))
        return caught_line(replace(record, name=""), item[2], ret.sub) if record else None

    def _mistake_line(self, ret: Returned, diag: Diagnosis, probe: Probe) -> Optional[str]:
        """Where the catalog mistakes the diagnosis named first show (what was compared, when no line does)."""
        voice = Voice(**{"hidden": None, "output": None, **diag.voice})
        plan = {}
        for label in diag.named:
            slug, _, role = label.partition(" (")
            if slug in CATALOG:
                b = CATALOG[slug]
                roles = frozenset({role.rstrip(")")}) if role else b.roles
                plan[(b, roles)] = voice.words(b)
        try:
            return first_wrong_line(self._records(ret, probe), list(plan), probe, ret.sub, self.terms[id(self.default)],
                                    plan, self.default.conventions, self.default.updates) if plan else None
        except ValueError:  # placements the catalog cannot combine: no variant to compare with
            return None

    def _returned_line(self, ret: Returned, ev: Evaluation, probe: Probe) -> Optional[str]:
        """The first line holding a wrong array ``probe``'s call returned, or giving one its wrong shape, or the first
        complex value when one came back complex."""
        terms, conv, updates = self.terms[id(self.default)], self.default.conventions, self.default.updates
        records, reading = self._records(ret, probe), ev.readings[probe.name]
        if any(np.iscomplexobj(g) for g in reading.grads.values()):
            return first_with(records, "complex", ret.sub)
        # a bias kept as it came back (contracts._ParamsRead.bias), with its shape error among the reading's
        misshapen = {k: g.shape for k, g in reading.grads.items()
                     if k[0] == "b" and any(e.startswith(f"{terms.array(k)}: expected shape") for e in reading.errors)}
        returned = {**reading.grads, **self._scores_returned(ret, probe)}
        return (returned_line(records, returned, probe, ret.sub, terms, conv, updates)
                or (shape_line(records, misshapen, probe, ret.sub, terms, conv, updates) if misshapen else None))

    def _scores_returned(self, ret: Returned, probe: Probe) -> dict[str, np.ndarray]:
        """A returned ∂J/∂zᴸ (``d_scores``) as the reference's δᴸ: the line that first holds it is the wrong one, where
        the dW and db the grader reads off it were never in a variable of the student's."""
        dz = ret.arrays.get(self.default.calls[probe.name], {}).get("d_scores")
        conv, case = self.default.conventions, probe.case
        if not isinstance(dz, np.ndarray) or dz.shape != scores_shape(conv, case):
            return {}
        return {f"d{case.spec.depth}": scores_as_delta(conv, case, dz.astype(np.float64))}

    def _large_line(self, ret: Returned, ev: Evaluation) -> Optional[str]:
        """Where the large-input probe's run first holds inf or NaN, when its gradients came back non-finite."""
        if self.large is None or not self.gradients or "large_inputs" in self.a.hidden_checks:
            return None
        r, _ = self._read(ev.state, LARGE, ret, ev.read_lr)
        if not r.grads or all(np.all(np.isfinite(g)) for g in r.grads.values()):
            return None
        return first_with(self._records(ret, self.large), "non-finite", ret.sub, " at large inputs (×1e4)")

    def _loss_line(self, ret: Returned, ev: Evaluation) -> Optional[str]:
        """Where the returned loss is first computed, on the smallest probe whose returned loss is wrong."""
        wrong = [p for p in self._shown("loss")
                 if p.name in ev.readings and ev.readings[p.name].loss is not None
                 and self._loss_problem(p.name, ev.readings[p.name], ev.state, ev.precision)]
        probe = _smallest(wrong)
        got = ret.arrays.get(self.default.calls[probe.name], {}).get("loss") if probe else None
        if got is None or got.size != 1 or np.iscomplexobj(got):
            return None
        return loss_line(self._records(ret, probe), float(got.reshape(())), ret.sub)

    def _mutation_line(self, ret: Returned, ev: Evaluation) -> Optional[str]:
        """Where the smallest probe whose call changed its inputs first changes one (the runner saves each input array
        as the call left it, ``after.NAME.K``)."""
        probe = _smallest([p for p in self._shown("unmutated") if p.name in ev.readings and ev.readings[p.name].mutated])
        if probe is None:
            return None
        got, sent = ret.arrays.get(self.default.calls[probe.name], {}), self.default.encoders[probe.name].arrays
        inputs = [(sent[name], arr) for key, arr in got.items() if key.startswith("after.")
                  for name in [key[len("after."):].rsplit(".", 1)[0]] if name in sent]
        return mutation_line(self._records(ret, probe), inputs, ret.sub)

    def _shown(self, check: str = "") -> list[Probe]:
        """The traced probes whose runs a line may be read off: a hidden probe's never (its line, layer or shape would
        describe it), nor any while the side ``check`` the line is for is hidden."""
        if check in self.a.hidden_checks:
            return []
        return [p for p in self.traced.values() if p.name in self.probe_names and p.name not in self.hidden]

    def _records(self, ret: Returned, probe: Probe) -> list[Record]:
        """The lines the runner recorded on ``probe``'s call; what it wrote is the submission's: names clipped (they
        reach the message), types checked."""
        call = self.default.calls[probe.name]
        index = ret.status.get("trace", {}) if isinstance(ret.status.get("trace"), dict) else {}
        arrays = ret.arrays.get(call + TRACE, {})
        found = (_record(item, arrays[f"trace.{k}"]) for k, item in enumerate(index.get(call) or []) if f"trace.{k}" in arrays)
        return [r for r in found if r]

    def _convention_words(self, default: Evaluation, chosen: Evaluation, share: float) -> str:
        """What the message adds when the submission was graded under another convention than the assignment's own."""
        words = chosen.words()
        if not words:
            return ""
        if not chosen.right:
            return f" (graded as following its convention: {words})"
        text = f" (correct, with {words})"
        own = diagnose(default.outcomes, self.probe_set, self.terms[id(default.state)]) if self.gradients else None
        if own and own.matches and not all(b.convention for b in own.matches):
            text += (f"; note: under the assignment's own conventions the same numbers are {own.summary}, "
                     "so check which the student meant")
        if share < 1:
            text += f"; the assignment gives {share:.0%} of the points for that convention"
        return text

    def _compare(self, e: Expected, r: Reading, state: VariantState, precision: str = "float64") -> tuple[Optional[str], int]:
        """(None when the reading's gradients match the expected ones, else which arrays are wrong in the student's names;
        how many arrays are right); ``precision``: the dtype the arrays were returned in, whose rounding is allowed."""
        terms = self.terms[id(state)]
        e = at_precision(e, precision)
        ratio = eps_ratio(precision)  # an update read back in float32 is uncertain to float32's ε, not float64's
        uncertainty = {k: u * ratio for k, u in r.uncertainty.items()}
        if r.errors:
            return "; ".join(r.errors), 0
        if any(np.iscomplexobj(g) for g in r.grads.values()):
            return f"complex values in {', '.join(terms.array(k) for k, g in r.grads.items() if np.iscomplexobj(g))}", 0
        try:
            result = oracles.compare(r.grads, e.grads, e.rtol, uncertainty or None,
                                     "the reference (confirmed by an independent oracle)", e.scale)
        except ValueError as exc:
            return str(exc), 0
        # Fails closed: an array holding NaN or inf is wrong whatever its bound says (a bound can be NaN too).
        bad = [a for a in result.arrays if not a.ok or not np.all(np.isfinite(r.grads[a.name]))]
        if not bad:
            return None, len(e.grads)
        worst = max(a.normwise for a in bad)
        names = [terms.array(a.name) for a in bad]
        listed = ", ".join(names) if len(names) <= 3 else f"{', '.join(names[:2])} and {len(names) - 2} more arrays"
        seen = evidence(bad, r.grads, e.grads, terms, batch=len(e.forward))
        return f"{listed} wrong (relative error up to {worst:.1e}){EVIDENCE}{seen})", len(e.grads) - len(bad)

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
        return Check(f"gradient: {name}", 0.0, pts, False, _within(f"wrong {where}: ", problem, explanation), hidden)

    def _combine(self, submission: str, key: str, results: list[Result]) -> Result:
        """Every part's result in one report: its checks under the function's name, the verdict of them all (an error
        when no function produced anything), and the message of each function that did not pass."""
        names = [part.a.name for part in self.parts]
        checks = [replace(c, name=f"{name}: {c.name}") for name, r in zip(names, results) for c in r.checks]
        verdicts = {r.verdict for r in results}
        verdict = "pass" if verdicts == {"pass"} else "error" if verdicts == {"error"} else "fail"
        message = f"all {len(results)} graded functions pass" if verdict == "pass" else self._parts_message(names, results)
        return Result(submission, verdict, sum(c.score for c in checks), sum(c.max_score for c in checks), checks,
                      [{**d, "function": name} for name, r in zip(names, results) for d in r.diagnoses], message,
                      self.sandbox_message, sum(r.seconds for r in results), key,
                      notes=list(dict.fromkeys(n for r in results for n in r.notes)),
                      convention="; ".join(f"{name}: {r.convention}" for name, r in zip(names, results) if r.convention),
                      environment=next((r.environment for r in results if r.environment), ""),
                      gradients="|".join(r.gradients for r in results) if verdict == "fail" else "")

    @staticmethod
    def _parts_message(names: list[str], results: list[Result]) -> str:
        """What did not pass, function by function; the functions the file does not define last, in one clause."""
        undefined = [name for name, r in zip(names, results) if r.verdict == "error" and NOT_DEFINED in r.message]
        said = [f"{name}: {r.message}" for name, r in zip(names, results) if r.verdict != "pass" and name not in undefined]
        if undefined:
            lost = sum(r.max_score for name, r in zip(names, results) if name in undefined)
            said.append(f"not written (the file does not define them): {', '.join(undefined)} ({lost:g} points)")
        return "; ".join(said)

    @staticmethod
    def _summary(diag: Diagnosis, checks: list[Check]) -> str:
        """The result in one line; it never calls gradients right when one is wrong, nor all right when a side check failed."""
        failed = [c for c in checks if not c.passed]
        gradients = any(c.name.startswith("gradient") for c in checks)
        if not diag.correct:
            return diag.summary
        if not failed:
            return "all gradient checks pass" if gradients else "all checks pass"
        head = "" if failed[0].name.startswith("gradient") or not gradients else "gradients correct on every probe, but "
        return f"{head}{failed[0].name} failed: {failed[0].output}" + (
            f" (and {len(failed) - 1} more check{'s' if len(failed) > 2 else ''})" if len(failed) > 1 else "")

    def _smallest_failing(self, checks: list[Check]) -> Optional[str]:
        if not self.gradients:
            return None
        p = _smallest([p for p, c in zip(self.probe_set.probes, checks) if not c.passed])
        return f"{p.name}: {self.terms[id(self.default)].describe(p.case)}" if p else None


class LayerGrader(Grader):
    """A [[part]] with ``layer = ...`` (layers.py): the student's calls run in the sandbox on each of the layer's cases;
    the forward output is compared with the grader's forward pass, the gradients checked by the check API."""

    def __init__(self, assignment: Assignment, sandbox_mode: "str | sandbox.Sandbox" = "auto"):
        self._contain(assignment, sandbox_mode)
        self.parts, self.traced, self.part = [], {}, assignment.layer
        self.cases = self.part.build()
        self.calls = [(case.name, case, [case.ops]) for case in self.cases]  # as Grader._job and _write_inputs read them

    def _kinds(self) -> list[tuple[str, str]]:
        """(points key, check label) of what each case grades: its forward output or loss, its gradients."""
        kinds = []
        if self.part.forward_symbol:
            kinds.append(("loss", LOSS) if self.part.forward_symbol == "loss" else ("forward", FORWARD))
        if self.part.gradients:
            kinds.append(("gradient", "gradient"))
        return [(k, label) for k, label in kinds if self.a.points[k] > 0]

    def _check_plan(self) -> list[tuple[str, float, bool]]:
        hidden = self.a.hidden_checks
        return [(f"{label}: {case.name}", self.a.points[k], k in hidden) for case in self.cases for k, label in self._kinds()]

    def _graded(self, submission: str, key: str, sub: Submission, ret: Optional[Returned] = None) -> Result:
        ret = ret or self._run(sub, trace=False)
        notes, refused = self._refused(submission, key, ret)
        if refused:
            return refused
        returns = {case.name: self._returned(case, ret) for case in self.cases}
        if not any(got for got, _ in returns.values()):  # nothing came back to judge: an error, as a network part's
            result = self.error_result(submission, next(filter(None, (e for _, e in returns.values())), "no output"), key, notes)
            result.seconds = ret.run.seconds
            return result
        checks = [check for case in self.cases for check in self._case_checks(case, *returns[case.name])]
        failed = [c for c in checks if not c.passed]
        message = f"{failed[0].name} failed: {failed[0].output}" if failed else "all checks pass"
        named = list(dict.fromkeys(slug for c in failed for slug in layers.mistakes_in(c.output)))
        diagnoses = [{"correct": False, "matches": named, "named": named, "summary": message}] if failed else []
        return Result(submission, "fail" if failed else "pass", sum(c.score for c in checks), sum(c.max_score for c in checks),
                      checks, diagnoses, message, self.sandbox_message, ret.run.seconds, key, notes=notes)

    @staticmethod
    def _returned(case: "layers.LayerCase", ret: Returned) -> tuple[dict, Optional[str]]:
        """The arrays ``case``'s calls returned, and the error that cut them short (a raise, a refused file), or None."""
        got, error = ret.arrays.get(case.name, {}), ret.call_error(case.name)
        said = [error, *ret.refused_of(case.name), None if got or error else ret.failure or "no output"]
        return got, "; ".join(filter(None, said)) or None

    def _case_checks(self, case: "layers.LayerCase", got: dict, error: Optional[str]) -> list[Check]:
        """The checks of one case, judged by layers.py: its forward output or loss, its gradients."""
        judge = {"forward": layers.forward_problem, "loss": layers.forward_problem, "gradient": layers.gradient_problem}
        checks = []
        for k, label in self._kinds():
            problem = (error if not got and error else judge[k](self.part, case, got, error))
            text = _clipped(f"correct on {case.describe()}" if problem is None else f"wrong on {case.describe()}: {problem}")
            pts = self.a.points[k]
            checks.append(Check(f"{label}: {case.name}", pts if problem is None else 0.0, pts, problem is None, text,
                                k in self.a.hidden_checks))
        return checks


def _part_of(ret: Returned, i: int, parts: int) -> Returned:
    """Part ``i``'s share of a run of every part: its calls' arrays, errors, forms and refusals under its own call names."""
    prefix = f"{i}{PART}"

    def own(d: object) -> dict:
        return {k[len(prefix):]: v for k, v in d.items() if k.startswith(prefix)} if isinstance(d, dict) else {}

    status = {**ret.status, "calls": own(ret.status.get("calls")), "forms": own(ret.status.get("forms"))}
    run = replace(ret.run, seconds=ret.run.seconds / parts)  # the run's time, shared: the parts' results add up to it
    return Returned(run, own(ret.arrays), own(ret.refused), status, ret.sub, ret.failure, own(ret.dtypes))


def eps_ratio(precision: str) -> float:
    """ε of the dtype the arrays came back in, over float64's: every tolerance is 2·D·ε times magnitudes, so a float32
    candidate's is float64's times this (2⁻²³ / 2⁻⁵² = 2²⁹; docs/tolerance.md)."""
    return float(np.finfo(np.dtype(precision)).eps) / float(np.finfo(np.float64).eps)


def at_precision(e: Expected, precision: str) -> Expected:
    """``e`` with the tolerance of a candidate computed in ``precision`` (the same D, that dtype's ε)."""
    return e if precision == "float64" else replace(e, rtol=e.rtol * eps_ratio(precision))


def probes_at(ps: ProbeSet, precision: str) -> ProbeSet:
    """``ps`` judging candidates computed in ``precision`` (its catalog runs shared: they do not depend on it)."""
    ratio = eps_ratio(precision)
    return ps if ratio == 1 else replace(ps, rtol={k: v * ratio for k, v in ps.rtol.items()})


def _record(item: object, value: np.ndarray) -> Optional[Record]:
    """A [file, line, text] the runner wrote (the submission's: types checked, file and text clipped, since they reach
    the message) as a Record holding ``value``; None when it is not one."""
    if not (isinstance(item, list) and len(item) == 3 and isinstance(item[0], str) and isinstance(item[1], int)
            and isinstance(item[2], str)):
        return None
    return Record(item[0][:100], item[1], item[2][:60], value)


def _smallest(probes: list[Probe]) -> Optional[Probe]:
    """The smallest of ``probes`` (fewest units, then fewest examples): the failing case a student reads first."""
    return min(probes, key=lambda q: (sum(q.case.spec.sizes), q.case.batch), default=None)


def _within(head: str, problem: str, explanation: str) -> str:
    """A failed check's text under MAX_CHECK characters: the values give way first, then the problems after the
    first few ("; and 3 more"), then the end of the diagnosis."""
    def text(p: str) -> str:
        return f"{head}{p}.{explanation}"
    if len(text(problem)) >= MAX_CHECK and EVIDENCE in problem:
        problem = problem.split(EVIDENCE)[0]
    pieces = problem.split("; ")
    kept = len(pieces)
    while len(text(problem)) >= MAX_CHECK and kept > 1:
        kept -= 1
        problem = "; ".join(pieces[:kept]) + f"; and {len(pieces) - kept} more"
    return _clipped(text(problem))


def _clipped(text: str) -> str:
    """``text`` under MAX_CHECK characters, its end given way to "…"."""
    return text if len(text) < MAX_CHECK else text[:MAX_CHECK - 2] + "…"


@functools.lru_cache(maxsize=1)
def code_fingerprint() -> str:
    """A hash of the code that decides a grade (grader, reference, oracles): an upgraded grader never reuses a result."""
    folders = sandbox.own_folders()
    h = hashlib.sha256()
    for name in ("grader", "reference", "oracles"):
        root = folders[f"bpcheck.{name}"]
        for f in sorted([*root.rglob("*.py"), *root.rglob("*.toml")]):
            h.update(f"{name}/{f.relative_to(root).as_posix()}".encode() + b"\0" + f.read_bytes())
    return h.hexdigest()[:16]
