"""One example at a time, then averaged."""
import numpy as np


def backprop(weights, biases, x, y):
    n = x.shape[0]
    gw = [np.zeros_like(W) for W in weights]
    gb = [np.zeros_like(b) for b in biases]
    for xi, yi in zip(x, y):
        acts = [xi]
        for W, b in zip(weights, biases):
            acts.append(1.0 / (1.0 + np.exp(-(acts[-1] @ W + b))))
        delta = (acts[-1] - yi) * acts[-1] * (1 - acts[-1])
        for l in reversed(range(len(weights))):
            gw[l] += np.outer(acts[l], delta) / n
            gb[l] += delta / n
            if l:
                delta = (weights[l] @ delta) * acts[l] * (1 - acts[l])
    return gw, gb
