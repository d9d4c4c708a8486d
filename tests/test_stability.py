"""Finite losses and gradients, and no floating-point warnings, for pre-activations up to |z| = 1e4."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from bpcheck.reference import NetworkSpec, loss_and_grad
from bpcheck.reference.activations import sigmoid, sigmoid_backward, tanh, tanh_backward
from bpcheck.reference.spec import LOSS_REQUIRES_OUTPUT, LOSSES

OUTPUTS = ("identity", "sigmoid", "tanh", "relu", "leaky_relu", "softmax")
PAIRS = [(act, loss) for act, loss in itertools.product(OUTPUTS, LOSSES) if LOSS_REQUIRES_OUTPUT.get(loss, act) == act]


@pytest.mark.parametrize("output, loss", PAIRS)
@pytest.mark.parametrize("hidden", ["sigmoid", "tanh", "relu"])
def test_huge_pre_activations(hidden, output, loss):
    spec = NetworkSpec(sizes=(2, 3, 3), activations=(hidden, output), loss=loss)
    # z of the hidden layer reaches ±1e4, and so does the output layer's.
    params = {
        "W1": np.array([[1e4, -1e4, 5e3], [-1e4, 1e4, 5e3]]),
        "b1": np.zeros(3),
        "W2": np.array([[1e4, -1e4, 0.0], [-1.0, 1.0, 1e4], [0.0, 0.0, -1e4]]),
        "b2": np.zeros(3),
    }
    x = np.array([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0]])
    if loss == "softmax_ce":
        y = np.array([0, 1, 2])
    else:
        y = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        C, grads = loss_and_grad(spec, params, x, y)
    assert np.isfinite(C)
    for name, g in grads.items():
        assert np.all(np.isfinite(g)), name


def test_saturated_derivatives_keep_their_digits():
    """σ'(30) = e^-30/(1+e^-30)²: computing 1 − a from a would give 0 or 1 digit, not 16."""
    z = np.array([[30.0, -30.0, 20.0]])
    exact = np.exp(-np.abs(z)) / (1 + np.exp(-np.abs(z))) ** 2
    got = sigmoid_backward(z, sigmoid(z), np.ones_like(z))
    np.testing.assert_allclose(got, exact, rtol=4 * np.finfo(float).eps)
    exact_tanh = 1 / np.cosh(z) ** 2
    np.testing.assert_allclose(tanh_backward(z, tanh(z), np.ones_like(z)), exact_tanh, rtol=8 * np.finfo(float).eps)
