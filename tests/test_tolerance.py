"""The per-element bound of docs/tolerance.md on the networks that broke the global one (issue 28, issue 22 item 5).

Each case is a network built here, where one global floor S was either too loose (a wrong gradient of a vanishing
or saturated layer passed) or too tight (a correct float64 gradient was rejected after the forward pass
cancelled).  A wrong gradient must never pass; a correct one is never rejected without the word "ill-conditioned".
"""

from __future__ import annotations

import numpy as np
import pytest

from bpcheck import oracles
from bpcheck.oracles.gradcheck import ILL_CONDITIONED, check_gradients
from bpcheck.reference import NetworkSpec, forward, loss_and_grad

#: Every oracle that states the gradient to rounding: a wrong value must fail against each of them.
PRECISE = ("exact", "complex_step", "torch", "jax")


def _available(names, spec):
    return [n for n in names if not oracles.unavailable(n, spec)]


def _with(grads: dict, name: str, change) -> dict:
    out = {k: np.array(v, copy=True) for k, v in grads.items()}
    out[name] = change(out[name])
    return out


def _chain(layers: int = 24):
    """1-1-…-1 sigmoid chain, W = 1, b = −0.5: σ' ≈ 0.24 per layer, so ∂C/∂W1 ≈ 5e-16, ~1e-14 of ∂C/∂W24."""
    spec = NetworkSpec((1,) * (layers + 1), ("sigmoid",) * layers, "half_sse")
    params = {k: (np.ones(s) if k[0] == "W" else np.full(s, -0.5)) for k, s in spec.param_shapes().items()}
    return spec, params, np.array([[0.3]]), np.array([[1.0]])


@pytest.mark.parametrize("wrong", ["sign", "zero"])
def test_a_vanishing_layers_wrong_gradient_fails_against_every_precise_oracle(wrong):
    spec, params, x, y = _chain()
    _, grads = loss_and_grad(spec, params, x, y)
    assert 0 < abs(grads["W1"][0, 0]) < 1e-13 * abs(grads["W24"][0, 0])
    bad = _with(grads, "W1", (lambda g: -g) if wrong == "sign" else np.zeros_like)
    for name in _available(PRECISE, spec):
        assert not oracles.check(name, spec, params, x, y, bad).ok, name
        assert oracles.check(name, spec, params, x, y, grads).ok, name
    result = check_gradients(spec, params, x, y, bad)
    assert result.verdict == "FAILED" and not result.ok
    assert "W1" in result.message()
    assert check_gradients(spec, params, x, y, grads).ok


def _saturated():
    """Hidden unit 0 at z ≈ 27.6 (σ' ≈ 1e-12) beside a unit whose output weight is 1e5: one global floor was
    set by the large unit, and the saturated unit's column could be off by any factor."""
    spec = NetworkSpec((1, 2, 1), ("sigmoid", "identity"), "half_sse")
    params = {"W1": np.array([[1.0, 1.0]]), "b1": np.array([27.0, 0.0]), "W2": np.array([[1.0], [1e5]]),
              "b2": np.array([0.0])}
    return spec, params, np.array([[0.6]]), np.array([[0.3]])


def test_a_saturated_units_column_times_minus_1000_fails():
    spec, params, x, y = _saturated()
    _, grads = loss_and_grad(spec, params, x, y)
    bad = _with(_with(grads, "W1", lambda g: g * np.array([[-1000.0, 1.0]])), "b1", lambda g: g * np.array([-1000.0, 1.0]))
    for name in _available(PRECISE, spec):
        assert not oracles.check(name, spec, params, x, y, bad).ok, name
    assert check_gradients(spec, params, x, y, bad).verdict == "FAILED"
    assert check_gradients(spec, params, x, y, grads).ok


def _not_rejected(result) -> None:
    """Passed, or, if not, said to be ill-conditioned; never a bare "passed" for elements checked coarsely."""
    text = result.message()
    assert result.ok or "ill-conditioned" in text, text
    if result.ok and any(r.coarse for c in result.comparisons for r in c.arrays):
        assert "coarsely" in text, text


