"""Modular assignments: calls that receive what an earlier call returned, gradient dicts keyed by the course's names,
upstream gradients per example, and course files shipped with the assignment (docs/assignments.md)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from bpcheck.grader.assignment import AssignmentError, load
from bpcheck.grader.contracts import Conventions
from bpcheck.grader.grade import Grader

from .sandboxes import for_trusted_code, graded, grader_for
from .verdicts import assert_graded

ROOT = Path(__file__).resolve().parents[1]
EX = ROOT / "examples"
BUNDLED = ROOT / "grader" / "assignments"
PLANAR = (EX / "solutions" / "dls_planar.py").read_text()
DEEP = (EX / "solutions" / "dls_deep.py").read_text()

def write(folder: Path, name: str, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(text)
    return folder / name


# --- values passed from call to call, inside the sandbox -----------------------------------------------------------


def test_a_cache_that_is_no_array_reaches_the_backward_call(tmp_path):
    """The cache never leaves the sandbox: a closure (nothing numpy could save) is passed on as the student made it."""
    closure = PLANAR.replace('    cache = {"Z1": Z1, "A1": A1, "Z2": Z2, "A2": A2}\n',
                             '    cache = lambda key: {"Z1": Z1, "A1": A1, "Z2": Z2, "A2": A2}[key]\n')
    closure = closure.replace('cache["A1"]', 'cache("A1")').replace('cache["A2"]', 'cache("A2")')
    assert closure.count('cache("A') == 2
    assert_graded(grader_for("dls-planar").grade(write(tmp_path, "planar.py", closure)), "pass", "all gradient checks pass")


def test_the_backward_call_runs_on_the_students_own_cache(tmp_path):
    """A forward pass that returns the right A2 but caches a wrong A1: its forward output passes, its gradients do not."""
    stale = PLANAR.replace('cache = {"Z1": Z1, "A1": A1,', 'cache = {"Z1": Z1, "A1": 0.5 * A1,')
    r = grader_for("dls-planar").grade(write(tmp_path, "planar.py", stale))
    passed = {c.name for c in r.checks if c.passed}
    assert r.verdict == "fail" and {"forward output", "loss value"} <= passed
    assert not any(c.passed for c in r.checks if c.name.startswith("gradient"))
    assert "grads['dW1']" in " ".join(c.output for c in r.checks if not c.passed)


def test_an_error_inside_a_course_file_is_blamed_on_the_students_line():
    r = graded("dls-deep", EX / "buggy" / "dls_deep_wrong_cache.py")
    assert "(at dls_deep_wrong_cache.py:" in r.message and "dnn_utils.py" not in r.message


PLANAR_CONTRACT = (BUNDLED / "dls-planar.toml").read_text()


@pytest.mark.parametrize("old, new, message", [
    ('returns = ["output", "cache"]', 'returns = ["output", "cahce"]', r"unknown output 'cahce'.*a name a later call receives"),
    ('returns = ["output", "cache"]', 'returns = ["output", "x"]', r"'x' names one of the probe's arguments"),
    ('arguments = ["params", "cache", "x", "y"]', 'arguments = ["params", "cash", "x", "y"]', r"unknown output 'cache'"),
])
def test_a_misnamed_value_between_calls_is_an_error_naming_it(tmp_path, old, new, message):
    text = PLANAR_CONTRACT.replace('"course/', f'"{BUNDLED}/course/')
    assert old in text
    with pytest.raises(AssignmentError, match=message):
        load(str(write(tmp_path, "a.toml", text.replace(old, new))))


OLD_STYLE_STARTER = """import numpy as np
from planar_utils import sigmoid


def forward_propagation(X, parameters):
    ### START CODE HERE ### (≈ 4 lines of code)
    W1 = None
    b1 = None
    W2 = parameters["W2"]
    b2 = None
    ### END CODE HERE ###

    ### START CODE HERE ### (≈ 4 lines of code)
    Z1 = None
    A1 = None
    Z2 = None
    A2 = None
    ### END CODE HERE ###

    assert(A2.shape == (1, X.shape[1]))
    cache = {"Z1": Z1, "A1": A1, "Z2": Z2, "A2": A2}
    return A2, cache


def compute_cost(A2, Y, parameters):
    m = Y.shape[1]
    ### START CODE HERE ### (≈ 2 lines of code)
    logprobs = None
    cost = None
    ### END CODE HERE ###
    return float(np.squeeze(cost))


def backward_propagation(parameters, cache, X, Y):
    ### START CODE HERE ### (≈ 6 lines of code)
    dW1 = None
    db1 = None
    dW2 = None
    db2 = None
    ### END CODE HERE ###
    return {"dW1": dW1, "db1": db1, "dW2": dW2, "db2": db2}
