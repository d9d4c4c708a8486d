"""Functions returning (loss, grad), the way scikit-learn's MLP and scipy's ``minimize(jac=True)`` want them.

    python examples/api/loss_and_grad.py

- ``mlp_loss_grad(coefs, intercepts, X, y, alpha)``: a one-hidden-layer regression MLP written like
  scikit-learn's (lists of weight matrices and intercepts, in-place ReLU, deltas from the output back).
  Its loss is ½·mean over samples of Σ over outputs of the squared error.  ``mlp_loss_grad_8349`` is
  the same code with scikit-learn's reduction before its issue #8349: the loss averages over the
  outputs too, the gradient does not, so the gradient is n_outputs × the gradient of the loss.
- ``logistic_loss_grad(w, X, y)``: the mean logistic loss and its gradient, scipy style (``args=(X, y)``);
  ``logistic_loss_grad_sign`` returns the ascent direction by mistake.
"""

from __future__ import annotations

import numpy as np

import bpcheck


def mlp_loss_grad(coefs, intercepts, X, y, alpha=1e-3, outputs_in_mean=False):
    """coefs [W0 (D, H), W1 (H, K)], intercepts [b0 (H,), b1 (K,)], X (N, D), y (N, K) -> (loss, (coef_grads, intercept_grads))."""
    n = X.shape[0]
    hidden = X @ coefs[0] + intercepts[0]
    np.maximum(hidden, 0, out=hidden)  # ReLU in place, as scikit-learn does
    pred = hidden @ coefs[1] + intercepts[1]
    residual = pred - y
    loss = 0.5 * (np.mean(residual**2) if outputs_in_mean else np.sum(residual**2) / n)
    loss += 0.5 * alpha * sum(np.sum(W * W) for W in coefs) / n
    delta = residual / n  # d loss / d pred when the outputs are summed
    coef_grads = [None, hidden.T @ delta + alpha * coefs[1] / n]
    intercept_grads = [None, delta.sum(axis=0)]
    delta = (delta @ coefs[1].T) * (hidden > 0)
    coef_grads[0] = X.T @ delta + alpha * coefs[0] / n
    intercept_grads[0] = delta.sum(axis=0)
    return loss, (coef_grads, intercept_grads)


def mlp_loss_grad_8349(coefs, intercepts, X, y, alpha=1e-3):
    return mlp_loss_grad(coefs, intercepts, X, y, alpha, outputs_in_mean=True)


def logistic_loss_grad(w, X, y):
    """w (D,), X (N, D), y (N,) in {0, 1} -> (mean logistic loss, gradient (D,))."""
    z = X @ w
    loss = np.mean(np.logaddexp(0, z) - y * z)
    p = 0.5 * (1 + np.tanh(z / 2))  # σ(z), written to stay finite for any z
    return loss, X.T @ (p - y) / len(y)


def logistic_loss_grad_sign(w, X, y):
    loss, g = logistic_loss_grad(w, X, y)
    return loss, -g


def data(seed: int = 0, outputs: int = 3) -> dict:
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((8, 4))
    return {
        "params": {"coefs": [rng.standard_normal((4, 5)), rng.standard_normal((5, outputs))],
                   "intercepts": [rng.standard_normal(5), rng.standard_normal(outputs)]},
        "X": X, "y": rng.standard_normal((8, outputs)), "w": rng.standard_normal(4), "labels": (rng.random(8) < 0.5).astype(float),
    }


def check(buggy: bool = False, seed: int = 0) -> dict[str, bpcheck.CheckResult]:
    d = data(seed)
    mlp = mlp_loss_grad_8349 if buggy else mlp_loss_grad
    logistic = logistic_loss_grad_sign if buggy else logistic_loss_grad
    return {
        "mlp": bpcheck.check_function(mlp, d["params"], returns="loss_and_grad", static={"X": d["X"], "y": d["y"]}),
        "logistic": bpcheck.check_function(logistic, d["w"], returns="loss_and_grad", static=(d["X"], d["labels"])),
    }


if __name__ == "__main__":
    for buggy in (False, True):
        for name, result in check(buggy).items():
            print(f"--- {name}{' (planted bug)' if buggy else ''}\n{result.message()}\n")
