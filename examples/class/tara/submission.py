"""Starter for the canonical contract. Grade it with:  bpcheck grade canonical.py --assignment canonical

weights[l]: (n_l, n_{l+1}); biases[l]: (n_{l+1},); x: (batch, n_0); y: (batch, n_L).
Sigmoid on every layer. Loss: the mean over the batch of 1/2 * sum_j (a_j - y_j)^2.
Return (grad_weights, grad_biases), lists of arrays shaped like weights and biases.
"""
import numpy as np


def backprop(weights, biases, x, y):
    raise NotImplementedError("compute the forward pass, then BP1-BP4")