"""


def test_a_starter_with_its_answer_blocks_left_as_given_is_not_implemented_yet(tmp_path):
    """The course's older starters: answers as `Z1 = None` between START/END CODE HERE marks (a half-done first block)."""
    r = grader_for("dls-planar").grade(write(tmp_path, "planar.py", OLD_STYLE_STARTER))
    assert_graded(r, "error", "forward_propagation(...) is not implemented yet (the starter's placeholder: the answer "
                              "block at planar.py:13 is as the starter left it; AttributeError:")
    answered = OLD_STYLE_STARTER.replace("    Z1 = None\n    A1 = None\n    Z2 = None\n    A2 = None\n",
                                         "    A2 = W2.T\n")  # answered, wrongly: an error of the student's own
    r = grader_for("dls-planar").grade(write(tmp_path, "planar2.py", answered))
    assert r.verdict == "error" and "not implemented yet" not in r.message and "(at planar2.py:" in r.message


def test_a_form_of_several_functions_names_the_one_missing(tmp_path):
    """Once, the message listed compute_cost as an alias of forward_propagation and suggested 'forward_propagation'."""
    renamed = PLANAR.replace("def compute_cost(A2, Y):", "def computeCost(A2, Y):")
    r = grader_for("dls-planar").grade(write(tmp_path, "planar.py", renamed))
    assert_graded(r, "error", "planar.py defines 'forward_propagation', 'backward_propagation' but not 'compute_cost', "
                              "which the contract also calls; did you mean 'computeCost'?")


# --- gradient dicts keyed by the course's names ----------------------------------------------------------------------


def test_gradient_keys_are_their_own_templates():
    conv = Conventions(parameters="dict", d_weight_key="dW{l}", d_bias_key="db{l}")
    assert (conv.key("W", 2), conv.key("W", 2, gradient=True), conv.key("b", 1, gradient=True)) == ("W2", "dW2", "db1")
    assert Conventions(parameters="dict").key("b", 3, gradient=True) == "b3"  # no template: the parameters' own keys


# --- upstream gradients per example: the course's dZ, with linear_backward taking the 1/m ------------------------------


LINEAR_BACKWARD = f"""name = "linear-backward"
module = "Building_your_Deep_Neural_Network_Step_by_Step"
[network]
activations = ["identity"]
loss = "half_sse"
reduction = "mean"
[layout]
examples = "columns"
weights = "out_in"
biases = "column"
UPSTREAM
[[entry]]
function = "linear_backward"
arguments = ["d_scores", ["x", "W1", "b1"]]
returns = ["_", "d_W1", "d_b1"]
[feedback]
names = {{ d_W1 = "dW", d_b1 = "db" }}
[environment]
files = ["{BUNDLED}/course/dls-deep/dnn_utils.py", "{BUNDLED}/course/dls-deep/testCases.py"]
[[probe]]
name = "batch-4"
sizes = [5, 3]
batch = 4
seed = 7
[[probe]]
name = "batch-1"
sizes = [3, 2]
seed = 8
"""


def test_per_example_upstream_grades_linear_backward_alone(tmp_path):
    g = Grader(load(str(write(tmp_path, "lb.toml", LINEAR_BACKWARD.replace("UPSTREAM", 'upstream = "per_example"')))),
               for_trusted_code())
    assert_graded(g.grade(EX / "solutions" / "dls_deep.py"), "pass", "all gradient checks pass")
    no_mean = DEEP.replace("dW = np.dot(dZ, A_prev.T) / m", "dW = np.dot(dZ, A_prev.T)").replace(
        "db = np.sum(dZ, axis=1, keepdims=True) / m", "db = np.sum(dZ, axis=1, keepdims=True)")
    r = g.grade(write(tmp_path / "s", "deep.py", no_mean))
    assert_graded(r, "fail", "'mean-missing'")
    assert "dW" in r.checks[0].output


def test_without_per_example_upstream_the_courses_linear_backward_divides_twice(tmp_path):
    """What the convention is for: handed the batch objective's dZ (its 1/m inside), a correct file divides twice."""
    g = Grader(load(str(write(tmp_path, "lb.toml", LINEAR_BACKWARD.replace("UPSTREAM", "")))), for_trusted_code())
    assert_graded(g.grade(EX / "solutions" / "dls_deep.py"), "fail", "'mean-twice'")


