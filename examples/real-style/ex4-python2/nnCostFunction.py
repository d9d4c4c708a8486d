import numpy as np
from numpy import log


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def nnCostFunction(nn_params, input_layer_size, hidden_layer_size, num_labels, X, y, lamb):
    Theta1 = np.reshape(nn_params[:hidden_layer_size * (input_layer_size + 1)], (hidden_layer_size, input_layer_size + 1), order='F')
    Theta2 = np.reshape(nn_params[hidden_layer_size * (input_layer_size + 1):], (num_labels, hidden_layer_size + 1), order='F')
    m, n = X.shape
    print 'Theta1', Theta1.shape, 'Theta2', Theta2.shape

    Y = np.zeros((m, num_labels))
    for i in xrange(m):
        Y[i, y[i] - 1] = 1

    a1 = np.hstack((np.ones((m, 1)), X))
    z2 = a1.dot(Theta1.T)
    a2 = np.hstack((np.ones((m, 1)), sigmoid(z2)))
    a3 = sigmoid(a2.dot(Theta2.T))
    J = np.sum(-Y * log(a3) - (1 - Y) * log(1 - a3)) / m
    J += lamb / (2. * m) * (np.sum(Theta1[:, 1:] ** 2) + np.sum(Theta2[:, 1:] ** 2))

    d3 = a3 - Y
    d2 = d3.dot(Theta2[:, 1:]) * sigmoid(z2) * (1 - sigmoid(z2))
    Theta1_grad = d2.T.dot(a1) / m
    Theta2_grad = d3.T.dot(a2) / m
    Theta1_grad[:, 1:] += lamb / m * Theta1[:, 1:]
    Theta2_grad[:, 1:] += lamb / m * Theta2[:, 1:]
    grad = np.concatenate((Theta1_grad.flatten('F'), Theta2_grad.flatten('F')))
    print 'cost', J
    return J, grad
