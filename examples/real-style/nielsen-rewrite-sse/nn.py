"""Homework 3: a neural network from scratch (following Nielsen ch. 1-2, but with C = ||a - y||^2)."""
import numpy as np
import pickle
import gzip


class Network:
    def __init__(self, sizes):
        self.sizes = sizes
        self.num_layers = len(sizes)
        self.W = [np.random.normal(0, 1, (j, k)) for k, j in zip(sizes[:-1], sizes[1:])]
        self.b = [np.random.normal(0, 1, (j, 1)) for j in sizes[1:]]

    @staticmethod
    def sigmoid(z):
        return 1.0 / (1.0 + np.exp(-z))

    def sigmoidPrime(self, z):
        return self.sigmoid(z) * (1.0 - self.sigmoid(z))

    def feedForward(self, a):
        for w, b in zip(self.W, self.b):
            a = self.sigmoid(np.dot(w, a) + b)
        return a

    def cost(self, a, y):
        return np.sum((a - y) ** 2)

    def costDerivative(self, a, y):
        return 2 * (a - y)

    def backProp(self, x, y):
        dW = [np.zeros(w.shape) for w in self.W]
        dB = [np.zeros(b.shape) for b in self.b]
        a = x
        A = [x]
        Z = []
        for w, b in zip(self.W, self.b):
            z = np.dot(w, a) + b
            Z.append(z)
            a = self.sigmoid(z)
            A.append(a)
        delta = self.costDerivative(A[-1], y) * self.sigmoidPrime(Z[-1])
        dB[-1] = delta
        dW[-1] = np.dot(delta, A[-2].T)
        for l in range(2, self.num_layers):
            delta = np.dot(self.W[-l + 1].T, delta) * self.sigmoidPrime(Z[-l])
            dB[-l] = delta
            dW[-l] = np.dot(delta, A[-l - 1].T)
        return dB, dW

    def gradientDescent(self, batch, eta):
        sumW = [np.zeros(w.shape) for w in self.W]
        sumB = [np.zeros(b.shape) for b in self.b]
        for x, y in batch:
            dB, dW = self.backProp(x, y)
            sumW = [s + d for s, d in zip(sumW, dW)]
            sumB = [s + d for s, d in zip(sumB, dB)]
        self.W = [w - eta / len(batch) * s for w, s in zip(self.W, sumW)]
        self.b = [b - eta / len(batch) * s for b, s in zip(self.b, sumB)]


def load_data():
    with gzip.open('mnist.pkl.gz', 'rb') as f:
        return pickle.load(f, encoding='latin1')


if __name__ == '__main__':
    training, validation, test = load_data()
    net = Network([784, 30, 10])
