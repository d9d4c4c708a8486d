"""Buggy (catalog entry 6): the transpose in BP2 is missing (a crash for non-square layers, silent for square ones)."""
import numpy as np


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


class Network:
    def __init__(self, sizes):
        self.sizes = sizes
        self.num_layers = len(sizes)
        self.biases = [np.random.randn(n, 1) for n in sizes[1:]]
        self.weights = [np.random.randn(n_out, n_in) for n_in, n_out in zip(sizes[:-1], sizes[1:])]

    def feedforward(self, a):
        for w, b in zip(self.weights, self.biases):
            a = sigmoid(w @ a + b)
        return a

    def backprop(self, x, y):
        activations, zs = [x], []
        for w, b in zip(self.weights, self.biases):
            zs.append(w @ activations[-1] + b)
            activations.append(sigmoid(zs[-1]))
        nabla_b = [None] * len(self.biases)
        nabla_w = [None] * len(self.weights)
        a = activations[-1]
        delta = (a - y) * a * (1 - a)
        for l in range(len(self.weights) - 1, -1, -1):
            nabla_b[l] = delta
            nabla_w[l] = delta @ activations[l].T
            if l > 0:
                s = activations[l]
                delta = (self.weights[l] @ delta) * s * (1 - s)  # should be weights[l].T
        return nabla_b, nabla_w
