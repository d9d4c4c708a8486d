"""check_jvp and check_adjoint: forward-mode derivatives and the dot-product test, on the examples' code."""

from __future__ import annotations

import functools

import numpy as np
import pytest

import bpcheck
from tests.test_api_examples import load

EXAMPLE = load("adjoints")


def test_the_right_conv_heat_and_polar_code_passes_for_200_seeds():
    alarms = [f"{name} (seed {seed}):\n{result.message()}"
              for seed in range(200) for name, result in EXAMPLE.check(seed=seed).items() if not result]
    assert not alarms, alarms[0]


def test_the_right_polar_jvp_passes_by_central_differences_for_200_seeds():
    for seed in range(200):
        case = EXAMPLE.inputs(seed)["polar"]
        result = bpcheck.check_jvp(EXAMPLE.polar, EXAMPLE.polar_jvp, case, seed=seed, complex_step=False)
        assert result, result.message()


def test_each_planted_bug_is_caught():
    results = EXAMPLE.check(buggy=True)
    assert not any(results.values())
    conv = results["conv"].message()
    assert "trial 1: ⟨A u, v⟩ = " in conv and "> bound" in conv and "check_adjoint(conv2d (partial), conv_transpose2d (partial))" in conv


def test_the_polar_sign_error_is_named_in_the_second_output_only():
    message = EXAMPLE.check(buggy=True)["polar"].message()
    assert "J·t1 (2, 5): 5 of 10 elements wrong" in message
    wrong = [line.split(":")[0].strip() for line in message.splitlines() if line.startswith("    J·t1[")]
    assert wrong and all(w.startswith("J·t1[1, ") for w in wrong)


def test_a_transpose_wrong_in_one_pixel_only_is_caught():
    """Not a shifted crop: one interior pixel of the transpose gets the wrong tap (w flipped)."""
    case = EXAMPLE.inputs(0)
    w, x_shape = case["w"], case["x_shape"]

    def transpose(dout):
        dx = EXAMPLE.conv_transpose2d(dout, w, x_shape)
        dx[:, :, 2, 3] = EXAMPLE.conv_transpose2d(dout, w[:, :, ::-1, ::-1], x_shape)[:, :, 2, 3]
        return dx

    assert not bpcheck.check_adjoint(functools.partial(EXAMPLE.conv2d, w=w), transpose, x_shape)


def test_a_forward_that_is_not_linear_is_reported_not_hidden():
    result = bpcheck.check_adjoint(lambda u: u**2, lambda v: 2 * v, (6,))
    assert not result


def test_a_non_finite_transpose_fails_closed():
    result = bpcheck.check_adjoint(EXAMPLE.heat_step, lambda v: np.full_like(v, np.nan), (16,))
    assert not result and "nan" in result.message()


def test_the_output_shape_can_be_given_and_is_checked():
    assert bpcheck.check_adjoint(EXAMPLE.heat_step, EXAMPLE.heat_step_transpose, ((16,), (16,)))
    with pytest.raises(bpcheck.CheckError, match=r"heat_step\(u\) returned shape \(16,\); expected \(15,\)"):
        bpcheck.check_adjoint(EXAMPLE.heat_step, EXAMPLE.heat_step_transpose, ((16,), (15,)))
    with pytest.raises(bpcheck.CheckError, match="shapes: expected the input shape"):
        bpcheck.check_adjoint(EXAMPLE.heat_step, EXAMPLE.heat_step_transpose, "16")


def test_static_goes_to_both_sides():
    A = np.random.default_rng(0).standard_normal((7, 4))
    assert bpcheck.check_adjoint(lambda u, A: A @ u, lambda v, A: A.T @ v, (4,), static={"A": A})
    assert not bpcheck.check_adjoint(lambda u, A: A @ u, lambda v, A: A[:4].T @ v[:4], (4,), static={"A": A})


def test_a_jvp_returning_out_and_tangent_like_jax_and_a_static_argument():
    rng = np.random.default_rng(0)
    x, w = rng.standard_normal((3, 4)), rng.standard_normal((4, 2))

    def layer(x, w, scale):
        return scale * np.tanh(x @ w)

    def layer_jvp(primals, tangents, scale):
        z = primals["x"] @ primals["w"]
        dz = tangents["x"] @ primals["w"] + primals["x"] @ tangents["w"]
        return scale * np.tanh(z), scale * (1 - np.tanh(z) ** 2) * dz

    assert bpcheck.check_jvp(layer, layer_jvp, {"x": x, "w": w}, static={"scale": 3.0})
    half = bpcheck.check_jvp(layer, lambda p, t, scale: layer_jvp(p, t, scale / 2), {"x": x, "w": w}, static={"scale": 3.0})
    assert not half and "pattern: × 0.500" in half.message()


def test_a_jvp_of_the_wrong_shape_is_named():
    case = EXAMPLE.inputs(0)["polar"]
    with pytest.raises(bpcheck.CheckError, match=r"returned a tangent of shape \(5,\); expected \(2, 5\)"):
        bpcheck.check_jvp(EXAMPLE.polar, lambda p, t: EXAMPLE.polar_jvp(p, t)[0], case)


def test_a_jvp_of_inputs_given_as_a_list_or_one_array():
    rng = np.random.default_rng(1)
    a, b = rng.standard_normal(4), rng.standard_normal(4)
    assert bpcheck.check_jvp(lambda a, b: a * np.exp(b), lambda p, t: t[0] * np.exp(p[1]) + p[0] * np.exp(p[1]) * t[1], [a, b])
    assert bpcheck.check_jvp(np.sin, lambda x, t: np.cos(x) * t, a)
    assert not bpcheck.check_jvp(np.sin, lambda x, t: np.cos(x) * t * (1 + 1e-9), a)
