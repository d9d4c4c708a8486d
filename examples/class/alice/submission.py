"""Backprop for the sigmoid MLP."""
import numpy as np


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def backprop(weights, biases, x, y):
    activations = [x]
    for W, b in zip(weights, biases):
        activations.append(sigmoid(activations[-1] @ W + b))
    n = x.shape[0]
    a = activations[-1]
    delta = (a - y) * a * (1 - a) / n
    grad_weights = [None] * len(weights)
    grad_biases = [None] * len(biases)
    for l in range(len(weights) - 1, -1, -1):
        grad_weights[l] = activations[l].T @ delta
        grad_biases[l] = delta.sum(axis=0)
        if l > 0:
            a_prev = activations[l]
            delta = (delta @ weights[l].T) * a_prev * (1 - a_prev)
    return grad_weights, grad_biases
