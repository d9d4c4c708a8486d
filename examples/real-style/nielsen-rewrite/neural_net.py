# My rewrite of Nielsen's network.py for the homework: activation function can be chosen,
# vectorised feed_forward, and a main block that trains on MNIST.
import numpy as np
import random
import mnist_loader
import matplotlib.pyplot as plt


def sigmoid(z):
    return 1 / (1 + np.exp(-z))


def sigmoid_derivative(z):
    s = sigmoid(z)
    return s * (1 - s)


def tanh_derivative(z):
    return 1 - np.tanh(z) ** 2


ACTIVATIONS = {
    'sigmoid': (sigmoid, sigmoid_derivative),
    'tanh': (np.tanh, tanh_derivative),
}


class NeuralNet:
    def __init__(self, sizes, activation_mode):
        self.sizes = sizes
        self.L = len(sizes)
        self.act, self.act_prime = ACTIVATIONS[activation_mode]
        self.weights = [np.random.randn(n_out, n_in) / np.sqrt(n_in) for n_in, n_out in zip(sizes[:-1], sizes[1:])]
        self.biases = [np.zeros((n_out, 1)) for n_out in sizes[1:]]
        self.costs = []

    def feed_forward(self, a):
        for W, b in zip(self.weights, self.biases):
            a = self.act(W @ a + b)
        return a

    def backprop(self, x, y):
        zs, activations = [], [x]
        a = x
        for W, b in zip(self.weights, self.biases):
            z = W @ a + b
            a = self.act(z)
            zs.append(z)
            activations.append(a)
        grad_w = [None] * len(self.weights)
        grad_b = [None] * len(self.biases)
        delta = (activations[-1] - y) * self.act_prime(zs[-1])
        for i in reversed(range(len(self.weights))):
            grad_b[i] = delta
            grad_w[i] = delta @ activations[i].T
            if i > 0:
                delta = (self.weights[i].T @ delta) * self.act_prime(zs[i - 1])
        return grad_b, grad_w

    def train(self, training_data, epochs, batch_size, lr, test_data=None):
        training_data = list(training_data)
        for epoch in range(epochs):
            random.shuffle(training_data)
            for k in range(0, len(training_data), batch_size):
                batch = training_data[k:k + batch_size]
                sum_w = [np.zeros_like(W) for W in self.weights]
                sum_b = [np.zeros_like(b) for b in self.biases]
                for x, y in batch:
                    gb, gw = self.backprop(x, y)
                    sum_w = [s + g for s, g in zip(sum_w, gw)]
                    sum_b = [s + g for s, g in zip(sum_b, gb)]
                self.weights = [W - lr / len(batch) * g for W, g in zip(self.weights, sum_w)]
                self.biases = [b - lr / len(batch) * g for b, g in zip(self.biases, sum_b)]
            if test_data:
                correct = sum(int(np.argmax(self.feed_forward(x)) == y) for x, y in test_data)
                print('epoch', epoch, ':', correct, '/', len(test_data))
                self.costs.append(correct)


training_data, validation_data, test_data = mnist_loader.load_data_wrapper()
test_data = list(test_data)
net = NeuralNet([784, 30, 10], 'sigmoid')
net.train(training_data, 30, 10, 3.0, test_data=test_data)
plt.plot(net.costs)
plt.show()
