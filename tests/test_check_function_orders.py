"""check_function's second order (hessp=, hess=, returns="loss_grad_hessp") and Taylor mode (issue 24, item 2).

The loss is the example's scikit-learn-style logistic loss; a planted error is added to a right product
whose right value the test knows (the closed form in the example), never taken from the code under check.
"""

from __future__ import annotations

import numpy as np
import pytest

import bpcheck
from bpcheck import CheckError
from tests.test_api_examples import load
from tests.test_api_honesty import _rosen_point, rosen, rosen_der

EXAMPLE = load("second_order")
L2 = 0.1


def _loss(coef, X, y, l2):
    return EXAMPLE.BinaryLogistic().loss_gradient(coef, X, y, l2)[0]


def _grad(coef, X, y, l2):
    return EXAMPLE.BinaryLogistic().loss_gradient(coef, X, y, l2)[1]


def _hessp(coef, p, X, y, l2):
    return EXAMPLE.BinaryLogistic().gradient_hessian_product(coef, X, y, l2)[1](p)


def _hessp_off(coef, p, X, y, l2):
    """One element off by 1e-6 of the largest: what torch gradgradcheck's default tolerances let through."""
    out = _hessp(coef, p, X, y, l2)
    out[2] += 1e-6 * np.max(np.abs(out))
    return out


def _hess(coef, X, y, l2):
    return np.column_stack([_hessp(coef, e, X, y, l2) for e in np.eye(coef.size)])


def _triple(buggy):
    def loss_grad_hessp(coef, X, y, l2):
        model = EXAMPLE.BinaryLogistic(buggy)
        loss, grad = model.loss_gradient(coef, X, y, l2)
        return loss, grad, model.gradient_hessian_product(coef, X, y, l2)[1]
    return loss_grad_hessp


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_hessp_beside_the_gradient_passes_when_right(seed):
    coef, X, y = EXAMPLE.data(seed)
    result = bpcheck.check_function(_loss, coef, _grad, hessp=_hessp, static=(X, y, L2), seed=seed)
    assert result.verdict == "passed", result.message()
    assert "second order: check_hessp(_grad, _hessp): passed" in result.message()


def test_hessp_off_in_one_element_fails_the_check_and_names_the_element():
    coef, X, y = EXAMPLE.data(0)
    result = bpcheck.check_function(_loss, coef, _grad, hessp=_hessp_off, static=(X, y, L2))
    message = result.message()
    assert result.verdict == "FAILED" and not result.ok
    assert "second order: check_hessp(_grad, _hessp_off) FAILED" in message
    assert "H·p1[2]: got" in message
    assert "x (5,): ok" in message or "coef (5,): ok" in message  # the first order is right and says so


def test_a_dense_hessian_is_checked_by_hess():
    coef, X, y = EXAMPLE.data(0)
    assert bpcheck.check_function(_loss, coef, _grad, hess=_hess, static=(X, y, L2)).verdict == "passed"

    def hess_transposed_block(coef, X, y, l2):
        H = _hess(coef, X, y, l2)
        H[0, 1] += 1e-3
        return H
    result = bpcheck.check_function(_loss, coef, _grad, hess=hess_transposed_block, static=(X, y, L2))
    assert result.verdict == "FAILED" and "H[0, 1]: got" in result.message()


@pytest.mark.parametrize("buggy", [False, True])
def test_scikit_learn_style_triples(buggy):
    coef, X, y = EXAMPLE.data(1)
    result = bpcheck.check_function(_triple(buggy), coef, returns="loss_grad_hessp", static=(X, y, L2))
    assert result.verdict == ("FAILED" if buggy else "passed"), result.message()
    assert ("H·p1[1]: got" in result.message()) == buggy  # the example's planted error is in element 1


def test_second_order_is_not_checked_on_a_wrong_gradient():
    coef, X, y = EXAMPLE.data(0)
    result = bpcheck.check_function(_loss, coef, lambda *a: 2 * _grad(*a), hessp=_hessp, static=(X, y, L2))
    assert result.verdict == "FAILED"
    assert "second order: not checked" in result.message()


def test_mode_taylor_gives_the_taylor_verdict():
    coef, X, y = EXAMPLE.data(0)
    right = bpcheck.check_function(_loss, coef, _grad, static=(X, y, L2), mode="taylor")
    assert right.ok and right.title.startswith("check_taylor(") and "observed orders" in right.message()
    wrong = bpcheck.check_function(_loss, coef, lambda *a: 1.01 * _grad(*a), static=(X, y, L2), mode="taylor")
    assert not wrong.ok and "wrong; observed orders 1.0" in wrong.message()


def test_an_inconclusive_verdict_carries_the_taylor_orders():
    result = bpcheck.check_function(rosen, _rosen_point(), rosen_der)
    message = result.message()
    assert result.verdict == "inconclusive"
    assert "confirming step, the Taylor test (no tolerance on the gradient): passed" in message
    assert "x (7,): ok; observed orders" in message


def test_arguments_that_contradict_each_other_are_refused_by_name():
    coef, X, y = EXAMPLE.data(0)
    with pytest.raises(CheckError, match="give hessp= or hess=, not both"):
        bpcheck.check_function(_loss, coef, _grad, hessp=_hessp, hess=_hess, static=(X, y, L2))
    with pytest.raises(CheckError, match="mode='taylor' checks the gradient only"):
        bpcheck.check_function(_loss, coef, _grad, hessp=_hessp, static=(X, y, L2), mode="taylor")
    with pytest.raises(CheckError, match="f returns its own hessp"):
        bpcheck.check_function(_triple(False), coef, returns="loss_grad_hessp", hessp=_hessp, static=(X, y, L2))
    with pytest.raises(CheckError, match=r"with returns='loss_grad_hessp' it must return \(loss, grad, hessp\)"):
        bpcheck.check_function(lambda c, *a: (0.0, c), coef, returns="loss_grad_hessp", static=(X, y, L2))
