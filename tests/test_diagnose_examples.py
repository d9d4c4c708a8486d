"""Graded through the sandbox: every buggy example's mistake is named, in the student's terms, in
under 400 characters per check; an error earns nothing; no summary calls a failed check right."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bpcheck.grader.assignment import load
from bpcheck.grader.grade import Grader

from .sandboxes import graded, grader_for

from .verdicts import assert_said, slugs_in

ROOT = Path(__file__).resolve().parents[1]
BUGGY = ROOT / "examples" / "buggy"
ASSIGNMENT = {"canonical": "canonical", "blog": "blog-class", "nielsen": "nielsen", "cs231n_layers": "cs231n-layers",
              "cs231n_fc_net": "cs231n-fc-net", **dict.fromkeys(("cs231n_bn", "cs231n_dropout", "cs231n_conv", "cs231n_pool",
                                                                   "cs231n_svm"), "cs231n-bn-dropout-conv"),
              "cs231n": "cs231n-two-layer", "coursera": "coursera-ex4",
              "dls_planar": "dls-planar", "dls_deep_steps": "dls-deep-steps", "dls_deep": "dls-deep"}
#: Longest output of one check a student reads (a Gradescope test's text).
MAX_CHECK = 400

# example -> the words its result message must contain (every one names its mistake)
NAMED = {
    "blog_class_stale_weights.py": ["'stale-weights'"],
    "canonical_complex_step.py": ["complex numbers in every gradient: a gradient is real"],
    "canonical_deriv_on_z.py": ["'deriv-on-z'"],
    "canonical_output_bias_first_example.py": ["'bias-one-example'", "bias gradient from the first example only, in the output layer only"],
    "canonical_sigma_of_a_hidden.py": ["'sigma-of-a-hidden'"],
    "canonical_sign.py": ["differs only by a convention: sign"],
    "canonical_two_bugs.py": ["'sigma-of-a-output'", "'bp2-no-sigma-prime'",
                             "2 mistakes: (1) σ'(a) = σ(a)(1 − σ(a)) in the output layer only; (2) hidden delta not multiplied by σ′(z) = a(1 − a)"],
    "coursera_ex4_bias_slice.py": ["'ex4-bias-slice'"],
    "coursera_ex4_bias_zeroed_in_place.py": ["'mutates-params'", "in-place mutation of the caller's arrays (nn_params)"],
    "coursera_ex4_numerical_gradient.py": ["close, but with finite-difference-sized errors", "computed analytically"],
    "coursera_ex4_reg_bias.py": ["'reg-on-biases'"],
    "coursera_ex4_unrolled_columns.py": ["correct if grad is read column by column (order='F')"],
    "cs231n_extra_softmax_derivative.py": ["'ce-extra-softmax-diag'"],
    "cs231n_l1_penalty_gradient.py": ["grads['W1'], grads['W2']: right when reg=0, wrong when reg>0: check the regularisation term"],
    "cs231n_reg_2016_all_params.py": ["'reg-2016-all-params'"],
    "cs231n_reg_half.py": ["'reg-half'", "L2 gradient missing its factor 2", "if the penalty is the 2016 0.5·reg·ΣW²"],
    "cs231n_swallowed_exception.py": ["returns zeros for every gradient: not implemented, or an exception swallowed?"],
    "cs231n_two_bugs.py": ["'bias-one-example'", "'bp2-no-sigma-prime'",  # one mistake in a ReLU net: said once, as the mask
                          "2 mistakes: (1) bias gradient from the first example only, in the output layer only; "
                          "(2) hidden delta not multiplied by the ReLU mask [z > 0] ("],
    "cs231n_unstable_softmax.py": ["gradients correct on every probe, but finite and right at large inputs failed",
                                   "numerically unstable softmax / cross-entropy delta"],
    "nielsen_hidden_weights_transposed.py": ["'bp3-transposed'",
                                             "weight gradient transposed (operands of BP3 in the wrong order), in the hidden layers only"],
    "nielsen_no_transpose.py": ["'bp2-no-transpose'"],
    "dls_planar_db_no_mean.py": ["grads['db1'], grads['db2']: N× the right values (the batch's 1/N missing)"],
    "dls_planar_db_no_keepdims.py": ["grads['db1']: expected shape (4, 1), got (4,)"],
    "dls_planar_wrong_cache.py": ["'deriv-on-z-hidden'", "the activation derivative 1 − a² fed the pre-activation z instead of a"],
    "dls_deep_mean_twice.py": ["'mean-twice'", "differs only by a convention: 1/N applied twice"],
    "dls_deep_db_no_keepdims.py": ["grads['db1']: expected shape (4, 1), got (4,)"],
    "dls_planar_sigmoid_derivative.py": ["'tanh-as-sigmoid'",
                                         "the sigmoid's derivative a(1 − a) used for a tanh layer, whose derivative is 1 − a²"],
    "dls_deep_sigmoid_backward_everywhere.py": ["'sigmoid-everywhere'", "every layer differentiated as a sigmoid, "
                                                "sigmoid(z)(1 − sigmoid(z)), where the hidden layers need the ReLU mask [z > 0]"],
    # CS231n assignment 2, graded function by function: the function that is wrong is named, the others keep their points
    "cs231n_layers_db_all_axes.py": ["affine_backward: wrong: db, db (upper layer)", "right: dw, dw (upper layer)"],
    "cs231n_layers_dw_transposed.py": ["'bp3-transposed'", "affine_backward: weight gradient transposed"],
    "cs231n_layers_dw_mean_twice.py": ["'mean-twice'", "affine_backward: differs only by a convention: 1/N applied twice"],
    "cs231n_layers_softmax_no_mean.py": ["'mean-missing'",
                                         "softmax_loss: differs only by a convention: batch sum instead of batch mean (no 1/N)"],
    # the layers the reference network does not have (layers.py's catalog), named in the layer's own terms
    "cs231n_bn_constant_statistics.py": ["batchnorm_backward: gradient: case 1 failed", "'bn-constant-statistics'",
                                         "as if the batch mean and variance were constants"],
    "cs231n_bn_eps_outside_sqrt.py": ["batchnorm_forward: forward output: case 1 failed", "'bn-eps-outside-sqrt'"],
    "cs231n_dropout_unscaled_backward.py": ["dropout_backward: gradient: case 1 failed", "'dropout-unscaled-backward'"],
    "cs231n_dropout_p_drops.py": ["dropout_forward: forward output: case 1 failed", "'dropout-p-drops'"],
    "cs231n_pool_whole_window.py": ["max_pool_backward_naive: gradient: case 1 failed", "'pool-whole-window'"],
    "cs231n_svm_no_mean.py": ["svm_loss: gradient: case 1 failed", "'svm-no-mean'"],
    "cs231n_fc_net_mean_twice.py": ["the output layer's weights, the output layer's biases: 1/N× the right values (1/N applied twice)"],
    "cs231n_fc_net_reg_missing_from_grads.py": ["every layer's weights: right when reg=0, wrong when reg>0: check the "
                                                "regularisation term (no penalty gradient)"],
}

# example -> the words that place its mistake, where no catalog entry names it:
# the layers it is in, in the student's names, or the student's line that crashed
LOCALISED = {
    "dls_deep_activation_cache_holds_A.py": ("fail", "wrong: grads['dW1'], grads['db1']"),
    "dls_deep_wrong_cache.py": ("error", "L_model_backward(...) raised IndexError"),
    # graded function by function ([[part]]): the part that fails is named, the others keep their points
    "dls_deep_steps_cost_no_mean.py": ("fail", "compute_cost: loss value failed: wrong loss"),
    "dls_deep_steps_no_transpose.py": ("fail", "linear_backward: no gradients: failed on every probe"),
    "cs231n_layers_relu_mask_on_dout.py": ("fail", "relu_backward: wrong: dx (as the weight gradient of layer 1 it gives)"),
    # stride ignored in the backward loops: right at stride 1 (case 1 keeps its points), wrong at stride 2
    "cs231n_conv_backward_stride_ignored.py": ("fail", "conv_backward_naive: gradient: case 2 failed: wrong on x (2, 3, 6, 5), "
                                                       "w (2, 3, 3, 3), b (2,); stride=2, pad=1: dx (2, 3, 6, 5)"),
    "cs231n_layers_hinge_in_softmax.py": ("fail", "softmax_loss: wrong: dx (as the weight gradient of layer 1 it gives)"),
    "cs231n_layers_wrong_cache.py": ("fail", "affine_backward: no gradients: failed on every probe: affine_backward(...) "
                                             "raised ValueError: cannot reshape array of size 16 into shape (4,3) "
                                             "(at cs231n_layers_wrong_cache.py:"),
    # one cache for every hidden layer: right with one hidden layer, a crash at the student's line with two
    "cs231n_fc_net_one_cache.py": ("fail", "loss(...) raised ValueError: operands could not be broadcast together "
                                           "with shapes (4,6) (4,4) (at cs231n_fc_net_one_cache.py:"),
}

# example -> the words of its pass: conventions and spellings the bundled assignment accepts (issue 11), named
ACCEPTED = {
    "coursera_ex4_labels_from_one.py": "correct, with labels numbered 1..K",
    "cs231n_bias_keepdims.py": "correct, with bias gradients shaped (1, n)",
    "nielsen_feed_forward_name.py": "all gradient checks pass",  # feed_forward is one of feedforward's aliases
}

def test_every_buggy_example_is_listed():
    assert sorted([*NAMED, *ACCEPTED, *LOCALISED]) == sorted(p.name for p in BUGGY.glob("*.py"))


def assignment_of(example: str) -> str:
    return next(a for prefix, a in ASSIGNMENT.items() if example.startswith(prefix + "_"))


@pytest.mark.parametrize("example", sorted(ACCEPTED))
def test_what_the_assignment_accepts_passes_and_is_said(example):
    r = graded(assignment_of(example), BUGGY / example)
    assert r.verdict == "pass" and r.score == r.max_score and ACCEPTED[example] in r.message, r.message


def _reference_words(text: str, assignment: str) -> list[str]:
    """bpcheck's own names where the student's belong: l2=, the reference's W1/b1, a spec's loss names (the student's
    own code, quoted in backticks, may use any name)."""
    text = re.sub(r"`[^`]*`", "", text)
    found = re.findall(r"\bl2=|\bhalf_sse\b|\bsoftmax_ce\b|\bbatch \d", text)
    if assignment != "cs231n-two-layer":  # there, grads['W1'] is the student's own name
        found += re.findall(r"(?<!\[')\b[Wb]\d\b", text)
    return found


@pytest.mark.parametrize("example", sorted(NAMED))
def test_each_mistake_is_named_in_the_students_terms(example):
    assignment = assignment_of(example)
    r = graded(assignment, BUGGY / example)
    assert r.verdict == "fail", (r.message, [(c.name, c.output) for c in r.checks if not c.passed])
    for words in NAMED[example]:
        assert_said(r, words)
    _in_the_students_terms(r, assignment)


@pytest.mark.parametrize("example", sorted(LOCALISED))
def test_a_mistake_no_entry_names_is_placed_in_the_students_terms(example):
    assignment = assignment_of(example)
    r = graded(assignment, BUGGY / example)
    verdict, words = LOCALISED[example]
    assert r.verdict == verdict and words in r.message, r.message
    if verdict == "error":  # the crash, at the student's own line (never inside the course's dnn_utils.py)
        assert f"(at {example}:" in r.message and r.score == 0
    else:
        _in_the_students_terms(r, assignment)


def _in_the_students_terms(r, assignment: str) -> None:
    sigmoid = any("sigmoid" in pc.probe.case.spec.activations for pc in load(assignment).probes)
    for c in r.checks:
        assert len(c.output) < MAX_CHECK, (c.name, len(c.output), c.output)
        assert not _reference_words(c.output, assignment), (c.name, c.output)
        assert not slugs_in(c.output) and (sigmoid or "σ" not in c.output), (c.name, c.output)
    assert sigmoid or "σ" not in r.message, r.message
    assert not _reference_words(r.message, assignment)
    assert "all gradient checks pass" not in r.message and r.score < r.max_score


def test_an_error_verdict_earns_nothing(tmp_path):
    """Loss and scores right, but no gradients at all: the side checks pass, and still nothing is credited."""
    src = (ROOT / "examples" / "solutions" / "cs231n_two_layer.py").read_text()
    sub = tmp_path / "no_grads.py"
    sub.write_text(src.replace("        return loss, grads", "        return loss, {}"))
    r = grader_for("cs231n-two-layer").grade(sub)
    assert r.verdict == "error" and r.score == 0 and all(c.score == 0 and not c.passed for c in r.checks)
    assert "grads has no key 'W1'" in r.message


def test_zeros_earn_nothing_when_conventions_are_accepted(tmp_path):
    toml = (ROOT / "grader" / "assignments" / "cs231n-two-layer.toml").read_text()
    (tmp_path / "lenient.toml").write_text(toml.replace("penalise_conventions = true", "penalise_conventions = false"))
    r = Grader(load(str(tmp_path / "lenient.toml"))).grade(BUGGY / "cs231n_swallowed_exception.py")
    grads = [c for c in r.checks if c.name.startswith("gradient")]
    assert grads and not any(c.passed or c.score for c in grads)


def test_a_bias_shape_slip_is_a_convention(tmp_path):
    """Where the assignment does not accept (1, n) bias gradients, the diagnosis still calls them a convention."""
    toml = (ROOT / "grader" / "assignments" / "cs231n-two-layer.toml").read_text()
    toml = toml.replace('bias_gradients = ["row"]', "").replace("../../examples", str(ROOT / "examples"))
    (tmp_path / "lenient.toml").write_text(toml.replace("penalise_conventions = true", "penalise_conventions = false"))
    r = Grader(load(str(tmp_path / "lenient.toml"))).grade(BUGGY / "cs231n_bias_keepdims.py")
    assert r.diagnoses[0]["convention_only"]
    assert all(c.passed and c.output.startswith("accepted: grads['b1'], grads['b2']: right values")
               for c in r.checks if c.name.startswith("gradient"))


def test_tracebacks_name_the_students_file(tmp_path):
    src = (ROOT / "examples" / "solutions" / "cs231n_two_layer.py").read_text()
    sub = tmp_path / "hw2_net.py"
    sub.write_text(src.replace("        N = X.shape[0]\n", "        N = X.shape[0]\n        raise ValueError('shapes do not align')\n"))
    r = grader_for("cs231n-two-layer").grade(sub)
    line = 1 + next(i for i, t in enumerate(sub.read_text().splitlines()) if "raise ValueError" in t)
    assert f"(at hw2_net.py:{line})" in r.message and "neural_net.py" not in r.message


def test_a_failed_side_check_is_never_called_a_pass(tmp_path):
    src = (BUGGY / "nielsen_feed_forward_name.py").read_text()  # right gradients; the forward pass made wrong here
    (tmp_path / "network.py").write_text(src.replace("def feed_forward(self, a):", "def feedforward(self, a):")
                                            .replace("            a = sigmoid(w @ a + b)", "            a = w @ a + b"))
    r = grader_for("nielsen").grade(tmp_path / "network.py")
    assert r.diagnoses[0]["correct"] and r.verdict == "fail"
    assert not re.search(r"all gradient checks pass|correct on every probe\s*$", r.message)


@pytest.mark.parametrize("example", ["cs231n_two_bugs.py", "dls_planar_wrong_cache.py"])
def test_the_students_feedback_files_name_no_slug_and_no_sigma(example):
    """Every format a student reads (feedback Markdown and HTML, Gradescope, PrairieLearn) speaks the network's
    words: a ReLU or tanh net is never told about σ, nor given a catalog id (issue 27)."""
    from bpcheck.grader import feedback, gradescope, prairielearn

    r = graded(assignment_of(example), BUGGY / example)
    assert r.verdict == "fail" and r.diagnoses[0]["matches"]
    shown = {"markdown": feedback.markdown(r, "t"), "html": feedback.html_page(r, "t"),
             "gradescope": str(gradescope.results_json(r)), "prairielearn": str(prairielearn.results_json(r))}
    for where, text in shown.items():
        assert "σ" not in text and not slugs_in(text), (where, text)
    assert "[z &gt; 0]" in shown["html"] or "1 − a²" in shown["html"]


@pytest.mark.parametrize("example, pattern", [("canonical_sign.py", "the sign flipped (−1×)"),
                                              ("dls_deep_mean_twice.py", "1/N× the right values"),
                                              ("nielsen_hidden_weights_transposed.py", "the transpose of the right values"),
                                              ("cs231n_two_bugs.py", None)])
def test_a_failed_check_shows_values_in_the_students_names(example, pattern):
    """Beside each failed gradient check: an element as expected vs got, in the student's array names, and the
    pattern in one phrase where one says it (issue 27)."""
    r = graded(assignment_of(example), BUGGY / example)
    failed = [c for c in r.checks if c.name.startswith("gradient: ") and not c.passed]
    assert failed
    for c in failed:
        shapes = "expected shape" in c.output  # no element to show beside an array of the wrong shape
        assert shapes or re.search(r"holds -?[0-9.e+-]+ where -?[0-9.e+-]+ is expected", c.output), c.output
        assert len(c.output) < MAX_CHECK, c.output
    if pattern:
        assert any(pattern in c.output for c in failed), [c.output for c in failed]


#: assignment -> (solution, the lines that make it compute in float32): each check it has (gradients, loss, forward
#: output, training steps, large inputs) then sees float32 arrays
FLOAT32 = {
    "canonical": ("canonical.py", [("def backprop(weights, biases, x, y):",
                                    "def backprop(weights, biases, x, y):\n    weights = [w.astype(np.float32) for w in weights]\n"
                                    "    biases = [b.astype(np.float32) for b in biases]\n"
                                    "    x, y = x.astype(np.float32), y.astype(np.float32)")]),
    "cs231n-two-layer": ("cs231n_two_layer.py", [
        ("        W1, b1, W2, b2 = (self.params[k] for k in (\"W1\", \"b1\", \"W2\", \"b2\"))",
         "        W1, b1, W2, b2 = (self.params[k].astype(np.float32) for k in (\"W1\", \"b1\", \"W2\", \"b2\"))\n"
         "        X, reg = X.astype(np.float32), np.float32(reg)")]),
    "blog-class": ("blog_class.py", [("    def feedforward(self):",
                                      "    def feedforward(self):\n"
                                      "        self.input, self.y = self.input.astype(np.float32), self.y.astype(np.float32)\n"
                                      "        self.weights1 = self.weights1.astype(np.float32)\n"
                                      "        self.weights2 = self.weights2.astype(np.float32)")]),
}


def _float32(tmp_path, assignment: str, bug: tuple[str, str] = ("", "")) -> Path:
    solution, edits = FLOAT32[assignment]
    src = (ROOT / "examples" / "solutions" / solution).read_text()
    for old, new in [*edits, bug]:
        assert old in src, old
        src = src.replace(old, new)
    (tmp_path / "f32.py").write_text(src)
    return tmp_path / "f32.py"


@pytest.mark.parametrize("assignment", sorted(FLOAT32))
def test_a_correct_float32_solution_earns_full_marks(tmp_path, assignment):
    """A correct solution computed in float32 returns float32 arrays: the .npy files say so, and every check (the
    gradients, the loss, the forward output, the training steps) allows float32's rounding, derived from float32's
    ε as float64's is from float64's (docs/tolerance.md); the message says so plainly (issue 27)."""
    r = grader_for(assignment).grade(_float32(tmp_path, assignment))
    assert r.verdict == "pass" and r.score == r.max_score, (r.message, [(c.name, c.output) for c in r.checks if not c.passed])
    assert "finite-difference" not in r.message
    assert "the returned arrays are float32: judged within float32's rounding" in r.message, r.message
    names = {c.name for c in r.checks}
    assert {"canonical": "gradient: one-layer", "cs231n-two-layer": "loss value", "blog-class": "5 training steps"}[assignment] \
        in names, names
    assert all(len(c.output) < MAX_CHECK for c in r.checks)


#: assignment -> a real bug in the float32 solution, and the check it must fail
FLOAT32_BUGS = {
    "canonical": (("    delta = (a - y) * a * (1 - a) / n", "    delta = (a - y) * a * (1 - a)"), "gradient: one-layer"),
    "cs231n-two-layer": (("-log_probs[np.arange(N), y].mean()", "-log_probs[np.arange(N), y].sum()"), "loss value"),
    "blog-class": (("        self.weights2 -= grad2\n        self.weights1 -= grad1",
                    "        self.weights2 -= grad2\n        self.weights1 -= grad1\n        self.weights2 *= 1.001"),
                   "5 training steps"),
}


@pytest.mark.parametrize("assignment", sorted(FLOAT32_BUGS))
def test_a_float32_solution_with_a_bug_still_fails(tmp_path, assignment):
    """float32's wider bound (~1e-5 relative) still fails a real bug: the batch mean left out, a loss summed, weights
    nudged by 1e-3 at each step."""
    bug, check = FLOAT32_BUGS[assignment]
    r = grader_for(assignment).grade(_float32(tmp_path, assignment, bug))
    assert r.verdict == "fail" and r.score < r.max_score, r.message
    failed = {c.name for c in r.checks if not c.passed}
    assert check in failed, (failed, r.message)


def test_every_check_stays_under_400_characters_with_many_shape_errors():
    """A submission whose every array has the wrong shape (examples/class/ahmed returns biases and weights swapped)
    used to get 580-character checks: the problems after the first few give way (issue 27)."""
    r = grader_for("canonical").grade(ROOT / "examples" / "class" / "ahmed")
    assert r.verdict != "pass" and all(len(c.output) < MAX_CHECK for c in r.checks), [len(c.output) for c in r.checks]
    assert any("more" in c.output and "expected shape" in c.output for c in r.checks)


#: example -> (line, the student's variable) of the first value the mistake computes, one example per catalog family
#: the bundled files show in a variable (read off the files by hand: the line that holds the bug)
FIRST_WRONG_LINE = {
    "dls_planar_sigmoid_derivative.py": (108, "dZ1"),  # tanh-as-sigmoid: a(1 − a) for a tanh layer
    "dls_deep_sigmoid_backward_everywhere.py": (107, "dZ"),  # sigmoid-everywhere: a relu layer's dZ from sigmoid_backward
    "canonical_deriv_on_z.py": (17, "delta"),  # deriv-on-z
    "canonical_output_bias_first_example.py": (17, "grad_biases[0]"),  # bias-one-example
    "canonical_sigma_of_a_hidden.py": (25, "delta"),  # sigma-of-a
    "canonical_sign.py": (10, "delta"),  # sign-flipped
    "canonical_two_bugs.py": (18, "delta"),  # sigma-of-a-output, before bp2-no-sigma-prime
    "coursera_ex4_bias_slice.py": (26, "delta_2"),  # ex4-bias-slice
    "cs231n_extra_softmax_derivative.py": (22, "dscores"),  # ce-extra-softmax-diag
    "cs231n_reg_2016_all_params.py": (31, "grads['W2']"),  # reg-2016-all-params
    "cs231n_reg_half.py": (27, "grads['W2']"),  # reg-half
    "cs231n_two_bugs.py": (23, "grads['b2']"),  # bias-one-example runs before the unmasked dh
    "dls_planar_wrong_cache.py": (108, "dZ1"),  # deriv-on-z-hidden
    "nielsen_no_transpose.py": (35, "delta"),  # bp2-no-transpose
    # the update is read off the weights: the student's delta1 is −∂L/∂z, and it uses weights2 as line 22 updated it
    "blog_class_stale_weights.py": (23, "delta1"),  # stale-weights
    # the gradient with its bias column (ex4's augmented Theta1): right at line 22, regularised whole at line 24
    "coursera_ex4_reg_bias.py": (24, "Theta1_grad"),  # reg-on-biases
    # dAL (line 119) already holds the mean-form ∂C/∂AL, which is right where the 1/m is taken upstream, and so is dZ;
    # the first array no convention makes right is dW, divided by m a second time (the output layer's call comes first)
    "dls_deep_mean_twice.py": (93, "dW"),  # mean-twice
    # the hidden layer's nabla_w, (n_in, n_out) where the contract's layout is (n_out, n_in)
    "nielsen_hidden_weights_transposed.py": (40, "nabla_w[0]"),  # bp3-transposed
}


@pytest.mark.parametrize("example", sorted(FIRST_WRONG_LINE))
def test_the_first_wrong_line_is_named(example):
    """The student's file and line where the mistake's value first appears in a variable (issue 27)."""
    line, name = FIRST_WRONG_LINE[example]
    r = graded(assignment_of(example), BUGGY / example)
    assert f"first wrong value: {example} line {line}, `" in r.message, r.message
    assert f"`{name}` holds " in r.message, r.message
    named, _, line_text = r.message.partition("first wrong value: ")
    if "2 mistakes" not in named:  # one mistake, named once: the line does not say it again
        assert re.sub(r" \[[^\]]*\]$", "", line_text).endswith("as the mistake computes it"), r.message


#: example -> (line, the student's variable) of the first line that holds a wrong gradient the function returns,
#: where no catalog entry gives the wrong intermediates (a transform of the right values, or a mistake the catalog
#: lacks); read off the files by hand
RETURNED_LINE = {
    # relu_backward's dx is read as d_scores (the dW and db the grader carries down from it): dx itself is the wrong value
    "cs231n_layers_relu_mask_on_dout.py": (33, "dx"),  # dout * (dout > 0): the mask taken from dout, not the cache
    "dls_planar_db_no_mean.py": (107, "db2"),  # N× the right db: the sum without its / m
    "cs231n_l1_penalty_gradient.py": (23, "grads['W2']"),  # reg * np.sign(W2): wrong only where reg > 0
    # the smallest failing probe has one example: the output layer's dZ is then its db, already wrong
    "dls_deep_activation_cache_holds_A.py": (107, "dZ"),  # sigmoid_backward fed A, not Z
}


@pytest.mark.parametrize("example", sorted(RETURNED_LINE))
def test_the_first_line_holding_a_wrong_returned_value_is_named(example):
    """No catalog mistake to compare with, but the wrong arrays the function returns are known: the first line whose
    variable holds one is named, and said to be no more than that (issue 27)."""
    line, name = RETURNED_LINE[example]
    r = graded(assignment_of(example), BUGGY / example)
    assert f"first line holding a wrong returned value: {example} line {line}, `" in r.message, r.message
    assert f"`{name}` holds " in r.message and "first wrong value" not in r.message, r.message


def test_the_unrolled_gradient_is_matched_as_one_vector(tmp_path):
    """ex4 returns one vector: unrolled column by column where the assignment reads it row by row, and held in a
    variable first (as the course notebook does), it is placed at that line."""
    src = (BUGGY / "coursera_ex4_unrolled_columns.py").read_text().replace(
        "    return J, np.concatenate([", "    grad = np.concatenate([").replace('order="F")])', 'order="F")])\n    return J, grad')
    (tmp_path / "ex4.py").write_text(src)
    line = 26  # the bundled file's return line, where grad is now assigned
    r = grader_for("coursera-ex4").grade(tmp_path / "ex4.py")
    assert "correct if grad is read column by column (order='F')" in r.message, r.message
    assert (f"first line holding a wrong returned value: ex4.py line {line}, `grad = np.concatenate(" in r.message
            and "`grad` holds every gradient unrolled into one vector as returned" in r.message), r.message


@pytest.mark.parametrize("example, line, name", [("dls_planar_db_no_keepdims.py", 107, "db2"),
                                                 ("dls_deep_db_no_keepdims.py", 94, "db")])
def test_the_line_that_gives_a_wrong_shape_is_named(example, line, name):
    """The values right, the shape (n,) where the course's is (n, 1): the line that sums without keepdims is named
    (in dls-deep, linear_backward's line 94 serves every layer, the output layer's first)."""
    r = graded(assignment_of(example), BUGGY / example)
    assert f"first line giving the wrong shape: {example} line {line}, `" in r.message, r.message
    assert f"`{name}` has the right values, shaped (" in r.message and "is to be (" in r.message, r.message


@pytest.mark.parametrize("example, words", [
    # the complex step left in: where a non-real number first enters (complex arrays of zero imaginary part read as real)
    ("canonical_complex_step.py", "first complex value: canonical_complex_step.py line 21, `p[i] += 1j * h`: `p` holds "
                                  "complex numbers"),
    # right on every probe, NaN at inputs ×1e4: the large-input run is traced too; its first inf or NaN is named
    ("cs231n_unstable_softmax.py", "first non-finite value at large inputs (×1e4): cs231n_unstable_softmax.py line 18, "
                                   "`probs = exp_scores / np.sum(exp_scores, axis=1, keepdims=True)`: `probs` holds inf or NaN"),
])
def test_the_first_non_real_or_non_finite_value_is_named(example, words):
    r = graded(assignment_of(example), BUGGY / example)
    assert words in r.message, r.message


def test_the_line_that_changes_the_callers_array_is_named():
    """Theta1 is a reshape view of nn_params: zeroing its bias column (line 23) writes into the caller's array. The
    traced nn_params changes there, towards what the call leaves it as."""
    r = graded("coursera-ex4", BUGGY / "coursera_ex4_bias_zeroed_in_place.py")
    assert ("first line changing the caller's array: coursera_ex4_bias_zeroed_in_place.py line 23, `Theta1[:, 0] = 0`: "
            "`nn_params` is changed in place") in r.message, r.message


def test_a_rebound_copy_is_no_change_of_the_callers_array(tmp_path):
    """X = X / 2 rebinds a new array (the caller's is untouched) before nn_params is changed through a view: only the
    change in place is named."""
    src = (BUGGY / "coursera_ex4_bias_zeroed_in_place.py").read_text()
    src = src.replace("    m = X.shape[0]\n", "    m = X.shape[0]\n    X = X / 2\n    X = X * 2\n")
    (tmp_path / "ex4.py").write_text(src)
    r = grader_for("coursera-ex4").grade(tmp_path / "ex4.py")
    assert "first line changing the caller's array: ex4.py line 25, `Theta1[:, 0] = 0`" in r.message, r.message


@pytest.mark.parametrize("hidden, named", [(["one-layer"], True), (["non-square-batch-3", "square-batch-1", "one-layer"], False)])
def test_no_line_is_found_on_a_hidden_probe(tmp_path, hidden, named):
    """A line (and what it holds: a layer, a shape) is read off a visible probe's run only: with the smallest failing
    probe hidden it comes from a visible one; with every probe hidden (deep-saturated already is), none is named."""
    toml = (ROOT / "grader" / "assignments" / "canonical.toml").read_text().replace("../../examples", str(ROOT / "examples"))
    for name in hidden:
        toml = toml.replace(f'name = "{name}"\n', f'name = "{name}"\nhidden = true\n')
    (tmp_path / "hidden.toml").write_text(toml)
    r = Grader(load(str(tmp_path / "hidden.toml"))).grade(BUGGY / "canonical_deriv_on_z.py")
    assert r.verdict == "fail"
    assert ("first wrong value: canonical_deriv_on_z.py line 17" in r.message) == named, r.message
    assert named or "first " not in r.message.split(";", 1)[-1], r.message


def test_a_swallowed_exception_is_placed_at_the_line_that_raised_it():
    """A bare except hands back the zeros the gradients were initialised with: the line that raised (24, `h @ dscores`
    where h.T is meant) is named, with the exception's type."""
    r = graded("cs231n-two-layer", BUGGY / "cs231n_swallowed_exception.py")
    assert ('an exception was raised and caught: cs231n_swallowed_exception.py line 24, `grads["W2"] = h @ dscores / N '
            '+ 2 * reg * W2`: ValueError: ') in r.message, r.message


def test_where_no_line_matches_what_was_compared_is_said(tmp_path):
    """The sign flipped inside the return statement: the wrong values never sit in a variable (every variable holds
    a right one), so no line is named and the message says what was compared instead."""
    src = (ROOT / "examples" / "solutions" / "canonical.py").read_text()
    src = src.replace("    return grad_weights, grad_biases", "    return [-g for g in grad_weights], [-g for g in grad_biases]")
    (tmp_path / "inline.py").write_text(src)
    r = grader_for("canonical").grade(tmp_path / "inline.py")
    assert r.verdict == "fail" and "differs only by a convention: sign" in r.message, r.message
    assert "no line's value matched the mistake's: compared " in r.message and "first wrong value" not in r.message


#: ex4's nnCostFunction as the course notebook's cell has it, with the bias column regularised (reg-on-biases): the
#: first wrong value is line 17 of this cell, where Theta1_grad, right at line 16, takes the penalty whole
EX4_CELL = """def nnCostFunction(nn_params, input_layer_size, hidden_layer_size, num_labels, X, y, lambda_=0.0):
    Theta1 = np.reshape(nn_params[:hidden_layer_size * (input_layer_size + 1)],
                        (hidden_layer_size, (input_layer_size + 1)))
    Theta2 = np.reshape(nn_params[(hidden_layer_size * (input_layer_size + 1)):],
                        (num_labels, (hidden_layer_size + 1)))
    m = y.size
    # ====================== YOUR CODE HERE ======================
    a1 = np.concatenate([np.ones((m, 1)), X], axis=1)
    z2 = a1.dot(Theta1.T)
    a2 = np.concatenate([np.ones((m, 1)), sigmoid(z2)], axis=1)
    a3 = sigmoid(a2.dot(Theta2.T))
    y_matrix = np.eye(num_labels)[y.reshape(-1)]
    J = (-1 / m) * np.sum(np.log(a3) * y_matrix + np.log(1 - a3) * (1 - y_matrix))
    delta_3 = a3 - y_matrix
    delta_2 = delta_3.dot(Theta2)[:, 1:] * sigmoid(z2) * (1 - sigmoid(z2))
    Theta1_grad = (1 / m) * delta_2.T.dot(a1)
    Theta1_grad = Theta1_grad + (lambda_ / m) * Theta1
    Theta2_grad = (1 / m) * delta_3.T.dot(a2)
    Theta2_grad[:, 1:] = Theta2_grad[:, 1:] + (lambda_ / m) * Theta2[:, 1:]
    J += (lambda_ / (2 * m)) * (np.sum(np.square(Theta1[:, 1:])) + np.sum(np.square(Theta2[:, 1:])))
    # =============================================================
    grad = np.concatenate([Theta1_grad.ravel(), Theta2_grad.ravel()])
    return J, grad
"""


def test_a_notebooks_first_wrong_line_is_its_cell_and_line(tmp_path):
    """A notebook handed in as the course has it (markdown, a %matplotlib magic, outputs, a cell that loads data the
    grader does not have, a shell line): the first wrong line is named by code cell and line in that cell."""
    import nbformat
    from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

    cells = [
        new_markdown_cell("# Programming Exercise 4: Neural Networks Learning\n\nIn this exercise you implement backpropagation."),
        new_code_cell("import os\nimport numpy as np\nfrom matplotlib import pyplot\nfrom scipy.io import loadmat\n\n"
                      "# tells matplotlib to embed plots within the notebook\n%matplotlib inline", execution_count=1),
        new_markdown_cell("## 1 Neural Networks\n\n### 1.1 Visualizing the data"),
        new_code_cell("data = loadmat(os.path.join('Data', 'ex4data1.mat'))\nX, y = data['X'], data['y'].ravel()\n"
                      "y[y == 10] = 0\nm = y.size", execution_count=2),
        new_code_cell("def sigmoid(z):\n    return 1.0 / (1.0 + np.exp(-z))", execution_count=3),
        new_markdown_cell("### 1.3 Feedforward and cost function"),
        new_code_cell(EX4_CELL, execution_count=4),
        new_code_cell("lambda_ = 1\nJ, _ = nnCostFunction(nn_params, 400, 25, 10, X, y, lambda_)\n"
                      "print('Cost at parameters (loaded from ex4weights): %.6f' % J)", execution_count=5,
                      outputs=[new_output("stream", name="stdout", text="Cost at parameters (loaded from ex4weights): 0.383770\n")]),
        new_code_cell("!ls Data\nutils.checkNNGradients(nnCostFunction, lambda_=3)", execution_count=6,
                      outputs=[new_output("display_data", data={"image/png": "iVBORw0KGgo=", "text/plain": "<Figure>"})]),
    ]
    nbformat.write(new_notebook(cells=cells), str(tmp_path / "exercise4.ipynb"))
    r = grader_for("coursera-ex4").grade(tmp_path / "exercise4.ipynb")
    assert r.verdict == "fail" and "L2 regularisation applied to the biases too" in r.message, r.message
    # code cells count from 1 (the markdown cells are not code cells): the function is code cell 4, the line 17
    assert ("first wrong value: exercise4.ipynb, code cell 4, line 17, `Theta1_grad = Theta1_grad + (lambda_ / m) * Theta1`"
            in r.message), r.message
    assert ".ipynb.py" not in r.message and r.message.count("L2 regularisation applied to the biases too") == 1


def test_a_wrong_loss_is_placed_at_its_first_line():
    """dls-deep-steps grades compute_cost on its own ([[part]]): the cost summed where the course averages it is
    placed at line 83, where `cost` first holds the value the function returns (line 84 only squeezes it)."""
    r = graded("dls-deep-steps", BUGGY / "dls_deep_steps_cost_no_mean.py")
    assert "compute_cost: loss value failed: wrong loss" in r.message, r.message
    assert ("first wrong value: dls_deep_steps_cost_no_mean.py line 83, `cost = -(np.dot(Y, np.log(AL).T)"
            in r.message), r.message
    assert "`cost` holds the loss it returns" in r.message and all(len(c.output) < MAX_CHECK for c in r.checks)


def test_a_parts_first_wrong_line_is_named():
    """dls-deep-steps grades L_model_backward as a [[part]] of its own, on caches its own L_model_forward made: the
    1/m taken twice is placed where the dls-deep contract places it, at linear_backward's line 93."""
    r = graded("dls-deep-steps", BUGGY / "dls_deep_mean_twice.py")
    assert "L_model_backward: differs only by a convention: 1/N applied twice" in r.message, r.message
    assert "first wrong value: dls_deep_mean_twice.py line 93, `dW = np.dot(dZ, A_prev.T) / m`: `dW` holds" in r.message


def test_a_wrong_scalar_loss_is_placed_at_its_line(tmp_path):
    """A loss that is a numpy float (not an array): the data loss summed, not averaged, at line 23 of the CS231n
    solution; the gradients stay right, and the loss's line is named."""
    src = (ROOT / "examples" / "solutions" / "cs231n_two_layer.py").read_text()
    (tmp_path / "net.py").write_text(src.replace("-log_probs[np.arange(N), y].mean()", "-log_probs[np.arange(N), y].sum()"))
    r = grader_for("cs231n-two-layer").grade(tmp_path / "net.py")
    assert r.verdict == "fail" and r.diagnoses[0]["correct"], r.message
    assert "first wrong value: net.py line 23, `loss = -log_probs[np.arange(N), y].sum()" in r.message, r.message
    assert "`loss` holds the loss it returns" in r.message


def test_an_attribute_of_self_is_traced(tmp_path):
    """A class that keeps its delta on ``self``: the wrong value sits in no local variable, only in an attribute,
    and the line that sets it (23, as in the bundled stale-weights class) is still named."""
    src = (BUGGY / "blog_class_stale_weights.py").read_text().replace("delta1 =", "self.delta1 =")
    (tmp_path / "stale.py").write_text(src.replace("self.input.T @ delta1", "self.input.T @ self.delta1"))
    r = grader_for("blog-class").grade(tmp_path / "stale.py")
    assert "first wrong value: stale.py line 23, `self.delta1 = (delta2 @ self.weights2.T)" in r.message, r.message
    assert "`self.delta1` holds layer 1's delta" in r.message, r.message


def test_a_loop_of_numpy_floats_crowds_out_no_array(tmp_path):
    """numpy floats are traced (a loss is often one), at most 30 per call: a loop making thousands of them leaves the
    arrays of the backward pass in the trace, and a mistake after it is still placed."""
    src = (BUGGY / "canonical_sign.py").read_text().replace(
        "def backprop(weights, biases, x, y):",
        "def backprop(weights, biases, x, y):\n    for i in range(3000):\n        s = np.float64(i) * 0.5")
    (tmp_path / "floats.py").write_text(src)
    g = grader_for("canonical")
    ret = g._run(g.collect(tmp_path / "floats.py"))
    for call, index in ret.status["trace"].items():
        scalars = [k for k, _ in enumerate(index) if ret.arrays[call + ".trace"][f"trace.{k}"].ndim == 0]
        assert len(scalars) <= 30 and any(name == "delta" for _, _, name in index), (call, len(scalars))
    assert "first wrong value: floats.py line 12, `delta = (y - a)" in g.grade(tmp_path / "floats.py").message


def test_no_line_of_the_course_files_is_traced():
    """dnn_utils.py, placed beside every dls-deep submission, computes relu_backward's dZ in a variable of its own:
    its lines are the course's, never a student's first wrong line, so the trace records none of them (and they
    spend none of its bounds); the student's own lines are still there."""
    g = grader_for("dls-deep")
    ret = g._run(g.collect(BUGGY / "dls_deep_mean_twice.py"))
    files = {item[0] for index in ret.status["trace"].values() for item in index}
    assert files == {"dls_deep_mean_twice.py"}, files


def test_the_trace_is_bounded_and_changes_no_grade(tmp_path):
    """A submission that churns out arrays in a loop: the runner records at most 150 of them per call, and the
    grade is the one the same code gets without the loop."""
    src = (ROOT / "examples" / "solutions" / "canonical.py").read_text().replace(
        "def backprop(weights, biases, x, y):",
        "def backprop(weights, biases, x, y):\n    for i in range(5000):\n        churn = np.full(50, float(i))")
    (tmp_path / "churn.py").write_text(src)
    g = grader_for("canonical")
    ret = g._run(g.collect(tmp_path / "churn.py"))
    assert ret.status["trace"] and all(0 < len(v) <= 150 for v in ret.status["trace"].values())
    assert all(len(ret.arrays[c + ".trace"]) <= 150 for c in ret.status["trace"])
    assert g.grade(tmp_path / "churn.py").verdict == "pass"


def test_an_assignment_that_asks_for_float64_holds_float32_to_it(tmp_path):
    """``[grading] precision = "float64"``: the same correct float32 solution is judged with float64's bound and
    told what the assignment asks for, instead of earning full marks within float32's rounding."""
    toml = (ROOT / "grader" / "assignments" / "canonical.toml").read_text()
    toml = toml.replace('solution = "../../examples/solutions/canonical.py"\n', "").replace("[grading]\n", '[grading]\nprecision = "float64"\n')
    (tmp_path / "canonical64.toml").write_text(toml)
    (tmp_path / "work").mkdir()
    r = Grader(load(str(tmp_path / "canonical64.toml"))).grade(_float32(tmp_path / "work", "canonical"))
    assert r.verdict == "fail" and r.score < r.max_score, r.message
    assert "the returned arrays are float32, and this assignment asks for float64: compute in np.float64" in r.message, r.message


def test_precision_takes_any_or_float64_only(tmp_path):
    toml = (ROOT / "grader" / "assignments" / "canonical.toml").read_text()
    (tmp_path / "bad.toml").write_text(toml.replace("[grading]\n", '[grading]\nprecision = "float16"\n'))
    with pytest.raises(Exception, match=r"precision = 'float16'; expected one of \('any', 'float64'\)"):
        load(str(tmp_path / "bad.toml"))
