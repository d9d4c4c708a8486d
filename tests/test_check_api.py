"""The public check API and the pytest plugin."""

from __future__ import annotations

import numpy as np
import pytest

from bpcheck.oracles.gradcheck import NETWORK_FULL_LIMIT, assert_gradients, check_gradients, check_loss_of_list
from bpcheck.reference import NetworkSpec, init_params, loss_and_grad

pytest_plugins = ["pytester"]

SPEC = NetworkSpec((4, 5, 3), ("tanh", "softmax"), "softmax_ce", l2=0.1)


@pytest.fixture
def case():
    rng = np.random.default_rng(0)
    return init_params(SPEC, 1), rng.random((6, 4)), rng.integers(0, 3, 6)


def test_reference_passes(case):
    p, x, y = case
    result = assert_gradients(SPEC, p, x, y, loss_and_grad(SPEC, p, x, y)[1])
    assert result.ok and result.mode == "full" and result.comparisons


def test_failure_names_array_element_error_and_tolerance_but_not_the_answer(case):
    p, x, y = case
    g = loss_and_grad(SPEC, p, x, y)[1]
    bad = {k: v.copy() for k, v in g.items()}
    bad["W2"][3, 1] += 1e-3
    with pytest.raises(AssertionError) as info:
        assert_gradients(SPEC, p, x, y, bad, frameworks=())
    msg = str(info.value)
    assert "W2 (5, 3): 1 of 15 elements out of tolerance; worst at W2[3, 1]" in msg
    assert "rtol = 2·D·ε" in msg and "bound" in msg
    assert f"{g['W2'][3, 1]:.10e}" not in msg  # the right value does not leak
    shown = check_gradients(SPEC, p, x, y, bad, frameworks=()).message(show_expected=True)
    assert f"expected {g['W2'][3, 1]:.10e}" in shown


def test_float32_code_gets_float32_tolerances_and_is_told(case):
    p, x, y = case
    p32 = {k: v.astype(np.float32) for k, v in p.items()}
    g32 = loss_and_grad(SPEC, p32, x, y)[1]
    result = check_gradients(SPEC, p32, x, y, g32, frameworks=())
    assert result.ok and result.dtype == "float32" and "float32 code is held to float32 accuracy" in result.message()
    # the same float32 gradients fail the float64 standard
    assert not check_gradients(SPEC, p, x, y, {k: v.astype(np.float64) for k, v in g32.items()}, frameworks=()).ok


def test_fast_mode_catches_one_element_off_by_a_millionth_of_the_largest(case):
    p, x, y = case
    g = loss_and_grad(SPEC, p, x, y)[1]
    assert check_gradients(SPEC, p, x, y, g, mode="fast").ok
    biggest = max(float(np.abs(v).max()) for v in g.values())
    for name in g:
        bad = {k: v.copy() for k, v in g.items()}
        bad[name].flat[0] += 1e-6 * biggest
        result = check_gradients(SPEC, p, x, y, bad, mode="fast")
        assert not result.ok and result.fast["failed"] == 8, name  # every direction sees a single wrong element


def test_fast_mode_has_no_false_alarms_over_seeds(case):
    p, x, y = case
    g = loss_and_grad(SPEC, p, x, y)[1]
    assert all(check_gradients(SPEC, p, x, y, g, mode="fast", seed=s).ok for s in range(100))


def test_auto_mode_picks_by_size():
    small = NetworkSpec((3, 2), ("sigmoid",), "half_sse")
    big = NetworkSpec((400, 60, 2), ("sigmoid", "sigmoid"), "half_sse")
    assert sum(np.prod(s) for s in big.param_shapes().values()) > NETWORK_FULL_LIMIT
    for spec, mode in ((small, "full"), (big, "fast")):
        p = init_params(spec)
        x, y = np.ones((2, spec.sizes[0])), np.zeros((2, spec.sizes[-1]))
        assert check_gradients(spec, p, x, y, loss_and_grad(spec, p, x, y)[1], frameworks=()).mode == mode


@pytest.mark.parametrize("analytic", [True, False])
def test_check_function_on_any_loss(analytic):
    A = np.random.default_rng(3).standard_normal((3, 3))

    def loss(arrs):
        return np.sum(np.tanh(arrs[0] @ arrs[1]) ** 2)

    def grad(arrs):
        t = np.tanh(arrs[0] @ arrs[1])
        d = 2 * t * (1 - t**2)
        return [d @ arrs[1].T, arrs[0].T @ d]

    def wrong(arrs):
        g = grad(arrs)
        return [g[0], g[1] * 1.001]

    assert check_loss_of_list(loss, grad, [A, A.T.copy()], analytic=analytic).ok
    bad = check_loss_of_list(loss, wrong, [A, A.T.copy()], analytic=analytic, names=["W", "V"])
    assert not bad.ok and "V (3, 3)" in bad.message()


