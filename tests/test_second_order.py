"""check_hessp: Hessian-vector products and dense Hessians against derivatives of the user's own gradient.

Expected values never come from the code under check: a planted error is added to a right product
whose right value the test knows, and a right product is the closed form written in the example.
"""

from __future__ import annotations

import numpy as np
import pytest

import bpcheck
from tests.test_api_examples import load

EXAMPLE = load("second_order")


def _grad(coef, X, y, l2):
    return EXAMPLE.BinaryLogistic().loss_gradient(coef, X, y, l2)[1]


def _hessp(coef, p, X, y, l2):
    return EXAMPLE.BinaryLogistic().gradient_hessian_product(coef, X, y, l2)[1](p)


def _hess(coef, X, y, l2):
    return np.column_stack([_hessp(coef, e, X, y, l2) for e in np.eye(coef.size)])


def test_the_right_logistic_hessp_passes_for_200_seeds_by_complex_step_and_by_central_differences():
    alarms = []
    for seed in range(200):
        coef, X, y = EXAMPLE.data(seed)
        loss = EXAMPLE.BinaryLogistic()
        for complex_step in (True, False):
            result = bpcheck.check_hessp(loss.gradient_hessian_product, None, coef, static=(X, y, 0.1),
                                         returns="grad_and_hessp", seed=seed, complex_step=complex_step)
            if not result:
                alarms.append(result.message())
    assert not alarms, alarms[0]


def test_the_right_dense_hessian_passes_for_50_seeds():
    for seed in range(50):
        coef, X, y = EXAMPLE.data(seed)
        assert bpcheck.check_hessp(_grad, None, coef, hess=_hess, static=(X, y, 0.1), seed=seed)


@pytest.mark.parametrize("complex_step", [True, False])
def test_a_hessp_off_in_one_element_by_1e_6_of_the_largest_is_caught_and_named(complex_step):
    coef, X, y = EXAMPLE.data(0)
    result = bpcheck.check_hessp(EXAMPLE.BinaryLogistic(buggy=True).gradient_hessian_product, None, coef,
                                 static=(X, y, 0.1), returns="grad_and_hessp", complex_step=complex_step)
    message = result.message()
    assert not result
    assert "H·p1 (5,): 1 of 5 elements wrong" in message and "H·p1[1]: got" in message
    assert ("complex step: valid here" in message) == complex_step


def test_the_first_order_check_cannot_see_that_bug():
    """The planted error is in the Hessian only: check_function passes, check_hessp fails."""
    results = EXAMPLE.check(buggy=True)
    assert results["gradient"] and not results["hessp"]


def test_a_dense_hessian_with_one_wrong_element_names_it():
    coef, X, y = EXAMPLE.data(1)

    def hess(coef, X, y, l2):
        H = _hess(coef, X, y, l2)
        H[2, 3] += 1e-6 * np.max(np.abs(H))  # no longer symmetric: only the (2, 3) element is off
        return H

    result = bpcheck.check_hessp(_grad, None, coef, hess=hess, static=(X, y, 0.1))
    assert not result and "H (5, 5): 1 of 25 elements wrong" in result.message() and "H[2, 3]: got" in result.message()


def test_a_hessp_for_another_l2_strength_is_wrong_in_the_weights_not_the_intercept():
    coef, X, y = EXAMPLE.data(2)
    result = bpcheck.check_hessp(_grad, lambda c, p, X, y, l2: _hessp(c, p, X, y, 0.0), coef, static=(X, y, 0.1))
    assert not result and "H·p1 (5,): 4 of 5 elements wrong" in result.message()
    assert "H·p1[4]:" not in result.message()  # the intercept carries no L2 term


def test_a_gradient_that_drops_the_imaginary_part_is_checked_by_central_differences():
    coef, X, y = EXAMPLE.data(3)

    def grad(coef, X, y, l2):
        return _grad(np.real(coef), X, y, l2)  # .real: complex step would give zero

    result = bpcheck.check_hessp(grad, _hessp, coef, static=(X, y, 0.1))
    assert result, result.message()
    assert "complex step not used" in result.message() and "central differences on the gradient" in result.message()


def test_keyword_static_and_loss_and_grad():
    coef, X, y = EXAMPLE.data(4)
    loss = EXAMPLE.BinaryLogistic()

    def hessp(coef, p, X, y, l2_reg_strength):
        return loss.gradient_hessian_product(coef, X, y, l2_reg_strength)[1](p)

    assert bpcheck.check_hessp(loss.loss_gradient, hessp, coef, returns="loss_and_grad",
                               static={"X": X, "y": y, "l2_reg_strength": 0.3})


def test_scikit_learns_own_linear_model_loss():
    pytest.importorskip("sklearn")
    try:
        from sklearn._loss.loss import HalfBinomialLoss
        from sklearn.linear_model._linear_loss import LinearModelLoss
    except ImportError as e:  # private modules: they may move
        pytest.skip(f"scikit-learn's LinearModelLoss is not where it was: {e}")
    coef, X, y = EXAMPLE.data(5)
    model = LinearModelLoss(HalfBinomialLoss(), fit_intercept=True)
    result = bpcheck.check_hessp(model.gradient_hessian_product, None, coef, static={"X": X, "y": y, "l2_reg_strength": 0.1},
                                 returns="grad_and_hessp")
    assert result, result.message()


@pytest.mark.parametrize("kwargs, words", [
    ({"hessp": _hessp, "hess": _hess}, "give exactly one of hessp=, hess="),
    ({"hessp": None}, "give exactly one of hessp=, hess="),
    ({"hessp": _hessp, "returns": "hessp"}, "returns: expected one of"),
    ({"hessp": _hessp, "tangents": 0}, "tangents: expected a positive int"),
])
def test_bad_arguments_say_what_was_wrong(kwargs, words):
    coef, X, y = EXAMPLE.data(0)
    hessp = kwargs.pop("hessp")
    with pytest.raises(bpcheck.CheckError, match=words):
        bpcheck.check_hessp(_grad, hessp, coef, static=(X, y, 0.1), **kwargs)


def test_a_hessp_of_the_wrong_size_is_named():
    coef, X, y = EXAMPLE.data(0)
    with pytest.raises(bpcheck.CheckError, match=r"returned 4 values of shape \(4,\); expected 5"):
        bpcheck.check_hessp(_grad, lambda c, p, X, y, l2: _hessp(c, p, X, y, l2)[:4], coef, static=(X, y, 0.1))


def test_a_non_finite_hessp_fails():
    coef, X, y = EXAMPLE.data(0)
    result = bpcheck.check_hessp(_grad, lambda c, p, X, y, l2: _hessp(c, p, X, y, l2) * np.nan, coef, static=(X, y, 0.1))
    assert not result


def test_x_must_be_one_array():
    coef, X, y = EXAMPLE.data(0)
    with pytest.raises(bpcheck.CheckError, match="x: expected one array"):
        bpcheck.check_hessp(_grad, _hessp, {"coef": coef}, static=(X, y, 0.1))
