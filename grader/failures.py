"""A run's failures in words: what the runner reported, said at the student's own file and line.

Everything here reads the runner's status, which the submission's process wrote: it is data, clipped
and quoted, never trusted.  ``run_failure`` says why a run stopped early, ``describe_error`` names an
exception (with the Python 2 or library-version change behind it), ``missing_package`` tells the
instructor which package the grading machine lacks.
"""

from __future__ import annotations

import re
from pathlib import PurePosixPath
from typing import Optional

from .results import clip
from .sandbox import AUTODIFF, OWN_NAMES, RunResult
from .submission import Submission


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


#: The marks deeplearning.ai's notebooks put around the lines a student writes ("# YOUR CODE STARTS HERE" ...
#: "# YOUR CODE ENDS HERE"; "### START CODE HERE ###" ... "### END CODE HERE ###" in older versions).
ANSWER_BLOCK = re.compile(r"#+[ \t]*(?:YOUR CODE STARTS HERE|START CODE HERE)[^\n]*\n(.*?)#+[ \t]*(?:YOUR CODE ENDS HERE|END CODE HERE)",
                          re.S)
#: A line of an answer block as the starter leaves it: blank, a comment, ``pass`` or ``Z1 = None``.
UNANSWERED = re.compile(r"[ \t]*(?:#.*|pass|[\w.]+(?:\[[^\]\n]*\])?[ \t]*=[ \t]*None)?[ \t]*")


def unanswered_block(sub: Submission, file: Optional[str], line: Optional[int]) -> Optional[int]:
    """The line of an answer block still as the starter left it, in the function around ``line`` of ``file``; else None."""
    data = sub.files.get(file) if isinstance(file, str) else None
    if data is None or not isinstance(line, int) or isinstance(line, bool):
        return None
    text = data.decode("utf-8", "replace")
    defs = [m.start() for m in re.finditer(r"^[ \t]*def ", text, re.M)]
    error_at = sum(len(t) for t in text.splitlines(True)[:line - 1])
    start = max((d for d in defs if d < error_at), default=None)
    for m in ANSWER_BLOCK.finditer(text):
        if start is not None and start < m.start() < error_at and all(UNANSWERED.fullmatch(t) for t in m.group(1).splitlines()):
            return text.count("\n", 0, m.start()) + 1
    return None


def provided_modules(files: dict[str, bytes]) -> set[str]:
    """Every module or package name the submission's own files could provide."""
    names = set()
    for rel in files:
        for part in PurePosixPath(rel).parts:
            names.add(part[:-3] if part.endswith(".py") else part)
    return names


def describe_error(err: object, sub: Submission) -> str:
    """An error the runner reported, in words, at the student's own file and line (the runner's text is data)."""
    if not isinstance(err, dict):
        return clip(err) or "error"
    typ = clip(err.get("type"), 100) or "Error"
    msg = (clip(err.get("message")) or "").strip()
    op = clip(err.get("op"), 200)
    file, line = err.get("file"), err.get("line")
    where = sub.where(clip(file, 300), line if isinstance(line, int) and not isinstance(line, bool) else None)
    block = unanswered_block(sub, file, line) if typ in ("NameError", "TypeError", "AttributeError", "UnboundLocalError") else None
    if typ == "NotDefined":  # the runner's own words: a graded function the file does not define
        return msg
    if typ == "NotImplementedError":
        text = f"{op or 'the entry point'} is not implemented yet (the starter's placeholder{': ' + msg if msg else ''})"
    elif block:
        text = (f"{op or 'the entry point'} is not implemented yet (the starter's placeholder: the answer block at "
                f"{sub.where(clip(file, 300), block)} is as the starter left it; {typ}: {msg})")
    else:
        text = (f"{op} raised " if op else "") + f"{typ}: {msg}" if msg else (f"{op} raised " if op else "") + typ
        for old, new in PY2_NAMES.items():
            if f"'{old}'" in msg and typ in ("NameError", "AttributeError", "ModuleNotFoundError", "ImportError"):
                text += f" (Python 2's {old}: in Python 3 use {new})"
                break
        text += next((f" ({why})" for words, why in DRIFT.items() if words in msg), "")
    return text + (f" (at {where})" if where else "")


def runner_notes(status: dict, sub: Submission) -> list[str]:
    out = []
    for item in (status.get("skipped") or [])[:20] if isinstance(status.get("skipped"), list) else []:
        if isinstance(item, dict):
            line = item.get("line") if isinstance(item.get("line"), int) else None
            out.append(f"skipped top-level code the entry point does not need at {sub.where(sub.main, line)}: "
                       f"{clip(item.get('error'), 300)}")
    for note in (status.get("notes") or [])[:5] if isinstance(status.get("notes"), list) else []:
        out.append(clip(note, 300))
    return out


def run_failure(run: RunResult, status: dict, sub: Submission, timeout: float) -> Optional[str]:
    """Why the run ended before every call reported, in words; None when it finished."""
    phase = clip(status.get("phase"), 200)
    probe = phase.split("@")[0] if phase else phase  # a call is named after its probe (@v<k>: another convention's)
    if run.stopped:
        return f"stopped: it {run.stopped}"
    if run.timed_out:
        where = "while importing the submission" if phase in (None, "import") else f"during probe {probe!r}"
        return f"timed out after {timeout:g} s {where} (an infinite loop, a sleep, or very slow code)"
    if status.get("import"):
        return f"importing {sub.shown} failed: {describe_error(status['import'], sub)}"
    if phase not in ("done", None) and run.returncode is not None:
        return (f"the process ended (exit status {run.returncode}) during probe {probe!r} before finishing: "
                "sys.exit/os._exit, a crash, or a resource limit (memory, processes, file size)")
    if run.returncode not in (0, None) or phase is None:
        tail = run.stderr.strip().splitlines()[-1:] if run.stderr.strip() else []
        return f"the process ended with exit status {run.returncode} before reporting" + (f": {tail[0][:300]}" if tail else "")
    return None


def _missing_modules(status: dict, sub: Submission) -> list[tuple[str, str]]:
    """(module, its top-level name) for every import the run reported failing, except the submission's own modules."""
    errors = [status.get("import")] + list((status.get("calls") or {}).values() if isinstance(status.get("calls"), dict) else [])
    out = []
    for err in errors:
        name = err.get("missing_module") if isinstance(err, dict) else None
        if isinstance(name, str) and name and name.split(".")[0][:100] not in provided_modules(sub.files):
            out.append((name, name.split(".")[0][:100]))
    return out


def autodiff_import(status: dict, sub: Submission, allowed: bool) -> str:
    """What to tell a student whose code imports an autodiff library the assignment does not allow, else ""."""
    used = [root for _, root in _missing_modules(status, sub) if root in AUTODIFF]
    if allowed or not used:
        return ""
    return f"uses {used[0]}: this assignment asks for hand-written backprop; autodiff libraries are not available"


def missing_package(status: dict, sub: Submission) -> str:
    """The fix for a package the grading machine lacks, if that is why the submission could not run."""
    for name, root in _missing_modules(status, sub):
        if root in OWN_NAMES:
            continue
        pip = PIP_NAMES.get(root, root)
        return (f"the submission imports {name[:100]!r}, which is not installed where bpcheck grades. Install it "
                f"(pip install {pip}), or, if the graded code does not need it, add stub = [{root!r}] to the "
                f"assignment's environment table. (If it is the student's own module, {root}.py is missing from the "
                "submission.)")
    return ""
