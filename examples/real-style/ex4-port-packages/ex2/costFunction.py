import numpy as np
from ex2.sigmoid import sigmoid


def costFunction(theta, X, y):
    """Cost and gradient of logistic regression (exercise 2)."""
    m = y.size
    h = sigmoid(X @ theta)
    J = -(y @ np.log(h) + (1 - y) @ np.log(1 - h)) / m
    grad = X.T @ (h - y) / m
    return J, grad
