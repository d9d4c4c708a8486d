import numpy as np
import matplotlib.pyplot as plt


class TwoLayerNet(object):
  """
  Two-layer fully-connected net: input -> affine -> ReLU -> affine -> softmax.
  Dimensions: input D, hidden H, classes C. Trained with softmax loss and
  L2 regularization on the weights (not the biases).
  """

  def __init__(self, input_size, hidden_size, output_size, std=1e-4):
    """
    Weights are small random values, biases zero, all kept in self.params:
    W1 (D, H), b1 (H,), W2 (H, C), b2 (C,)
    """
    self.params = {}
    self.params['W1'] = std * np.random.randn(input_size, hidden_size)
    self.params['b1'] = np.zeros(hidden_size)
    self.params['W2'] = std * np.random.randn(hidden_size, output_size)
    self.params['b2'] = np.zeros(output_size)

  def loss(self, X, y=None, reg=0.0):
    """
    X: (N, D) data. y: (N,) labels in 0..C-1, optional. reg: regularization strength.
    Without y, returns the scores (N, C). With y, returns (loss, grads).
    """
    W1, b1 = self.params['W1'], self.params['b1']
    W2, b2 = self.params['W2'], self.params['b2']
    N, D = X.shape

    # forward pass
    scores = None
    #############################################################################
    # TODO: Perform the forward pass, computing the class scores for the input. #
    #############################################################################
    h1 = np.maximum(0, X.dot(W1) + b1)
    scores = h1.dot(W2) + b2
    #############################################################################
    #                              END OF YOUR CODE                             #
    #############################################################################

    if y is None:
      return scores

    # loss
    loss = None
    shift = scores - np.max(scores, axis=1, keepdims=True)
    exp_scores = np.exp(shift)
    probs = exp_scores / np.sum(exp_scores, axis=1, keepdims=True)
    correct_logprobs = -np.log(probs[range(N), y])
    data_loss = np.sum(correct_logprobs) / N
    reg_loss = 0.5 * reg * np.sum(W1 * W1) + 0.5 * reg * np.sum(W2 * W2)
    loss = data_loss + reg_loss

    # backward pass
    grads = {}
    dscores = probs
    dscores[range(N), y] -= 1
    dscores /= N
    grads['W2'] = np.dot(h1.T, dscores) + reg * W2
    grads['b2'] = np.sum(dscores, axis=0)
    dhidden = np.dot(dscores, W2.T)
    dhidden[h1 <= 0] = 0
    grads['W1'] = np.dot(X.T, dhidden) + reg * W1
    grads['b1'] = np.sum(dhidden, axis=0)

    return loss, grads

  def train(self, X, y, X_val, y_val,
            learning_rate=1e-3, learning_rate_decay=0.95,
            reg=1e-5, num_iters=100,
            batch_size=200, verbose=False):
    num_train = X.shape[0]
    iterations_per_epoch = max(num_train / batch_size, 1)

    loss_history = []
    train_acc_history = []
    val_acc_history = []

    for it in range(num_iters):
      idx = np.random.choice(num_train, batch_size, replace=True)
      X_batch = X[idx]
      y_batch = y[idx]

      loss, grads = self.loss(X_batch, y=y_batch, reg=reg)
      loss_history.append(loss)

      for p in self.params:
        self.params[p] += -learning_rate * grads[p]

      if verbose and it % 100 == 0:
        print('iteration %d / %d: loss %f' % (it, num_iters, loss))

      if it % iterations_per_epoch == 0:
        train_acc = (self.predict(X_batch) == y_batch).mean()
        val_acc = (self.predict(X_val) == y_val).mean()
        train_acc_history.append(train_acc)
        val_acc_history.append(val_acc)
        learning_rate *= learning_rate_decay

    return {
      'loss_history': loss_history,
      'train_acc_history': train_acc_history,
      'val_acc_history': val_acc_history,
    }

  def predict(self, X):
    scores = self.loss(X)
    y_pred = np.argmax(scores, axis=1)
    return y_pred
