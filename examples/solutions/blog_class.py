"""A correct submission for the blog-class contract: NeuralNetwork(x, y) with weights1 (n_in, 4), weights2 (4, 1).

No biases, sigmoid units. feedforward() sets self.output; backprop() adds -dL/dW to each weight for
L = sum over the batch of (y - output)^2, both gradients taken before either weight changes.
"""
import numpy as np


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


class NeuralNetwork:
    def __init__(self, x, y):
        self.input = x
        self.y = y
        self.weights1 = np.random.rand(x.shape[1], 4)
        self.weights2 = np.random.rand(4, 1)
        self.output = np.zeros(y.shape)

    def feedforward(self):
        self.layer1 = sigmoid(self.input @ self.weights1)       # (batch, 4)
        self.output = sigmoid(self.layer1 @ self.weights2)      # (batch, 1)

    def backprop(self):
        delta2 = 2 * (self.output - self.y) * self.output * (1 - self.output)      # dL/dz2, (batch, 1)
        delta1 = (delta2 @ self.weights2.T) * self.layer1 * (1 - self.layer1)      # dL/dz1, (batch, 4)
        grad2 = self.layer1.T @ delta2                                             # dL/dweights2, (4, 1)
        grad1 = self.input.T @ delta1                                              # dL/dweights1, (n_in, 4)
        self.weights2 -= grad2
        self.weights1 -= grad1
