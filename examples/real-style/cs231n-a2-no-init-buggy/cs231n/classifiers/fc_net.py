import numpy as np

from cs231n.layers import *
from cs231n.layer_utils import *


class FullyConnectedNet(object):

    def __init__(self, hidden_dims, input_dim=3 * 32 * 32, num_classes=10,
                 dropout_keep_ratio=1, normalization=None, reg=0.0,
                 weight_scale=1e-2, dtype=np.float32, seed=None):
        self.normalization = normalization
        self.use_dropout = dropout_keep_ratio != 1
        self.reg = reg
        self.num_layers = 1 + len(hidden_dims)
        self.dtype = dtype
        self.params = {}
        sizes = [input_dim] + list(hidden_dims) + [num_classes]
        for i in range(self.num_layers):
            self.params['W' + str(i + 1)] = np.random.randn(sizes[i], sizes[i + 1]) * weight_scale
            self.params['b' + str(i + 1)] = np.zeros(sizes[i + 1])
        for k, v in self.params.items():
            self.params[k] = v.astype(dtype)

    def loss(self, X, y=None):
        X = X.astype(self.dtype)
        mode = 'test' if y is None else 'train'
        L = self.num_layers
        caches = {}
        out = X
        for i in range(1, L):
            out, caches[i] = affine_relu_forward(out, self.params['W' + str(i)], self.params['b' + str(i)])
        scores, caches[L] = affine_forward(out, self.params['W' + str(L)], self.params['b' + str(L)])
        if mode == 'test':
            return scores

        loss, grads = 0.0, {}
        loss, dscores = softmax_loss(scores, y)
        for i in range(1, L + 1):
            W = self.params['W' + str(i)]
            loss += 0.5 * self.reg * np.sum(W * W)

        # last layer, with its regularization
        dout, dW, db = affine_backward(dscores, caches[L])
        grads['W' + str(L)] = dW + self.reg * self.params['W' + str(L)]
        grads['b' + str(L)] = db
        for i in range(L - 1, 0, -1):
            dout, dW, db = affine_relu_backward(dout, caches[i])
            grads['W' + str(i)] = dW
            grads['b' + str(i)] = db
        return loss, grads
