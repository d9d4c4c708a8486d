"""Layers written the CS231n way, forward(…) -> (out, cache) and backward(dout, cache) -> grads, checked by bpcheck.

    python examples/api/cs231n_layers.py          # each layer, then each planted bug, with bpcheck's verdict

Every forward states its shapes; every backward sits right below its forward.  ``BUGGY`` holds one
planted mistake per layer, each one a slip that is easy to make when writing these by hand.
"""

from __future__ import annotations

import numpy as np

import bpcheck


def affine_forward(x, w, b):
    """x (N, d_1, …, d_k), w (D, M) with D = d_1⋯d_k, b (M,) -> out (N, M)."""
    out = x.reshape(x.shape[0], -1) @ w + b
    return out, (x, w, b)


def affine_backward(dout, cache):
    """dout (N, M) -> dx (N, d_1, …, d_k), dw (D, M), db (M,)."""
    x, w, b = cache
    dx = (dout @ w.T).reshape(x.shape)
    dw = x.reshape(x.shape[0], -1).T @ dout
    db = dout.sum(axis=0)
    return dx, dw, db


def relu_forward(x):
    """x (any shape) -> out, the same shape."""
    return np.maximum(0, x), x


def relu_backward(dout, cache):
    x = cache
    return dout * (x > 0)


def softmax_loss(x, y):
    """x (N, C) class scores, y (N,) labels in [0, C) -> (loss, dx (N, C)), the loss averaged over N."""
    shifted = x - np.max(x.real, axis=1, keepdims=True)
    log_probs = shifted - np.log(np.sum(np.exp(shifted), axis=1, keepdims=True))
    n = x.shape[0]
    loss = -np.sum(log_probs[np.arange(n), y]) / n
    dx = np.exp(log_probs)
    dx[np.arange(n), y] -= 1
    return loss, dx / n


def batchnorm_forward(x, gamma, beta, bn_param):
    """x (N, D), gamma (D,), beta (D,); bn_param: mode, eps, momentum, running_mean, running_var (updated in place)."""
    eps, momentum = bn_param.get("eps", 1e-5), bn_param.get("momentum", 0.9)
    mu = x.mean(axis=0)
    var = np.var(x, axis=0)
    xhat = (x - mu) / np.sqrt(var + eps)
    bn_param["running_mean"] = momentum * bn_param.get("running_mean", np.zeros(x.shape[1])) + (1 - momentum) * mu
    bn_param["running_var"] = momentum * bn_param.get("running_var", np.zeros(x.shape[1])) + (1 - momentum) * var
    return gamma * xhat + beta, (xhat, gamma, var, eps)


def batchnorm_backward(dout, cache):
    """dout (N, D) -> dx (N, D), dgamma (D,), dbeta (D,); the simplified form of the chain through μ and σ²."""
    xhat, gamma, var, eps = cache
    n = dout.shape[0]
    dxhat = dout * gamma
    dx = (n * dxhat - dxhat.sum(axis=0) - xhat * (dxhat * xhat).sum(axis=0)) / (n * np.sqrt(var + eps))
    return dx, (dout * xhat).sum(axis=0), dout.sum(axis=0)


def conv_forward_naive(x, w, b, conv_param):
    """x (N, C, H, W), w (F, C, HH, WW), b (F,); conv_param: stride, pad -> out (N, F, H', W')."""
    stride, pad = conv_param["stride"], conv_param["pad"]
    n, _, h, wd = x.shape
    f, _, hh, ww = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    ho, wo = 1 + (h + 2 * pad - hh) // stride, 1 + (wd + 2 * pad - ww) // stride
    out = np.zeros((n, f, ho, wo), dtype=np.result_type(x, w, b))
    for i in range(ho):
        for j in range(wo):
            window = xp[:, :, i * stride:i * stride + hh, j * stride:j * stride + ww]  # (N, C, HH, WW)
            out[:, :, i, j] = np.tensordot(window, w, axes=([1, 2, 3], [1, 2, 3])) + b
    return out, (x, w, b, conv_param)


