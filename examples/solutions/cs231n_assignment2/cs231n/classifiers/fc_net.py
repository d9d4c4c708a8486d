"""A fully connected net of any depth: {affine - relu} x (L - 1) - affine - softmax, with L2 regularisation."""
import numpy as np

from ..layers import affine_backward, affine_forward, softmax_loss
from ..layer_utils import affine_relu_backward, affine_relu_forward


class FullyConnectedNet(object):
    """params: W1 (D, H1), b1 (H1,), ..., WL (H_{L-1}, C), bL (C,); loss = softmax loss + 0.5 * reg * sum of W^2."""

    def __init__(self, hidden_dims, input_dim=3 * 32 * 32, num_classes=10, dropout_keep_ratio=1,
                 normalization=None, reg=0.0, weight_scale=1e-2, dtype=np.float32, seed=None):
        self.normalization = normalization
        self.use_dropout = dropout_keep_ratio != 1
        self.reg = reg
        self.num_layers = 1 + len(hidden_dims)
        self.dtype = dtype
        self.params = {}
        dims = [input_dim] + list(hidden_dims) + [num_classes]
        for l in range(1, self.num_layers + 1):
            self.params["W%d" % l] = weight_scale * np.random.randn(dims[l - 1], dims[l])
            self.params["b%d" % l] = np.zeros(dims[l])
        for k, v in self.params.items():
            self.params[k] = v.astype(dtype)

    def loss(self, X, y=None):
        """Scores (N, C) when y is None; else (loss, grads) with grads keyed like params."""
        X = X.astype(self.dtype)
        L = self.num_layers
        caches = {}
        h = X
        for l in range(1, L):
            h, caches[l] = affine_relu_forward(h, self.params["W%d" % l], self.params["b%d" % l])
        scores, caches[L] = affine_forward(h, self.params["W%d" % L], self.params["b%d" % L])
        if y is None:
            return scores

        loss, dscores = softmax_loss(scores, y)
        grads = {}
        dh, grads["W%d" % L], grads["b%d" % L] = affine_backward(dscores, caches[L])
        for l in range(L - 1, 0, -1):
            dh, grads["W%d" % l], grads["b%d" % l] = affine_relu_backward(dh, caches[l])
        for l in range(1, L + 1):
            W = self.params["W%d" % l]
            loss += 0.5 * self.reg * np.sum(W * W)
            grads["W%d" % l] += self.reg * W
        return loss, grads
