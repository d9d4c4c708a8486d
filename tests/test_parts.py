"""Assignments of several graded functions ([[part]] tables), and functions graded on their outputs alone (a forward
pass, a cost): each part has its own probes and points, and a crash costs that function's points only
(docs/assignments.md, "Several graded functions")."""

from __future__ import annotations

from pathlib import Path

import pytest

from bpcheck.grader.assignment import AssignmentError, load
from bpcheck.grader.grade import Grader

from .sandboxes import for_trusted_code, grader_for
from .verdicts import assert_graded

ROOT = Path(__file__).resolve().parents[1]
EX = ROOT / "examples"
BUNDLED = ROOT / "grader" / "assignments"
DEEP = (EX / "solutions" / "dls_deep.py").read_text()
STEPS = (BUNDLED / "dls-deep-steps.toml").read_text().replace('"course/', f'"{BUNDLED}/course/')
FORWARD_PARTS = ("linear_forward", "linear_activation_forward(relu)", "linear_activation_forward(sigmoid)",
                 "L_model_forward", "compute_cost")

def steps() -> Grader:
    return grader_for("dls-deep-steps")


def write(folder: Path, name: str, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(text)
    return folder / name


def by_part(result) -> dict[str, tuple[float, float]]:
    """(score, max) per part, from the check names "part: check"."""
    out: dict[str, tuple[float, float]] = {}
    for c in result.checks:
        part = c.name.split(": ", 1)[0]
        score, top = out.get(part, (0.0, 0.0))
        out[part] = (score + c.score, top + c.max_score)
    return out


# --- one report, points per function ---------------------------------------------------------------------------------


def test_the_solution_earns_every_point_of_every_function():
    r = steps().grade(EX / "solutions" / "dls_deep.py")
    assert_graded(r, "pass", "all 9 graded functions pass")
    # the rubric of the TOML, written out: forward 4 + 3 + 3 + 8, cost 6, backward 8 + 6 + 6 + 2 probes × 10 + 2
    assert (r.score, r.max_score) == (66.0, 66.0)
    assert by_part(r)["linear_forward"] == (4.0, 4.0) and by_part(r)["L_model_backward"] == (22.0, 22.0)


def test_a_crash_in_a_backward_function_costs_that_function_only():
    """dA_prev = np.dot(W, dZ) raises in linear_backward (and in the functions built on it); the forward functions
    and the cost, right, keep their 24 points."""
    r = steps().grade(EX / "buggy" / "dls_deep_steps_no_transpose.py")
    parts = by_part(r)
    assert r.verdict == "fail" and r.score == 24.0
    assert all(parts[p][0] == parts[p][1] > 0 for p in FORWARD_PARTS)
    assert parts["linear_backward"] == (0.0, 8.0) and parts["L_model_backward"] == (0.0, 22.0)
    assert "linear_backward: no gradients: failed on every probe: linear_backward(...) raised ValueError" in r.message


def test_a_wrong_cost_costs_the_cost_only():
    r = steps().grade(EX / "buggy" / "dls_deep_steps_cost_no_mean.py")
    assert by_part(r)["compute_cost"] == (0.0, 6.0) and r.score == 60.0
    assert r.message.startswith("compute_cost: loss value failed")
    assert not any(f"{p}:" in r.message for p in by_part(r) if p != "compute_cost")  # only the failing one is named


def test_a_forward_function_that_crashes_names_the_error_on_its_output(tmp_path):
    broken = DEEP.replace("    Z = np.dot(W, A) + b\n", "    Z = np.dot(A, W) + b\n")
    r = steps().grade(write(tmp_path, "deep.py", broken))
    check = next(c for c in r.checks if c.name == "linear_forward: forward output")
    assert not check.passed and "missing (linear_forward(...) raised ValueError" in check.output
    assert by_part(r)["compute_cost"] == (6.0, 6.0)  # graded on the reference's AL, apart from the forward pass


def test_a_wrong_forward_value_fails_the_forward_check(tmp_path):
    wrong = DEEP.replace("        A, activation_cache = relu(Z)\n", "        A, activation_cache = sigmoid(Z)\n")
    r = steps().grade(write(tmp_path, "deep.py", wrong))
    parts = by_part(r)
    assert parts["linear_activation_forward(relu)"] == (0.0, 3.0) and parts["L_model_forward"] == (0.0, 8.0)
    assert parts["linear_forward"] == (4.0, 4.0) and parts["linear_activation_forward(sigmoid)"] == (3.0, 3.0)
    assert "linear_activation_forward(relu): forward output failed: wrong forward output: one-layer: max |error|" in r.message


# --- forward-only contracts ---------------------------------------------------------------------------------------


FORWARD_ONLY = """
name = "forward-only"
module = "Building_your_Deep_Neural_Network_Step_by_Step"
[network]
hidden = "relu"
output = "sigmoid"
loss = "bce"
[layout]
examples = "columns"
weights = "out_in"
biases = "column"
parameters = "dict"
[environment]
files = ["COURSE/dnn_utils.py", "COURSE/testCases.py"]
[points]
forward = 5
unmutated = 1
[[entry]]
function = "L_model_forward"
arguments = ["x", "params"]
returns = ["output", "_"]
[[probe]]
sizes = [4, 3, 1]
batch = 3
seed = 5
"""


def forward_only(tmp_path: Path) -> Grader:
    text = FORWARD_ONLY.replace("COURSE", str(BUNDLED / "course" / "dls-deep"))
    return Grader(load(str(write(tmp_path, "fwd.toml", text))), for_trusted_code())


def test_a_forward_only_contract_grades_the_forward_pass(tmp_path):
    g = forward_only(tmp_path)
    r = g.grade(EX / "solutions" / "dls_deep.py")
    assert_graded(r, "pass", "all checks pass")
    assert [(c.name, c.score) for c in r.checks] == [("forward output", 5.0), ("inputs left unmutated", 1.0)]
    wrong = DEEP.replace("    Z = np.dot(W, A) + b\n", "    Z = np.dot(W, A) - b\n")
    r = g.grade(write(tmp_path / "s", "deep.py", wrong))
    assert r.verdict == "fail" and r.score == 0.0 and "wrong forward output" in r.message


def test_a_forward_only_contract_that_crashes_is_an_error(tmp_path):
    r = forward_only(tmp_path).grade(EX / "starters" / "dls_deep.py")
    assert_graded(r, "error", "L_model_forward(...) is not implemented yet")


def test_large_inputs_need_gradients(tmp_path):
    text = FORWARD_ONLY.replace("COURSE", str(BUNDLED / "course" / "dls-deep")) + "[grading]\nlarge_inputs = true\n"
    with pytest.raises(AssignmentError, match="large_inputs = true checks gradients"):
        load(str(write(tmp_path, "fwd.toml", text)))


# --- the [[part]] schema ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("old, new, message", [
    ('probes = ["one-layer"]\npoints = { forward = 4 }', 'probes = ["one-layr"]\npoints = { forward = 4 }',
     r"\[\[part\]\] #1: probes = \['one-layr'\]; expected some of the \[\[probe\]\] names"),
    ('name = "linear_activation_forward(sigmoid)"', 'name = "linear_activation_forward(relu)"',
     r"\[\[part\]\] #3: name = 'linear_activation_forward\(relu\)' is another part's"),
    ('points = { forward = 4 }', 'points = { froward = 4 }', r"\[\[part\]\] #1 \[points\]: unknown key 'froward'"),
    ('probes = ["one-layer"]\npoints = { forward = 4 }', 'prbes = ["one-layer"]', r"\[\[part\]\] #1: unknown key 'prbes'"),
    ('name = "dls-deep-steps"', 'name = "dls-deep-steps"\n[[entry]]\nfunction = "f"\nreturns = "loss"', r"not both"),
])
def test_a_wrong_part_is_an_error_naming_it(tmp_path, old, new, message):
    assert old in STEPS
    with pytest.raises(AssignmentError, match=message):
        load(str(write(tmp_path, "a.toml", STEPS.replace(old, new, 1))))


