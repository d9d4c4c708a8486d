"""Buggy (the regularisation term): the penalty is reg * sum(W^2) but its gradient is written as reg * sign(W)."""
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
        log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
        loss = -log_probs[np.arange(N), y].mean() + reg * (np.sum(W1 * W1) + np.sum(W2 * W2))
        d = np.exp(log_probs)
        d[np.arange(N), y] -= 1
        d /= N
        grads = {"W2": h.T @ d + reg * np.sign(W2), "b2": d.sum(axis=0)}
        dh = d @ W2.T * (h > 0)
        grads["W1"] = X.T @ dh + reg * np.sign(W1)
        grads["b1"] = dh.sum(axis=0)
        return loss, grads
