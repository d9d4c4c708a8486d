"""Contracts as data: strict assignment files, accepted conventions, new contracts without code, the cache key."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bpcheck.grader import grade as grader_grade
from bpcheck.grader.assignment import AssignmentError, load, resolve
from bpcheck.cli import main
from bpcheck.grader.contracts import Conventions, Encoder
from bpcheck.grader.batch import grade_batch
from bpcheck.grader.grade import Grader

from .sandboxes import for_trusted_code
from .verdicts import assert_said

ROOT = Path(__file__).resolve().parents[1]
EX = ROOT / "examples"
BUNDLED = ROOT / "grader" / "assignments"
MINIMAL = 'contract = "canonical"\n[[probe]]\nname = "p"\nsizes = [3, 2]\nbatch = 2\n'


def write(tmp_path: Path, text: str, name: str = "a.toml") -> str:
    (tmp_path / name).write_text(text)
    return str(tmp_path / name)


# --- strict configuration ---------------------------------------------------------------------------------------


def test_every_key_the_loader_accepts_is_in_the_schema_document():
    """docs/assignments.md is the schema: a key the loader accepts but the page does not name is undocumented."""
    import ast
    import dataclasses

    from bpcheck.grader.assignment import POINTS
    from bpcheck.grader.sandbox import Limits

    keys = {f.name for f in dataclasses.fields(Limits)} | set(POINTS)
    for node in ast.walk(ast.parse((ROOT / "grader" / "assignment.py").read_text())):
        if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "_keys" and isinstance(node.args[1], ast.Tuple):
            keys |= {e.value for e in node.args[1].elts if isinstance(e, ast.Constant)}
    doc = (ROOT / "docs" / "assignments.md").read_text()
    assert len(keys) > 50 and "penalise_conventions" in keys and "timeout_seconds" in keys
    assert [k for k in sorted(keys) if not any(f"{q}" in doc for q in (f"`{k}`", f"[{k}]", f"[[{k}]]"))] == []


@pytest.mark.parametrize("typo, message", [
    ("[grading]\npenalize_conventions = false\n", r"\[grading\]: unknown key 'penalize_conventions'; did you mean 'penalise_conventions'\?"),
    ("[limit]\ntimeout_seconds = 3\n", r"unknown key \[limit\]; did you mean 'limits'\?"),
    ("[limits]\ntimeout = 3\n", r"\[limits\]: unknown key 'timeout'; did you mean 'timeout_seconds'\?"),
    ("[points]\ngradients = 3\n", r"\[points\]: unknown key 'gradients'; did you mean 'gradient'\?"),
    ("hidden_checks = ['los']\n", r"hidden_checks lists 'los'; did you mean 'loss'\?"),
])
def test_an_unknown_key_is_an_error_with_the_nearest_one(tmp_path, typo, message):
    head, probe = MINIMAL.split("[[probe]]")
    with pytest.raises(AssignmentError, match=message):
        load(write(tmp_path, head + typo + "[[probe]]" + probe))


def test_a_typo_in_a_probe_cannot_unhide_it(tmp_path):
    with pytest.raises(AssignmentError, match=r"\[\[probe\]\] #1: unknown key 'hiden'; did you mean 'hidden'\?"):
        load(write(tmp_path, MINIMAL + "hiden = true\n"))


def test_contract_tables_are_checked_too(tmp_path):
    bad = (BUNDLED / "canonical.toml").read_text().replace('loss = "half_sse"', 'loss = "half_mse"')
    with pytest.raises(AssignmentError, match=r"loss = 'half_mse'; expected one of \['half_sse', 'sse'"):
        load(write(tmp_path, bad))
    bad = (BUNDLED / "canonical.toml").read_text().replace('arguments = ["weights", "biases", "x", "y"]',
                                                             'arguments = ["weights", "biases", "inputs", "y"]')
    with pytest.raises(AssignmentError, match=r"argument 'inputs': unknown"):
        load(write(tmp_path, bad))
    bad = (BUNDLED / "canonical.toml").read_text().replace('returns = ["d_weights", "d_biases"]', 'returns = ["dweights", "d_biases"]')
    with pytest.raises(AssignmentError, match=r"unknown output 'dweights'"):
        load(write(tmp_path, bad))
    bad = (BUNDLED / "cs231n-two-layer.toml").read_text().replace("[accept]", "[accept]\nlabel_base = [0]")
    with pytest.raises(AssignmentError, match=r"\[accept\]: label_base lists 0, which is already the assignment's own"):
        load(write(tmp_path, bad))


def test_bundled_names_resolve_first_and_case_insensitively(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "canonical").mkdir()  # a folder of submissions named like the assignment
    assert resolve("canonical") == BUNDLED / "canonical.toml"
    assert resolve("CS231N-Two-Layer") == BUNDLED / "cs231n-two-layer.toml"
    with pytest.raises(AssignmentError, match=r"no bundled assignment 'coursera_ex4'; did you mean 'coursera-ex4'\?"):
        resolve("coursera_ex4")
    with pytest.raises(AssignmentError, match=r"\./canonical is a folder"):
        resolve("./canonical")
    assert main(["grade", str(EX / "solutions" / "canonical.py"), "--assignment", "Canonical", "--format", "json",
                 "--state", str(tmp_path / "st")]) == 0
    assert json.loads(capsys.readouterr().out)[0]["verdict"] == "pass"


def test_assignment_check_validates_and_grades_the_solution(tmp_path, capsys):
    assert main(["assignment", "check", "coursera-ex4"]) == 0
    out = capsys.readouterr().out
    assert "valid" in out and "also accepted: labels numbered 1..K" in out and "pass 40/40" in out
    buggy = (BUNDLED / "canonical.toml").read_text().replace("../../examples/solutions/canonical.py",
                                                               str(EX / "buggy" / "canonical_sign.py"))
    assert main(["assignment", "check", write(tmp_path, buggy)]) == 1
    assert "differs only by a convention: sign" in capsys.readouterr().out
    assert main(["assignment", "check", write(tmp_path, MINIMAL + "hiden = true\n", "bad.toml")]) == 2
    assert "did you mean 'hidden'" in capsys.readouterr().err


# --- new contracts are data only --------------------------------------------------------------------------------


def test_a_class_with_backward_dout_is_graded_from_its_toml_alone(tmp_path):
    a = load(str(EX / "assignments" / "modular-backward.toml"))
    g = Grader(a, for_trusted_code())
    assert g.grade(EX / "solutions" / "modular_backward.py").verdict == "pass"
    wrong = (EX / "solutions" / "modular_backward.py").read_text().replace("delta = dx * a * (1 - a)", "delta = dx")
    (tmp_path / "mlp.py").write_text(wrong)
    r = g.grade(tmp_path / "mlp.py")
    assert r.verdict == "fail" and "dW[0]" in " ".join(c.output for c in r.checks)
    assert_said(r, "'bp2-no-sigma-prime'")
    assert_said(r, "hidden delta not multiplied by σ′(z) = a(1 − a)")


def test_a_tanh_softmax_network_is_graded_from_its_toml_alone(tmp_path):
    g = Grader(load(str(EX / "assignments" / "tanh-softmax.toml")), for_trusted_code())
    assert g.grade(EX / "solutions" / "tanh_softmax.py").verdict == "pass"
    doubled = (EX / "solutions" / "tanh_softmax.py").read_text().replace(
        "0.5 * reg * sum(", "reg * sum(").replace("+ reg * W", "+ 2 * reg * W")
    (tmp_path / "classifier.py").write_text(doubled)
    r = g.grade(tmp_path / "classifier.py")
    assert r.verdict == "pass" and "correct, with the penalty reg·ΣW²" in r.message


# --- accepted conventions ------------------------------------------------------------------------------------------


def test_the_assignment_decides_what_an_accepted_convention_costs(tmp_path):
    text = (BUNDLED / "blog-class.toml").read_text().replace("[grading]\n", "[grading]\nalternative_credit = 0.5\n")
    text = text.replace("../../examples/solutions/blog_class.py", str(EX / "solutions" / "blog_class.py"))
    g = Grader(load(write(tmp_path, text)), for_trusted_code())
    r = g.grade(EX / "seeds" / "seed000_class.py")
    assert r.verdict == "pass" and r.score == r.max_score / 2
    assert "(correct, with the loss ½Σ(a − y)²); the assignment gives 50% of the points for that convention" in r.message
    assert g.grade(EX / "seeds" / "seed002_class.py").score == r.max_score  # its own convention: full credit


def test_a_convention_the_catalog_also_explains_is_pointed_out(tmp_path):
    """Nielsen's network2 uses δ = a − y (cross-entropy); under the quadratic cost that is catalog entry 4."""
    src = (EX / "solutions" / "nielsen.py").read_text().replace("delta = (a - y) * a * (1 - a)", "delta = a - y")
    (tmp_path / "network.py").write_text(src)
    r = Grader(load("nielsen"), for_trusted_code()).grade(tmp_path / "network.py")
    assert r.verdict == "pass" and "correct, with the cross-entropy loss" in r.message
    assert ("under the assignment's own conventions the same numbers are output delta a − y under squared error, "
            "without the factor σ′(z) = a(1 − a)") in r.message


