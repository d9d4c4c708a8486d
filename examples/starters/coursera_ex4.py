"""Starter for the coursera-ex4 contract. Grade it with:  bpcheck grade coursera_ex4.py --assignment coursera-ex4

nn_params unrolls Theta1 (h, n+1) then Theta2 (K, h+1) in C order, bias column first; y holds labels 0..K-1.
J = -(1/m) sum [y log a + (1 - y) log(1 - a)] + lambda/(2m) * sum of squared non-bias thetas.
Return (J, grad) with grad unrolled the same way.
"""
import numpy as np


def nn_cost_function(nn_params, input_layer_size, hidden_layer_size, num_labels, X, y, lambda_=0.0):
    raise NotImplementedError
