"""Exercise 4, part 1-2: cost and gradient of the two-layer network (reuses my sigmoid from exercise 2)."""
import numpy as np

from ex2.sigmoid import sigmoid


def sigmoidGradient(z):
    return sigmoid(z) * (1 - sigmoid(z))


def nnCostFunction(nn_params, input_layer_size, hidden_layer_size, num_labels, X, y, lam):
    # y comes straight from loadmat: a column of labels 1..10
    Theta1 = nn_params[:hidden_layer_size * (input_layer_size + 1)].reshape(hidden_layer_size, input_layer_size + 1)
    Theta2 = nn_params[hidden_layer_size * (input_layer_size + 1):].reshape(num_labels, hidden_layer_size + 1)
    m = X.shape[0]

    Y = (y == np.arange(1, num_labels + 1)).astype(float)   # (m, 1) == (K,) -> (m, K)

    A1 = np.hstack([np.ones((m, 1)), X])
    Z2 = A1 @ Theta1.T
    A2 = np.hstack([np.ones((m, 1)), sigmoid(Z2)])
    H = sigmoid(A2 @ Theta2.T)

    J = -np.sum(Y * np.log(H) + (1 - Y) * np.log(1 - H)) / m
    J += lam / (2 * m) * (np.sum(Theta1[:, 1:] ** 2) + np.sum(Theta2[:, 1:] ** 2))

    D3 = H - Y
    D2 = (D3 @ Theta2)[:, 1:] * sigmoidGradient(Z2)
    Theta1_grad = D2.T @ A1 / m
    Theta2_grad = D3.T @ A2 / m
    Theta1_grad[:, 1:] += lam / m * Theta1[:, 1:]
    Theta2_grad[:, 1:] += lam / m * Theta2[:, 1:]
    return J, np.concatenate([Theta1_grad.ravel(), Theta2_grad.ravel()])
