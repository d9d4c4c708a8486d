"""Buggy (the bias shape): the bias gradients are summed with keepdims=True, so they come back as (1, H) rows, not (H,)."""
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
        scores -= np.max(scores, axis=1, keepdims=True)
        p = np.exp(scores) / np.sum(np.exp(scores), axis=1, keepdims=True)
        loss = -np.mean(np.log(p[np.arange(N), y])) + reg * (np.sum(W1 * W1) + np.sum(W2 * W2))
        dscores = p
        dscores[np.arange(N), y] -= 1
        dscores /= N
        dh = dscores @ W2.T * (h > 0)
        grads = {"W2": h.T @ dscores + 2 * reg * W2, "b2": np.sum(dscores, axis=0, keepdims=True),
                 "W1": X.T @ dh + 2 * reg * W1, "b1": np.sum(dh, axis=0, keepdims=True)}
        return loss, grads
