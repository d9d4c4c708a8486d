"""Neural network for ex4, with cost and gradient as separate functions so scipy's minimize can take jac=."""
import numpy as np
from scipy.io import loadmat
from scipy.optimize import minimize


def sigmoid(z):
    return 1 / (1 + np.exp(-z))


def unroll(nn_params, input_layer_size, hidden_layer_size, num_labels):
    t1 = nn_params[:hidden_layer_size * (input_layer_size + 1)].reshape(hidden_layer_size, input_layer_size + 1)
    t2 = nn_params[hidden_layer_size * (input_layer_size + 1):].reshape(num_labels, hidden_layer_size + 1)
    return t1, t2


def forward(t1, t2, X):
    m = X.shape[0]
    a1 = np.c_[np.ones(m), X]
    z2 = a1 @ t1.T
    a2 = np.c_[np.ones(m), sigmoid(z2)]
    a3 = sigmoid(a2 @ t2.T)
    return a1, z2, a2, a3


def one_hot(y, num_labels):
    Y = np.zeros((len(y), num_labels))
    Y[np.arange(len(y)), y - 1] = 1      # labels are 1..num_labels
    return Y


def nnCostFunction(nn_params, input_layer_size, hidden_layer_size, num_labels, X, y, lmbda):
    t1, t2 = unroll(nn_params, input_layer_size, hidden_layer_size, num_labels)
    m = X.shape[0]
    _, _, _, h = forward(t1, t2, X)
    Y = one_hot(y, num_labels)
    J = -np.sum(Y * np.log(h) + (1 - Y) * np.log(1 - h)) / m
    return J + lmbda / (2 * m) * (np.sum(t1[:, 1:] ** 2) + np.sum(t2[:, 1:] ** 2))


def nnGradient(nn_params, input_layer_size, hidden_layer_size, num_labels, X, y, lmbda):
    t1, t2 = unroll(nn_params, input_layer_size, hidden_layer_size, num_labels)
    m = X.shape[0]
    a1, z2, a2, a3 = forward(t1, t2, X)
    d3 = a3 - one_hot(y, num_labels)
    d2 = (d3 @ t2[:, 1:]) * sigmoid(z2) * (1 - sigmoid(z2))
    g1 = d2.T @ a1 / m
    g2 = d3.T @ a2 / m
    g1[:, 1:] += lmbda / m * t1[:, 1:]
    g2[:, 1:] += lmbda / m * t2[:, 1:]
    return np.concatenate([g1.ravel(), g2.ravel()])


if __name__ == '__main__':
    data = loadmat('ex4data1.mat')
    X, y = data['X'], data['y'].ravel()
    init = np.random.uniform(-0.12, 0.12, 25 * 401 + 10 * 26)
    args = (400, 25, 10, X, y, 1.0)
    res = minimize(nnCostFunction, init, args=args, jac=nnGradient, method='L-BFGS-B', options={'maxiter': 100})
    print(res.fun)