def conv_backward_naive(dout, cache):
    """dout (N, F, H', W') -> dx (N, C, H, W), dw (F, C, HH, WW), db (F,)."""
    x, w, b, conv_param = cache
    stride, pad = conv_param["stride"], conv_param["pad"]
    _, _, hh, ww = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    dxp, dw = np.zeros_like(xp), np.zeros_like(w)
    for i in range(dout.shape[2]):
        for j in range(dout.shape[3]):
            rows, cols = slice(i * stride, i * stride + hh), slice(j * stride, j * stride + ww)
            dw += np.tensordot(dout[:, :, i, j], xp[:, :, rows, cols], axes=([0], [0]))
            dxp[:, :, rows, cols] += np.tensordot(dout[:, :, i, j], w, axes=([1], [0]))
    return dxp[:, :, pad:pad + x.shape[2], pad:pad + x.shape[3]], dw, dout.sum(axis=(0, 2, 3))


# --- planted bugs: one per layer ------------------------------------------------------------------------


def affine_backward_divides_by_n(dout, cache):
    dx, dw, db = affine_backward(dout, cache)
    return dx, dw / dout.shape[0], db  # dw "averaged" over the batch a second time


def relu_backward_no_mask(dout, cache):
    return dout.copy()  # the mask forgotten: negative inputs pass gradient through


def softmax_loss_no_mean(x, y):
    loss, dx = softmax_loss(x, y)
    return loss, dx * x.shape[0]  # the loss is averaged, the gradient is not


def batchnorm_backward_eps_dropped(dout, cache):
    xhat, gamma, var, eps = cache
    return batchnorm_backward(dout, (xhat, gamma, var, 0.0))  # σ = √var instead of √(var + ε)


def conv_backward_naive_dx_unweighted(dout, cache):
    dx, dw, db = conv_backward_naive(dout, cache)
    x, w, b, conv_param = cache
    dx = dx.copy()
    dx[0, 0, 0, 0] += w[0, 0, 0, 0]  # one window's contribution added without its dout factor
    return dx, dw, db


BUGGY = {
    "affine": affine_backward_divides_by_n,
    "relu": relu_backward_no_mask,
    "softmax_loss": softmax_loss_no_mean,
    "batchnorm": batchnorm_backward_eps_dropped,
    "conv": conv_backward_naive_dx_unweighted,
}


def inputs(seed: int = 0) -> dict[str, dict]:
    """Small random inputs for each layer (relu's kept away from its kink at 0)."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((3, 4, 5))
    relu_x = rng.choice([-1.0, 1.0], (4, 5)) * rng.uniform(0.1, 2.0, (4, 5))
    return {
        "affine": {"x": x, "w": rng.standard_normal((20, 6)), "b": rng.standard_normal(6)},
        "relu": {"x": relu_x},
        "softmax_loss": {"x": rng.standard_normal((5, 4))},
        "batchnorm": {"x": 2 + 3 * rng.standard_normal((6, 4)), "gamma": rng.standard_normal(4), "beta": rng.standard_normal(4)},
        "conv": {"x": rng.standard_normal((2, 3, 5, 5)), "w": rng.standard_normal((2, 3, 3, 3)), "b": rng.standard_normal(2)},
    }


def check(buggy: bool = False, seed: int = 0) -> dict[str, bpcheck.CheckResult]:
    """Each layer checked by bpcheck: one line per layer."""
    p, pick = inputs(seed), (lambda name, right: BUGGY[name] if buggy else right)
    y = np.random.default_rng(seed).integers(0, 4, 5)
    return {
        "affine": bpcheck.check_vjp(affine_forward, pick("affine", affine_backward), p["affine"]),
        "relu": bpcheck.check_vjp(relu_forward, pick("relu", relu_backward), p["relu"]),
        "softmax_loss": bpcheck.check_function(pick("softmax_loss", softmax_loss), p["softmax_loss"], returns="loss_and_grad", static={"y": y}),
        "batchnorm": bpcheck.check_vjp(batchnorm_forward, pick("batchnorm", batchnorm_backward), p["batchnorm"], static={"bn_param": {"mode": "train"}}),
        "conv": bpcheck.check_vjp(conv_forward_naive, pick("conv", conv_backward_naive), p["conv"], static={"conv_param": {"stride": 1, "pad": 1}}),
    }


if __name__ == "__main__":
    for buggy in (False, True):
        for name, result in check(buggy).items():
            print(f"--- {name}{' (planted bug)' if buggy else ''}\n{result.message()}\n")
