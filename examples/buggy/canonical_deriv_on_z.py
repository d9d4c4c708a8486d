"""Buggy (catalog entry 1): seed 000's sigmoid(x, deriv=True) = x*(1-x) called on z (net) instead of a (out)."""
import numpy as np


def sigmoid(x, deriv=False):
    if deriv:
        return x * (1 - x)
    return 1 / (1 + np.exp(-x))


def backprop(weights, biases, x, y):
    zs, activations = [], [x]
    for W, b in zip(weights, biases):
        zs.append(activations[-1] @ W + b)
        activations.append(sigmoid(zs[-1]))
    n = x.shape[0]
    delta = (activations[-1] - y) * sigmoid(zs[-1], deriv=True) / n   # the bug: should be sigmoid(a, deriv=True)
    grad_weights, grad_biases = [None] * len(weights), [None] * len(biases)
    for l in range(len(weights) - 1, -1, -1):
        grad_weights[l] = activations[l].T @ delta
        grad_biases[l] = delta.sum(axis=0)
        if l > 0:
            delta = (delta @ weights[l].T) * sigmoid(zs[l - 1], deriv=True)
    return grad_weights, grad_biases