def test_one_layer_earns_its_points_when_another_layer_is_wrong():
    """dls-layer grades linear_activation_forward/backward on the student's own cache: the relu layer of a file whose
    L_model_backward uses sigmoid_backward everywhere is right."""
    g = Grader(load(str(EX / "assignments" / "dls-layer.toml")), for_trusted_code())
    assert_graded(g.grade(EX / "solutions" / "dls_deep.py"), "pass", "all gradient checks pass")
    assert_graded(g.grade(EX / "buggy" / "dls_deep_sigmoid_backward_everywhere.py"), "pass", "all gradient checks pass")
    assert_graded(g.grade(EX / "buggy" / "dls_deep_db_no_keepdims.py"), "fail", "db: expected shape (3, 1), got (3,)")


# --- course files shipped with the assignment ----------------------------------------------------------------------


def test_a_course_file_is_placed_beside_a_notebook_handed_in_alone(tmp_path):
    """The student's folder has no planar_utils.py: the assignment's copy is imported (it was 'pip install')."""
    r = grader_for("dls-planar").grade(write(tmp_path / "student", "Planar.py", PLANAR))
    assert_graded(r, "pass", "all gradient checks pass")
    assert not r.environment


def test_a_notebook_as_downloaded_from_the_course_imports_the_course_files(tmp_path):
    """The notebook's first cell imports testCases_v2 (a star import) and planar_utils: both are the assignment's."""
    cells = [c.strip("\n").replace("get_ipython().run_line_magic('matplotlib', 'inline')", "%matplotlib inline")
             for c in re.split(r"# In\[\d+\]:\n", PLANAR)[1:]]
    assert "from testCases_v2 import *" in cells[0] and "%matplotlib inline" in cells[0]
    nb = {"cells": [{"cell_type": "code", "execution_count": i + 1, "metadata": {}, "outputs": [], "source": c.splitlines(True)}
                    for i, c in enumerate(cells)], "metadata": {}, "nbformat": 4, "nbformat_minor": 4}
    path = write(tmp_path, "Planar_data_classification_with_onehidden_layer.ipynb", json.dumps(nb))
    assert_graded(grader_for("dls-planar").grade(path), "pass", "all gradient checks pass")


def test_the_students_own_copy_of_a_course_file_wins(tmp_path):
    own = (BUNDLED / "course" / "dls-planar" / "planar_utils.py").read_text().replace(
        "return 1 / (1 + np.exp(-x))", "return 1 / (1 + np.exp(-2 * x))")
    write(tmp_path / "student", "planar_utils.py", own)
    write(tmp_path / "student", "Planar.py", PLANAR)
    r = grader_for("dls-planar").grade(tmp_path / "student")
    assert r.verdict == "fail" and "forward output" not in {c.name for c in r.checks if c.passed}


def test_course_files_are_checked_and_inherited_from_their_own_assignment(tmp_path):
    broken = PLANAR_CONTRACT.replace('"course/dls-planar/planar_utils.py"', '"course/dls-planar/planar_util.py"')
    with pytest.raises(AssignmentError, match=r"\[environment\]: files lists 'course/dls-planar/planar_util.py', which is not a file"):
        load(str(write(tmp_path, "a.toml", broken)))
    child = load(str(write(tmp_path, "b.toml", 'contract = "dls-planar"\n[[probe]]\nname = "p"\nsizes = [2, 3, 1]\nbatch = 2\n')))
    assert [name for name, _ in child.environment.files] == ["planar_utils.py", "testCases_v2.py"]
    assert child.environment.beside({"sub/x.py": b"", "sub/testCases_v2.py": b""}, "sub/x.py") == {
        "sub/planar_utils.py": (BUNDLED / "course" / "dls-planar" / "planar_utils.py").read_bytes()}


def test_a_course_file_is_also_placed_under_the_versioned_name_a_submission_imports():
    """2018's notebooks import testCases_v4 and dnn_utils_v2, the same course files under that year's names."""
    from bpcheck.grader.assignment import Environment

    env = Environment(files=(("testCases.py", b"T"), ("dnn_utils.py", b"D")))
    student = {"hw/nb.py": b"import numpy as np\nfrom testCases_v4 import *\nfrom dnn_utils_v2 import relu\nimport testCases_extra\n"}
    assert env.beside(student, "hw/nb.py") == {"hw/testCases.py": b"T", "hw/testCases_v4.py": b"T",
                                               "hw/dnn_utils.py": b"D", "hw/dnn_utils_v2.py": b"D"}
    own = {**student, "hw/dnn_utils_v2.py": b"mine"}  # the student's own copy wins, under either name
    assert env.beside(own, "hw/nb.py") == {"hw/testCases.py": b"T", "hw/testCases_v4.py": b"T", "hw/dnn_utils.py": b"D"}
