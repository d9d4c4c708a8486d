"""CS231n assignment 2, layers.py, with one mistake: softmax_loss computes the multiclass hinge (SVM) loss and its gradient: a copy of svm_loss.

    bpcheck grade cs231n_layers_hinge_in_softmax.py --assignment cs231n-layers
"""
import numpy as np


def affine_forward(x, w, b):
    """x (N, d_1, ..., d_k), w (D, M), b (M,) -> out (N, M) and the cache (x, w, b)."""
    rows = x.reshape(x.shape[0], -1)
    out = rows.dot(w) + b
    cache = (x, w, b)
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
    N = x.shape[0]
    correct = x[np.arange(N), y][:, None]
    margins = np.maximum(0, x - correct + 1.0)
    margins[np.arange(N), y] = 0
    loss = np.sum(margins) / N
    dx = (margins > 0).astype(x.dtype)
    dx[np.arange(N), y] -= np.sum(dx, axis=1)
    dx /= N
    return loss, dx
