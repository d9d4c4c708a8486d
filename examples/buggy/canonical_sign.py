"""Buggy (convention): returns y - a where the gradient needs a - y, so every gradient has the wrong sign."""
import numpy as np


def backprop(weights, biases, x, y):
    activations = [x]
    for W, b in zip(weights, biases):
        activations.append(1 / (1 + np.exp(-(activations[-1] @ W + b))))
    a = activations[-1]
    delta = (y - a) * a * (1 - a) / x.shape[0]
    grad_weights, grad_biases = [None] * len(weights), [None] * len(biases)
    for l in range(len(weights) - 1, -1, -1):
        grad_weights[l] = activations[l].T @ delta
        grad_biases[l] = delta.sum(axis=0)
        if l > 0:
            delta = (delta @ weights[l].T) * activations[l] * (1 - activations[l])
    return grad_weights, grad_biases
