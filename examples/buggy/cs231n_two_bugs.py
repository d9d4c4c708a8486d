"""Buggy (two mistakes): b2's gradient from the first example only, and the ReLU mask forgotten in the hidden layer."""
import numpy as np


class TwoLayerNet:
    def __init__(self, input_size, hidden_size, output_size, std=1e-4):
        self.params = {"W1": std * np.random.randn(input_size, hidden_size), "b1": np.zeros(hidden_size),
                       "W2": std * np.random.randn(hidden_size, output_size), "b2": np.zeros(output_size)}

    def loss(self, X, y=None, reg=0.0):
        W1, b1, W2, b2 = self.params["W1"], self.params["b1"], self.params["W2"], self.params["b2"]
        N = X.shape[0]
        h = np.maximum(0, X @ W1 + b1)
        scores = h @ W2 + b2
        if y is None:
            return scores
        shifted = scores - scores.max(axis=1, keepdims=True)
        probs = np.exp(shifted) / np.exp(shifted).sum(axis=1, keepdims=True)
        loss = -np.log(probs[range(N), y]).sum() / N + reg * (np.sum(W1 ** 2) + np.sum(W2 ** 2))
        dscores = probs
        dscores[range(N), y] -= 1
        dscores /= N
        grads = {"W2": h.T @ dscores + 2 * reg * W2, "b2": dscores[0]}     # bug 1: should sum over axis 0
        dh = dscores @ W2.T                                                  # bug 2: * (h > 0) missing
        grads["W1"] = X.T @ dh + 2 * reg * W1
        grads["b1"] = dh.sum(axis=0)
        return loss, grads