def test_forward_cancellation_does_not_reject_the_correct_float64_gradient():
    """z = x₁·3e16 − 1e16 rounds to 0 (exactly it is ≈ −0.55): the float64 gradient is right to rounding."""
    spec = NetworkSpec((2, 1), ("identity",), "half_sse", bias=False)
    params = {"W1": np.array([[3e16], [-1e16]])}
    x, y = np.array([[1 / 3, 1.0]]), np.array([[0.5]])
    _, grads = loss_and_grad(spec, params, x, y)
    for name in _available(("exact", "complex_step", "central", "torch", "jax"), spec):
        result = oracles.check(name, spec, params, x, y, grads)
        assert result.ok, (name, result.message())
    result = check_gradients(spec, params, x, y, grads)
    _not_rejected(result)
    assert "coarsely" in result.message()  # |error| ~ ε·2e16 ≈ 4 against a gradient of 0.17


@pytest.mark.parametrize("seed", [0, 1])
def test_a_tanh_regression_at_a_perfect_fit_with_huge_output_weights_is_not_rejected(seed):
    """4-8-1 tanh, |W2| ~ 1e6, b2 set so that z rounds to 0 = y: δ is all rounding of terms ~1e6."""
    spec = NetworkSpec((4, 8, 1), ("tanh", "identity"), "half_sse")
    rng = np.random.default_rng(seed)
    W1, b1, x = rng.standard_normal((4, 8)), rng.uniform(-0.5, 0.5, 8), rng.uniform(-1, 1, (1, 4))
    W2 = 1e6 * rng.standard_normal((8, 1))
    params = {"W1": W1, "b1": b1, "W2": W2, "b2": -(np.tanh(x @ W1 + b1) @ W2)[0]}
    y = np.zeros((1, 1))
    _, grads = loss_and_grad(spec, params, x, y)
    for name in _available(("exact", "complex_step", "torch", "jax"), spec):
        assert oracles.check(name, spec, params, x, y, grads).ok, name
    _not_rejected(check_gradients(spec, params, x, y, grads))


def _relu_near_kink(gap: float):
    """2-3-1 relu; unit 2 of the first example at z = gap above its kink."""
    spec = NetworkSpec((2, 3, 1), ("relu", "identity"), "half_sse")
    params = {"W1": np.array([[1.0, -0.5, 0.3], [0.5, 1.0, -0.2]]), "b1": np.array([0.1, 0.2, 0.0]),
              "W2": np.array([[1.0], [-2.0], [0.5]]), "b2": np.array([0.1])}
    x = np.array([[0.4, -0.5], [0.2, 0.5]])
    params["b1"][2] = gap - (x[0] @ params["W1"][:, 2])
    return spec, params, x, np.array([[0.3], [-0.1]])


def test_a_relu_unit_just_above_its_kink_is_not_failed_by_finite_differences():
    spec, params, x, y = _relu_near_kink(2e-6)
    assert 0 < (x @ params["W1"] + params["b1"])[0, 2] < 4e-6
    _, grads = loss_and_grad(spec, params, x, y)
    for name in ("central", "richardson"):
        assert oracles.check(name, spec, params, x, y, grads).ok, name
    result = check_gradients(spec, params, x, y, grads)
    assert result.ok, result.message()
    bad = _with(grads, "W1", lambda g: g * np.array([1.0, 1.0, 2.0]))
    assert check_gradients(spec, params, x, y, bad).verdict == "FAILED"


