"""Buggy (zeros): the backward pass fails on a shape mistake, and a bare except hands back zeros."""
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
        loss = -np.log(probs[np.arange(N), y]).mean() + reg * (np.sum(W1 * W1) + np.sum(W2 * W2))
        grads = {name: np.zeros_like(value) for name, value in self.params.items()}
        try:
            dscores = probs
            dscores[np.arange(N), y] -= 1
            grads["W2"] = h @ dscores / N + 2 * reg * W2      # h.T, not h: raises, and the except hides it
            grads["b2"] = dscores.sum(axis=0) / N
            dh = dscores @ W2.T * (h > 0) / N
            grads["W1"] = X.T @ dh + 2 * reg * W1
            grads["b1"] = dh.sum(axis=0)
        except Exception:
            pass
        return loss, grads
