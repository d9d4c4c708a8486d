from builtins import range
from builtins import object
import numpy as np

from cs231n.layers import *
from cs231n.layer_utils import *


class FullyConnectedNet(object):
    """
    A fully-connected neural network with an arbitrary number of hidden layers,
    ReLU nonlinearities, and a softmax loss function.

    {affine - [batch/layer norm] - relu - [dropout]} x (L - 1) - affine - softmax
    """

    def __init__(self, hidden_dims, input_dim=3 * 32 * 32, num_classes=10,
                 dropout=1, normalization=None, reg=0.0,
                 weight_scale=1e-2, dtype=np.float32, seed=None):
        self.normalization = normalization
        self.use_dropout = dropout != 1
        self.reg = reg
        self.num_layers = 1 + len(hidden_dims)
        self.dtype = dtype
        self.params = {}

        # *****START OF YOUR CODE*****
        layer_dims = [input_dim] + hidden_dims + [num_classes]
        for i in range(self.num_layers):
            self.params['W' + str(i + 1)] = weight_scale * np.random.randn(layer_dims[i], layer_dims[i + 1])
            self.params['b' + str(i + 1)] = np.zeros(layer_dims[i + 1])
        # *****END OF YOUR CODE*****

        self.dropout_param = {}
        if self.use_dropout:
            self.dropout_param = {'mode': 'train', 'p': dropout}
            if seed is not None:
                self.dropout_param['seed'] = seed

        self.bn_params = []
        if self.normalization == 'batchnorm':
            self.bn_params = [{'mode': 'train'} for i in range(self.num_layers - 1)]

        for k, v in self.params.items():
            self.params[k] = v.astype(dtype)

    def loss(self, X, y=None):
        X = X.astype(self.dtype)
        mode = 'test' if y is None else 'train'

        if self.use_dropout:
            self.dropout_param['mode'] = mode
        if self.normalization == 'batchnorm':
            for bn_param in self.bn_params:
                bn_param['mode'] = mode
        scores = None

        # *****START OF YOUR CODE*****
        cache = {}
        out = X
        for i in range(1, self.num_layers):
            out, cache[i] = affine_relu_forward(out, self.params['W%d' % i], self.params['b%d' % i])
        L = self.num_layers
        scores, cache[L] = affine_forward(out, self.params['W%d' % L], self.params['b%d' % L])
        # *****END OF YOUR CODE*****

        if mode == 'test':
            return scores

        loss, grads = 0.0, {}
        # *****START OF YOUR CODE*****
        loss, dscores = softmax_loss(scores, y)
        for i in range(1, L + 1):
            loss += 0.5 * self.reg * np.sum(self.params['W%d' % i] ** 2)

        dout, grads['W%d' % L], grads['b%d' % L] = affine_backward(dscores, cache[L])
        grads['W%d' % L] += self.reg * self.params['W%d' % L]
        for i in reversed(range(1, L)):
            dout, grads['W%d' % i], grads['b%d' % i] = affine_relu_backward(dout, cache[i])
            grads['W%d' % i] += self.reg * self.params['W%d' % i]
        # *****END OF YOUR CODE*****

        return loss, grads
