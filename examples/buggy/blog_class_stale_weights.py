"""Buggy (catalog entry 14): weights2 is updated before the error is propagated through it."""
import numpy as np


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


class NeuralNetwork:
    def __init__(self, x, y):
        self.input, self.y = x, y
        self.weights1 = np.random.rand(x.shape[1], 4)
        self.weights2 = np.random.rand(4, 1)
        self.output = np.zeros(y.shape)

    def feedforward(self):
        self.layer1 = sigmoid(self.input @ self.weights1)
        self.output = sigmoid(self.layer1 @ self.weights2)

    def backprop(self):
        delta2 = 2 * (self.y - self.output) * self.output * (1 - self.output)
        self.weights2 += self.layer1.T @ delta2          # updated first ...
        delta1 = (delta2 @ self.weights2.T) * self.layer1 * (1 - self.layer1)   # ... then used: the bug
        self.weights1 += self.input.T @ delta1
