"""The reference's public API does what its docstrings say: the cases mutation testing found unpinned."""

from __future__ import annotations

import numpy as np
import pytest

from bpcheck.reference import NetworkSpec, backward, forward, init_params, loss_and_grad, sgd_step, train
from bpcheck.reference import activations, losses, seeds
from bpcheck.reference.bugs import get as get_bug

from .golden import assert_printed

SPEC = NetworkSpec((3, 4, 2), ("tanh", "sigmoid"), "half_sse", "mean", l2=0.1)
EPS = np.finfo(np.float64).eps


def _case(dtype=np.float64):
    rng = np.random.default_rng(3)
    params = {k: (v + 0.2 * rng.uniform(-1, 1, v.shape)).astype(dtype) for k, v in init_params(SPEC, 5).items()}
    return params, rng.uniform(-1, 1, (5, 3)), rng.uniform(0, 1, (5, 2))


def test_relu_and_leaky_relu_derivatives_at_exactly_zero():
    """docs/conventions.md: relu'(0) = 0 and leaky_relu'(0) = slope, as torch and jax (and the exact oracle)."""
    z = np.array([[-2.0, 0.0, 3.0]])
    g = np.array([[5.0, 7.0, 11.0]])
    np.testing.assert_array_equal(activations.relu_backward(z, activations.relu(z), g), [[0.0, 0.0, 11.0]])
    leaky = activations.get("leaky_relu", 0.25)
    np.testing.assert_array_equal(leaky.f(z), [[-0.5, 0.0, 3.0]])
    np.testing.assert_array_equal(leaky.backward(z, leaky.f(z), g), [[1.25, 1.75, 11.0]])


def test_init_params_default_seed_is_0_with_weights_n01_over_sqrt_fan_in():
    spec = NetworkSpec((4, 3, 2), ("relu", "identity"))
    params = init_params(spec)
    rng = np.random.default_rng(0)
    np.testing.assert_array_equal(params["W1"], rng.standard_normal((4, 3)) / 2.0)  # √4 = 2: exact
    np.testing.assert_array_equal(params["b1"], np.zeros(3))
    assert [k for k in params] == ["W1", "b1", "W2", "b2"]
    assert not np.array_equal(init_params(spec, seed=1)["W1"], params["W1"])
    assert init_params(spec, dtype=np.float32)["W2"].dtype == np.float32


def test_backward_gives_loss_and_grads_gradients_and_leaves_its_inputs_alone():
    params, x, y = _case()
    before = {k: v.copy() for k, v in params.items()}
    _, cache = forward(SPEC, params, x, y)
    a_before = [a.copy() for a in cache.a]
    grads = backward(SPEC, params, cache)
    _, expected = loss_and_grad(SPEC, params, x, y)
    assert list(grads) == ["W1", "b1", "W2", "b2"]
    for k in expected:
        np.testing.assert_allclose(grads[k], expected[k], rtol=0, atol=4 * EPS * np.abs(expected[k]).max())
        np.testing.assert_array_equal(params[k], before[k])
    for a, b in zip(cache.a, a_before):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("update_biases", [True, False])
def test_sgd_step_moves_every_parameter_against_its_gradient(update_biases):
    params, x, y = _case()
    C, grads = loss_and_grad(SPEC, params, x, y)
    new, loss, cache = sgd_step(SPEC, params, x, y, lr=0.5, update_biases=update_biases)
    assert loss == pytest.approx(C, rel=4 * EPS)
    for k, p in params.items():
        want = p - 0.5 * grads[k] if (k.startswith("W") or update_biases) else p
        np.testing.assert_allclose(new[k], want, rtol=0, atol=4 * EPS * (np.abs(p).max() + 1))
        assert not np.shares_memory(new[k], p)
    assert cache.a[0].shape == x.shape


