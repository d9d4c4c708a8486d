"""A correct submission for examples/assignments/modular-backward.toml: MLP with forward(X) and backward(dout)."""
import numpy as np


class MLP:
    def __init__(self, sizes):
        self.W = [np.random.randn(n_in, n_out) / np.sqrt(n_in) for n_in, n_out in zip(sizes[:-1], sizes[1:])]
        self.b = [np.zeros(n_out) for n_out in sizes[1:]]

    def forward(self, X):
        """Scores (N, C): sigmoid hidden layers, a linear last layer; keeps each layer's input for backward."""
        self.inputs = [X]
        a = X
        for l, (W, b) in enumerate(zip(self.W, self.b)):
            z = a @ W + b
            a = z if l == len(self.W) - 1 else 1.0 / (1.0 + np.exp(-z))
            self.inputs.append(a)
        return a

    def backward(self, dout):
        """dout = dL/dscores (N, C); sets dW, db (shaped like W, b) and returns dL/dX."""
        self.dW = [None] * len(self.W)
        self.db = [None] * len(self.b)
        delta = dout
        for l in range(len(self.W) - 1, -1, -1):
            self.dW[l] = self.inputs[l].T @ delta
            self.db[l] = delta.sum(axis=0)
            dx = delta @ self.W[l].T
            if l > 0:
                a = self.inputs[l]
                delta = dx * a * (1 - a)
        return dx
