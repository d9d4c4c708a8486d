"""CS231n assignment 2, FullyConnectedNet exported from the notebook as one file, with one mistake: one cache variable for every hidden layer: the backward pass reuses the last layer's cache.

    bpcheck grade cs231n_fc_net_one_cache.py --assignment cs231n-fc-net
"""
import numpy as np


def affine_forward(x, w, b):
    """x (N, d_1, ..., d_k), w (D, M), b (M,) -> out (N, M) and the cache (x, w, b)."""
    rows = x.reshape(x.shape[0], -1)
    out = rows.dot(w) + b
    cache = (x, w, b)
    return out, cache


def affine_backward(dout, cache):
    """dout (N, M) -> dx shaped like x, dw (D, M), db (M,)."""
    x, w, b = cache
    dx = dout.dot(w.T).reshape(x.shape)
    dw = x.reshape(x.shape[0], -1).T.dot(dout)
    db = np.sum(dout, axis=0)
    return dx, dw, db


def relu_forward(x):
    out = np.maximum(0, x)
    cache = x
    return out, cache


def relu_backward(dout, cache):
    x = cache
    dx = dout * (x > 0)
    return dx


def softmax_loss(x, y):
    """Softmax cross-entropy: x (N, C) scores, y (N,) labels -> (loss averaged over N, dx (N, C))."""
    shifted = x - np.max(x, axis=1, keepdims=True)
    log_probs = shifted - np.log(np.sum(np.exp(shifted), axis=1, keepdims=True))
    N = x.shape[0]
    loss = -np.sum(log_probs[np.arange(N), y]) / N
    dx = np.exp(log_probs)
    dx[np.arange(N), y] -= 1
    dx /= N
    return loss, dx


def affine_relu_forward(x, w, b):
    a, fc_cache = affine_forward(x, w, b)
    out, relu_cache = relu_forward(a)
    return out, (fc_cache, relu_cache)


def affine_relu_backward(dout, cache):
    fc_cache, relu_cache = cache
    da = relu_backward(dout, relu_cache)
    return affine_backward(da, fc_cache)


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
            h, hidden_cache = affine_relu_forward(h, self.params["W%d" % l], self.params["b%d" % l])
            caches[l] = hidden_cache
        scores, caches[L] = affine_forward(h, self.params["W%d" % L], self.params["b%d" % L])
        if y is None:
            return scores

        loss, dscores = softmax_loss(scores, y)
        grads = {}
        dh, grads["W%d" % L], grads["b%d" % L] = affine_backward(dscores, caches[L])
        for l in range(L - 1, 0, -1):
            dh, grads["W%d" % l], grads["b%d" % l] = affine_relu_backward(dh, hidden_cache)
        for l in range(1, L + 1):
            W = self.params["W%d" % l]
            loss += 0.5 * self.reg * np.sum(W * W)
            grads["W%d" % l] += self.reg * W
        return loss, grads