def test_a_relu_unit_at_its_kink_gives_no_verdict_for_the_other_slope():
    """z = 0 exactly: relu'(0) may be 0 (torch, jax, the reference) or 1; central differences straddle it."""
    spec, params, x, y = _relu_near_kink(0.0)
    assert (x @ params["W1"] + params["b1"])[0, 2] == 0.0
    _, grads = loss_and_grad(spec, params, x, y)
    C, cache = forward(spec, params, x, y)
    delta = (cache.a[-1][0, 0] - y[0, 0]) / 2 * params["W2"][2, 0]  # mean over 2: example 0's δ at unit 2, slope 1
    candidate = {k: np.array(v, copy=True) for k, v in grads.items()}
    candidate["W1"][:, 2] += x[0] * delta
    candidate["b1"][2] += delta
    assert not all(np.allclose(candidate[k], grads[k]) for k in grads)
    result = check_gradients(spec, params, x, y, candidate)
    assert result.verdict == ILL_CONDITIONED and not result.ok, result.message()
    assert "kink" in result.message() and "layer 1 unit 2" in result.message()
    elsewhere = _with(candidate, "W2", lambda g: 2 * g)  # W2's gradient does not go through the kink's slope
    assert check_gradients(spec, params, x, y, elsewhere).verdict == "FAILED"


def test_central_bound_holds_on_a_flat_objective():
    """Issue 22 item 5: a one-class softmax makes C ≡ 0; with logits ~1e-10, log-sum-exp's rounding (ε·1 per
    example) was not counted, and central differences rejected the exact zero gradient."""
    spec = NetworkSpec((1, 1, 1, 1, 1), ("tanh", "identity", "identity", "softmax"), "softmax_ce", bias=False)
    params = {f"W{l}": np.array([[w]]) for l, w in enumerate([0.003, -0.002, 0.004, 0.001], start=1)}
    x, y = np.array([[0.7]]), np.array([0])
    _, grads = loss_and_grad(spec, params, x, y)
    assert all(not np.any(g) for g in grads.values())
    for name in ("central", "richardson"):
        result = oracles.check(name, spec, params, x, y, grads)
        assert result.ok, (name, result.message())


def test_per_element_floors_are_checked_and_a_non_finite_bound_fails_closed():
    o = {"W": np.array([[1.0, 2.0]])}
    with pytest.raises(ValueError, match=r"scale\['W'\]: expected floors of shape \(1, 2\)"):
        oracles.compare(o, o, 1e-15, scale={"W": np.ones(3)})
    with pytest.raises(ValueError, match="no floors for"):
        oracles.compare(o, o, 1e-15, scale={"b": np.ones(2)})
    with pytest.raises(ValueError, match="expected floors >= 0"):
        oracles.compare(o, o, 1e-15, scale={"W": np.array([[1.0, np.nan]])})
    result = oracles.compare(o, o, 1e-15, scale={"W": np.array([[1.0, np.inf]])})
    assert not result.ok and result.arrays[0].bad == 1  # an infinite floor would let anything pass there
    assert oracles.compare(o, o, 1e-15, scale={"W": np.zeros((1, 2))}).ok
    near = {"W": np.array([[1.0 + 2.5e-15, 2.0]])}  # inside the old floor rtol·(|o| + max|o|) = 3e-15
    assert oracles.compare(near, o, 1e-15, scale=0.0).ok
    assert not oracles.compare(near, o, 1e-15, scale={"W": np.zeros((1, 2))}).ok  # per element: no max|o| floor
    assert oracles.compare(near, o, 1e-15, scale={"W": np.array([[20.0, 0.0]])}).ok


def test_values_below_the_smallest_normal_number_carry_no_relative_accuracy():
    """A subnormal gradient read as 0 (jax flushes subnormals on CPU; complex step's imaginary part underflows) is
    within the floor 2⁻¹⁰²²/ε; a value just above the normal range still has to be right (found by the property
    tests: a 5-2-4 softmax whose probabilities are e⁻⁷¹²)."""
    from bpcheck.oracles.compare import compare

    rtol, floor = 1.9e-14, {"w": np.array([2.2e-306, 2.2e-306])}
    assert compare({"w": [0.0, 0.0]}, {"w": np.array([9.66e-310, 1.96e-309])}, rtol, scale=floor).ok
    assert not compare({"w": [0.0, 0.0]}, {"w": np.array([1e-300, 1e-300])}, rtol, scale=floor).ok
    assert not compare({"w": [-1e-300]}, {"w": np.array([1e-300])}, rtol, scale={"w": np.array([1e-300])}).ok