def test_conventions_round_trip_the_layouts():
    """Every layout sends the reference's parameters and reads them back unchanged."""
    import numpy as np

    from bpcheck.grader.contracts import Contract, Form, Reading
    from bpcheck.oracles.strategies import Case
    from bpcheck.reference import NetworkSpec

    spec = NetworkSpec((3, 4, 2), ("sigmoid", "sigmoid"))
    rng = np.random.default_rng(0)
    params = {k: rng.standard_normal(s) for k, s in spec.param_shapes().items()}
    case = Case(spec, params, rng.standard_normal((5, 3)), rng.random((5, 2)))
    for weights, biases in [("in_out", "vector"), ("out_in", "column"), ("out_in", "first_column"), ("out_in", "last_column"),
                            ("in_out", "first_row"), ("in_out", "last_row"), ("in_out", "row")]:
        for parameters in ("lists", "dict", "unrolled"):
            for order in ("C", "F"):
                conv = Conventions(weights=weights, biases=biases, parameters=parameters, order=order)
                enc = Encoder(conv, case, 0.0)
                enc.symbol("params")
                sent = {k.replace("params", "d_params"): v for k, v in enc.arrays.items()}
                reading = Reading()
                got = Contract((Form(),), conv)._params("d_params", "", enc, sent, reading)
                assert not reading.errors, (weights, biases, parameters, reading.errors)
                assert set(got) == set(params) and all(np.array_equal(got[k], params[k]) for k in params), (weights, biases, parameters, order)


