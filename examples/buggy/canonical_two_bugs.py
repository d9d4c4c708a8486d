"""Buggy (two mistakes): sigmoid_prime applied to the activation at the output, and no sigmoid_prime at all in the hidden layers."""
import numpy as np


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def sigmoid_prime(x):
    return sigmoid(x) * (1 - sigmoid(x))


def backprop(weights, biases, x, y):
    activations = [x]
    for W, b in zip(weights, biases):
        activations.append(sigmoid(activations[-1] @ W + b))
    out = activations[-1]
    delta = (out - y) * sigmoid_prime(out) / x.shape[0]     # bug 1: sigmoid_prime of the output, not of z
    grad_weights, grad_biases = [None] * len(weights), [None] * len(biases)
    for l in reversed(range(len(weights))):
        grad_weights[l] = activations[l].T @ delta
        grad_biases[l] = np.sum(delta, axis=0)
        if l > 0:
            delta = delta @ weights[l].T                     # bug 2: the hidden layer's derivative forgotten
    return grad_weights, grad_biases
