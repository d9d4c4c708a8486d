"""mnist_loader: the MNIST data as lists of (x, y) column-vector pairs."""
import gzip
import pickle

import numpy as np


def load_data():
    with gzip.open('../data/mnist.pkl.gz', 'rb') as f:
        return pickle.load(f, encoding='latin1')


def vectorized_result(j):
    e = np.zeros((10, 1))
    e[j] = 1.0
    return e


def load_data_wrapper():
    tr_d, va_d, te_d = load_data()
    training = [(np.reshape(x, (784, 1)), vectorized_result(y)) for x, y in zip(*tr_d)]
    validation = [(np.reshape(x, (784, 1)), y) for x, y in zip(*va_d)]
    test = [(np.reshape(x, (784, 1)), y) for x, y in zip(*te_d)]
    return training, validation, test
