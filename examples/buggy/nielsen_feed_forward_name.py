"""Buggy (a side check): backprop is right, but the forward pass is named feed_forward, not feedforward."""
import numpy as np


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


class Network:
    def __init__(self, sizes):
        self.num_layers = len(sizes)
        self.biases = [np.random.randn(y, 1) for y in sizes[1:]]
        self.weights = [np.random.randn(y, x) for x, y in zip(sizes[:-1], sizes[1:])]

    def feed_forward(self, a):
        for b, w in zip(self.biases, self.weights):
            a = sigmoid(w @ a + b)
        return a

    def backprop(self, x, y):
        activations, zs = [x], []
        for b, w in zip(self.biases, self.weights):
            zs.append(w @ activations[-1] + b)
            activations.append(sigmoid(zs[-1]))
        nabla_b = [None] * len(self.biases)
        nabla_w = [None] * len(self.weights)
        delta = (activations[-1] - y) * activations[-1] * (1 - activations[-1])
        for l in range(len(self.weights) - 1, -1, -1):
            nabla_b[l] = delta
            nabla_w[l] = delta @ activations[l].T
            if l > 0:
                s = activations[l]
                delta = (self.weights[l].T @ delta) * s * (1 - s)
        return nabla_b, nabla_w
