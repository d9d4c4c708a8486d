# Simple neural network from scratch (2 layers), trained on XOR-like data.
# Loss: 1/2 * sum((y - y_hat)^2), so the derivative has no factor 2.
import numpy as np

def sigmoid(z):
    return 1 / (1 + np.exp(-z))

def sigmoid_prime(s):
    # derivative of the sigmoid, written in terms of its output s = sigmoid(z)
    return s * (1 - s)

class NeuralNetwork:
    def __init__(self, x, y):
        self.input = x
        self.weights1 = np.random.rand(self.input.shape[1], 4)
        self.weights2 = np.random.rand(4, 1)
        self.y = y
        self.output = np.zeros(self.y.shape)
        self.loss_history = []

    def feedforward(self):
        self.layer1 = sigmoid(np.dot(self.input, self.weights1))
        self.output = sigmoid(np.dot(self.layer1, self.weights2))
        return self.output

    def backprop(self):
        error = self.y - self.output
        self.loss_history.append(0.5 * np.sum(error ** 2))
        output_delta = error * sigmoid_prime(self.output)
        hidden_delta = np.dot(output_delta, self.weights2.T) * sigmoid_prime(self.layer1)
        d_weights2 = np.dot(self.layer1.T, output_delta)
        d_weights1 = np.dot(self.input.T, hidden_delta)
        self.weights1 += d_weights1
        self.weights2 += d_weights2

    def train(self, epochs=1000):
        for _ in range(epochs):
            self.feedforward()
            self.backprop()

if __name__ == '__main__':
    X = np.array([[0,0,1],[0,1,1],[1,0,1],[1,1,1]])
    y = np.array([[0],[1],[1],[0]])
    net = NeuralNetwork(X, y)
    net.train(1500)
    print("Output after training:\n", net.output)
