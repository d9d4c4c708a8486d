"""Bad input: a ValueError that names the argument and says what was expected and what came."""

from __future__ import annotations

import numpy as np
import pytest

from bpcheck.reference import NetworkSpec, forward, init_params, loss_and_grad, sgd_step

SPEC = NetworkSpec(sizes=(3, 4, 2), activations=("sigmoid", "sigmoid"), loss="half_sse")


def _ok():
    return init_params(SPEC), np.zeros((5, 3)), np.zeros((5, 2))


@pytest.mark.parametrize(
    "kwargs, pattern",
    [
        (dict(sizes=(3,), activations=()), r"sizes: expected at least 2"),
        (dict(sizes=(3, 0), activations=("sigmoid",)), r"sizes\[1\]: expected a positive integer, got 0"),
        (dict(sizes=(3, 2.5), activations=("sigmoid",)), r"sizes\[1\]: expected a positive integer, got 2.5"),
        (dict(sizes=(3, 4, 2), activations=("sigmoid",)), r"activations: expected 2 names .* got 1"),
        (dict(sizes=(3, 2), activations=("sigmod",)), r"activations\[0\]: unknown activation 'sigmod'"),
        (dict(sizes=(3, 4, 2), activations=("softmax", "sigmoid")), r"softmax is allowed on the output layer only"),
        (dict(sizes=(3, 2), activations=("sigmoid",), loss="hinge"), r"loss: unknown loss 'hinge'"),
        (dict(sizes=(3, 2), activations=("tanh",), loss="bce"), r"loss: 'bce' needs a 'sigmoid' output layer, got 'tanh'"),
        (dict(sizes=(3, 2), activations=("sigmoid",), loss="softmax_ce"), r"needs a 'softmax' output layer"),
        (dict(sizes=(3, 2), activations=("sigmoid",), reduction="avg"), r"reduction: expected one of"),
        (dict(sizes=(3, 2), activations=("sigmoid",), l2=-1.0), r"l2: expected a finite number >= 0, got -1.0"),
        (dict(sizes=(3, 2), activations=("sigmoid",), l2=float("nan")), r"l2: expected a finite number"),
    ],
)
def test_bad_spec(kwargs, pattern):
    with pytest.raises(ValueError, match=pattern):
        NetworkSpec(**kwargs)


def test_unknown_spec_field_is_named():
    with pytest.raises(ValueError, match=r"unknown field\(s\) \['lr'\]"):
        NetworkSpec.from_dict({"sizes": [2, 1], "activations": ["sigmoid"], "lr": 0.1})


@pytest.mark.parametrize(
    "mutate, pattern",
    [
        (lambda p: p.pop("b2"), r"params: expected keys .* missing \['b2'\]"),
        (lambda p: p.update(W3=np.zeros((2, 2))), r"unexpected \['W3'\]"),
        (lambda p: p.update(W1=np.zeros((4, 3))), r"W1: expected shape \(3, 4\), got \(4, 3\)"),
        (lambda p: p.update(W2=np.zeros((4, 2, 1))), r"W2: expected shape \(4, 2\), got \(4, 2, 1\)"),
        (lambda p: p.update(b1=np.zeros((1, 4))), r"b1: expected shape \(4,\), got \(1, 4\)"),
        (lambda p: p.update(W2=np.full((4, 2), np.nan)), r"W2: expected finite values, got 8 NaN/Inf"),
        (lambda p: p.update(W1=np.zeros((3, 4), dtype=np.int64)), r"W1: expected dtype float32 or float64, got int64"),
        (lambda p: p.update(b2=np.zeros(2, dtype=np.float32)), r"b2: expected dtype float64 like the other parameters, got float32"),
    ],
)
def test_bad_params(mutate, pattern):
    params, x, y = _ok()
    mutate(params)
    with pytest.raises(ValueError, match=pattern):
        forward(SPEC, params, x, y)


