"""bpcheck's public checks on any gradient code: modes, localisation, patterns, safety, messages."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

import bpcheck
from bpcheck import CheckError
from bpcheck.oracles.generic import COTANGENT_STREAM


def affine_forward(x, w, b):
    return x @ w + b, (x, w)


def affine_backward(dout, cache):
    x, w = cache
    return dout @ w.T, x.T @ dout, dout.sum(axis=0)


def _affine(seed=0, n=4, d=3, m=3):
    rng = np.random.default_rng(seed)
    return {"x": rng.standard_normal((n, d)), "w": rng.standard_normal((d, m)), "b": rng.standard_normal(m)}


def test_import_bpcheck_and_python_m_bpcheck():
    assert set(bpcheck.__all__) >= {"check_vjp", "check_function", "assert_same_gradients"}
    done = subprocess.run([sys.executable, "-m", "bpcheck", "--help"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and "grade" in done.stdout


# --- a large weight: fast mode, evaluations counted ----------------------------------------------------


class Counted:
    """A softmax cross-entropy loss of a (128, 256) weight that counts its calls and refuses more than ``limit``."""

    def __init__(self, limit):
        rng = np.random.default_rng(0)
        self.X, self.y, self.calls, self.limit = rng.standard_normal((8, 128)), rng.integers(0, 256, 8), 0, limit
        self.W = 0.01 * rng.standard_normal((128, 256))

    def loss(self, W):
        self.calls += 1
        if self.calls > self.limit:
            raise RuntimeError(f"more than {self.limit} evaluations")
        s = self.X @ W
        s = s - np.max(s.real, axis=1, keepdims=True)
        return np.mean(np.log(np.sum(np.exp(s), axis=1)) - s[np.arange(8), self.y])

    def grad(self, W):
        s = self.X @ W
        p = np.exp(s - s.max(axis=1, keepdims=True))
        p /= p.sum(axis=1, keepdims=True)
        p[np.arange(8), self.y] -= 1
        return self.X.T @ p / 8


def test_a_large_weight_is_checked_in_at_most_23_evaluations():
    """It was a per-element Python loop: 4 calls per element, 131072 for this weight.  Now: F twice at the
    inputs (is it repeatable?), 6 on the noise line, 7 for the noise at a 16× smaller spacing, 8 directions."""
    f = Counted(limit=23)
    result = bpcheck.check_function(f.loss, {"W": f.W}, lambda W: f.grad(W))
    assert result.ok and result.mode == "fast" and result.evaluations == f.calls <= 23, result.message()


def test_one_wrong_element_is_named_within_64_evaluations():
    """64 for the verdict and the localisation; the confirming Taylor test after it counts its own, in its note."""
    f = Counted(limit=64 + 40)
    g = f.grad(f.W)
    bad = g.copy()
    bad[37, 201] += 1e-6 * np.abs(g).max()
    result = bpcheck.check_function(f.loss, {"W": f.W}, lambda W: bad)
    assert not result.ok and result.evaluations <= 64 and result.taylor is False
    assert f"FAILED, as the tolerance verdict ({f.calls - result.evaluations} calls of Counted.loss)" in result.message()
    (verdict,) = result.inputs
    assert verdict.bad == 1 and verdict.elements[0].where == "W[37, 201]"
    assert abs(verdict.elements[0].expected - g[37, 201]) <= 1e-12 * np.abs(g).max()
    assert "W[37, 201]: got" in result.message() and "expected" in result.message()


def test_fast_mode_has_no_false_alarms_over_seeds():
    f = Counted(limit=10**6)
    assert all(bpcheck.check_function(f.loss, {"W": f.W}, f.grad, seed=s) for s in range(8))  # 1000 seeds: bench/check_api.py


# --- modes and patterns ---------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["full", "fast"])
@pytest.mark.parametrize("bug, pattern", [
    (lambda dx, dw, db: (dx, 2 * dw, db), "w (3, 3): 9 of 9 elements wrong; pattern: × 2.000"),
    (lambda dx, dw, db: (dx, dw.T, db), "pattern: transposed"),
    (lambda dx, dw, db: (dx, dw / dx.shape[0], db),
     "pattern: / 4 (4 is the length of axis 0 of x, axis 0 of the output; at length 5 it is / 5: a / N too many)"),
    (lambda dx, dw, db: (dx, dw / 4, db), "w (3, 3): 9 of 9 elements wrong; pattern: × 0.250"),  # a constant 4, at any batch size
    (lambda dx, dw, db: (dx, -dw, db), "pattern: sign flipped (× −1)"),
    (lambda dx, dw, db: (dx, 0 * dw, db), "pattern: all zeros"),
])
def test_each_pattern_is_named_in_both_modes(mode, bug, pattern):
    result = bpcheck.check_vjp(affine_forward, lambda dout, cache: bug(*affine_backward(dout, cache)), _affine(), mode=mode)
    assert not result.ok and [v.name for v in result.inputs if not v.ok] == ["w"]
    assert (pattern if mode == "full" else pattern[pattern.index("pattern: "):]) in result.message()


def test_a_single_wrong_element_has_no_pattern_and_shows_the_expected_value():
    inputs = _affine()

    def backward(dout, cache):
        dx, dw, db = affine_backward(dout, cache)
        dx[2, 1] += 1e-3
        return dx, dw, db

    result = bpcheck.check_vjp(affine_forward, backward, inputs)
    right = affine_backward(np.random.default_rng([COTANGENT_STREAM, 0]).standard_normal((4, 3)), (inputs["x"], inputs["w"]))[0]
    assert "x (4, 3): 1 of 12 elements wrong; normwise relative error" in result.message() and "pattern" not in result.message()
    assert f"x[2, 1]: got {right[2, 1] + 1e-3:.10e}, expected {right[2, 1]:.10e}" in result.message()


def test_correct_layers_pass_in_both_modes_over_seeds():
    for seed in range(10):
        for mode in ("full", "fast"):
            result = bpcheck.check_vjp(affine_forward, affine_backward, _affine(seed, 5, 4, 6), mode=mode, seed=seed)
            assert result.ok, result.message()


def test_auto_picks_full_for_small_and_fast_for_large():
    assert bpcheck.check_vjp(affine_forward, affine_backward, _affine()).mode == "full"
    big = _affine(0, 4, 40, 30)
    assert sum(v.size for v in big.values()) > bpcheck.AUTO_FULL_LIMIT
    assert bpcheck.check_vjp(affine_forward, affine_backward, big).mode == "fast"


# --- safety ---------------------------------------------------------------------------------------------


def test_non_finite_output_and_gradient_fail_and_say_where():
    def forward(x):
        return np.log(x), x

    result = bpcheck.check_vjp(forward, lambda dout, x: dout / x, {"x": np.array([1.0, -1.0, 2.0])})
    assert not result.ok and "forward's output has 1 non-finite elements (forward's output[1] = nan)" in result.message()
    nan_grad = bpcheck.check_vjp(affine_forward, lambda d, c: (np.full((4, 3), np.nan), *affine_backward(d, c)[1:]), _affine())
    assert not nan_grad.ok and "the gradient for x has 12 non-finite elements (the gradient for x[0, 0] = nan" in nan_grad.message()


def test_a_loss_not_finite_next_to_the_point_fails_naming_the_element():
    x = np.array([1.0, 2.0, 1e-7])  # log(x − h) is nan for the last element
    result = bpcheck.check_function(lambda x: np.sum(np.log(x)), x, lambda x: 1 / x, complex_step=False)
    assert not result.ok and "F is not finite when x[2] moves by" in result.message()


@pytest.mark.parametrize("mode", ["full", "fast"])
def test_a_constant_loss_is_checked_without_a_division_by_zero(mode):
    """F constant: every tolerance is 0, so only an exactly right gradient (zeros) passes."""
    x = np.arange(6.0)
    assert bpcheck.check_function(lambda x: 0.0, x, grad=np.zeros_like, mode=mode)
    wrong = bpcheck.check_function(lambda x: 0.0, x, grad=np.ones_like, mode=mode)
    assert not wrong and "6 of 6 elements wrong" in wrong.message()


def test_the_callers_arrays_and_objects_are_left_as_they_were():
    class Model:
        W = None

    model, seen = Model(), {"calls": 0}
    x = np.arange(1.0, 7.0).reshape(2, 3).astype(np.float32)
    before = x.copy()

    def loss(x, model, seen):
        model.W = x  # keeps whatever it was given (complex, perturbed ...)
        seen["calls"] += 1
        x *= 1.0  # writes into its input
        return np.sum(x.astype(np.float64) ** 2)

    result = bpcheck.check_function(loss, {"x": x}, lambda x, model, seen: 2 * x, static={"model": model, "seen": seen})
    assert result.ok, result.message()
    assert model.W is None and seen == {"calls": 0}
    assert x.dtype == np.float32 and np.array_equal(x, before) and x.flags.writeable
    assert "writes into its input arrays, so every call got fresh copies" in result.message()


def test_numpy_errors_become_bpcheck_messages():
    def forward(x, w, b):
        return x @ w.T + b, (x, w)  # w.T: a shape mismatch inside numpy

    with pytest.raises(CheckError, match=r"forward at the inputs given raised ValueError: matmul: .*\(at test_api_checks.py:\d+, in forward\)"):
        bpcheck.check_vjp(forward, affine_backward, _affine(0, 4, 3, 5))


@pytest.mark.parametrize("backward, message", [
    (lambda d, c: affine_backward(d, c)[:2], r"returned 2 gradients; expected 3, one per input \(x, w, b\)"),
    (lambda d, c: (affine_backward(d, c)[0], affine_backward(d, c)[1].T, affine_backward(d, c)[2]),
     r"gradient for w of shape \(5, 3\); expected \(3, 5\), the shape of w \(its transpose"),
    (lambda d, c: {"x": 0, "w": 0}, r"keyed \['x', 'w'\]; expected the inputs' keys \['x', 'w', 'b'\] \(missing \['b'\]\)"),
])
def test_wrong_gradient_structures_are_named(backward, message):
    with pytest.raises(CheckError, match=message):
        bpcheck.check_vjp(affine_forward, backward, _affine(0, 4, 3, 5))


def test_bad_inputs_are_refused_clearly():
    with pytest.raises(CheckError, match=r"input y has dtype int64: .* pass labels, indices and other fixed arguments in static="):
        bpcheck.check_function(lambda x, y: 0.0, {"x": np.ones(2), "y": np.arange(2)}, lambda x, y: (x, y))
    with pytest.raises(CheckError, match=r"input x has 1 non-finite elements \(first: x\[1\] = inf\)"):
        bpcheck.check_function(lambda x: 0.0, {"x": np.array([0.0, np.inf])}, lambda x: x)
    with pytest.raises(CheckError, match="grad: give grad="):
        bpcheck.check_function(lambda x: 0.0, np.ones(2))
    with pytest.raises(CheckError, match=r"returns: expected 'loss' or 'loss_and_grad', got 'grad'"):
        bpcheck.check_function(lambda x: 0.0, np.ones(2), lambda x: x, returns="grad")
    with pytest.raises(CheckError, match=r"mode: expected 'auto', 'full' or 'fast', got 'quick'"):
        bpcheck.check_vjp(affine_forward, affine_backward, _affine(), mode="quick")


def test_float32_code_needs_a_float64_reference_and_is_held_to_float32():
    def forward32(x):
        y = np.tanh(x.astype(np.float32))
        return y, y

    def backward(dout, y):
        return dout * (1 - y * y)

    x = np.linspace(-1, 1, 6).astype(np.float32)
    with pytest.raises(CheckError, match=r"returns float32 for float64 inputs.*pass reference="):
        bpcheck.check_vjp(forward32, backward, {"x": x})
    result = bpcheck.check_vjp(forward32, backward, {"x": x}, reference=lambda x: (np.tanh(x), None))
    assert result.ok and result.dtype == "float32" and "ε = 2⁻²³, float32" in result.message()
    # the float32 gradient would fail the float64 standard (its error is ~1e-7, float64's rtol ~1e-14)
    assert not bpcheck.check_vjp(forward32, backward, {"x": x}, reference=lambda x: (np.tanh(x), None), rtol=1e-12).ok


def test_per_example_losses_are_summed():
    rng = np.random.default_rng(4)
    X, w = rng.standard_normal((5, 3)), rng.standard_normal(3)
    result = bpcheck.check_function(lambda w, X: (X @ w) ** 2, w, lambda w, X: 2 * X.T @ (X @ w), static={"X": X})
    assert result.ok, result.message()


# --- old against new ------------------------------------------------------------------------------------


def test_assert_same_gradients_accepts_a_reordered_refactor_and_names_a_changed_element():
    inputs = _affine(1, 6, 5, 4)

    def vectorised(x, w, b):
        out = x @ w + b
        return np.sum(out**2), (2 * out @ w.T, x.T @ (2 * out), 2 * out.sum(axis=0))

    def looped(x, w, b):
        dw, dx, db = np.zeros_like(w), np.zeros_like(x), np.zeros_like(b)
        loss = 0.0
        for n in range(len(x)):  # one example at a time: the same sums in another order
            out = x[n] @ w + b
            loss += np.sum(out**2)
            dw += np.outer(x[n], 2 * out)
            dx[n] = 2 * out @ w.T
            db += 2 * out
        return loss, (dx, dw, db)

    def summed_twice(x, w, b):
        loss, (dx, dw, db) = vectorised(x, w, b)
        return loss, (dx, dw, db * x.shape[0])

    result = bpcheck.assert_same_gradients(vectorised, looped, inputs, returns="loss_and_grad")
    assert result.ok
    with pytest.raises(AssertionError,
                       match=r"b \(4,\): 4 of 4 elements wrong; pattern: × 6 \(6 is the length of axis 0 of x; "
                             r"at length 7 it is × 7: a / N missing\)"):
        bpcheck.assert_same_gradients(vectorised, summed_twice, inputs, returns="loss_and_grad")


def test_assert_same_gradients_on_layer_pairs_uses_one_cotangent():
    def backward_bug(dout, cache):
        dx, dw, db = affine_backward(dout, cache)
        return dx, dw, db + 1e-9

    bpcheck.assert_same_gradients((affine_forward, affine_backward), (affine_forward, affine_backward), _affine())
    with pytest.raises(AssertionError, match=r"b\[\d\]: got .*, old "):
        bpcheck.assert_same_gradients((affine_forward, affine_backward), (affine_forward, backward_bug), _affine())


# --- the pytest fixture ---------------------------------------------------------------------------------

pytest_plugins = ["pytester"]


def test_gradcheck_vjp_draws_shapes_and_shrinks_a_failure(pytester):
    pytester.makepyfile(
        """
        import numpy as np

        def forward(x, w, b):
            return x @ w + b, (x, w)

        def backward(dout, cache):
            x, w = cache
            return dout @ w.T, x.T @ dout, dout.sum(axis=0)

        def backward_first_row_db(dout, cache):
            dx, dw, db = backward(dout, cache)
            return dx, dw, dout[0]  # right only when the batch is 1

        SHAPES = {"x": ("N", "D"), "w": ("D", "M"), "b": ("M",)}

        def test_right(gradcheck):
            gradcheck.vjp(forward, backward, shapes=SHAPES, dims={"N": (1, 6), "D": (1, 4), "M": (1, 3)}, max_examples=10)

        def test_broken(gradcheck):
            gradcheck.vjp(forward, backward_first_row_db, shapes=SHAPES, dims={"N": (1, 6), "D": (1, 4), "M": (1, 3)}, max_examples=10)
        """
    )
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, failed=1)
    # shrunk to the smallest failing sizes: N = 2 (N = 1 passes), D = M = 1
    result.stdout.fnmatch_lines(["*check_vjp(forward, backward_first_row_db) is wrong at D = 1, M = 1, N = 2 *", "*b (1,)*wrong*"])


@pytest.mark.parametrize("mode", ["full", "fast"])
def test_inputs_at_the_edge_of_the_domain_fail_and_say_so(mode):
    """log(x) with x within a step of 0: nothing can be measured there, and complex step is never trusted untested."""
    x = np.array([1.0, 2.0, 1e-7])
    result = bpcheck.check_function(lambda x: np.sum(np.log(x)), x, lambda x: 1 / x, mode=mode)
    assert not result.ok and "not finite" in result.message() and "invalid value encountered in log" in result.message()


def test_static_that_cannot_be_copied_is_refused_clearly():
    with pytest.raises(CheckError, match=r"static: .* copy.deepcopy failed: TypeError: cannot pickle 'generator' object"):
        bpcheck.check_function(lambda x, g: 0.0, np.ones(2), lambda x, g: x, static={"g": (i for i in range(3))})


def test_nested_parameters_are_named_as_written():
    rng = np.random.default_rng(5)
    W, b, X = rng.standard_normal((3, 2)), rng.standard_normal(2), rng.standard_normal((4, 3))

    def loss(params, X):
        return np.sum(np.tanh(X @ params["layer"]["W"] + params["layer"]["b"]) ** 2)

    def grad(params, X):
        t = np.tanh(X @ params["layer"]["W"] + params["layer"]["b"])
        d = 2 * t * (1 - t * t)
        return {"layer": {"W": X.T @ d, "b": 1.5 * d.sum(axis=0)}}

    result = bpcheck.check_function(loss, {"params": {"layer": {"W": W, "b": b}}}, grad, static={"X": X})
    assert "params.layer.W (3, 2): ok" in result.message()
    assert "params.layer.b (2,): 2 of 2 elements wrong; pattern: × 1.500" in result.message()
    assert "params.layer.b[0]: got" in result.message()
