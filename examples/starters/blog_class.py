"""Starter for the blog-class contract (seed 002). Grade it with:  bpcheck grade blog_class.py --assignment blog-class

NeuralNetwork(x, y) keeps weights1 (n_in, 4) and weights2 (4, 1), with no biases and sigmoid units.
feedforward() sets self.output; backprop() ADDS -dL/dW to each weight, for L = sum (y - output)^2.
"""
import numpy as np


class NeuralNetwork:
    def __init__(self, x, y):
        self.input = x
        self.y = y
        self.weights1 = np.random.rand(x.shape[1], 4)
        self.weights2 = np.random.rand(4, 1)
        self.output = np.zeros(y.shape)

    def feedforward(self):
        raise NotImplementedError

    def backprop(self):
        raise NotImplementedError