def test_pytest_plugin_two_line_test(pytester):
    pytester.makepyfile(
        """
        from bpcheck.reference import NetworkSpec, loss_and_grad
        SPEC = NetworkSpec((3, 4, 2), ("sigmoid", "sigmoid"), "half_sse")

        def right(spec, params, x, y):
            return loss_and_grad(spec, params, x, y)[1]

        def broken(spec, params, x, y):
            g = loss_and_grad(spec, params, x, y)[1]
            g["b1"] = g["b1"] * 0 + g["b1"][0]
            return g

        def test_right(gradcheck):
            gradcheck(right, spec=SPEC)

        def test_broken(gradcheck):
            gradcheck(broken, spec=SPEC)
        """
    )
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, failed=1)
    # Our own words only (never Hypothesis' wording, which changes between versions); "batch 1" shows the
    # failure was shrunk to the smallest batch that reveals the bug.
    result.stdout.fnmatch_lines(["*broken is wrong on 3-4-2 sigmoid,sigmoid half_sse/mean, batch 1:*", "*b1 (4,)*out of tolerance*"])


# --- check_function's defects (issue 13), on the API it always had --------------------------------------


def _square_grad(arrs):
    return [2 * arrs[0]]


def test_a_nan_loss_never_passes():
    """log of a negative entry made the loss nan, and a gradient 7× wrong on every element passed."""
    A = np.random.default_rng(1).standard_normal((3, 3))  # some entries negative

    def loss(arrs):
        return np.sum(np.log(arrs[0]))

    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # as outside pytest's error filter: the old check passed silently
        result = check_loss_of_list(loss, lambda arrs: [7.0 / arrs[0]], [A], names=["A"])
    assert not result.ok
    assert "F is nan at the inputs given, so no gradient can pass" in result.message()
    assert "invalid value encountered in log" in result.message()


def test_complex_step_falls_back_for_np_var():
    """np.var is not analytic for complex input: complex step called correct batchnorm wrong on every element."""
    rng = np.random.default_rng(2)
    x, g, dout = 2 + 3 * rng.standard_normal((6, 4)), rng.standard_normal(4), rng.standard_normal((6, 4))

    def loss(arrs):
        xhat = (arrs[0] - arrs[0].mean(axis=0)) / np.sqrt(np.var(arrs[0], axis=0) + 1e-5)
        return np.sum(dout * arrs[1] * xhat)

    def grad(arrs):
        xhat = (arrs[0] - arrs[0].mean(axis=0)) / np.sqrt(np.var(arrs[0], axis=0) + 1e-5)
        d = dout * arrs[1]
        dx = (len(d) * d - d.sum(axis=0) - xhat * (d * xhat).sum(axis=0)) / (len(d) * np.sqrt(np.var(arrs[0], axis=0) + 1e-5))
        return [dx, (dout * xhat).sum(axis=0)]

    result = check_loss_of_list(loss, grad, [x, g], analytic=True, names=["x", "gamma"])
    assert result.ok, result.message()
    assert "complex step not used" in result.message() and "not analytic" in result.message()


def test_complex_step_falls_back_when_the_code_writes_into_float_buffers():
    def loss(arrs):
        out = np.empty(arrs[0].shape)
        np.multiply(arrs[0], arrs[0], out=out)  # UFuncTypeError for complex input
        return out.sum()

    result = check_loss_of_list(loss, _square_grad, [np.arange(1.0, 7.0)], analytic=True)
    assert result.ok and "UFuncTypeError" in result.message() and "central differences instead" in result.message()


def test_a_loss_calling_float_is_told_it_must_accept_complex_input():
    """Issue 16: it was reported as a wrong gradient with bound 0.00e+00, plus a ComplexWarning."""
    import warnings

    def loss(arrs):
        return float(np.sum(arrs[0] ** 2))

    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        result = check_loss_of_list(loss, _square_grad, [np.arange(1.0, 7.0)], analytic=True)
    assert result.ok, result.message()
    assert "complex step needs loss to accept complex input" in result.message() and "float()" in result.message()
    assert not seen  # the ComplexWarning is explained in the message, not leaked


@pytest.mark.parametrize("seed", range(5))
def test_central_differences_hold_for_a_loss_near_zero(seed):
    """The rounding bound scaled with |loss| alone: least squares near a perfect fit (loss ~1e-13) failed."""
    rng = np.random.default_rng(seed)
    X, w_true = rng.standard_normal((8, 3)), rng.standard_normal(3)
    y = X @ w_true
    w = w_true + 1e-7 * rng.standard_normal(3)

    def loss(arrs):
        r = X @ arrs[0] - y
        return 0.5 * r @ r

    def grad(arrs):
        return [X.T @ (X @ arrs[0] - y)]

    assert loss([w]) < 1e-12
    result = check_loss_of_list(loss, grad, [w], names=["w"])
    assert result.ok, result.message()
    wrong = check_loss_of_list(loss, lambda arrs: [grad(arrs)[0] * (1 + 1e-4)], [w], names=["w"])
    assert not wrong.ok and "w[" in wrong.message()
