"""The check API never passes what it could not check (issue 22): randomness, kinks, truncation, honest tolerances.

Each case is gradient code written the way the libraries it imitates write it (CS231n layers, CS224n
word2vec, the deeplearning.ai gradient-checking assignment, scipy's rosen and logsumexp), in a right and
a wrong version.  ``CASES`` lists them for the false-alarm and miss rates (``test_rates_over_the_cases``).
"""

from __future__ import annotations

import numpy as np
import pytest

import bpcheck

# --- CS231n: dropout, relu, max-pool, batchnorm -------------------------------------------------------------


def dropout_forward(x, dropout_param):
    """CS231n's inverted dropout: a fresh mask on every call unless dropout_param has a seed."""
    p = dropout_param["p"]
    if "seed" in dropout_param:
        np.random.seed(dropout_param["seed"])
    mask = (np.random.rand(*x.shape) < p) / p
    return x * mask, (dropout_param, mask)


def dropout_backward(dout, cache):
    return dout * cache[1]


def relu_forward(x):
    return np.maximum(0, x), x


def relu_backward(dout, cache):
    return dout * (cache > 0)


def max_pool_forward_naive(x, pool_param):
    ph, pw, stride = pool_param["pool_height"], pool_param["pool_width"], pool_param["stride"]
    N, C, H, W = x.shape
    out = np.zeros((N, C, 1 + (H - ph) // stride, 1 + (W - pw) // stride), dtype=x.dtype)
    for i in range(out.shape[2]):
        for j in range(out.shape[3]):
            window = x[:, :, i * stride:i * stride + ph, j * stride:j * stride + pw]
            out[:, :, i, j] = np.max(window.reshape(N, C, -1), axis=2)
    return out, (x, pool_param)


def max_pool_backward_naive(dout, cache, whole_window=False):
    x, pool_param = cache
    ph, pw, stride = pool_param["pool_height"], pool_param["pool_width"], pool_param["stride"]
    dx = np.zeros_like(x)
    for i in range(dout.shape[2]):
        for j in range(dout.shape[3]):
            window = x[:, :, i * stride:i * stride + ph, j * stride:j * stride + pw]
            mask = np.ones_like(window) if whole_window else window == window.max(axis=(2, 3), keepdims=True)
            dx[:, :, i * stride:i * stride + ph, j * stride:j * stride + pw] += mask * dout[:, :, i:i + 1, j:j + 1]
    return dx


def _pool_input():
    """A (1, 1, 4, 4) input whose every 2×2 window has a near tie: its two largest elements 1e-9 apart."""
    x = np.random.default_rng(3).standard_normal((1, 1, 4, 4))
    for i in (0, 2):
        for j in (0, 2):
            x[0, 0, i, j] = 2.0 + i + j
            x[0, 0, i + 1, j + 1] = 2.0 + i + j - 1e-9
    return x


def batchnorm_forward(x, gamma, beta):
    """CS231n's training-mode batchnorm (np.var: complex step is not valid here, central differences are used)."""
    var = np.var(x, axis=0) + 1e-5
    xhat = (x - x.mean(axis=0)) / np.sqrt(var)
    return gamma * xhat + beta, (x, gamma, xhat, var)


def batchnorm_backward_keepdims(dout, cache):
    """dgamma and dbeta as (1, D), as summed with keepdims=True: the grader accepts that convention."""
    x, gamma, xhat, var = cache
    N = x.shape[0]
    dgamma = np.sum(dout * xhat, axis=0, keepdims=True)
    dbeta = np.sum(dout, axis=0, keepdims=True)
    dxhat = dout * gamma
    dx = (N * dxhat - dxhat.sum(axis=0) - xhat * (dxhat * xhat).sum(axis=0)) / (N * np.sqrt(var))
    return dx, dgamma, dbeta


# --- scipy: logsumexp at 1e5, rosen over 12 decades --------------------------------------------------------


def logsumexp_rows(logits):
    m = np.max(logits, axis=1, keepdims=True)
    return np.sum(m[:, 0] + np.log(np.sum(np.exp(logits - m), axis=1)))


def softmax_rows(logits):
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def softmax_wrong_axis(logits):
    e = np.exp(logits - logits.max(axis=0, keepdims=True))
    return e / e.sum(axis=0, keepdims=True)


def _logits():
    return 1e5 + np.random.default_rng(4).standard_normal((4, 5))


def rosen(x):
    return np.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2)


def rosen_der(x):
    xm, xm_m1, xm_p1 = x[1:-1], x[:-2], x[2:]
    der = np.zeros_like(x)
    der[1:-1] = 200 * (xm - xm_m1**2) - 400 * (xm_p1 - xm**2) * xm - 2 * (1 - xm)
    der[0] = -400 * x[0] * (x[1] - x[0] ** 2) - 2 * (1 - x[0])
    der[-1] = 200 * (x[-1] - x[-2] ** 2)
    return der


def _rosen_point():
    """Parameters from 1e-8 to 1e4: the gradient spans about 20 decades."""
    return np.array([1e4, 1e2, 1.0, 1e-2, 1e-4, 1e-8, 1e-8])


def _tiny_element(x):
    """The element of rosen_der(x) smallest in magnitude but not 0."""
    g = np.abs(rosen_der(x))
    return int(np.argmin(np.where(g > 0, g, np.inf)))


def rosen_der_off_5_percent(x):
    g = rosen_der(x)
    g[_tiny_element(x)] *= 1.05
    return g


# --- deeplearning.ai: gradient checking with its two planted bugs ------------------------------------------


def _dlai_case():
    """gradient_check_n_test_case: X (4, 3), Y (1, 3), a 4-5-3-1 relu/relu/sigmoid network."""
    rng = np.random.RandomState(1)
    X, Y = rng.randn(4, 3), np.array([[1, 1, 0]])
    shapes = {"W1": (5, 4), "b1": (5, 1), "W2": (3, 5), "b2": (3, 1), "W3": (1, 3), "b3": (1, 1)}
    return X, Y, {k: rng.randn(*s) for k, s in shapes.items()}


def forward_propagation_n(X, Y, parameters):
    m = X.shape[1]
    W1, b1, W2, b2, W3, b3 = (parameters[k] for k in ("W1", "b1", "W2", "b2", "W3", "b3"))
    Z1 = np.dot(W1, X) + b1
    A1 = np.maximum(0, Z1)
    Z2 = np.dot(W2, A1) + b2
    A2 = np.maximum(0, Z2)
    Z3 = np.dot(W3, A2) + b3
    A3 = 1 / (1 + np.exp(-Z3))
    cost = 1.0 / m * np.sum(np.multiply(-np.log(A3), Y) + np.multiply(-np.log(1 - A3), 1 - Y))
    return cost, (Z1, A1, W1, b1, Z2, A2, W2, b2, Z3, A3, W3, b3)


def backward_propagation_n(X, Y, cache, planted=False):
    m = X.shape[1]
    (Z1, A1, W1, b1, Z2, A2, W2, b2, Z3, A3, W3, b3) = cache
    dZ3 = A3 - Y
    dW3 = 1.0 / m * np.dot(dZ3, A2.T)
    db3 = 1.0 / m * np.sum(dZ3, axis=1, keepdims=True)
    dZ2 = np.multiply(np.dot(W3.T, dZ3), np.int64(A2 > 0))
    dW2 = 1.0 / m * np.dot(dZ2, A1.T) * (2 if planted else 1)
    db2 = 1.0 / m * np.sum(dZ2, axis=1, keepdims=True)
    dZ1 = np.multiply(np.dot(W2.T, dZ2), np.int64(A1 > 0))
    dW1 = 1.0 / m * np.dot(dZ1, X.T)
    db1 = (4.0 if planted else 1.0) / m * np.sum(dZ1, axis=1, keepdims=True)
    return {"W1": dW1, "b1": db1, "W2": dW2, "b2": db2, "W3": dW3, "b3": db3}


def dlai_cost_and_grad(W1, b1, W2, b2, W3, b3, X, Y, planted=False):
    parameters = {"W1": W1, "b1": b1, "W2": W2, "b2": b2, "W3": W3, "b3": b3}
    cost, cache = forward_propagation_n(X, Y, parameters)
    return cost, backward_propagation_n(X, Y, cache, planted)


# --- CS224n: word2vec's negative sampling --------------------------------------------------------------------


def neg_sampling_loss_and_gradient(center, outside, target, K=5, seed=None):
    """CS224n's negSamplingLossAndGradient, negatives drawn on every call (seed=None) or from a fixed seed."""
    rng = np.random.default_rng(seed) if seed is not None else np.random
    negatives = [int(k) for k in (rng.integers(0, len(outside), K) if seed is not None else rng.randint(0, len(outside), K))]
    sig = lambda z: 1 / (1 + np.exp(-z))  # noqa: E731  (the course's style)
    u_o, u_k = outside[target], outside[negatives]
    loss = -np.log(sig(u_o @ center)) - np.sum(np.log(sig(-u_k @ center)))
    g_center = -(1 - sig(u_o @ center)) * u_o + (1 - sig(-u_k @ center)) @ u_k
    g_outside = np.zeros_like(outside)
    g_outside[target] -= (1 - sig(u_o @ center)) * center
    for n, k in enumerate(negatives):
        g_outside[k] += (1 - sig(-u_k[n] @ center)) * center
    return loss, {"center": g_center, "outside": g_outside}


# --- a 1e5-element loss for fast mode ------------------------------------------------------------------------


def bce_with_logits(x, t):
    """scikit-learn-style binary cross-entropy on logits, summed (log1p(exp(x)) keeps complex step valid)."""
    return np.sum(np.log1p(np.exp(x)) - t * x)


def bce_with_logits_grad(x, t):
    return 1 / (1 + np.exp(-x)) - t


def _large(n=10**5):
    rng = np.random.default_rng(5)
    return rng.standard_normal(n), (rng.random(n) < 0.5).astype(np.float64)


#: Where _large's wrong gradient is off, by 1e-6·max|g|.
LARGE_WRONG = 61_803


def bce_grad_one_element_off(x, t):
    g = bce_with_logits_grad(x, t)
    g[LARGE_WRONG] += 1e-6 * np.abs(g).max()
    return g


# --- every case, right and wrong: the verdict each must get ---------------------------------------------------

POOL = {"pool_height": 2, "pool_width": 2, "stride": 2}
SEEDED, UNSEEDED = {"p": 0.5, "seed": 1}, {"p": 0.5}


def _x(seed=0, shape=(4, 5)):
    return np.random.default_rng(seed).standard_normal(shape)


def _relu_input():
    x = _x()
    x[1, 2] = 0.0  # an exact zero: relu's kink at the point
    return x


def _dlai(planted):
    X, Y, p = _dlai_case()
    return bpcheck.check_function(lambda **kw: dlai_cost_and_grad(**kw, planted=planted), p, returns="loss_and_grad",
                                  static={"X": X, "Y": Y})


def _w2v(seed, wrong=False):
    def loss_grad(center, outside, target, seed):
        loss, g = neg_sampling_loss_and_gradient(center, outside, target, seed=seed)
        return loss, {"center": -g["center"] if wrong else g["center"], "outside": g["outside"]}
    return bpcheck.check_function(loss_grad, {"center": _x(1, (3,)), "outside": _x(2, (6, 3))}, returns="loss_and_grad",
                                  static={"target": 2, "seed": seed})


def _bn(wrong):
    def backward(dout, cache):
        dx, dgamma, dbeta = batchnorm_backward_keepdims(dout, cache)
        return dx, dgamma * (2 if wrong else 1), dbeta
    return bpcheck.check_vjp(batchnorm_forward, backward, {"x": _x(3, (6, 4)), "gamma": _x(4, (4,)), "beta": _x(5, (4,))})


def _square_relu_input():
    """5×5 with one exact zero: a × 10 error on it was once called "transposed"."""
    x = _x(1, (5, 5))
    x[2, 3] = 0.0
    return x


def _relu_large():
    """2000 elements (fast mode), 30 of them exactly 0."""
    x = _x(6, (40, 50))
    x[::7, ::9] = 0.0
    return x


# --- least absolute deviations with observations close to the parameter: kinks at several scales -----------

#: Observations of x[0] recorded at several precisions: breakpoints of |x[0] − y| at 6·h/16ᵏ either side
#: (h = ε^⅓, the central step), k = 0…3, each pair half as heavy as the one before.  Every spacing at which
#: the noise of F is measured sees one pair, so the estimate shrinks 32× per level and never reaches
#: rounding; np.maximum-style code, so complex step is off.
_LAD_X = np.array([0.7, -0.2, 0.4])
_LAD_Y = np.array([0.7 + sign * 6 * s for s in [np.finfo(float).eps ** (1 / 3) / 16**k for k in range(4)] for sign in (1, -1)])
_LAD_W = np.repeat(0.5 ** np.arange(4), 2)


def lad_loss(x):
    return 0.5 * np.sum(x**2) + np.sum(_LAD_W * np.abs(x[0] - _LAD_Y))


def lad_grad(x, wrong=0.0):
    g = x.copy()
    g[0] += np.sum(_LAD_W * np.sign(x[0] - _LAD_Y))
    g[1] *= 1 + wrong
    return g


def _lad(wrong):
    return bpcheck.check_function(lad_loss, _LAD_X, lambda x: lad_grad(x, wrong), complex_step=False)


#: name -> (the check, the verdict it must get, what its message must say).  "right"/"wrong" in the name
#: says which version of the code it is, for the rates.
CASES = {
    "dropout unseeded, right": (lambda: bpcheck.check_vjp(dropout_forward, dropout_backward, {"x": _x()},
                                                          static={"dropout_param": UNSEEDED}), "refused", ["random mask"]),
    "dropout unseeded, wrong (returns 0)": (lambda: bpcheck.check_vjp(dropout_forward, lambda d, c: 0 * d, {"x": _x()},
                                                                      static={"dropout_param": UNSEEDED}), "refused", []),
    "dropout unseeded, wrong (5·dout)": (lambda: bpcheck.check_vjp(dropout_forward, lambda d, c: 5 * d, {"x": _x()},
                                                                   static={"dropout_param": UNSEEDED}), "refused", []),
    "dropout seeded, right": (lambda: bpcheck.check_vjp(dropout_forward, dropout_backward, {"x": _x()},
                                                        static={"dropout_param": SEEDED}), "passed", []),
    "dropout seeded, wrong (× 2)": (lambda: bpcheck.check_vjp(dropout_forward, lambda d, c: 2 * dropout_backward(d, c), {"x": _x()},
                                                              static={"dropout_param": SEEDED}), "FAILED", ["× 2.000"]),
    "relu with an exact zero, right": (lambda: bpcheck.check_vjp(relu_forward, relu_backward, {"x": _relu_input()}), "passed",
                                       ["kink: F is not differentiable within the step at x[1, 2] (a kink at the point)"]),
    "relu with an exact zero, wrong (× 2)": (lambda: bpcheck.check_vjp(relu_forward, lambda d, c: 2 * relu_backward(d, c),
                                                                       {"x": _relu_input()}), "FAILED", ["× 2.000"]),
    "relu with an exact zero, square, wrong (× 10)": (
        lambda: bpcheck.check_vjp(relu_forward, lambda d, c: 10 * relu_backward(d, c), {"x": _square_relu_input()}),
        "FAILED", ["pattern: × 10.000"]),
    "relu with exact zeros, 2000 elements (fast), right": (
        lambda: bpcheck.check_vjp(relu_forward, relu_backward, {"x": _relu_large()}), "inconclusive",
        ["could not tell a wrong element from a kink", "kink: F is not differentiable within the step at x["]),
    "relu with exact zeros, 2000 elements (fast), wrong (× 2)": (
        lambda: bpcheck.check_vjp(relu_forward, lambda d, c: 2 * relu_backward(d, c), {"x": _relu_large()}), "FAILED",
        ["elements wrong", "got"]),
    "max-pool with a near tie, right": (lambda: bpcheck.check_vjp(max_pool_forward_naive, max_pool_backward_naive,
                                                                  {"x": _pool_input()}, static={"pool_param": POOL}), "passed",
                                        ["kink: F is not differentiable within the step at x[0, 0, 0, 0] (a kink at the point)"]),
    "max-pool with a near tie, wrong (whole window)": (
        lambda: bpcheck.check_vjp(max_pool_forward_naive, lambda d, c: max_pool_backward_naive(d, c, whole_window=True),
                                  {"x": _pool_input()}, static={"pool_param": POOL}), "FAILED", ["12 of 16 elements wrong"]),
    "logsumexp at 1e5, right": (lambda: bpcheck.check_function(logsumexp_rows, _logits(), softmax_rows), "passed", []),
    "logsumexp at 1e5, wrong (softmax over axis 0)": (lambda: bpcheck.check_function(logsumexp_rows, _logits(), softmax_wrong_axis),
                                                      "FAILED", ["20 of 20 elements wrong"]),
    "rosen from 1e-8 to 1e4, right": (lambda: bpcheck.check_function(rosen, _rosen_point(), rosen_der), "inconclusive",
                                      ["x[6] expected 2.000e-06", "small against the largest element"]),
    "rosen from 1e-8 to 1e4, wrong (5 % on a tiny element)": (
        lambda: bpcheck.check_function(rosen, _rosen_point(), rosen_der_off_5_percent), "inconclusive", ["x[6] expected 2.000e-06"]),
    "1e5 elements, fast, right": (lambda: bpcheck.check_function(bce_with_logits, {"x": _large()[0]}, bce_with_logits_grad,
                                                                 static={"t": _large()[1]}), "passed", []),
    "1e5 elements, fast, wrong (one element off by 1e-6·max|g|)": (
        lambda: bpcheck.check_function(bce_with_logits, {"x": _large()[0]}, bce_grad_one_element_off, static={"t": _large()[1]}),
        "FAILED", [f"x[{LARGE_WRONG}]: got"]),
    "1e5 elements, fast, central differences only, right": (
        lambda: bpcheck.check_function(bce_with_logits, {"x": _large()[0]}, bce_with_logits_grad, static={"t": _large()[1]},
                                       complex_step=False), "passed", ["Richardson extrapolation"]),
    "1e5 elements, fast, central differences only, wrong (one element off by 1e-6·max|g|)": (
        lambda: bpcheck.check_function(bce_with_logits, {"x": _large()[0]}, bce_grad_one_element_off, static={"t": _large()[1]},
                                       complex_step=False), "FAILED", [f"x[{LARGE_WRONG}]: got"]),
    # the pattern is read by central differences, whose rounding term over 1e5 elements is smaller than Richardson's
    "1e5 elements, fast, central differences only, wrong (× 1.001)": (
        lambda: bpcheck.check_function(bce_with_logits, {"x": _large()[0]}, lambda x, t: 1.001 * bce_with_logits_grad(x, t),
                                       static={"t": _large()[1]}, complex_step=False), "FAILED", ["x (100000,): wrong", "pattern: × 1.001"]),
    "batchnorm with dgamma (1, D), right": (lambda: _bn(False), "passed",
                                            ["gradient for gamma with shape (1, 4), the shape of gamma (4,) with axes of length 1 kept"]),
    "batchnorm with dgamma (1, D), wrong (× 2)": (lambda: _bn(True), "FAILED", ["gamma (4,): 4 of 4 elements wrong"]),
    "deeplearning.ai gradient check, right": (lambda: _dlai(False), "passed", []),
    "deeplearning.ai gradient check, wrong (dW2 × 2, db1 = 4./m)": (
        lambda: _dlai(True), "FAILED", ["b1 (5, 1): 4 of 5 elements wrong; pattern: × 4.000;"]),
    "word2vec, random negatives, right": (lambda: _w2v(None), "refused", ["is not repeatable"]),
    "word2vec, seeded negatives, right": (lambda: _w2v(7), "passed", []),
    "L1 deviations with breakpoints beside the point, right": (lambda: _lad(0.0), "passed", []),
    "L1 deviations with breakpoints beside the point, wrong (x[1] × 1.001)": (lambda: _lad(1e-3), "FAILED", ["x[1]: got"]),
    "word2vec, seeded negatives, wrong (center's sign)": (lambda: _w2v(7, wrong=True), "FAILED", ["center (3,): 3 of 3"]),
}


@pytest.mark.parametrize("name", list(CASES))
def test_each_case_gets_its_verdict(name):
    check, verdict, says = CASES[name]
    result = check()
    assert result.message().splitlines()[0].endswith(f": {verdict}"), f"{name}:\n{result.message()}"
    assert bool(result) == (verdict == "passed")
    for text in says:
        assert text in result.message(), f"{name}: {text!r} not in\n{result.message()}"


def test_old_against_new_says_when_small_elements_were_compared_at_the_largest_ones_scale():
    """rosen_der against itself at parameters from 1e-8 to 1e4: x[6]'s 2e-6 is compared at the scale of 4e14."""
    result = bpcheck.assert_same_gradients(rosen_der, rosen_der, _rosen_point())
    assert "3 elements are small against the largest, G = 4.000e+14" in result.message(), result.message()


def test_the_noise_cap_is_not_taken_from_code_that_cannot_resolve_it():
    """F computed in float32 inside is constant over 64 ulps of float64: that is no measure of its rounding (no cap)."""
    from bpcheck.oracles.blackbox import BlackBox

    def box(f):
        return BlackBox(lambda a: (lambda: f(a[0])), [np.array([0.7, -0.2, 0.4])], ["x"], "f", 1e-14)

    u = [np.array([1.0, -1.0, 1.0])]
    assert box(lambda x: float(np.sum(x.astype(np.float32) ** 2)))._rounding_noise(u) == np.inf
    in_float64 = box(lambda x: np.sum(x**2))._rounding_noise(u)
    assert 0 <= in_float64 < 1e-15  # ε·|F| ≈ 1.5e-16: rounding, not the function's shape


def test_a_factor_that_equals_an_axis_length_at_one_size_only_is_not_called_that_axis():
    """deeplearning.ai's ``db1 = 4./m`` with X of 4 rows stays × 4 with X of 5 rows: a constant, not a missing / N."""
    message = _dlai(True).message()
    assert "pattern: × 4.000;" in message and "length of axis" not in message, message


def test_a_factor_is_said_as_a_number_when_the_code_cannot_run_at_a_second_size():
    """Shapes fixed inside: the rerun with x one row longer raises, so × 4 stays a number, not an axis."""
    def loss(x):
        assert x.shape == (4, 3), "this layer was written for 4 examples"
        return float(np.sum(x**2)) / 2

    message = bpcheck.check_function(loss, _x(shape=(4, 3)), lambda x: 4 * x).message()
    assert "pattern: × 4.000;" in message and "length of axis" not in message, message


def test_a_missing_mean_is_named_with_its_axis_when_it_follows_it():
    """The same loss averaged over the batch, its gradient not: × 4 at 4 rows, × 5 at 5, so a / N missing."""
    message = bpcheck.check_function(lambda x: float(np.sum(x**2)) / (2 * x.shape[0]), _x(shape=(4, 3)), lambda x: x).message()
    assert "pattern: × 4 (4 is the length of axis 0 of x; at length 5 it is × 5: a / N missing)" in message, message
