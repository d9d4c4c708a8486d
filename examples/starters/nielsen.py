"""Starter for the nielsen contract. Grade it with:  bpcheck grade nielsen.py --assignment nielsen

weights[l]: (n_{l+1}, n_l); biases[l]: (n_{l+1}, 1); x, y: column vectors (n_0, 1), (n_L, 1).
backprop(x, y) returns (nabla_b, nabla_w) for C = 1/2 ||a - y||^2, sigmoid units.
"""
import numpy as np


class Network:
    def __init__(self, sizes):
        self.sizes = sizes
        self.num_layers = len(sizes)
        self.biases = [np.random.randn(n, 1) for n in sizes[1:]]
        self.weights = [np.random.randn(n_out, n_in) for n_in, n_out in zip(sizes[:-1], sizes[1:])]

    def feedforward(self, a):
        raise NotImplementedError

    def backprop(self, x, y):
        raise NotImplementedError
