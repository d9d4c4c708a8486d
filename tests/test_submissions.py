"""Submissions as handed in: files, folders, notebooks and zips read safely; the environment's faults named as such."""

from __future__ import annotations

import json
import os
import struct
import zipfile
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from bpcheck.grader import submission
from bpcheck.grader.assignment import AssignmentError, load
from bpcheck.grader.batch import grade_batch
from bpcheck.grader.grade import Grader

from .sandboxes import for_trusted_code, grader_for
from bpcheck.grader.submission import SubmissionError, collect

ROOT = Path(__file__).resolve().parents[1]
SOLUTION = (ROOT / "examples" / "solutions" / "canonical.py").read_text()
FORMS = [[("backprop",)]]
# --- reading files safely -------------------------------------------------------------------------------------


def test_a_link_inside_a_submission_is_refused_and_named(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "helpers.py").write_text("import numpy as np\ndef sigmoid(z):\n    return 1 / (1 + np.exp(-z))\n")
    sub = tmp_path / "student"
    sub.mkdir()
    (sub / "submission.py").write_text(SOLUTION)
    (sub / "helpers.py").symlink_to(outside / "helpers.py")
    with pytest.raises(SubmissionError, match=r"helpers.py is a symbolic link \(to .*outside/helpers.py\); links are never "
                                              r"followed: hand in the file itself"):
        collect(sub, FORMS, "submission")
    r = grader_for("canonical").grade(sub)
    assert r.verdict == "error" and "helpers.py is a symbolic link" in r.message


def test_a_linked_submission_root_is_resolved_once(tmp_path):
    real = tmp_path / "real"
    real.mkdir()
    (real / "mine.py").write_text(SOLUTION)
    (tmp_path / "link").symlink_to(real, target_is_directory=True)
    assert grader_for("canonical").grade(tmp_path / "link").verdict == "pass"
    (tmp_path / "file_link.py").symlink_to(real / "mine.py")
    assert grader_for("canonical").grade(tmp_path / "file_link.py").verdict == "pass"


def test_special_files_and_deep_folders_are_refused_unread(tmp_path):
    sub = tmp_path / "student"
    sub.mkdir()
    (sub / "student.py").write_text(SOLUTION)
    os.mkfifo(sub / "pipe.py")  # opening it for reading would block forever
    with pytest.raises(SubmissionError, match="pipe.py: a FIFO, not a regular file"):
        collect(sub, FORMS)
    os.unlink(sub / "pipe.py")
    deep = sub.joinpath(*[f"d{i}" for i in range(submission.MAX_DEPTH + 1)])
    deep.mkdir(parents=True)
    (deep / "helper.py").write_text("x = 1\n")
    with pytest.raises(SubmissionError, match=f"folders nested more than {submission.MAX_DEPTH} deep"):
        collect(sub, FORMS)