def test_the_whole_assignment_requires_every_graded_function():
    a = load("dls-deep-steps")
    assert [names[0] for names in a.contract.forms[0].requires] == [
        "linear_forward", "linear_activation_forward", "L_model_forward", "compute_cost", "linear_backward",
        "linear_activation_backward", "L_model_backward"]
    assert [p.name for p in a.parts][:2] == ["linear_forward", "linear_activation_forward(relu)"]


@pytest.mark.parametrize("example, wrong", [
    ("cs231n_layers_dw_transposed.py", "affine_backward"),
    ("cs231n_layers_relu_mask_on_dout.py", "relu_backward"),
    ("cs231n_layers_softmax_no_mean.py", "softmax_loss"),
])
def test_a_wrong_cs231n_layer_costs_its_own_points_only(example, wrong):
    """relu_backward's and softmax_loss's dx are read as the gradients they give (d_scores), never through the student's
    affine_backward: a wrong affine_backward leaves them their points, and a wrong dx costs only its own function."""
    r = Grader(load("cs231n-layers"), for_trusted_code()).grade(EX / "buggy" / example)
    parts = by_part(r)
    assert set(parts) == {"affine_forward", "affine_backward", "relu_forward", "relu_backward", "softmax_loss"}
    assert parts[wrong][0] < parts[wrong][1]
    assert all(score == full > 0 for name, (score, full) in parts.items() if name != wrong), parts


