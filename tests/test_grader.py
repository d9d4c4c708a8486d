"""bpcheck grade: every contract grades its examples, reports are well-formed, batches resume."""

from __future__ import annotations

import csv
import io
import json
import os
import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path

import pytest

from bpcheck.grader import gradescope, report
from bpcheck.grader.assignment import bundled, load
from bpcheck.cli import main
from bpcheck.grader.batch import grade_batch
from bpcheck.grader.grade import Grader

from .sandboxes import for_trusted_code, graded, grader_for
from .verdicts import assert_graded

ROOT = Path(__file__).resolve().parents[1]
EX = ROOT / "examples"

# (assignment, example, verdict, words the summary must contain)
EXPECTED = [
    ("canonical", "solutions/canonical.py", "pass", "all gradient checks pass"),
    ("canonical", "buggy/canonical_deriv_on_z.py", "fail", "'deriv-on-z'"),
    ("canonical", "buggy/canonical_sign.py", "fail", "differs only by a convention: sign"),
    ("canonical", "starters/canonical.py", "error",
     "backprop(...) is not implemented yet (the starter's placeholder: compute the forward pass, then BP1-BP4) (at canonical.py:"),
    ("canonical", "seeds/seed000_xor.py", "error", "does not define 'backprop'"),
    ("blog-class", "seeds/seed002_class.py", "pass", "all gradient checks pass"),
    ("blog-class", "solutions/blog_class.py", "pass", "all gradient checks pass"),
    ("blog-class", "seeds/seed000_class.py", "pass", "correct, with the loss ½Σ(a − y)²"),
    ("blog-class", "buggy/blog_class_stale_weights.py", "fail", "'stale-weights'"),
    ("blog-class", "starters/blog_class.py", "error", "feedforward(...) is not implemented yet (the starter's placeholder) (at blog_class.py:"),
    ("nielsen", "solutions/nielsen.py", "pass", "all gradient checks pass"),
    ("nielsen", "buggy/nielsen_no_transpose.py", "fail", "'bp2-no-transpose'"),
    ("nielsen", "starters/nielsen.py", "error", "not implemented yet (the starter's placeholder) (at nielsen.py:"),
    ("cs231n-two-layer", "solutions/cs231n_two_layer.py", "pass", "all gradient checks pass"),
    ("cs231n-two-layer", "buggy/cs231n_reg_half.py", "fail", "'reg-half'"),
    ("cs231n-two-layer", "starters/cs231n_two_layer.py", "error", "not implemented yet (the starter's placeholder) (at cs231n_two_layer.py:"),
    ("coursera-ex4", "solutions/coursera_ex4.py", "pass", "all gradient checks pass"),
    ("coursera-ex4", "buggy/coursera_ex4_reg_bias.py", "fail", "'reg-on-biases'"),
    ("coursera-ex4", "starters/coursera_ex4.py", "error", "not implemented yet (the starter's placeholder) (at coursera_ex4.py:"),
    ("dls-planar", "solutions/dls_planar.py", "pass", "all gradient checks pass"),
    ("dls-planar", "buggy/dls_planar_db_no_mean.py", "fail", "grads['db1'], grads['db2']: N× the right values (the batch's 1/N missing)"),
    ("dls-planar", "buggy/dls_planar_db_no_keepdims.py", "fail", "grads['db1']: expected shape (4, 1), got (4,)"),
    ("dls-planar", "buggy/dls_planar_wrong_cache.py", "fail", "'deriv-on-z-hidden'"),
    ("dls-planar", "buggy/dls_planar_sigmoid_derivative.py", "fail", "'tanh-as-sigmoid'"),
    ("dls-planar", "starters/dls_planar.py", "error",
     "forward_propagation(...) is not implemented yet (the starter's placeholder: the answer block at dls_planar.py:37 is as "
     "the starter left it; NameError: name 'A2' is not defined) (at dls_planar.py:"),
    ("dls-deep", "solutions/dls_deep.py", "pass", "all gradient checks pass"),
    ("dls-deep", "buggy/dls_deep_mean_twice.py", "fail", "differs only by a convention: 1/N applied twice"),
    ("dls-deep", "buggy/dls_deep_db_no_keepdims.py", "fail", "grads['db1']: expected shape (4, 1), got (4,)"),
    ("dls-deep", "buggy/dls_deep_sigmoid_backward_everywhere.py", "fail", "'sigmoid-everywhere'"),
    ("dls-deep", "buggy/dls_deep_activation_cache_holds_A.py", "fail", "wrong: grads['dW1'], grads['db1']"),
    ("dls-deep", "buggy/dls_deep_wrong_cache.py", "error", "L_model_backward(...) raised IndexError"),
    ("dls-deep", "starters/dls_deep.py", "error", "L_model_forward(...) is not implemented yet (the starter's placeholder: "
     "the answer block at dls_deep.py:92 is as the starter left it; NameError: name 'AL' is not defined) (at dls_deep.py:"),
    ("dls-deep-steps", "solutions/dls_deep.py", "pass", "all 9 graded functions pass"),
    ("dls-deep-steps", "solutions/dls_deep_steps_relu_lt.py", "pass", "all 9 graded functions pass"),
    ("dls-deep-steps", "buggy/dls_deep_steps_no_transpose.py", "fail",
     "linear_backward: no gradients: failed on every probe: linear_backward(...) raised ValueError"),
    ("dls-deep-steps", "buggy/dls_deep_steps_cost_no_mean.py", "fail", "compute_cost: loss value failed: wrong loss"),
    ("dls-deep-steps", "buggy/dls_deep_db_no_keepdims.py", "fail",
     "linear_backward: gradient: one-layer failed: wrong on 5-3 network, 4 examples: db: expected shape (3, 1), got (3,)"),
    ("cs231n-layers", "solutions/cs231n_assignment2/cs231n/layers.py", "pass", "all 5 graded functions pass"),
    ("cs231n-layers", "buggy/cs231n_layers_dw_mean_twice.py", "fail", "affine_backward: differs only by a convention: 1/N applied twice"),
    # the starter's functions return None: not implemented, named by the function that returns it
    ("cs231n-layers", "starters/cs231n_assignment2/cs231n/layers.py", "error",
     "affine_forward: forward output failed: wrong forward output: one-layer: missing (affine_forward(...) is not "
     "implemented yet (the starter's placeholder: affine_forward(...)[0] is None)); affine_backward: no gradients"),
    ("cs231n-bn-dropout-conv", "solutions/cs231n_assignment2/cs231n/layers.py", "pass", "all 10 graded functions pass"),
    ("cs231n-bn-dropout-conv", "starters/cs231n_assignment2/cs231n/layers.py", "error",
     "batchnorm_forward: batchnorm_forward(...) is not implemented yet (the starter's placeholder: "
     "batchnorm_forward(...)[0] is None); batchnorm_backward: batchnorm_backward(...) is not implemented yet"),
    ("cs231n-fc-net", "solutions/cs231n_assignment2", "pass", "all gradient checks pass"),
    ("cs231n-fc-net", "buggy/cs231n_fc_net_reg_missing_from_grads.py", "fail", "right when reg=0, wrong when reg>0"),
    ("cs231n-fc-net", "starters/cs231n_assignment2", "error",
     "no gradients: failed on every probe: loss(...) raised KeyError: \"loss(...)[1]: grads has no key 'W1'; it has []\""),
    ("dls-deep-steps", "starters/dls_deep.py", "error", "linear_forward: forward output failed: wrong forward output: "
     "one-layer: missing (linear_forward(...) is not implemented yet (the starter's placeholder: the answer block at "
     "dls_deep.py:36 is as the starter left it; NameError: name 'Z' is not defined) (at dls_deep.py:"),
]