def test_sizes_and_counts_are_capped_before_reading(tmp_path, monkeypatch):
    big = tmp_path / "big.py"
    big.write_text("x = 1\n" * (submission.MAX_PY_BYTES // 6 + 1))
    with pytest.raises(SubmissionError, match=rf"big.py is \d+ bytes; at most {submission.MAX_PY_BYTES}"):
        collect(big, FORMS)
    folder = tmp_path / "folder"  # in a folder too, a .py is refused at the code cap before it is read
    folder.mkdir()
    (folder / "submission.py").write_text(SOLUTION)
    (folder / "big.py").write_bytes(b"#" * (submission.MAX_PY_BYTES + 1))
    reads = []
    real_read = submission.untrusted.read_regular
    monkeypatch.setattr(submission.untrusted, "read_regular", lambda name, *a: reads.append(name) or real_read(name, *a))
    with pytest.raises(SubmissionError, match=rf"big.py is {submission.MAX_PY_BYTES + 1} bytes; at most {submission.MAX_PY_BYTES}"):
        collect(folder, FORMS)
    assert "big.py" not in reads
    many = tmp_path / "many"
    many.mkdir()
    monkeypatch.setattr(submission, "MAX_FILES", 5)
    for i in range(6):
        (many / f"m{i}.py").write_text("")
    with pytest.raises(SubmissionError, match="more than 5 files to read"):
        collect(many, FORMS)


def _zip(path: Path, members: dict[str, bytes], links: tuple[str, ...] = ()) -> Path:
    """A zip with these members, and ``links`` as symbolic-link members (to /etc/passwd)."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in members.items():
            z.writestr(name, data)
        for name in links:
            info = zipfile.ZipInfo(name)
            info.external_attr = (0o120777 << 16)
            z.writestr(info, "/etc/passwd")
    return path


def test_zip_members_with_unsafe_paths_are_refused(tmp_path):
    for bad in ("../evil.py", "/abs/evil.py", "a/../../evil.py", "..\\evil.py", "C:\\evil.py", "C:/evil.py"):
        z = _zip(tmp_path / "s.zip", {"ok/submission.py": SOLUTION.encode(), bad: b"x = 1\n"})
        with pytest.raises(SubmissionError, match="unsafe path"):
            collect(z, FORMS)


def test_zip_links_are_refused_and_a_zip_grades_like_its_folder(tmp_path):
    z = _zip(tmp_path / "s.zip", {"student-7/hw/submission.py": SOLUTION.encode()}, links=("student-7/hw/helpers.py",))
    with pytest.raises(SubmissionError, match="s.zip: student-7/hw/helpers.py is a symbolic link"):
        collect(z, FORMS)
    z = _zip(tmp_path / "t.zip", {"student-7/hw/submission.py": SOLUTION.encode(), "__MACOSX/student-7/._x.py": b"\0\1"})
    assert set(collect(z, FORMS).files) == {"student-7/hw/submission.py"}
    assert grader_for("canonical").grade(z).verdict == "pass"


def test_zip_bombs_are_bounded(tmp_path):
    z = _zip(tmp_path / "bomb.zip", {"bomb.py": b"#" * (submission.MAX_PY_BYTES + 1)})
    with pytest.raises(SubmissionError, match=rf"bomb.py is {submission.MAX_PY_BYTES + 1} bytes"):
        collect(z, FORMS)
    # a header that understates the member's size: never read past what it declares, and refused
    data = bytearray(_zip(tmp_path / "liar.zip", {"liar.py": b"#" * 300_000}).read_bytes())
    central = data.rfind(b"PK\x01\x02")
    data[central + 24:central + 28] = struct.pack("<I", 10)  # the uncompressed size in the central directory
    (tmp_path / "liar.zip").write_bytes(bytes(data))
    with pytest.raises(SubmissionError, match="liar.py"):
        collect(tmp_path / "liar.zip", FORMS)


# --- finding the entry point ---------------------------------------------------------------------------------------


def test_the_file_defining_the_entry_point_is_found_at_any_depth(tmp_path):
    sub = tmp_path / "handin"
    pkg = sub / "code" / "hw2"
    (pkg / "helpers").mkdir(parents=True)
    (pkg / "helpers" / "__init__.py").write_text("")
    (pkg / "helpers" / "act.py").write_text("import numpy as np\ndef sigmoid(z):\n    return 1 / (1 + np.exp(-z))\n")
    (pkg / "my_backprop.py").write_text(SOLUTION.replace("def sigmoid(z):\n    return 1.0 / (1.0 + np.exp(-z))",
                                                         "from helpers.act import sigmoid"))
    (sub / "run.py").write_text("from code.hw2.my_backprop import backprop\nraise SystemExit('the driver ran')\n")
    s = collect(sub, FORMS, "submission")
    assert s.main == "code/hw2/my_backprop.py" and s.sys_path[0] == "code/hw2"
    assert grader_for("canonical").grade(sub).verdict == "pass"


@pytest.mark.parametrize("name, body, said, unsaid", [
    ("neural_net_final_v2.py", "    raise ValueError('shapes do not match')",
     "backprop(...) raised ValueError: shapes do not match (at neural_net_final_v2.py:5)", "submission.py"),
    ("hw.py", "    raise NotImplementedError",
     "backprop(...) is not implemented yet (the starter's placeholder) (at hw.py:5)", "raised NotImplementedError:  "),
])
def test_messages_name_the_students_own_file_and_line(tmp_path, name, body, said, unsaid):
    f = tmp_path / name
    f.write_text(f"import numpy as np\n\n\ndef backprop(weights, biases, x, y):\n{body}\n")
    r = grader_for("canonical").grade(f)
    assert said in r.message and unsaid not in r.message


def test_python2_is_named_with_how_to_port(tmp_path):
    f = tmp_path / "hw.py"
    f.write_text("import numpy as np\n\ndef backprop(weights, biases, x, y):\n    print 'shapes', x.shape\n")
    r = grader_for("canonical").grade(f)
    assert r.verdict == "error" and "SyntaxError in hw.py line 4: this is Python 2 code (a print statement" in r.message
    assert "futurize" in r.message
    drift = tmp_path / "drift.py"  # written for NumPy 1: float() of a 1×1 matrix
    drift.write_text(SOLUTION.replace("    n = x.shape[0]\n", "    n = x.shape[0]\n    cost = float(np.ones((1, 1)) * n)\n"))
    r = grader_for("canonical").grade(drift)
    if "only 0-dimensional arrays" in r.message:  # NumPy 2.x; older ones still convert it
        assert "no longer works in NumPy 2.x" in r.message and ".item()" in r.message
    g = tmp_path / "runtime.py"  # valid Python 3 syntax, Python 2 names
    g.write_text(SOLUTION.replace("for l in range(", "for l in xrange("))
    r = grader_for("canonical").grade(g)
    assert "NameError: name 'xrange' is not defined (Python 2's xrange: in Python 3 use range)" in r.message


# --- notebooks -------------------------------------------------------------------------------------------------------


def _notebook(path: Path, cells: list, outputs_bytes: int = 0) -> Path:
    nb = new_notebook(cells=cells)
    if outputs_bytes:
        nb.cells[-1].outputs = [new_output("stream", name="stdout", text="#" * outputs_bytes)]
    nbformat.write(nb, str(path))
    return path


def test_a_notebook_runs_only_what_the_entry_point_needs(tmp_path):
    body = SOLUTION.split("import numpy as np\n", 1)[1]
    cells = [new_markdown_cell("# Homework 3"),
             new_code_cell("import numpy as np\nimport matplotlib.pyplot as plt\n%matplotlib inline\n!pip install tqdm"),
             new_code_cell("data = np.load('train.npz')   # not handed in\nX, Y = data['x'], data['y']"),
             new_code_cell("%%bash\nls -la\n"),
             new_code_cell(body),
             new_code_cell("%%time\nfor epoch in range(10**9):\n    backprop(W, b, X, Y)"),
             new_code_cell("plt.plot([1, 2])\nplt.show()")]
    nb = _notebook(tmp_path / "hw3.ipynb", cells, outputs_bytes=3 << 20)  # a few MB of outputs, never kept
    s = collect(nb, FORMS)
    assert s.main == "hw3.ipynb.py" and len(s.files[s.main]) < 10_000
    r = grader_for("canonical").grade(nb)
    assert r.verdict == "pass", r.message
    assert any(n.startswith("hw3.ipynb: ran code cells 1, 4 ") and "skipped the other 4" in n for n in r.notes)


def test_a_notebook_error_names_the_cell(tmp_path):
    code = "import numpy as np\n\ndef backprop(weights, biases, x, y):\n    raise ValueError('no idea yet')\n"
    nb = _notebook(tmp_path / "nb.ipynb", [new_code_cell("print('hello')"), new_code_cell(code)])
    r = grader_for("canonical").grade(nb)
    assert "(at nb.ipynb, code cell 2, line 4)" in r.message, r.message


def test_a_notebook_that_is_not_json_is_named(tmp_path):
    bad = tmp_path / "broken.ipynb"
    bad.write_text("{ this is not json")
    r = grader_for("canonical").grade(bad)
    assert r.verdict == "error" and "broken.ipynb: not a readable Jupyter notebook" in r.message


@pytest.mark.parametrize("cells", [["a string, not a cell"], [{"cell_type": "code", "source": ["x = 1", 2]}], 5],
                         ids=["cell-not-a-table", "source-not-text", "cells-not-a-list"])
def test_a_malformed_notebook_is_named_not_a_crash(tmp_path, cells):
    bad = tmp_path / "hw.ipynb"
    bad.write_text(json.dumps({"nbformat": 4, "nbformat_minor": 4, "metadata": {}, "cells": cells}))
    with pytest.raises(SubmissionError, match="hw.ipynb: not a readable Jupyter notebook"):
        collect(bad, FORMS)


@pytest.mark.parametrize("junk", ["x = 1\x00", "s = '\ud800'"], ids=["nul-byte", "lone-surrogate"])
def test_a_cell_python_cannot_read_is_dropped_and_the_rest_graded(tmp_path, junk):
    """A NUL byte or a lone surrogate in one cell fails only that cell, as any cell that does not parse."""
    path = tmp_path / "hw.ipynb"
    path.write_text(json.dumps(new_notebook(cells=[new_code_cell(SOLUTION), new_code_cell(junk)])))
    s = collect(path, FORMS)
    assert s.cells_used == "hw.ipynb: ran code cells 1"
    assert b"\x00" not in s.files[s.main] and s.files[s.main].decode("utf-8")
    assert grader_for("canonical").grade(path).verdict == "pass"


def test_a_nul_byte_in_a_python_file_is_a_named_syntax_error(tmp_path):
    f = tmp_path / "hw.py"
    f.write_bytes(SOLUTION.encode() + b"\nx = 1\x00\n")
    with pytest.raises(SubmissionError) as caught:
        collect(f, FORMS)
    message = str(caught.value)
    assert "hw.py" in message and "line None" not in message and "too deeply nested" not in message


def test_a_batch_outlives_the_graders_own_failure_on_one_submission(tmp_path, monkeypatch):
    """An exception the grader did not foresee while reading one submission is that submission's result, not the
    end of the batch (and, being the machine's failure, it is not saved)."""
    from bpcheck.grader import batch

    good, odd = tmp_path / "good.py", tmp_path / "odd.py"
    good.write_text(SOLUTION)
    odd.write_text(SOLUTION + "# another student's\n")
    g = grader_for("canonical")
    real = g.collect

    def collect_or_fail(path):
        if Path(path) == odd:
            raise RuntimeError("an unforeseen failure")
        return real(path)

    monkeypatch.setattr(g, "collect", collect_or_fail)
    monkeypatch.setattr(batch.time, "sleep", lambda s: None)
    ok, failed = grade_batch(g, [good, odd], 1, tmp_path / "state")
    assert ok.verdict == "pass"
    assert failed.verdict == "error" and "internal grader error: RuntimeError: an unforeseen failure" in failed.message
    assert len(list((tmp_path / "state").glob("*.json"))) == 1  # the good one's


def _graded_in_a_batch(path: Path, state: Path, monkeypatch) -> tuple:
    """``path`` graded by ``grade_batch`` (retries without their pause): its result, and how often it was graded."""
    from bpcheck.grader import batch

    g = grader_for("canonical")
    calls = []
    real = g.grade
    monkeypatch.setattr(g, "grade", lambda *a: calls.append(a) or real(*a))
    monkeypatch.setattr(batch.time, "sleep", lambda s: None)
    (r,) = grade_batch(g, [path], 1, state)
    return r, len(calls)


def test_a_submission_naming_an_internal_error_is_graded_once_as_itself(tmp_path, monkeypatch):
    """Only the grader knows when it failed: a submission raising the grader's words is not retried nor unsaved."""
    sub = tmp_path / "submission.py"
    sub.write_text("import numpy as np\n\ndef backprop(weights, biases, x, y):\n    raise ValueError('internal grader error')\n")
    r, gradings = _graded_in_a_batch(sub, tmp_path / "state", monkeypatch)
    assert r.verdict == "error" and "grading machine" not in r.message and gradings == 1
    assert len(list((tmp_path / "state").glob("*.json"))) == 1  # saved: it is the submission's own result


# --- the environment -------------------------------------------------------------------------------------------------


def test_plotting_and_python2_compatibility_imports_are_stubbed(tmp_path):
    f = tmp_path / "neural_net.py"
    f.write_text("import matplotlib.pyplot as plt\nfrom matplotlib import cm\nfrom past.builtins import xrange\n"
                 "plt.rcParams['figure.figsize'] = (10.0, 8.0)\nfig, = [plt.figure()]\n"
                 + SOLUTION.replace("for l in range(", "for l in xrange("))
    r = grader_for("canonical").grade(f)
    assert r.verdict == "pass", r.message


def test_a_missing_package_is_the_environments_problem_with_the_fix(tmp_path):
    f = tmp_path / "student.py"
    f.write_text("import numpy as np\nimport no_such_package_bpcheck\n\ndef backprop(weights, biases, x, y):\n"
                 "    return no_such_package_bpcheck.grads(weights, biases)\n")
    r = grader_for("canonical").grade(f)
    assert r.verdict == "error" and r.environment
    assert r.message.startswith("environment problem (the grading machine's, not the student's)")
    assert "pip install no_such_package_bpcheck" in r.message and "stub = ['no_such_package_bpcheck']" in r.message
    # listed under [environment] stub, the import succeeds; the graded code itself still needs it, and says so
    toml = tmp_path / "stubbed.toml"
    toml.write_text('contract = "canonical"\n[environment]\nstub = ["no_such_package_bpcheck"]\n'
                    '[[probe]]\nname = "p"\nsizes = [3, 2]\nbatch = 2\n')
    r = Grader(load(str(toml)), for_trusted_code()).grade(f)
    assert not r.environment
    assert "got <stub no_such_package_bpcheck.grads()>, a stand-in from a module the assignment stubs" in r.message


def test_a_required_package_is_checked_when_the_assignment_loads(tmp_path):
    toml = tmp_path / "needs.toml"
    toml.write_text('contract = "canonical"\n[environment]\nrequire = ["no_such_package_bpcheck"]\n'
                    '[[probe]]\nname = "p"\nsizes = [3, 2]\n')
    with pytest.raises(AssignmentError, match="requires 'no_such_package_bpcheck', which is not installed where bpcheck "
                                              "runs: pip install no_such_package_bpcheck"):
        load(str(toml))


def test_every_message_field_of_the_runner_is_data(tmp_path):
    """status.json comes from the sandbox: a forged one with odd types must not crash the grader."""
    from bpcheck.grader.failures import describe_error

    (tmp_path / "x.py").write_text(SOLUTION)
    s = collect(tmp_path / "x.py", FORMS)
    for err in ({"type": ["list"], "message": {"a": 1}, "file": 3, "line": "12"}, "plain text", None, {"line": True}):
        assert isinstance(describe_error(err, s), str)
    assert json.dumps(describe_error({"type": "E", "message": "m", "file": "x.py", "line": 3}, s)) == '"E: m (at x.py:3)"'


def test_submissions_are_parsed_one_thread_at_a_time(tmp_path, monkeypatch):
    """Python 3.11's ast.parse in two threads at once can fail with 'AST constructor recursion depth mismatch'
    (CPython gh-106905): it aborted a --jobs 2 batch once in three runs of the suite. Parsing is serialised."""
    import ast
    import threading
    import time

    real, lock = ast.parse, threading.Lock()
    inside, most = [0], [0]

    def watched(*args, **kwargs):
        with lock:
            inside[0] += 1
            most[0] = max(most[0], inside[0])
        time.sleep(0.02)  # long enough for another thread to enter, were it allowed
        with lock:
            inside[0] -= 1
        return real(*args, **kwargs)

    monkeypatch.setattr(submission.ast, "parse", watched)
    (tmp_path / "submission.py").write_text((ROOT / "examples" / "solutions" / "canonical.py").read_text())
    forms = [[("backprop",)]]
    threads = [threading.Thread(target=collect, args=(tmp_path / "submission.py", forms)) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert most[0] == 1


# --- what a hostile notebook or zip costs ------------------------------------------------------------------------


def test_a_notebook_nested_thousands_deep_is_the_students_error(tmp_path, monkeypatch):
    """JSON 30,000 deep is the notebook's fault: named, graded once as the student's, never the machine's failure."""
    deep = tmp_path / "deep.ipynb"
    deep.write_text('{"nbformat": 4, "nbformat_minor": 5, "metadata": {"x": ' + "[" * 30_000 + "]" * 30_000 +
                    '}, "cells": []}')
    with pytest.raises(SubmissionError, match=r"deep.ipynb: not a readable Jupyter notebook .*nested too deeply"):
        collect(deep, FORMS)
    r, gradings = _graded_in_a_batch(deep, tmp_path / "state", monkeypatch)
    assert r.verdict == "error" and "deep.ipynb" in r.message and "grading machine" not in r.message
    assert gradings == 1  # not retried as a failure of the machine


class _CountingCells(list):
    """A notebook's cell table that counts the rows handed out: what looking up a line costs."""

    read = 0

    def __iter__(self):
        for row in super().__iter__():
            type(self).read += 1
            yield row

    def __getitem__(self, at):
        type(self).read += 1
        return super().__getitem__(at)


def test_looking_up_the_cell_of_every_line_is_linear_in_the_lines():
    cells = 4000
    spans = [(3 * n + 2, 3 * n + 3, n + 1) for n in range(cells)]  # a header line, then two lines per code cell
    nb = submission.Notebook("", _CountingCells(spans))
    lines = range(1, 3 * cells + 2)
    _CountingCells.read = 0
    found = [nb.cell_of(line) for line in lines]
    expected = [None if line % 3 == 1 else ((line - 2) // 3 + 1, (line - 2) % 3 + 1) for line in lines]
    assert found == expected
    assert _CountingCells.read <= 4 * len(lines), _CountingCells.read  # a scan per line reads ~cells²/2 = 8e6 rows


def test_a_zip_directory_bomb_is_refused_before_zipfile_parses_it(tmp_path):
    import tracemalloc

    header = struct.pack("<4s6H3L5H2L", b"PK\x01\x02", 20, 20, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0)
    directory = (header + b"a") * 200_000  # 47 bytes per entry: zipfile would hold 200,000 objects, over 60 MB
    bomb = tmp_path / "bomb.zip"
    bomb.write_bytes(directory + struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, 1, 1, len(directory), 0, 0))
    tracemalloc.start()
    try:
        with pytest.raises(SubmissionError, match="bomb.zip: .*central directory"):
            collect(bomb, FORMS)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 32 << 20, peak  # the file (9.4 MB) read once; the directory checked, never parsed


EX4 = (ROOT / "examples" / "solutions" / "coursera_ex4.py").read_text()
EX4_SIGMOID = "def sigmoid(z):\n    return 1.0 / (1.0 + np.exp(-z))\n"
EX4_RETURN = "    return J, np.concatenate([Theta1_grad.ravel(), Theta2_grad.ravel()])\n"


def test_a_form_split_over_one_file_per_function_is_found(tmp_path):
    """Octave-style ports: nnCostFunction.py, nnGradient.py and sigmoid.py, one function each, in one folder."""
    hw = tmp_path / "ex4"
    hw.mkdir()
    body = EX4.replace(EX4_SIGMOID, "from sigmoid import sigmoid\n")
    (hw / "sigmoid.py").write_text("import numpy as np\n\n\n" + EX4_SIGMOID)
    (hw / "nnCostFunction.py").write_text(body.replace("def nn_cost_function", "def nnCostFunction")
                                          .replace(EX4_RETURN, "    return J\n"))
    (hw / "nnGradient.py").write_text(body.replace("def nn_cost_function", "def nnGradient").replace(
        EX4_RETURN, "    return np.concatenate([Theta1_grad.ravel(), Theta2_grad.ravel()])\n"))
    r = grader_for("coursera-ex4").grade(hw)
    assert r.verdict == "pass", r.message


def test_python2_in_an_imported_helper_gets_the_porting_message(tmp_path):
    hw = tmp_path / "hw"
    hw.mkdir()
    (hw / "helpers.py").write_text("import numpy as np\n\n\ndef sigmoid(z):\n    print 'sigmoid of', z.shape\n"
                                   "    return 1.0 / (1.0 + np.exp(-z))\n")
    (hw / "backprop.py").write_text(SOLUTION.replace("def sigmoid(z):\n    return 1.0 / (1.0 + np.exp(-z))",
                                                     "from helpers import sigmoid"))
    (hw / "old_driver.py").write_text("import backprop\nprint 'trained'\n")  # Python 2 too, but never imported
    r = grader_for("canonical").grade(hw)
    assert r.verdict == "error"
    assert "SyntaxError in helpers.py line 5: this is Python 2 code (a print statement" in r.message, r.message
    assert "futurize" in r.message and "old_driver" not in r.message
    (hw / "helpers.py").write_text("import numpy as np\n\n\ndef sigmoid(z):\n    return 1.0 / (1.0 + np.exp(-z))\n")
    assert grader_for("canonical").grade(hw).verdict == "pass"  # the unimported Python 2 driver blocks nothing


def test_the_ex4_python_starter_imports_requests_through_its_utils(tmp_path):
    """The widely used Python port of ex4: Exercise4/utils.py appends '..' to sys.path and imports submission.py (the
    course's submitter), which imports requests; the notebook imports utils for sigmoid.  requests is stubbed by the
    bundled assignment, so a correct notebook never depends on the grading machine having it."""
    assert "requests" in load("coursera-ex4").environment.stubs()["inert"]
    (tmp_path / "submission.py").write_text(
        "from urllib.parse import urlencode\n\nimport requests\n\n\nclass SubmissionBase:\n"
        "    url = 'https://www.coursera.org/api/onDemandProgrammingScriptSubmissions.v1'\n\n"
        "    def submit(self, parts):\n        return requests.post(self.url, data=urlencode(parts))\n")
    ex4 = tmp_path / "Exercise4"
    ex4.mkdir()
    (ex4 / "utils.py").write_text(
        "import sys\nimport numpy as np\nfrom matplotlib import pyplot\n\nsys.path.append('..')\n"
        "from submission import SubmissionBase\n\n\n" + EX4_SIGMOID + "\n\nclass Grader(SubmissionBase):\n    pass\n")
    cost = EX4.split("import numpy as np\n", 1)[1].replace(EX4_SIGMOID, "").replace("sigmoid(", "utils.sigmoid(")
    _notebook(ex4 / "exercise4.ipynb", [
        new_markdown_cell("# Programming Exercise 4: Neural Networks Learning"),
        new_code_cell("import os\nimport numpy as np\nfrom matplotlib import pyplot\nfrom scipy import optimize\n"
                      "from scipy.io import loadmat\nimport utils\ngrader = utils.Grader()\n%matplotlib inline"),
        new_code_cell("data = loadmat(os.path.join('Data', 'ex4data1.mat'))\nX, y = data['X'], data['y'].ravel()"),
        new_code_cell(cost.replace("def nn_cost_function", "def nnCostFunction")),
    ])
    r = grader_for("coursera-ex4").grade(tmp_path)
    assert r.verdict == "pass", r.message


def test_a_missing_entry_point_lists_only_its_own_aliases(tmp_path):
    """ex4's two-function form is no alias of nn_cost_function: the message names it as the pair it is."""
    hw = tmp_path / "hw"
    hw.mkdir()
    (hw / "ex4.py").write_text("def costFunction(nn_params, X, y):\n    return 0.0\n")
    r = grader_for("coursera-ex4").grade(hw)
    assert r.verdict == "error"
    assert ("defines 'nn_cost_function' (or 'nnCostFunction', 'nnCost', 'nn_cost', 'nncostfunction', 'nnCostFunc'), "
            "the contract's entry point, or 'nn_cost_function' with 'nn_gradient'") in r.message, r.message