def test_a_file_is_graded_for_the_functions_it_defines():
    """A student who did one notebook of three: the functions written earn their points, each missing one costs its own
    part only, said once at the end with the points it cost, never as an error of the whole file."""
    r = Grader(load("cs231n-bn-dropout-conv"), for_trusted_code()).grade(ROOT / "examples" / "real-style"
                                                                         / "cs231n-a2-2020-conv-buggy")
    parts = by_part(r)
    assert parts["conv_forward_naive"] == (4.0, 4.0) and parts["max_pool_forward_naive"] == (2.0, 2.0)
    assert parts["max_pool_backward_naive"] == (4.0, 4.0) and parts["conv_backward_naive"] == (0.0, 8.0)
    assert parts["batchnorm_forward"] == (0.0, 2.0) and parts["svm_loss"] == (0.0, 6.0)
    assert r.verdict == "fail" and r.score == 10.0 and r.max_score == 38.0
    assert r.message.endswith("not written (the file does not define them): batchnorm_backward, batchnorm_backward_alt, "
                              "dropout_forward, dropout_backward, svm_loss (18 points)"), r.message


def test_one_run_for_every_part_and_a_timeout_costs_its_own_part(tmp_path):
    """Every part's calls go to one sandboxed run; when that run times out (one function's endless loop), each part is
    run again on its own, so the loop costs svm_loss's points only and batch normalisation keeps its own."""
    text = (ROOT / "grader" / "assignments" / "cs231n-bn-dropout-conv.toml").read_text()
    text = text.replace("timeout_seconds = 20", "timeout_seconds = 3").replace("../../examples", str(EX))
    assignment = tmp_path / "short.toml"
    assignment.write_text(text)
    source = (EX / "buggy" / "cs231n_bn_constant_statistics.py").read_text()
    (tmp_path / "layers.py").write_text(source + "\n\ndef svm_loss(x, y):\n    while True:\n        pass\n")
    r = Grader(load(str(assignment)), for_trusted_code()).grade(tmp_path / "layers.py")
    parts = by_part(r)
    assert parts["batchnorm_forward"] == (2.0, 2.0) and parts["batchnorm_backward_alt"] == (2.0, 2.0)
    assert parts["batchnorm_backward"] == (0.0, 6.0) and parts["svm_loss"] == (0.0, 6.0)
    assert "svm_loss: " in r.message and "time" in r.message.split("svm_loss: ", 1)[1], r.message


def test_no_global_one_graded_function_sets_reaches_the_next(tmp_path):
    """Parts share a run but not a module: each part's calls begin with a fresh import of the submission's files, so
    svm_loss cannot lean on a global that max_pool_forward_naive (an earlier part) left, as separate runs never could."""
    source = (EX / "buggy" / "cs231n_pool_whole_window.py").read_text()
    source = source.replace("    cache = (x, pool_param)\n", "    cache = (x, pool_param)\n    SEEN.append(1)\n")
    (tmp_path / "layers.py").write_text(source + "\n\nSEEN = []\n\n\ndef svm_loss(x, y):\n"
                                        "    return float(len(SEEN)), np.zeros_like(x)\n")
    r = Grader(load("cs231n-bn-dropout-conv"), for_trusted_code()).grade(tmp_path / "layers.py")
    svm = [c for c in r.checks if c.name == "svm_loss: loss value: case 1"]
    assert svm and "loss = 0, expected" in svm[0].output, [(c.name, c.output) for c in r.checks]