@pytest.mark.parametrize(
    "x, y, pattern",
    [
        (np.zeros(3), np.zeros((1, 2)), r"x: expected a 2-D array of shape \(N, 3\), got shape \(3,\)"),
        (np.zeros((5, 4)), np.zeros((5, 2)), r"x: expected shape \(N, 3\), got \(5, 4\)"),
        (np.zeros((0, 3)), np.zeros((0, 2)), r"x: expected at least one example"),
        (np.full((5, 3), np.inf), np.zeros((5, 2)), r"x: expected finite values"),
        (np.zeros((5, 3)), np.zeros((4, 2)), r"y: expected shape \(5, 2\), got \(4, 2\)"),
        (np.zeros((5, 3)), np.zeros((5,)), r"y: expected shape \(5, 2\), got \(5,\)"),
        (np.zeros((5, 3)), np.zeros((5, 2, 1)), r"y: expected shape \(5, 2\), got \(5, 2, 1\)"),
        (np.zeros((5, 3)), np.full((5, 2), np.nan), r"y: expected finite values"),
    ],
)
def test_bad_batch(x, y, pattern):
    params, _, _ = _ok()
    with pytest.raises(ValueError, match=pattern):
        forward(SPEC, params, x, y)


def test_no_silent_broadcast_of_a_single_target_row():
    params, x, _ = _ok()
    with pytest.raises(ValueError, match=r"y: expected shape \(5, 2\), got \(1, 2\)"):
        loss_and_grad(SPEC, params, x, np.zeros((1, 2)))


CE = NetworkSpec(sizes=(3, 3), activations=("softmax",), loss="softmax_ce")


@pytest.mark.parametrize(
    "y, pattern",
    [
        (np.array([0, 1, 3]), r"y: labels must lie in \[0, 3\), got \[3\]"),
        (np.array([0, -1, 2]), r"labels must lie in \[0, 3\), got \[-1\]"),
        (np.array([0, 1]), r"y: expected integer labels of shape \(3,\), got \(2,\)"),
        (np.array([0.5, 1, 2]), r"y: expected integer class labels"),
        (np.array([[0.5, 0.6, 0], [1, 0, 0], [0, 0, 1]]), r"probability rows"),
    ],
)
def test_bad_labels(y, pattern):
    with pytest.raises(ValueError, match=pattern):
        forward(CE, init_params(CE), np.zeros((3, 3)), y)


def test_integer_labels_equal_one_hot():
    params = init_params(CE, seed=4)
    x = np.random.default_rng(0).standard_normal((3, 3))
    C1, g1 = loss_and_grad(CE, params, x, np.array([2, 0, 1]))
    C2, g2 = loss_and_grad(CE, params, x, np.eye(3)[[2, 0, 1]])
    assert C1 == C2
    for k in g1:
        np.testing.assert_array_equal(g1[k], g2[k])


def test_bce_targets_outside_unit_interval():
    spec = NetworkSpec(sizes=(2, 1), activations=("sigmoid",), loss="bce")
    with pytest.raises(ValueError, match=r"y: binary cross-entropy targets must lie in \[0, 1\]"):
        forward(spec, init_params(spec), np.zeros((2, 2)), np.array([[0.0], [1.5]]))


def test_bad_learning_rate():
    params, x, y = _ok()
    with pytest.raises(ValueError, match=r"lr: expected a finite number > 0, got -0.1"):
        sgd_step(SPEC, params, x, y, lr=-0.1)


def test_inputs_are_not_mutated():
    params, _, _ = _ok()
    rng = np.random.default_rng(1)
    x, y = rng.standard_normal((5, 3)), rng.random((5, 2))
    before = {k: v.copy() for k, v in params.items()}, x.copy(), y.copy()
    sgd_step(SPEC, params, x, y, lr=0.5)
    for k in params:
        np.testing.assert_array_equal(params[k], before[0][k])
    np.testing.assert_array_equal(x, before[1])
    np.testing.assert_array_equal(y, before[2])


def test_float32_is_kept():
    params = init_params(SPEC, dtype=np.float32)
    C, g = loss_and_grad(SPEC, params, np.ones((2, 3)), np.zeros((2, 2)))
    assert all(v.dtype == np.float32 for v in g.values())
    new, _, _ = sgd_step(SPEC, params, np.ones((2, 3)), np.zeros((2, 2)), lr=0.1)
    assert all(v.dtype == np.float32 for v in new.values())
