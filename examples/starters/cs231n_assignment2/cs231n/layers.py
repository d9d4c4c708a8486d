"""Starter of CS231n assignment 2's layers.py, as students receive it (our wording). Grade it with:

    bpcheck grade cs231n/layers.py --assignment cs231n-layers
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
