"""Buggy (not analytic): the gradient returned is ex4's computeNumericalGradient, central differences with e = 1e-4."""
import numpy as np


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def cost(nn_params, n, h, K, X, y, lambda_):
    Theta1 = nn_params[: h * (n + 1)].reshape(h, n + 1)
    Theta2 = nn_params[h * (n + 1):].reshape(K, h + 1)
    m = X.shape[0]
    a1 = np.hstack([np.ones((m, 1)), X])
    a2 = np.hstack([np.ones((m, 1)), sigmoid(a1 @ Theta1.T)])
    a3 = sigmoid(a2 @ Theta2.T)
    Y = np.eye(K)[y]
    J = -np.sum(Y * np.log(a3) + (1 - Y) * np.log(1 - a3)) / m
    return J + lambda_ / (2 * m) * (np.sum(Theta1[:, 1:] ** 2) + np.sum(Theta2[:, 1:] ** 2))


def compute_numerical_gradient(J, theta, e=1e-4):
    numgrad = np.zeros(theta.shape)
    perturb = np.zeros(theta.shape)
    for p in range(theta.size):
        perturb[p] = e
        numgrad[p] = (J(theta + perturb) - J(theta - perturb)) / (2 * e)
        perturb[p] = 0
    return numgrad


def nn_cost_function(nn_params, input_layer_size, hidden_layer_size, num_labels, X, y, lambda_=0.0):
    def J(t):
        return cost(t, input_layer_size, hidden_layer_size, num_labels, X, y, lambda_)
    return J(nn_params), compute_numerical_gradient(J, nn_params)
