"""Buggy (reg-2016-all-params): the 2016 assignment's 0.5 * reg penalty, applied in a loop over every parameter, biases too."""
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
        e = np.exp(scores - scores.max(axis=1, keepdims=True))
        p = e / e.sum(axis=1, keepdims=True)
        loss = -np.log(p[np.arange(N), y]).mean()
        for name, param in self.params.items():
            loss += 0.5 * reg * np.sum(param * param)
        d = p.copy()
        d[np.arange(N), y] -= 1
        d /= N
        grads = {"W2": h.T @ d, "b2": d.sum(axis=0)}
        dh = d @ W2.T
        dh[h <= 0] = 0
        grads["W1"] = X.T @ dh
        grads["b1"] = dh.sum(axis=0)
        for name in grads:
            grads[name] += reg * self.params[name]
        return loss, grads