# --- the cache key and 'reused' ------------------------------------------------------------------------------------


def test_the_key_changes_with_the_graders_code_and_the_assignment(tmp_path, monkeypatch):
    files = {"s.py": b"x = 1\n"}
    g = Grader(load("canonical"), for_trusted_code())
    other = Grader(load(write(tmp_path, (BUNDLED / "canonical.toml").read_text().replace("gradient = 10", "gradient = 12"))), for_trusted_code())
    assert g.key(files) != other.key(files)
    before = g.key(files)
    monkeypatch.setattr(grader_grade, "code_fingerprint", lambda: "an upgraded grader")
    assert g.key(files) != before


def test_reused_means_from_an_earlier_run_and_copies_are_named(tmp_path):
    g = Grader(load("canonical"), for_trusted_code())
    paths = []
    for name in ("alice", "bob"):  # two folders holding the same file
        (tmp_path / name).mkdir()
        (tmp_path / name / "submission.py").write_text((EX / "solutions" / "canonical.py").read_text())
        paths.append(tmp_path / name)
    seen = []
    first = grade_batch(g, paths, jobs=2, state=tmp_path / "st", on_result=lambda r, reused: seen.append(reused))
    assert seen == [False, False]
    copies = sorted((r.submission, r.duplicate_of) for r in first if r.duplicate_of)  # whichever thread came first
    assert len(copies) == 1 and {copies[0][0], copies[0][1]} == {str(p) for p in paths}
    seen.clear()
    grade_batch(g, paths, jobs=2, state=tmp_path / "st", on_result=lambda r, reused: seen.append(reused))
    assert seen == [True, True]


def test_a_fitted_learning_rate_is_never_negative(tmp_path):
    """A step against the gradient is a sign slip, not a learning rate of −1."""
    src = (EX / "real-style" / "blog" / "original.py").read_text()
    (tmp_path / "blog.py").write_text(src.replace("self.weights1 += d_weights1", "self.weights1 -= d_weights1")
                                         .replace("self.weights2 += d_weights2", "self.weights2 -= d_weights2"))
    r = Grader(load("blog-class"), for_trusted_code()).grade(tmp_path / "blog.py")
    assert r.verdict == "fail" and "differs only by a convention: sign" in r.message and "learning rate" not in r.message


# --- argument expressions: slices of sizes, the last pre-activation (issue 23) ---------------------------------------


def _one_case(sizes: tuple[int, ...], batch: int = 3):
    import numpy as np

    from bpcheck.oracles.strategies import Case
    from bpcheck.reference import NetworkSpec

    spec = NetworkSpec(sizes, ("relu",) * (len(sizes) - 2) + ("identity",))
    rng = np.random.default_rng(7)
    params = {k: rng.standard_normal(s) for k, s in spec.param_shapes().items()}
    return Case(spec, params, rng.standard_normal((batch, sizes[0])), rng.random((batch, sizes[-1])))


