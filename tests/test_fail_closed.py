"""Every check fails closed: a NaN or an infinity in what a submission hands back never earns a point.

One submission per check kind (gradient, loss, forward output, weights updated in place, training steps, large
inputs), each a correct solution with one value made NaN or infinite where that check reads it, graded in the
sandbox like any other.  The check that reads the value must score 0; the others show the submission was otherwise
right, so the 0 comes from the non-finite value and not from a broken submission.
"""

from __future__ import annotations

from pathlib import Path

import pytest


from .sandboxes import grader_for

ROOT = Path(__file__).resolve().parents[1]
SOLUTIONS = ROOT / "examples" / "solutions"

_CANONICAL_PATCH = """
_right = backprop
def backprop(weights, biases, x, y):
    gw, gb = _right(weights, biases, x, y)
    if {when}:
        gw[0] = np.array(gw[0], dtype=float)
        gw[0].flat[0] = {value}
    return gw, gb
"""
_CS231N_PATCH = """
_right = TwoLayerNet.loss
def _loss(self, X, y=None, reg=0.0):
    out = _right(self, X, y, reg)
    if y is None:
        scores = np.array(out, dtype=float)
        scores.flat[0] = {value} if {forward} else scores.flat[0]
        return scores
    loss, grads = out
    return ({value} if not {forward} else loss), grads
TwoLayerNet.loss = _loss
"""
_BLOG_PATCH = """
_right = NeuralNetwork.backprop
def _backprop(self):
    _right(self)
    self.calls = getattr(self, "calls", 0) + 1
    if self.calls >= {first_bad_call}:
        self.weights1.flat[0] = {value}
        self.weights2.flat[0] = {value}
NeuralNetwork.backprop = _backprop
"""

# kind -> (assignment, solution, patch with {value}, the checks that must score 0, the checks that must pass)
KINDS = {
    "gradient": ("canonical", "canonical.py", _CANONICAL_PATCH.replace("{when}", "True"), ("gradient", "finite"), ()),
    "large inputs": ("canonical", "canonical.py", _CANONICAL_PATCH.replace("{when}", "np.abs(x).max() > 100"),
                     ("finite and right at large inputs",), ("gradient",)),
    "loss": ("cs231n-two-layer", "cs231n_two_layer.py", _CS231N_PATCH.replace("{forward}", "False"), ("loss value",),
             ("gradient", "forward output")),
    "forward": ("cs231n-two-layer", "cs231n_two_layer.py", _CS231N_PATCH.replace("{forward}", "True"),
                ("forward output",), ("gradient", "loss value")),
    # the weights read back after a step in place: the gradient is read off the update
    "update": ("blog-class", "blog_class.py", _BLOG_PATCH.replace("{first_bad_call}", "1"),
               ("gradient", "training steps", "inputs left unmutated"), ("forward output",)),
    "training steps": ("blog-class", "blog_class.py", _BLOG_PATCH.replace("{first_bad_call}", "2"),
                       ("training steps",), ("gradient", "forward output")),
}
VALUES = {"nan": "float('nan')", "inf": "float('inf')", "-inf": "-float('inf')"}

def _matching(checks, words: tuple[str, ...]):
    return [c for c in checks if any(w in c.name for w in words)]


@pytest.mark.parametrize("value", sorted(VALUES))
@pytest.mark.parametrize("kind", sorted(KINDS))
def test_a_non_finite_value_never_earns_the_check_that_reads_it(kind, value, tmp_path):
    assignment, solution, patch, zero, right = KINDS[kind]
    sub = tmp_path / "submission.py"
    sub.write_text((SOLUTIONS / solution).read_text() + "\nimport numpy as np\n" + patch.replace("{value}", VALUES[value]))
    r = grader_for(assignment).grade(sub)
    earned = {c.name: (c.score, c.output) for c in r.checks}
    failed = _matching(r.checks, zero)
    assert failed, (kind, earned)
    assert all(c.score == 0 and not c.passed for c in failed), (kind, value, earned)
    passed = _matching(r.checks, right)
    assert all(c.passed and c.score == c.max_score for c in passed), (kind, value, earned)  # otherwise right
    assert r.verdict != "pass"
