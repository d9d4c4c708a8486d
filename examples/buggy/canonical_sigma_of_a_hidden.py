"""Buggy (sigma-of-a-hidden): the output delta is right, but the hidden layers reuse sigmoid_derivative on their outputs."""
import numpy as np


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def sigmoid_derivative(x):
    s = sigmoid(x)
    return s * (1 - s)


def backprop(weights, biases, x, y):
    zs, activations = [], [x]
    for W, b in zip(weights, biases):
        zs.append(activations[-1] @ W + b)
        activations.append(sigmoid(zs[-1]))
    delta = (activations[-1] - y) * sigmoid_derivative(zs[-1]) / len(x)
    grad_weights, grad_biases = [], []
    for l in range(len(weights) - 1, -1, -1):
        grad_weights.insert(0, activations[l].T @ delta)
        grad_biases.insert(0, delta.sum(axis=0))
        if l > 0:
            delta = (delta @ weights[l].T) * sigmoid_derivative(activations[l])   # should be zs[l - 1]
    return grad_weights, grad_biases
