"""Similarity groups: planted copies found, independent solutions left apart, shared lines shown as data.

The class comes from tests/similarity_class.py: which submission copies which is known from how it was made,
never from the code under test.
"""

from __future__ import annotations

import csv
import io
import itertools
import random
from pathlib import Path

import pytest

from bpcheck.grader import html_report, report
from bpcheck.grader.fingerprint import fingerprint
from bpcheck.grader.results import Result
from bpcheck.grader.similarity import groups

from .sandboxes import for_trusted_code
from .similarity_class import DISTINCT_PASSES, disguise, make_class

ROOT = Path(__file__).resolve().parents[1]


def _result(i: int, source: str, verdict: str = "pass", **kw) -> Result:
    fp = fingerprint(source.encode())
    return Result(f"class/s{i}", verdict, 1.0, 1.0, id=f"class/s{i}", similarity=fp.as_dict() if fp else {}, **kw)


def _pairs(gs) -> set[tuple[str, str]]:
    return {tuple(sorted((a.id, b.id))) for g in gs for a, b in itertools.combinations(g.members, 2)}


@pytest.mark.parametrize("seed", [0, 1])
def test_planted_copies_are_grouped_and_independent_solutions_are_not(seed):
    sources, author = make_class(12, 6, 2, seed, DISTINCT_PASSES)
    results = [_result(i, s) for i, s in enumerate(sources)]
    truth = {(f"class/s{i}", f"class/s{j}") for i, j in itertools.combinations(range(len(sources)), 2) if author[i] == author[j]}
    assert _pairs([g for g in groups(results) if g.kind == "code"]) == {tuple(sorted(p)) for p in truth}


def test_names_literals_comments_and_order_do_not_change_the_code_hash():
    a = "import numpy as np\n\ndef f(x):\n    return 1.0 / (1 + np.exp(-x))\n\ndef g(w, x):\n    return f(x @ w)\n"
    b = "import numpy as np\n# mine\ndef g(M, v):\n    '''doc'''\n    return f(v @ M)  # ok\n\ndef f(t):\n    return 1 / (1. + np.exp(-t))\n"
    other = "import numpy as np\n\ndef f(x):\n    return 1.0 / (1 + np.exp(x))\n\ndef g(w, x):\n    return f(x @ w)\n"
    assert fingerprint(a.encode()).code == fingerprint(b.encode()).code
    assert fingerprint(a.encode()).code != fingerprint(other.encode()).code  # the sign is the formula
    assert fingerprint(b"def broken(:\n") is None


def test_bit_identical_wrong_gradients_with_the_same_diagnosis_form_a_group():
    diag = [{"summary": "weight gradient transposed", "correct": False}]
    results = [_result(0, "x = 1\n", "fail", gradients="abc", diagnoses=diag),
               _result(1, "y = [2, 3]\nz = y\n", "fail", gradients="abc", diagnoses=diag),
               _result(2, "w = 4\n", "fail", gradients="abc", diagnoses=[{"summary": "sign flipped", "correct": False}]),
               _result(3, "v = 5\n", "fail", gradients="abd", diagnoses=diag)]
    gs = [g for g in groups(results) if g.kind == "gradients"]
    assert [[m.id for m in g.members] for g in gs] == [["class/s0", "class/s1"]]
    assert "weight gradient transposed" in gs[0].why


def test_shared_lines_are_escaped_in_the_page_and_quoted_in_the_gradebook():
    src = ("def backprop(w, x):\n    s = '<script>alert(1)</script>'\n    h = x @ w\n    return h.T @ x, s\n\n"
           "def helper(a):\n    return a * (1 - a) + a ** 2 - a.sum(axis=0)\n")
    rng = random.Random(3)
    results = [_result(0, src), Result("=cmd|x", "pass", 1, 1, id="=cmd|x", similarity=fingerprint(disguise(src, rng).encode()).as_dict())]
    gs = groups(results)
    assert [g.kind for g in gs] == ["code"] and any("<script>" in cell for row in gs[0].rows for cell in row)
    page = html_report.page(results, "t", "canonical")
    assert "<script>alert" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    rows = list(csv.DictReader(io.StringIO(report.gradebook_csv(results))))
    assert rows[0]["similar_to"] == "'=cmd|x" and rows[1]["similar_to"] == "class/s0"


def test_grading_keeps_the_fingerprint_and_groups_a_disguised_copy(tmp_path):
    from bpcheck.grader.assignment import load
    from bpcheck.grader.grade import Grader

    original = (ROOT / "examples" / "buggy" / "canonical_deriv_on_z.py").read_text()
    (tmp_path / "a.py").write_text(original)
    (tmp_path / "b.py").write_text(disguise(original, random.Random(5)))
    grader = Grader(load("canonical"), for_trusted_code())
    results = [grader.grade(tmp_path / "a.py"), grader.grade(tmp_path / "b.py")]
    assert [r.verdict for r in results] == ["fail", "fail"]
    assert all(r.similarity["prints"] and r.gradients for r in results)
    assert {g.kind for g in groups(results)} == {"code", "gradients"}


def test_every_generated_solution_and_copy_is_correct():
    """The class's premise: independent *correct* solutions; the gradients come from the reference, not from them."""
    import numpy as np

    from bpcheck.reference import NetworkSpec, loss_and_grad

    from .similarity_class import ALL_STYLES, solution

    rng = np.random.default_rng(0)
    sizes = (3, 4, 2)
    ws = [rng.standard_normal((sizes[i], sizes[i + 1])) for i in range(2)]
    bs = [rng.uniform(-0.5, 0.5, sizes[i + 1]) for i in range(2)]
    x, y = rng.uniform(-1, 1, (5, 3)), rng.uniform(0, 1, (5, 2))
    params = {**{f"W{i + 1}": ws[i] for i in range(2)}, **{f"b{i + 1}": bs[i] for i in range(2)}}
    _, right = loss_and_grad(NetworkSpec(sizes, ("sigmoid", "sigmoid"), "half_sse", "mean"), params, x, y)
    pick = random.Random(0)
    for style in ALL_STYLES:
        source = solution(style, pick)
        for code in (source, disguise(source, pick)):
            namespace: dict = {}
            exec(compile(code, "<generated>", "exec"), namespace)  # our own generated code, not a submission
            gw, gb = namespace["backprop"]([w.copy() for w in ws], [b.copy() for b in bs], x.copy(), y.copy())
            for i in range(2):  # float64 sums of a few terms: agreement to 1e-12 relative, well above rounding
                np.testing.assert_allclose(gw[i], right[f"W{i + 1}"], rtol=1e-12, atol=1e-15)
                np.testing.assert_allclose(gb[i], right[f"b{i + 1}"], rtol=1e-12, atol=1e-15)


def test_an_untouched_starter_is_no_evidence_of_copying():
    starter = "import numpy as np\n\ndef backprop(weights, biases, x, y):\n    raise NotImplementedError('BP1-BP4')\n"
    assert groups([_result(0, starter), _result(1, starter.replace("BP1", "bp1"))]) == []


def test_the_kept_lines_reach_no_output_but_the_instructors_page():
    import json

    from bpcheck.grader import gradescope, prairielearn

    r = _result(0, "def backprop(w, x):\n    secret_line_xyz = w @ x\n    return secret_line_xyz\n")
    assert any("secret_line_xyz" in row[2] for row in r.similarity["lines"])
    outputs = [report.as_json([r]), report.junit([r], "a"), json.dumps(gradescope.results_json(r)),
               json.dumps(prairielearn.results_json(r)), report.gradebook_csv([r])]
    assert not [o for o in outputs if "secret_line_xyz" in o]
