from builtins import range
import numpy as np


def affine_forward(x, w, b):
    x2 = np.reshape(x, (x.shape[0], -1))
    out = np.matmul(x2, w) + b
    cache = (x, w, b)
    return out, cache


def affine_backward(dout, cache):
    x, w, b = cache
    x2 = np.reshape(x, (x.shape[0], -1))
    dx = np.reshape(np.matmul(dout, w.T), x.shape)
    dw = np.matmul(x2.T, dout)
    db = np.sum(dout, axis=0)
    return dx, dw, db


def relu_forward(x):
    out = x.copy()
    out[out < 0] = 0
    cache = x
    return out, cache


def relu_backward(dout, cache):
    x = cache
    dx = dout.copy()
    dx[x < 0] = 0
    return dx


def softmax_loss(x, y):
    num_train = x.shape[0]
    exp_scores = np.exp(x - np.max(x, axis=1, keepdims=True))
    probs = exp_scores / np.sum(exp_scores, axis=1, keepdims=True)
    loss = np.sum(-np.log(probs[range(num_train), y])) / num_train
    dx = probs
    dx[range(num_train), y] -= 1
    return loss, dx
