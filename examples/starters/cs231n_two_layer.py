"""Starter for the cs231n-two-layer contract. Grade it with:  bpcheck grade cs231n_two_layer.py --assignment cs231n-two-layer

params: W1 (D, H), b1 (H,), W2 (H, C), b2 (C,). ReLU hidden layer, softmax cross-entropy averaged over N,
plus reg * (sum W1^2 + sum W2^2). loss(X) returns the scores (N, C); loss(X, y, reg) returns (loss, grads).
"""
import numpy as np


class TwoLayerNet:
    def __init__(self, input_size, hidden_size, output_size, std=1e-4):
        self.params = {
            "W1": std * np.random.randn(input_size, hidden_size),
            "b1": np.zeros(hidden_size),
            "W2": std * np.random.randn(hidden_size, output_size),
            "b2": np.zeros(output_size),
        }

    def loss(self, X, y=None, reg=0.0):
        raise NotImplementedError
