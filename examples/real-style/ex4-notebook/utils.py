import sys
import numpy as np
from matplotlib import pyplot


def displayData(X, example_width=None, figsize=(10, 10)):
    """Displays 2D data stored in X in a nice grid."""
    if X.ndim == 2:
        m, n = X.shape
    elif X.ndim == 1:
        n = X.size
        m = 1
        X = X[None]
    else:
        raise IndexError('Input X should be 1 or 2 dimensional.')

    example_width = example_width or int(np.round(np.sqrt(n)))
    example_height = n / example_width

    display_rows = int(np.floor(np.sqrt(m)))
    display_cols = int(np.ceil(m / display_rows))

    fig, ax_array = pyplot.subplots(display_rows, display_cols, figsize=figsize)
    fig.subplots_adjust(wspace=0.025, hspace=0.025)

    ax_array = [ax_array] if m == 1 else ax_array.ravel()

    for i, ax in enumerate(ax_array):
        ax.imshow(X[i].reshape(example_width, example_width, order='F'), cmap='Greys', extent=[0, 1, 0, 1])
        ax.axis('off')


def predict(Theta1, Theta2, X):
    """Predict the label of an input given a trained neural network."""
    if X.ndim == 1:
        X = X[None]  # promote to 2-dimensions

    m = X.shape[0]
    h1 = sigmoid(np.dot(np.concatenate([np.ones((m, 1)), X], axis=1), Theta1.T))
    h2 = sigmoid(np.dot(np.concatenate([np.ones((m, 1)), h1], axis=1), Theta2.T))
    return np.argmax(h2, axis=1)


def debugInitializeWeights(fan_out, fan_in):
    """Fixed weights for debugging: sin of 1..numel, reshaped column-major, scaled by 1/10."""
    W = np.sin(np.arange(1, 1 + (1 + fan_in) * fan_out)) / 10.0
    return W.reshape(fan_out, 1 + fan_in, order='F')


def computeNumericalGradient(J, theta, e=1e-4):
    numgrad = np.zeros(theta.shape)
    perturb = np.diag(e * np.ones(theta.shape))
    for i in range(theta.size):
        loss1, _ = J(theta - perturb[:, i])
        loss2, _ = J(theta + perturb[:, i])
        numgrad[i] = (loss2 - loss1) / (2 * e)
    return numgrad


def checkNNGradients(nnCostFunction, lambda_=0):
    """Compares backpropagation's gradients with numerical ones on a small network."""
    input_layer_size = 3
    hidden_layer_size = 5
    num_labels = 3
    m = 5

    Theta1 = debugInitializeWeights(hidden_layer_size, input_layer_size)
    Theta2 = debugInitializeWeights(num_labels, hidden_layer_size)
    X = debugInitializeWeights(m, input_layer_size - 1)
    y = np.arange(1, 1 + m) % num_labels

    nn_params = np.concatenate([Theta1.ravel(), Theta2.ravel()])
    costFunc = lambda p: nnCostFunction(p, input_layer_size, hidden_layer_size, num_labels, X, y, lambda_)
    cost, grad = costFunc(nn_params)
    numgrad = computeNumericalGradient(costFunc, nn_params)

    print(np.stack([numgrad, grad], axis=1))
    diff = np.linalg.norm(numgrad - grad) / np.linalg.norm(numgrad + grad)
    print('If your backpropagation implementation is correct, then \n'
          'the relative difference will be small (less than 1e-9). \n'
          'Relative Difference: %g' % diff)


def sigmoid(z):
    """Computes the sigmoid of z."""
    return 1.0 / (1.0 + np.exp(-z))


class Grader(object):
    """Collects the functions of each part and checks them against stored answers."""

    part_names = ['Feedforward and Cost Function', 'Regularized Cost Function', 'Sigmoid Gradient',
                  'Neural Network Gradient (Backpropagation)', 'Regularized Gradient']

    def __init__(self):
        self.functions = {}

    def __setitem__(self, key, value):
        self.functions[key] = value

    def grade(self):
        for part, name in enumerate(self.part_names, start=1):
            status = 'ready' if part in self.functions else 'not submitted'
            sys.stdout.write('%43s | %s\n' % (name, status))