@pytest.mark.parametrize("expr, expected", [
    ("sizes[1:-1]", [6, 5, 4]),      # CS231n's hidden_dims
    ("sizes[1:]", [6, 5, 4, 3]),
    ("sizes[:2]", [7, 6]),
    ("sizes[-2:]", [4, 3]),
    ("sizes[:]", [7, 6, 5, 4, 3]),
])
def test_a_slice_of_sizes_is_a_list_of_ints(expr, expected):
    from bpcheck.grader.contracts import is_input

    value = Encoder(Conventions(), _one_case((7, 6, 5, 4, 3)), 0.0).symbol(expr)
    assert value == expected and all(type(n) is int for n in value)
    assert is_input(expr)  # never taken for a value an earlier call returned


@pytest.mark.parametrize("expr", ["sizes[1:-1:2]", "sizes[a:]", "sizes[1:-1"])
def test_a_malformed_slice_is_an_error_naming_it(expr):
    import re

    from bpcheck.grader.contracts import ContractError

    with pytest.raises(ContractError, match=rf"argument '{re.escape(expr)}'[^\n]*sizes\[i:j\]"):
        Encoder(Conventions(), _one_case((4, 3, 2)), 0.0).symbol(expr)


def test_z_last_is_the_last_layers_pre_activation_in_the_layout():
    """relu_forward(x) and softmax_loss(x, y) take the scores themselves: z^L = a^{L-1} W^L + b^L, computed here by hand."""
    import numpy as np

    case = _one_case((4, 5, 3))
    a1 = np.maximum(case.x @ case.params["W1"] + case.params["b1"], 0)
    z2 = a1 @ case.params["W2"] + case.params["b2"]
    rows = Encoder(Conventions(), case, 0.0)
    rows.symbol("z_last")
    np.testing.assert_allclose(rows.arrays["z_last"], z2, rtol=1e-12)
    cols = Encoder(Conventions(examples="columns", weights="out_in", biases="column"), case, 0.0)
    cols.symbol("z_last")
    np.testing.assert_allclose(cols.arrays["z_last"], z2.T, rtol=1e-12)


@pytest.mark.parametrize("examples, upstream", [("rows", "batch"), ("columns", "batch"), ("columns", "per_example")])
def test_a_returned_d_scores_is_read_as_the_gradients_it_gives(examples, upstream):
    """relu_backward(dout, cache) -> dx and softmax_loss(x, y) -> (loss, dx) return ∂J/∂z^L only: the grader carries it
    down the probe's network (BP3, BP4, BP2 with the probe's own weights), so a wrong dx shows as the dW and db it gives."""
    import numpy as np

    from bpcheck.grader.contracts import Contract, parse_form

    case = _one_case((4, 5, 3), batch=2)
    layout = {"weights": "out_in", "biases": "column"} if examples == "columns" else {}
    conv = Conventions(examples=examples, upstream=upstream, **layout)
    form = parse_form({"function": "relu_backward", "arguments": ["d_output", "cache"], "returns": "d_scores"}, "entry",
                      lambda raw, keys, where: None)
    rng = np.random.default_rng(3)
    dz = rng.standard_normal((2, 3))  # what a student's function returned, rows are examples
    a1 = np.maximum(case.x @ case.params["W1"] + case.params["b1"], 0)
    d1 = (dz @ case.params["W2"].T) * (a1 > 0)
    expected = {"W2": a1.T @ dz, "b2": dz.sum(axis=0), "W1": case.x.T @ d1, "b1": d1.sum(axis=0)}
    returned = dz * (2 if upstream == "per_example" else 1)  # DLS's dZ: each example's own, the mean's 1/m not in it
    got = Contract((form,), conv).decode(form, Encoder(conv, case, 0.0),
                                         {"d_scores": returned if examples == "rows" else returned.T})
    assert not got.errors and set(got.grads) == set(expected)
    for k in expected:
        np.testing.assert_allclose(got.grads[k], expected[k], rtol=1e-12, atol=1e-14)
    wrong = Contract((form,), conv).decode(form, Encoder(conv, case, 0.0), {"d_scores": np.zeros((2, 4))})
    want = (2, 3) if examples == "rows" else (3, 2)
    assert wrong.errors == [f"d_scores: expected shape {want}, got (2, 4)"] and not wrong.grads
