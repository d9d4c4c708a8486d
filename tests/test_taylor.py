"""check_taylor: the order a Taylor remainder shrinks at, as a verdict with no tolerance on the gradient.

The agreement cases are bench/check_api.py's: the softmax loss of a 128×256 weight matrix, with one
element of the right gradient off by 1e-6 of the largest (a different element and sign per seed).
"""

from __future__ import annotations

import numpy as np
import pytest

import bpcheck
from bench.check_api import ERROR, grad, loss, problem
from tests.test_api_examples import load

SECOND_ORDER = load("second_order")


def _planted(g: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    bad = g.copy()
    bad.flat[int(rng.integers(g.size))] += ERROR * np.abs(g).max() * rng.choice([-1.0, 1.0])
    return bad


@pytest.mark.parametrize("complex_step", [True, False])
def test_the_taylor_verdict_agrees_with_check_function_on_the_benchmark_cases(complex_step):
    W, static = problem(16)
    g = grad(W, **static)
    rng = np.random.default_rng(1)
    disagreements = []
    for seed in range(10):
        for label, candidate in (("right", g), ("planted", _planted(g, rng))):
            def gradient(W, X, b, y, candidate=candidate):
                return candidate
            tolerance = bpcheck.check_function(loss, {"W": W}, gradient, static=static, mode="fast", seed=seed,
                                               complex_step=complex_step)
            taylor = bpcheck.check_taylor(loss, {"W": W}, gradient, static=static, seed=seed, complex_step=complex_step)
            if bool(tolerance) != bool(taylor) or bool(taylor) != (label == "right"):
                disagreements.append(f"seed {seed}, {label}: check_function {bool(tolerance)}, check_taylor:\n{taylor}")
    assert not disagreements, disagreements[0]


def test_right_gradients_pass_for_200_seeds_by_complex_and_central_remainders():
    alarms = []
    for seed in range(200):
        coef, X, y = SECOND_ORDER.data(seed)
        loss_gradient = SECOND_ORDER.BinaryLogistic().loss_gradient
        for complex_step in (True, False):
            result = bpcheck.check_taylor(loss_gradient, coef, returns="loss_and_grad", static=(X, y, 0.1), seed=seed,
                                          complex_step=complex_step)
            if not result:
                alarms.append(result.message())
    assert not alarms, alarms[0]


def test_a_wrong_gradient_shows_order_one_and_the_table_is_kept_in_step_order():
    coef, X, y = SECOND_ORDER.data(0)
    loss_gradient = SECOND_ORDER.BinaryLogistic().loss_gradient

    def off(coef, X, y, l2):
        value, g = loss_gradient(coef, X, y, l2)
        return value, g * 1.01
    result = bpcheck.check_taylor(off, coef, returns="loss_and_grad", static=(X, y, 0.1))
    message = result.message()
    assert not result and "coef (5,): wrong; observed orders 1.0" in message
    assert [row["h"] for row in result.table] == sorted(row["h"] for row in result.table)


def test_each_input_gets_its_own_verdict():
    rng = np.random.default_rng(2)
    X, y = rng.standard_normal((12, 3)), rng.standard_normal(12)

    def loss(w, b):
        return 0.5 * np.sum(np.tanh(X @ w + b) - y) ** 2

    def grad(w, b, bias_factor=1.0):
        r = np.tanh(X @ w + b)
        s = np.sum(r - y) * (1 - r**2)
        return {"w": X.T @ s, "b": bias_factor * np.sum(s, keepdims=True)}

    inputs = {"w": rng.standard_normal(3), "b": np.array([0.1])}
    assert bpcheck.check_taylor(loss, inputs, grad)
    message = bpcheck.check_taylor(loss, inputs, lambda w, b: grad(w, b, 2.0)).message()
    assert "w (3,): ok" in message and "b (1,): wrong" in message


def test_a_quadratic_loss_has_no_third_derivative_and_still_gets_a_verdict():
    rng = np.random.default_rng(0)
    A, b = rng.standard_normal((8, 3)), rng.standard_normal(8)

    def least_squares(x):
        r = A @ x - b
        return 0.5 * r @ r

    x = rng.standard_normal(3)
    for complex_step in (True, False):
        right = bpcheck.check_taylor(least_squares, x, lambda x: A.T @ (A @ x - b), complex_step=complex_step)
        wrong = bpcheck.check_taylor(least_squares, x, lambda x: A.T @ (A @ x - b) + 1e-3, complex_step=complex_step)
        assert right, right.message()
        assert not wrong, wrong.message()


def test_a_relu_loss_is_checked_by_the_central_remainder():
    rng = np.random.default_rng(3)
    X = rng.standard_normal((10, 4))

    def relu_loss(w):
        return np.sum(np.maximum(X @ w, 0) ** 3)

    def relu_grad(w):
        return X.T @ (3 * np.maximum(X @ w, 0) ** 2)

    w = rng.standard_normal(4)
    right = bpcheck.check_taylor(relu_loss, w, relu_grad, complex_step=False)
    assert right and "|F(θ+hu) − F(θ−hu) − 2h⟨g,u⟩|" in right.message(), right.message()
    assert not bpcheck.check_taylor(relu_loss, w, lambda w: relu_grad(w) * -1, complex_step=False)


def test_a_non_finite_gradient_or_loss_fails():
    assert not bpcheck.check_taylor(lambda x: np.sum(x**2), np.ones(3), lambda x: x * np.nan)
    assert not bpcheck.check_taylor(lambda x: np.sum(np.log(x - 2)), np.ones(3), lambda x: 1 / (x - 2))


def test_bad_arguments_say_what_was_wrong():
    with pytest.raises(bpcheck.CheckError, match="returns: expected"):
        bpcheck.check_taylor(np.sum, np.ones(3), np.ones_like, returns="grad")
    with pytest.raises(bpcheck.CheckError, match="grad: give grad="):
        bpcheck.check_taylor(np.sum, np.ones(3))


def test_a_plot_on_request(tmp_path):
    pytest.importorskip("matplotlib")
    coef, X, y = SECOND_ORDER.data(0)
    path = tmp_path / "taylor.png"
    result = bpcheck.check_taylor(SECOND_ORDER.BinaryLogistic().loss_gradient, coef, returns="loss_and_grad",
                                  static=(X, y, 0.1), plot=str(path))
    assert result and path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


# --- the confirming step: a verdict that did not pass gets the Taylor test beside it ----------------------


def test_a_failed_verdict_gets_a_taylor_test_that_agrees_on_the_benchmark_cases():
    """bench/check_api.py's cases: the planted gradient FAILS and the Taylor test beside it fails too; the right
    one passes and costs no Taylor test at all (the confirming step runs only on verdicts that did not pass)."""
    W, static = problem(16)
    g = grad(W, **static)
    rng = np.random.default_rng(2)
    for seed in range(5):
        for label, candidate in (("right", g), ("planted", _planted(g, rng))):
            def gradient(W, X, b, y, candidate=candidate):
                return candidate
            result = bpcheck.check_function(loss, {"W": W}, gradient, static=static, mode="fast", seed=seed)
            message = result.message()
            if label == "right":
                assert result.verdict == "passed" and result.taylor is None and "Taylor" not in message, message
            else:
                assert result.verdict == "FAILED" and result.taylor is False, message
                assert "confirming step, the Taylor test (no tolerance on the gradient): FAILED, as the tolerance verdict" in message
                assert "W (128, 256): wrong; observed orders" in message


def test_check_vjp_gets_the_confirming_step_on_its_scalar():
    """⟨dout, forward(x)⟩ with the dout the check drew: a backward that ignores dout fails both ways."""
    from tests.test_backward_hygiene import _affine, affine_backward, affine_backward_dout_one, affine_forward

    wrong = bpcheck.check_vjp(affine_forward, affine_backward_dout_one, _affine())
    assert wrong.verdict == "FAILED" and wrong.taylor is False, wrong.message()
    assert "FAILED, as the tolerance verdict" in wrong.message()
    assert all(f"  {name} {shape}: wrong; observed orders" in wrong.message()
               for name, shape in (("x", (4, 3)), ("w", (3, 5)), ("b", (5,))))
    right = bpcheck.check_vjp(affine_forward, affine_backward, _affine())
    assert right.verdict == "passed" and right.taylor is None and "Taylor" not in right.message()


def test_an_error_below_the_taylor_sensitivity_is_said_to_be_so():
    """Full mode catches an error of 1e-12 of the largest element, below the Taylor test's sensitivity: the note says so."""
    coef, X, y = SECOND_ORDER.data(0)
    model = SECOND_ORDER.BinaryLogistic()

    def nudged(c, X, y, l2):
        g = model.loss_gradient(c, X, y, l2)[1].copy()
        g[0] += 1e-12 * np.abs(g).max()
        return g

    result = bpcheck.check_function(lambda c, X, y, l2: model.loss_gradient(c, X, y, l2)[0], coef, nudged,
                                    static=(X, y, 0.1), mode="full")
    assert result.verdict == "FAILED" and result.taylor is True, result.message()
    assert "passed, where the tolerance verdict FAILED: the error is below its sensitivity" in result.message()


def test_the_backward_hygiene_benchmark_cases_are_each_caught_and_the_taylor_step_agrees():
    """bench/backward_hygiene.py's backwards: what check_vjp says of each, and the Taylor step where it runs."""
    from bench.backward_hygiene import CASES, bpcheck_outcome

    expected = {"ignores dout": ("FAILED", False), "writes into dout": ("passed + hazard", None),
                "writes into its cache": ("passed + hazard", None), "not reentrant": ("refused", None)}
    for seed in range(5):
        for case in CASES:
            assert bpcheck_outcome(case, seed) == expected.get(case.name, ("passed", None)), (case.name, seed)
