"""Buggy (a convention): the gradient unrolled column by column, as Octave's Theta1_grad(:) does, where this assignment unrolls row by row."""
import numpy as np


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def nn_cost_function(nn_params, input_layer_size, hidden_layer_size, num_labels, X, y, lambda_=0.0):
    n, h, K = input_layer_size, hidden_layer_size, num_labels
    Theta1 = nn_params[: h * (n + 1)].reshape(h, n + 1)
    Theta2 = nn_params[h * (n + 1):].reshape(K, h + 1)
    m = X.shape[0]
    a1 = np.hstack([np.ones((m, 1)), X])
    a2 = np.hstack([np.ones((m, 1)), sigmoid(a1 @ Theta1.T)])
    a3 = sigmoid(a2 @ Theta2.T)
    Y = np.eye(K)[y]
    J = -np.sum(Y * np.log(a3) + (1 - Y) * np.log(1 - a3)) / m
    J += lambda_ / (2 * m) * (np.sum(Theta1[:, 1:] ** 2) + np.sum(Theta2[:, 1:] ** 2))
    d3 = a3 - Y
    d2 = (d3 @ Theta2[:, 1:]) * a2[:, 1:] * (1 - a2[:, 1:])
    Theta1_grad = d2.T @ a1 / m
    Theta2_grad = d3.T @ a2 / m
    Theta1_grad[:, 1:] += lambda_ / m * Theta1[:, 1:]
    Theta2_grad[:, 1:] += lambda_ / m * Theta2[:, 1:]
    return J, np.concatenate([Theta1_grad.flatten(order="F"), Theta2_grad.flatten(order="F")])
