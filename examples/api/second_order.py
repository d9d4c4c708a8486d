"""A scikit-learn-style logistic loss with its Hessian-vector product, checked to second order.

    python examples/api/second_order.py

``BinaryLogistic`` is written the way scikit-learn's ``LinearModelLoss`` is: ``coef`` holds the weights
and, last, the intercept; ``loss_gradient`` returns (loss, gradient) for lbfgs, and
``gradient_hessian_product`` returns (gradient, hessp) for Newton-CG, ``hessp(s)`` being H·s.  The loss
is the mean binary cross-entropy of X·w + b plus ½·l2·‖w‖².  The planted bug: the Hessian-vector
product is off in one element by 1e-6 of its largest element (``buggy=True``), as a half-updated
cache or a wrong index leaves it; a first-order check cannot see it.
"""

from __future__ import annotations

import numpy as np

import bpcheck


def _sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


class BinaryLogistic:
    """loss_gradient and gradient_hessian_product of the mean logistic loss, intercept last in coef."""

    def __init__(self, buggy: bool = False):
        self.buggy = buggy

    def loss_gradient(self, coef, X, y, l2_reg_strength=0.0):
        w, b = coef[:-1], coef[-1]
        z = X @ w + b
        loss = np.mean(np.log1p(np.exp(z)) - y * z) + 0.5 * l2_reg_strength * (w @ w)
        residual = (_sigmoid(z) - y) / X.shape[0]
        return loss, np.concatenate([X.T @ residual + l2_reg_strength * w, [residual.sum()]])

    def gradient_hessian_product(self, coef, X, y, l2_reg_strength=0.0):
        _, grad = self.loss_gradient(coef, X, y, l2_reg_strength)
        p = _sigmoid(X @ coef[:-1] + coef[-1])
        weights = p * (1 - p) / X.shape[0]

        def hessp(s):
            ws = weights * (X @ s[:-1] + s[-1])
            out = np.concatenate([X.T @ ws + l2_reg_strength * s[:-1], [ws.sum()]])
            if self.buggy:
                out[1] += 1e-6 * np.max(np.abs(out))
            return out

        return grad, hessp


def data(seed: int = 0, n: int = 30, d: int = 4):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    return rng.standard_normal(d + 1), X, (rng.random(n) < 0.5).astype(float)


def check(buggy: bool = False) -> dict:
    """Both orders: the gradient (check_function) and the Hessian-vector product (check_hessp)."""
    loss = BinaryLogistic(buggy)
    coef, X, y = data()
    return {"gradient": bpcheck.check_function(loss.loss_gradient, coef, returns="loss_and_grad", static=(X, y, 0.1)),
            "hessp": bpcheck.check_hessp(loss.gradient_hessian_product, None, coef, static=(X, y, 0.1),
                                         returns="grad_and_hessp")}


if __name__ == "__main__":
    for buggy in (False, True):
        for name, result in check(buggy).items():
            print(f"--- {name} ({'buggy' if buggy else 'correct'})\n{result.message()}\n")
