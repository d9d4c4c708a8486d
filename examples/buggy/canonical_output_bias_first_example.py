"""Buggy (bias-one-example, output layer only): the output bias gradient takes the first row of delta instead of its sum."""
import numpy as np


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def backprop(weights, biases, x, y):
    a = [x]
    for W, b in zip(weights, biases):
        a.append(sigmoid(a[-1] @ W + b))
    L = len(weights)
    grad_weights, grad_biases = [None] * L, [None] * L
    delta = (a[-1] - y) * a[-1] * (1 - a[-1]) / x.shape[0]
    grad_weights[-1] = a[-2].T @ delta
    grad_biases[-1] = delta[0]                       # should be delta.sum(axis=0)
    for l in range(L - 2, -1, -1):
        delta = (delta @ weights[l + 1].T) * a[l + 1] * (1 - a[l + 1])
        grad_weights[l] = a[l].T @ delta
        grad_biases[l] = delta.sum(axis=0)
    return grad_weights, grad_biases