def test_every_contract_is_bundled():
    assert bundled() == sorted({a for a, *_ in EXPECTED})


@pytest.mark.parametrize("assignment, example, verdict, words", EXPECTED, ids=[f"{a}:{e}" for a, e, *_ in EXPECTED])
def test_examples_grade_as_expected(assignment, example, verdict, words):
    assert_graded(graded(assignment, EX / example), verdict, words)


def test_convention_only_difference_can_be_accepted(tmp_path):
    toml = (ROOT / "grader" / "assignments" / "canonical.toml").read_text().replace("penalise_conventions = true", "penalise_conventions = false")
    (tmp_path / "lenient.toml").write_text(toml)
    r = Grader(load(str(tmp_path / "lenient.toml")), for_trusted_code()).grade(EX / "buggy" / "canonical_sign.py")
    grads = [c for c in r.checks if c.name.startswith("gradient")]
    assert all(c.passed and "accepted: differs only by a convention: sign" in c.output for c in grads)
    deriv = Grader(load(str(tmp_path / "lenient.toml")), for_trusted_code()).grade(EX / "buggy" / "canonical_deriv_on_z.py")
    assert not any(c.passed for c in deriv.checks if c.name.startswith("gradient"))  # a real bug is never accepted


def test_feedback_uses_the_students_names():
    r = graded("coursera-ex4", EX / "buggy" / "coursera_ex4_reg_bias.py")
    failed = " ".join(c.output for c in r.checks if not c.passed)
    assert "Theta1_grad[:, 0] (bias column)" in failed and "W1" not in failed.split("Diagnosis")[0]
    r = graded("canonical", EX / "buggy" / "canonical_deriv_on_z.py")
    assert "grad_weights[0]" in r.checks[0].output
    assert r.diagnoses[0]["smallest_failing_case"].startswith("one-layer: 4-2")


