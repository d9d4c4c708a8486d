"""Starter of CS231n assignment 2's layers.py, as students receive it (our wording). Grade it with:

    bpcheck grade cs231n/layers.py --assignment cs231n-layers
    bpcheck grade cs231n/layers.py --assignment cs231n-bn-dropout-conv
"""
from builtins import range
import numpy as np


def affine_forward(x, w, b):
    """Forward pass of an affine (fully connected) layer.

    x: (N, d_1, ..., d_k) minibatch; each example is flattened to a row of D = d_1 * ... * d_k.
    w: (D, M) weights; b: (M,) biases.
    Returns out (N, M) and cache = (x, w, b).
    """
    out = None
    # ======================================================================= #
    # TODO: the affine forward pass; keep the result in out. Reshape x into   #
    # rows first.                                                             #
    # ======================================================================= #
    pass
    # ======================================================================= #
    #                             END OF YOUR CODE                            #
    # ======================================================================= #
    cache = (x, w, b)
    return out, cache


def affine_backward(dout, cache):
    """Backward pass of an affine layer: dout (N, M) -> dx (shaped like x), dw (D, M), db (M,)."""
    x, w, b = cache
    dx, dw, db = None, None, None
    # ======================================================================= #
    # TODO: the affine backward pass.                                         #
    # ======================================================================= #
    pass
    # ======================================================================= #
    #                             END OF YOUR CODE                            #
    # ======================================================================= #
    return dx, dw, db


def relu_forward(x):
    """Forward pass of rectified linear units: returns out (shaped like x) and cache = x."""
    out = None
    # TODO: the ReLU forward pass.
    pass
    cache = x
    return out, cache


def relu_backward(dout, cache):
    """Backward pass of rectified linear units: dout, cache = x -> dx."""
    dx, x = None, cache
    # TODO: the ReLU backward pass.
    pass
    return dx


def softmax_loss(x, y):
    """Loss and gradient of softmax classification.

    x: (N, C) scores; y: (N,) labels, 0 <= y[i] < C.
    Returns the loss (a scalar) and dx, the gradient of the loss with respect to x.
    """
    loss, dx = None, None
    # TODO: the softmax loss and its gradient, averaged over the N examples.
    pass
    return loss, dx


def svm_loss(x, y):
    """Loss and gradient of the multiclass SVM: x (N, C) scores, y (N,) labels -> loss, dx (averaged over N)."""
    loss, dx = None, None
    # TODO: copy over your solution from assignment 1.
    pass
    return loss, dx


def batchnorm_forward(x, gamma, beta, bn_param):
    """Batch normalisation. x (N, D); gamma, beta (D,); bn_param: mode ('train' or 'test'), eps, momentum,
    running_mean and running_var (kept between calls). Returns out (N, D) and a cache for the backward pass."""
    mode = bn_param["mode"]
    eps = bn_param.get("eps", 1e-5)
    momentum = bn_param.get("momentum", 0.9)
    N, D = x.shape
    running_mean = bn_param.get("running_mean", np.zeros(D, dtype=x.dtype))
    running_var = bn_param.get("running_var", np.zeros(D, dtype=x.dtype))
    out, cache = None, None
    if mode == "train":
        # TODO: the training-time forward pass: the minibatch's mean and (biased) variance, normalise, scale and
        # shift; update the running averages with momentum; keep what the backward pass needs in cache.
        pass
    elif mode == "test":
        # TODO: the test-time forward pass, with the running averages.
        pass
    else:
        raise ValueError('Invalid forward batchnorm mode "%s"' % mode)
    bn_param["running_mean"] = running_mean
    bn_param["running_var"] = running_var
    return out, cache


def batchnorm_backward(dout, cache):
    """Backward pass for batch normalisation: dout (N, D) -> dx (N, D), dgamma (D,), dbeta (D,)."""
    dx, dgamma, dbeta = None, None, None
    # TODO: the backward pass, through the computational graph one node at a time.
    pass
    return dx, dgamma, dbeta


def batchnorm_backward_alt(dout, cache):
    """The same gradients, simplified on paper first into as few lines as you can."""
    dx, dgamma, dbeta = None, None, None
    # TODO: the simplified backward pass.
    pass
    return dx, dgamma, dbeta


def dropout_forward(x, dropout_param):
    """Inverted dropout. dropout_param: p, the probability of KEEPING each unit; mode; seed (optional, for tests).
    Returns out (shaped like x) and cache = (dropout_param, mask)."""
    p, mode = dropout_param["p"], dropout_param["mode"]
    if "seed" in dropout_param:
        np.random.seed(dropout_param["seed"])
    mask, out = None, None
    if mode == "train":
        # TODO: the training-time forward pass of inverted dropout; keep the mask.
        pass
    elif mode == "test":
        # TODO: the test-time forward pass.
        pass
    cache = (dropout_param, mask)
    out = out.astype(x.dtype, copy=False)
    return out, cache


def dropout_backward(dout, cache):
    """Backward pass of inverted dropout: dout -> dx."""
    dropout_param, mask = cache
    mode = dropout_param["mode"]
    dx = None
    if mode == "train":
        # TODO: the training-time backward pass.
        pass
    elif mode == "test":
        dx = dout
    return dx


def conv_forward_naive(x, w, b, conv_param):
    """A naive convolution. x (N, C, H, W), w (F, C, HH, WW), b (F,); conv_param: stride, pad (zeros on every side).
    Returns out (N, F, H', W'), H' = 1 + (H + 2 * pad - HH) // stride, and cache = (x, w, b, conv_param)."""
    out = None
    # TODO: the convolution forward pass. Hint: np.pad.
    pass
    cache = (x, w, b, conv_param)
    return out, cache


def conv_backward_naive(dout, cache):
    """Backward pass of the naive convolution: dout (N, F, H', W') -> dx, dw, db."""
    dx, dw, db = None, None, None
    # TODO: the convolution backward pass.
    pass
    return dx, dw, db


def max_pool_forward_naive(x, pool_param):
    """A naive max pooling. x (N, C, H, W); pool_param: pool_height, pool_width, stride. No padding.
    Returns out (N, C, H', W') and cache = (x, pool_param)."""
    out = None
    # TODO: the max-pooling forward pass.
    pass
    cache = (x, pool_param)
    return out, cache


def max_pool_backward_naive(dout, cache):
    """Backward pass of the naive max pooling: dout (N, C, H', W') -> dx (N, C, H, W)."""
    dx = None
    # TODO: the max-pooling backward pass.
    pass
    return dx
