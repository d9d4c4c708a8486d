"""network.py -- my implementation of the chapter 1 network (exercise: write backprop yourself)."""
import random

import numpy as np


class Network:
    def __init__(self, sizes):
        self.num_layers = len(sizes)
        self.sizes = sizes
        self.biases = [np.random.randn(n, 1) for n in sizes[1:]]
        self.weights = [np.random.randn(n_out, n_in) for n_in, n_out in zip(sizes[:-1], sizes[1:])]

    def feedforward(self, a):
        for b, w in zip(self.biases, self.weights):
            a = sigmoid(w @ a + b)
        return a

    def SGD(self, training_data, epochs, mini_batch_size, eta, test_data=None):
        training_data = list(training_data)
        for epoch in range(epochs):
            random.shuffle(training_data)
            for start in range(0, len(training_data), mini_batch_size):
                self.update_mini_batch(training_data[start:start + mini_batch_size], eta)
            if test_data:
                print(f"epoch {epoch}: {self.evaluate(test_data)} / {len(test_data)}")

    def update_mini_batch(self, mini_batch, eta):
        grads = [self.backprop(x, y) for x, y in mini_batch]
        for l in range(self.num_layers - 1):
            self.biases[l] -= eta / len(mini_batch) * sum(g[0][l] for g in grads)
            self.weights[l] -= eta / len(mini_batch) * sum(g[1][l] for g in grads)

    def backprop(self, x, y):
        # forward, remembering z and a for every layer
        a_s, z_s = [x], []
        for b, w in zip(self.biases, self.weights):
            z_s.append(w @ a_s[-1] + b)
            a_s.append(sigmoid(z_s[-1]))
        # BP1 .. BP4
        nabla_b = [np.zeros_like(b) for b in self.biases]
        nabla_w = [np.zeros_like(w) for w in self.weights]
        delta = (a_s[-1] - y) * sigmoid_prime(z_s[-1])
        for l in range(self.num_layers - 2, -1, -1):
            nabla_b[l] = delta
            nabla_w[l] = delta @ a_s[l].T
            if l > 0:
                delta = (self.weights[l].T @ delta) * sigmoid_prime(z_s[l - 1])
        return nabla_b, nabla_w

    def evaluate(self, test_data):
        return sum(int(np.argmax(self.feedforward(x)) == y) for x, y in test_data)


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def sigmoid_prime(z):
    return sigmoid(z) * (1 - sigmoid(z))
