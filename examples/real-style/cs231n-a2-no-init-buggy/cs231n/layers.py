import numpy as np


def affine_forward(x, w, b):
    N = x.shape[0]
    out = x.reshape(N, np.prod(x.shape[1:])).dot(w) + b
    cache = (x, w, b)
    return out, cache


def affine_backward(dout, cache):
    x, w, b = cache
    N = x.shape[0]
    dx = dout.dot(w.T).reshape(x.shape)
    dw = x.reshape(N, np.prod(x.shape[1:])).T.dot(dout)
    db = dout.sum(axis=0)
    return dx, dw, db


def relu_forward(x):
    cache = x
    out = np.maximum(x, 0)
    return out, cache


def relu_backward(dout, cache):
    x = cache
    dx = dout * (x > 0).astype(float)
    return dx


def softmax_loss(x, y):
    probs = np.exp(x - np.max(x, axis=1, keepdims=True))
    probs /= np.sum(probs, axis=1, keepdims=True)
    N = x.shape[0]
    loss = -np.sum(np.log(probs[np.arange(N), y])) / N
    dx = probs.copy()
    dx[np.arange(N), y] -= 1
    dx /= N
    return loss, dx
