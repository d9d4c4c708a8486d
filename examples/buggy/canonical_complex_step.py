"""Buggy (complex numbers): a complex-step derivative that returns f(w + ih)/h instead of its imaginary part."""
import numpy as np


def cost(weights, biases, x, y):
    a = x
    for W, b in zip(weights, biases):
        a = 1.0 / (1.0 + np.exp(-(a @ W + b)))
    return 0.5 * np.sum((a - y) ** 2) / x.shape[0]


def backprop(weights, biases, x, y, h=1e-20):
    weights = [W.astype(complex) for W in weights]
    biases = [b.astype(complex) for b in biases]
    grads = []
    for group in (weights, biases):
        out = []
        for p in group:
            g = np.zeros(p.shape, dtype=complex)
            for i in np.ndindex(p.shape):
                p[i] += 1j * h
                g[i] = cost(weights, biases, x, y) / h    # should be .imag of this
                p[i] -= 1j * h
            out.append(g)
        grads.append(out)
    return grads[0], grads[1]
