# Seed 000's XOR training lines (Python 2, ported to Python 3), put into the blog-class contract's
# NeuralNetwork shape. Seed 000 differentiates E = 1/2 sum (y - a)^2, so under that contract's
# L = sum (y - a)^2 its steps are exactly half as large: a convention difference (factor 1/2), not a bug.
import numpy as np


def sigmoid(x, deriv=False):
    if (deriv == True):
        return x * (1 - x)
    return 1 / (1 + np.exp(-x))


class NeuralNetwork:
    def __init__(self, x, y):
        self.input = x
        self.y = y
        np.random.seed(22)
        self.weights1 = 2 * np.random.random((x.shape[1], 4)) - 1
        self.weights2 = 2 * np.random.random((4, 1)) - 1
        self.output = np.zeros(y.shape)

    def feedforward(self):
        self.l1 = sigmoid(np.dot(self.input, self.weights1))
        self.output = sigmoid(np.dot(self.l1, self.weights2))

    def backprop(self):
        l0, l1, l2 = self.input, self.l1, self.output
        l2_error = self.y - l2
        l2_delta = l2_error * sigmoid(l2, deriv=True)
        l1_error = l2_delta.dot(self.weights2.T)
        l1_delta = l1_error * sigmoid(l1, deriv=True)
        self.weights2 += l1.T.dot(l2_delta)
        self.weights1 += l0.T.dot(l1_delta)
