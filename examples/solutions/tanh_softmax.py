"""A correct submission for examples/assignments/tanh-softmax.toml: loss_and_gradients(params, X, y, reg)."""
import numpy as np


def loss_and_gradients(params, X, y, reg=0.0):
    W1, b1, W2, b2, W3, b3 = (params[k] for k in ("W1", "b1", "W2", "b2", "W3", "b3"))
    N = X.shape[0]
    h1 = np.tanh(X @ W1 + b1)                          # (N, H1)
    h2 = np.tanh(h1 @ W2 + b2)                         # (N, H2)
    scores = h2 @ W3 + b3                              # (N, C)
    shifted = scores - scores.max(axis=1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    loss = -log_probs[np.arange(N), y].mean() + 0.5 * reg * sum(np.sum(W * W) for W in (W1, W2, W3))
    dscores = np.exp(log_probs)                        # softmax
    dscores[np.arange(N), y] -= 1
    dscores /= N
    grads = {"W3": h2.T @ dscores + reg * W3, "b3": dscores.sum(axis=0)}
    dz2 = (dscores @ W3.T) * (1 - h2 ** 2)
    grads["W2"], grads["b2"] = h1.T @ dz2 + reg * W2, dz2.sum(axis=0)
    dz1 = (dz2 @ W2.T) * (1 - h1 ** 2)
    grads["W1"], grads["b1"] = X.T @ dz1 + reg * W1, dz1.sum(axis=0)
    return loss, grads