def test_train_runs_the_documented_steps_and_zero_steps_returns_a_copy():
    params, x, y = _case()
    same = train(SPEC, params, x, y, lr=0.5, steps=0)
    for k, p in params.items():
        np.testing.assert_array_equal(same[k], p)
        assert not np.shares_memory(same[k], p)
    two = train(SPEC, params, x, y, lr=0.5, steps=2)
    one, _, _ = sgd_step(SPEC, params, x, y, lr=0.5)
    again, _, _ = sgd_step(SPEC, one, x, y, lr=0.5)
    for k in params:
        np.testing.assert_allclose(two[k], again[k], rtol=0, atol=8 * EPS)
    with pytest.raises(ValueError, match="steps: expected an integer >= 0, got -1"):
        train(SPEC, params, x, y, lr=0.5, steps=-1)
    with pytest.raises(ValueError, match="lr: expected a finite number > 0, got 0"):
        train(SPEC, params, x, y, lr=0, steps=1)


def test_train_logs_before_every_every_th_update():
    params, x, y = _case()
    seen = []
    train(SPEC, params, x, y, lr=0.5, steps=7, every=3, on_log=lambda step, C, cache: seen.append((step, C, cache)))
    assert [s for s, _, _ in seen] == [0, 3, 6]
    for (step, C, cache), start in zip(seen, (params, train(SPEC, params, x, y, lr=0.5, steps=3))):
        want_C, want = forward(SPEC, start, x, y)  # the pass before update number `step`
        assert C == pytest.approx(want_C, rel=4 * EPS), step
        np.testing.assert_allclose(cache.a[-1], want.a[-1], rtol=4 * EPS, err_msg=f"step {step}")
        np.testing.assert_array_equal(cache.y, y)
    train(SPEC, params, x, y, lr=0.5, steps=2, on_log=lambda step, C, cache: seen.append((step, C, cache)))
    assert len(seen) == 3  # every = 0, the default: never logs


def test_train_keeps_float32_parameters_in_float32():
    params32, x, y = _case(np.float32)
    out = train(SPEC, params32, x, y, lr=0.5, steps=3)
    assert {v.dtype for v in out.values()} == {np.dtype(np.float32)}
    new, loss, cache = sgd_step(SPEC, params32, x, y, lr=0.5)
    assert {v.dtype for v in new.values()} == {np.dtype(np.float32)} and cache.a[-1].dtype == np.float32
    # float32 arithmetic, not float64 rounded at the end: the two runs differ by float32 rounding, ~1e-7
    out64 = train(SPEC, {k: v.astype(np.float64) for k, v in params32.items()}, x, y, lr=0.5, steps=3)
    gap = max(float(np.max(np.abs(out[k] - out64[k]))) for k in out)
    assert 1e-10 < gap < 1e-5


def test_sgd_step_and_train_hand_the_step_size_to_the_backprop_variant():
    """The stale-weights variant back-propagates through W already moved by η∂C/∂W, so it needs η: Mazur's post
    printed E_total = 0.291027924 after one such round (correct backprop gives 0.2910277737)."""
    spec, params, x, y = seeds.mazur()
    stale = get_bug("stale-weights").backprop
    new, _, _ = sgd_step(spec, params, x, y, lr=0.5, update_biases=False, backprop=stale)
    assert_printed(forward(spec, new, x, y)[0], "0.291027924", "sgd_step")
    trained = train(spec, params, x, y, lr=0.5, steps=1, update_biases=False, backprop=stale)
    assert_printed(forward(spec, trained, x, y)[0], "0.291027924", "train")


@pytest.mark.parametrize("lr", [0.0, -0.1, float("inf"), float("nan")])
def test_sgd_step_and_train_refuse_a_step_size_that_is_not_finite_and_positive(lr):
    params, x, y = _case()
    for call in (lambda: sgd_step(SPEC, params, x, y, lr=lr), lambda: train(SPEC, params, x, y, lr=lr, steps=1)):
        with pytest.raises(ValueError, match=r"lr: expected a finite number > 0, got"):
            call()


def test_leaky_relu_default_slope_and_unknown_names():
    z = np.array([[-2.0, 4.0]])
    np.testing.assert_array_equal(activations.get("leaky_relu").f(z), [[-0.02, 4.0]])  # default slope 0.01
    with pytest.raises(ValueError, match=r"activation: unknown name 'swish'; expected one of \['identity', 'leaky_relu'"):
        activations.get("swish")
    with pytest.raises(ValueError, match=r"loss: unknown name 'hinge'; expected one of \['bce', 'half_sse', 'mse', 'softmax_ce'\]"):
        losses.get("hinge")