def test_submission_process_never_imports_torch_or_jax(tmp_path):
    sub = tmp_path / "probe.py"
    sub.write_text((EX / "solutions" / "canonical.py").read_text() + (
        "\nimport sys\n_real = backprop\n"
        "def backprop(weights, biases, x, y):\n"
        "    assert not ({'torch', 'jax', 'jaxlib'} & set(sys.modules)), 'an oracle framework was imported'\n"
        "    return _real(weights, biases, x, y)\n"))
    assert grader_for("canonical").grade(sub).verdict == "pass"


def test_folder_submission_with_helpers(tmp_path):
    d = tmp_path / "student42"
    (d / "helpers").mkdir(parents=True)
    (d / "helpers" / "__init__.py").write_text("")
    (d / "helpers" / "act.py").write_text("import numpy as np\ndef sigmoid(z):\n    return 1 / (1 + np.exp(-z))\n")
    (d / "submission.py").write_text((EX / "solutions" / "canonical.py").read_text().replace(
        "def sigmoid(z):\n    return 1.0 / (1.0 + np.exp(-z))", "from helpers.act import sigmoid"))
    assert grader_for("canonical").grade(d).verdict == "pass"


def test_a_record_that_cannot_be_saved_keeps_the_grade_and_leaves_no_temporary_file(tmp_path, monkeypatch):
    import errno

    from bpcheck.grader import grade as grade_module

    def no_space(src, dst):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(grade_module.os, "replace", no_space)
    (r,) = grade_batch(grader_for("canonical"), [EX / "solutions" / "canonical.py"], 1, tmp_path / "state")
    assert r.verdict == "pass" and r.score == r.max_score
    assert f"not saved for resuming: {os.strerror(errno.ENOSPC)}" in r.message
    assert list((tmp_path / "state").iterdir()) == []  # neither a record nor its half-written temporary file


def test_batch_resumes_without_regrading(tmp_path):
    paths = [EX / "solutions" / "canonical.py", EX / "buggy" / "canonical_sign.py"]
    seen = []
    first = grade_batch(grader_for("canonical"), paths, jobs=2, state=tmp_path, on_result=lambda r, reused: seen.append(reused))
    assert seen == [False, False] and len(list(tmp_path.glob("*.json"))) == 2
    seen.clear()
    again = grade_batch(grader_for("canonical"), paths, jobs=2, state=tmp_path, on_result=lambda r, reused: seen.append(reused))
    assert seen == [True, True]
    assert [r.as_dict() | {"seconds": 0} for r in again] == [r.as_dict() | {"seconds": 0} for r in first]


def test_a_changed_submission_is_regraded(tmp_path):
    sub = tmp_path / "s.py"
    sub.write_text((EX / "buggy" / "canonical_sign.py").read_text())
    assert grade_batch(grader_for("canonical"), [sub], 1, tmp_path / "state")[0].verdict == "fail"
    sub.write_text((EX / "solutions" / "canonical.py").read_text())
    assert grade_batch(grader_for("canonical"), [sub], 1, tmp_path / "state")[0].verdict == "pass"


@pytest.fixture(scope="module")
def two_results():
    g = grader_for("canonical")
    return [g.grade(EX / "solutions" / "canonical.py"), g.grade(EX / "buggy" / "canonical_deriv_on_z.py")]


def test_json_report_fields(two_results):
    data = json.loads(report.as_json(two_results))
    assert [d["verdict"] for d in data] == ["pass", "fail"]
    for d in data:
        assert {"submission", "verdict", "score", "max_score", "checks", "diagnoses"} <= set(d)
        assert all({"name", "score", "max_score", "status", "output"} <= set(c) for c in d["checks"])
    assert data[1]["diagnoses"][0]["matches"] == ["deriv-on-z"]


def test_gradescope_results_schema(two_results):
    gs = gradescope.results_json(two_results[1])
    assert gs["score"] == sum(t["score"] for t in gs["tests"])
    for t in gs["tests"]:
        assert set(t) == {"name", "score", "max_score", "status", "output", "visibility"}
        assert t["status"] in ("passed", "failed") and t["visibility"] in ("visible", "after_due_date")
    # a hidden check carries points: Gradescope's "hidden" is for tests worth none, after_due_date hides the total too
    assert [t["visibility"] for t in gs["tests"] if t["name"] == "gradient: deep-saturated"] == ["after_due_date"]


def test_junit_and_csv(two_results):
    root = ET.fromstring(report.junit(two_results, "canonical"))
    suites = root.findall("testsuite")
    assert len(suites) == 2 and suites[0].get("failures") == "0" and int(suites[1].get("failures")) > 0
    assert suites[1].find("testcase/failure") is not None
    rows = list(csv.DictReader(io.StringIO(report.gradebook_csv(two_results))))
    assert [r["verdict"] for r in rows] == ["pass", "fail"] and "deriv-on-z" in rows[1]["diagnosis"]


