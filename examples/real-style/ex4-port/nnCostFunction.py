import numpy as np
from sigmoid import sigmoid
from sigmoidGradient import sigmoidGradient


def nnCostFunction(nn_params, input_layer_size, hidden_layer_size, num_labels, X, y, Lambda):
    """
    Implements the neural network cost function for a two layer neural network which
    performs classification. Computes the cost and gradient of the neural network.
    The parameters for the neural network are "unrolled" into the vector nn_params
    and need to be converted back into the weight matrices.

    The returned parameter grad is an "unrolled" vector of the partial derivatives
    of the neural network.
    """
    # Reshape nn_params back into the parameters Theta1 and Theta2 (column-major, like Octave's reshape)
    Theta1 = np.reshape(nn_params[:hidden_layer_size * (input_layer_size + 1)],
                        (hidden_layer_size, input_layer_size + 1), order='F')
    Theta2 = np.reshape(nn_params[hidden_layer_size * (input_layer_size + 1):],
                        (num_labels, hidden_layer_size + 1), order='F')

    m = len(X)

    # Part 1: feedforward
    a1 = np.column_stack((np.ones((m, 1)), X))
    z2 = np.dot(a1, Theta1.T)
    a2 = np.column_stack((np.ones((z2.shape[0], 1)), sigmoid(z2)))
    z3 = np.dot(a2, Theta2.T)
    a3 = sigmoid(z3)

    # recode the labels 1..num_labels as vectors of 0s and 1s
    Y = np.zeros((m, num_labels))
    for i in range(m):
        Y[i, y[i] - 1] = 1

    J = np.sum(-Y * np.log(a3) - (1 - Y) * np.log(1 - a3)) / m
    J = J + Lambda / (2.0 * m) * (np.sum(Theta1[:, 1:] ** 2) + np.sum(Theta2[:, 1:] ** 2))

    # Part 2: backpropagation
    d3 = a3 - Y
    d2 = np.dot(d3, Theta2[:, 1:]) * sigmoidGradient(z2)
    Delta1 = np.dot(d2.T, a1)
    Delta2 = np.dot(d3.T, a2)

    # Part 3: regularization (not the bias column)
    Theta1_grad = Delta1 / m
    Theta2_grad = Delta2 / m
    Theta1_grad[:, 1:] = Theta1_grad[:, 1:] + (Lambda / m) * Theta1[:, 1:]
    Theta2_grad[:, 1:] = Theta2_grad[:, 1:] + (Lambda / m) * Theta2[:, 1:]

    # Unroll gradients
    grad = np.concatenate((Theta1_grad.reshape(Theta1_grad.size, order='F'),
                           Theta2_grad.reshape(Theta2_grad.size, order='F')))

    return J, grad
