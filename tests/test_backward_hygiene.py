"""check_vjp's backward hygiene (issue 24, item 4): writes into dout or the cache, ignoring dout, not linear in dout.

The layers are written as CS231n's layers.py writes them: forward -> (out, cache), backward(dout, cache).
Each planted bug is one a course checker with dout = 1, or one that copies dout silently, cannot see.
"""

from __future__ import annotations

import numpy as np
import pytest

import bpcheck

# --- correct layers ---------------------------------------------------------------------------------------


def affine_forward(x, w, b):
    return x @ w + b, (x, w)


def affine_backward(dout, cache):
    x, w = cache
    return dout @ w.T, x.T @ dout, dout.sum(axis=0)


def relu_forward(x):
    return np.maximum(0, x), x


def relu_backward(dout, cache):
    return dout * (cache > 0)


def batchnorm_forward(x, gamma, beta):
    mu = x.mean(axis=0)
    ivar = 1 / np.sqrt(x.var(axis=0) + 1e-5)
    xhat = (x - mu) * ivar
    return gamma * xhat + beta, (xhat, gamma, ivar)


def batchnorm_backward(dout, cache):
    xhat, gamma, ivar = cache
    n = dout.shape[0]
    dxhat = dout * gamma
    dx = ivar / n * (n * dxhat - dxhat.sum(axis=0) - xhat * (dxhat * xhat).sum(axis=0))
    return dx, (dout * xhat).sum(axis=0), dout.sum(axis=0)


# --- planted bugs -----------------------------------------------------------------------------------------


def affine_backward_dout_one(dout, cache):
    """Written against a checker that uses dout = 1: the gradient of sum(out), whatever dout is."""
    x, w = cache
    ones = np.ones((x.shape[0], w.shape[1]))
    return ones @ w.T, x.T @ ones, ones.sum(axis=0)


def relu_backward_mask_on_dout(dout, cache):
    """The mask taken on dout's sign instead of x's: not linear in dout."""
    return dout * (dout > 0)


def relu_backward_in_place(dout, cache):
    """Right values, but the caller's dout is zeroed where x <= 0."""
    dout[cache <= 0] = 0
    return dout


def batchnorm_backward_scales_cache(dout, cache):
    """Right values, but xhat in the cache is scaled in place after use: a second backward gets gamma·xhat."""
    xhat, gamma, ivar = cache
    grads = batchnorm_backward(dout, cache)
    xhat *= gamma
    return grads


def _affine(seed=0):
    rng = np.random.default_rng(seed)
    return {"x": rng.standard_normal((4, 3)), "w": rng.standard_normal((3, 5)), "b": rng.standard_normal(5)}


def _batchnorm(seed=0):
    rng = np.random.default_rng(seed)
    return {"x": rng.standard_normal((6, 4)), "gamma": 1 + rng.random(4), "beta": rng.standard_normal(4)}


def _relu(seed=0):
    x = np.random.default_rng(seed).standard_normal((5, 4))
    return {"x": np.where(np.abs(x) < 0.05, 0.5, x)}  # no element within a step of relu's kink


# --- the tests --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("forward, backward, inputs", [
    (affine_forward, affine_backward, _affine),
    (relu_forward, relu_backward, _relu),
    (batchnorm_forward, batchnorm_backward, _batchnorm),
])
def test_correct_layers_pass_without_findings_for_100_seeds(forward, backward, inputs):
    for seed in range(100):
        result = bpcheck.check_vjp(forward, backward, inputs(seed), seed=seed)
        message = result.message()
        assert result.verdict == "passed", message
        assert "hazard" not in message and "ignores dout" not in message and "not linear" not in message


@pytest.mark.parametrize("forward, backward, inputs", [
    (affine_forward, affine_backward, _affine),
    (batchnorm_forward, batchnorm_backward, _batchnorm),
])
def test_correct_float32_layers_show_no_dout_finding(forward, backward, inputs):
    """The linearity allowance uses float32's ε for float32 gradients (the values need reference=, not checked here)."""
    for seed in range(20):
        message = bpcheck.check_vjp(forward, backward, {k: v.astype(np.float32) for k, v in inputs(seed).items()},
                                    seed=seed).message()
        assert "hazard" not in message and "ignores dout" not in message and "not linear" not in message, message


def test_a_forward_that_updates_its_static_state_is_left_as_the_check_had_it():
    """The dout tests run the forward on copies of static=, so running statistics advance only as before."""
    seen = []

    def forward(x, bn_param):
        seen.append(bn_param["calls"])
        bn_param["calls"] += 1
        return relu_forward(x)

    bpcheck.check_vjp(forward, relu_backward, _relu(), static={"bn_param": {"calls": 0}})
    # the first forward (0), the two dout tests on copies (1, 1), then F's evaluations from where the first left it
    assert seen[:5] == [0, 1, 1, 1, 2]


def test_a_backward_that_ignores_dout_fails_by_name():
    result = bpcheck.check_vjp(affine_forward, affine_backward_dout_one, _affine())
    message = result.message()
    assert result.verdict == "FAILED"
    assert "affine_backward_dout_one ignores dout: for x" in message
    assert "ignores dout: for w" in message and "ignores dout: for b" in message


def test_a_mask_on_douts_sign_is_not_linear_in_dout():
    result = bpcheck.check_vjp(relu_forward, relu_backward_mask_on_dout, _relu())
    message = result.message()
    assert result.verdict == "FAILED"
    assert "relu_backward_mask_on_dout is not linear in dout: for x[" in message


def test_a_write_into_dout_is_a_hazard_with_its_element_and_values_stay_judged():
    inputs = _relu()
    result = bpcheck.check_vjp(relu_forward, relu_backward_in_place, inputs)
    message = result.message()
    assert result.verdict == "passed", message  # the values are right: see docs/api.md, "Backward hygiene"
    first = tuple(int(i) for i in np.argwhere(inputs["x"] <= 0)[0])
    zeroed = int(np.sum(inputs["x"] <= 0))
    assert (f"hazard: relu_backward_in_place writes into dout: {zeroed} of {inputs['x'].size} elements changed "
            f"during the call, first dout[{first[0]}, {first[1]}]") in message
    assert "0.0000000000e+00 after" in message


def test_a_write_into_the_cache_is_a_hazard_naming_the_cache_entry():
    result = bpcheck.check_vjp(batchnorm_forward, batchnorm_backward_scales_cache, _batchnorm())
    message = result.message()
    assert result.verdict == "passed", message
    assert "hazard: batchnorm_backward_scales_cache writes into cache[0]: 24 of 24 elements changed" in message
    assert "cache[1]" not in message and "cache[2]" not in message  # gamma and ivar are untouched


def test_a_wrong_value_and_a_write_into_dout_are_both_reported():
    def relu_backward_in_place_wrong(dout, cache):
        dout[cache <= 0] = 0
        return 2 * dout

    result = bpcheck.check_vjp(relu_forward, relu_backward_in_place_wrong, _relu())
    message = result.message()
    assert result.verdict == "FAILED"
    assert "writes into dout" in message and "elements wrong" in message
    assert "not linear" not in message and "ignores dout" not in message  # 2·J·dout is linear in dout


def test_a_cache_held_in_an_object_is_searched():
    class Cache:
        def __init__(self, x):
            self.x = x

    def forward(x):
        return np.maximum(0, x), Cache(x)

    def backward(dout, cache):
        dx = dout * (cache.x > 0)
        cache.x[...] = 0
        return dx

    message = bpcheck.check_vjp(forward, backward, _relu()).message()
    assert "writes into cache.x" in message