def test_cli_grade_exit_codes_and_outputs(tmp_path, capsys):
    out = tmp_path / "gb.csv"
    code = main(["grade", str(EX / "buggy" / "canonical_sign.py"), "--assignment", "canonical", "--format", "csv",
                 "--out", str(out), "--state", str(tmp_path / "st")])
    assert code == 0 and "sign" in out.read_text()
    assert main(["grade", str(tmp_path / "nope.py"), "--assignment", "canonical"]) == 2
    assert "not found" in capsys.readouterr().err
    assert main(["grade", str(EX / "solutions" / "canonical.py"), "--assignment", "no-such"]) == 2
    assert "no bundled assignment 'no-such'" in capsys.readouterr().err


def test_autograder_zip(tmp_path):
    out = tmp_path / "ag.zip"
    assert main(["autograder", "--assignment", "cs231n-two-layer", "--out", str(out)]) == 0
    with zipfile.ZipFile(out) as z:
        names = set(z.namelist())
        assert {"setup.sh", "run_autograder", "cs231n-two-layer.toml", "bpcheck/pyproject.toml", "bpcheck/grader/runner.py"} <= names
        assert (z.getinfo("run_autograder").external_attr >> 16) & 0o111
        assert "--format gradescope" in z.read("run_autograder").decode()


def test_deployments_carry_the_assignment_file_they_were_given(tmp_path):
    """Any file --assignment accepts (here no .toml suffix, and a name no bundled file has) is the one deployed."""
    own = tmp_path / "hw3_assignment"
    own.write_text((ROOT / "grader" / "assignments" / "canonical.toml").read_text().replace('name = "canonical"', 'name = "hw3"'))
    assert main(["autograder", "--assignment", str(own), "--out", str(tmp_path / "ag.zip")]) == 0
    with zipfile.ZipFile(tmp_path / "ag.zip") as z:
        assert z.read("hw3_assignment").decode() == own.read_text()
        assert '"$ROOT/source/hw3_assignment"' in z.read("run_autograder").decode()
    assert main(["prairielearn", "--assignment", str(own), "--out", str(tmp_path / "course")]) == 0
    shared = tmp_path / "course" / "serverFilesCourse" / "bpcheck"
    assert (shared / "hw3_assignment").read_text() == own.read_text()
    assert '"$HERE/hw3_assignment"' in (shared / "run.sh").read_text()


def test_bad_assignment_files_are_named(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text('contract = "canonical"\n[limits]\ntimeout = 3\n[[probe]]\nsizes=[2,1]\n')
    with pytest.raises(ValueError, match=r"\[limits\]: unknown key 'timeout'; did you mean 'timeout_seconds'\?"):
        load(str(bad))
    bad.write_text('contract = "tensorflow"\n')
    with pytest.raises(ValueError, match=r"contract = 'tensorflow'; expected a bundled assignment"):
        load(str(bad))


#: Scores of failing examples, check by check: what the side checks earn beside the checks already right.
# 'inputs left unmutated' is credited only beside a right gradient: a right forward pass or loss is not backprop.
SCORES = [
    ("blog-class", "buggy/blog_class_stale_weights.py", {"forward output": 5.0}),
    ("cs231n-two-layer", "buggy/cs231n_extra_softmax_derivative.py", {"loss value": 5.0, "forward output": 5.0}),
    ("canonical", "buggy/canonical_output_bias_first_example.py",
     {"gradient: square-batch-1": 10.0, "inputs left unmutated": 5.0}),
    ("nielsen", "buggy/nielsen_no_transpose.py", {}),
]


@pytest.mark.parametrize("assignment, example, earned", SCORES, ids=[e for _, e, _ in SCORES])
def test_failing_examples_earn_exactly_their_side_checks(assignment, example, earned):
    r = graded(assignment, EX / example)
    assert r.verdict == "fail"
    assert {c.name: c.score for c in r.checks if c.score > 0} == earned
    assert r.score == sum(earned.values())


def test_a_passing_submission_runs_once_untraced_and_a_failing_one_again_traced(monkeypatch):
    """Only a failing result reads a line: tracing every run halved a class's throughput (docs/performance.md)."""
    g = Grader(load("canonical"), for_trusted_code())
    runs = []
    real = g._run
    monkeypatch.setattr(g, "_run", lambda sub, trace=True: runs.append(trace) or real(sub, trace))
    assert g.grade(EX / "solutions" / "canonical.py").verdict == "pass" and runs == [False]
    runs.clear()
    r = g.grade(EX / "buggy" / "canonical_sign.py")
    assert r.verdict == "fail" and runs == [False, True] and "first wrong value" in r.message, (runs, r.message)
