"""CS231n assignment 2, layers.py, with one mistake: affine_forward caches its output in place of its input: dw is out.T @ dout.

    bpcheck grade cs231n_layers_wrong_cache.py --assignment cs231n-layers
"""
import numpy as np


def affine_forward(x, w, b):
    """x (N, d_1, ..., d_k), w (D, M), b (M,) -> out (N, M) and the cache (x, w, b)."""
    rows = x.reshape(x.shape[0], -1)
    out = rows.dot(w) + b
    cache = (out, w, b)
    return out, cache


def affine_backward(dout, cache):
    """dout (N, M) -> dx shaped like x, dw (D, M), db (M,)."""
    x, w, b = cache
    dx = dout.dot(w.T).reshape(x.shape)
    dw = x.reshape(x.shape[0], -1).T.dot(dout)
    db = np.sum(dout, axis=0)
    return dx, dw, db


def relu_forward(x):
    out = np.maximum(0, x)
    cache = x
    return out, cache


def relu_backward(dout, cache):
    x = cache
    dx = dout * (x > 0)
    return dx


def softmax_loss(x, y):
    """Softmax cross-entropy: x (N, C) scores, y (N,) labels -> (loss averaged over N, dx (N, C))."""
    shifted = x - np.max(x, axis=1, keepdims=True)
    log_probs = shifted - np.log(np.sum(np.exp(shifted), axis=1, keepdims=True))
    N = x.shape[0]
    loss = -np.sum(log_probs[np.arange(N), y]) / N
    dx = np.exp(log_probs)
    dx[np.arange(N), y] -= 1
    dx /= N
    return loss, dx
