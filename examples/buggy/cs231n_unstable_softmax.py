"""Buggy (unstable-output): softmax as exp(scores) / sum(exp(scores)) without subtracting the max: NaN once a score passes ~709."""
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
        exp_scores = np.exp(scores)
        probs = exp_scores / np.sum(exp_scores, axis=1, keepdims=True)
        loss = np.sum(-np.log(probs[np.arange(N), y])) / N + reg * (np.sum(W1 * W1) + np.sum(W2 * W2))
        dscores = probs
        dscores[np.arange(N), y] -= 1
        dscores /= N
        grads = {"W2": h.T @ dscores + 2 * reg * W2, "b2": np.sum(dscores, axis=0)}
        dh = dscores @ W2.T * (h > 0)
        grads["W1"] = X.T @ dh + 2 * reg * W1
        grads["b1"] = np.sum(dh, axis=0)
        return loss, grads
