"""Starter of CS231n assignment 2's classifiers/fc_net.py (our wording). Grade the package with:

    bpcheck grade cs231n_assignment2/ --assignment cs231n-fc-net
"""
from builtins import range
from builtins import object
import numpy as np

from ..layers import *
from ..layer_utils import *


class FullyConnectedNet(object):
    """{affine - relu} x (L - 1) - affine - softmax, with L2 regularisation; parameters in self.params."""

    def __init__(self, hidden_dims, input_dim=3 * 32 * 32, num_classes=10, dropout_keep_ratio=1,
                 normalization=None, reg=0.0, weight_scale=1e-2, dtype=np.float32, seed=None):
        self.normalization = normalization
        self.use_dropout = dropout_keep_ratio != 1
        self.reg = reg
        self.num_layers = 1 + len(hidden_dims)
        self.dtype = dtype
        self.params = {}
        # ======================================================================= #
        # TODO: initialise W1, b1, ..., WL, bL: weights from a normal distribution #
        # of standard deviation weight_scale, biases to zero.                      #
        # ======================================================================= #
        pass
        for k, v in self.params.items():
            self.params[k] = v.astype(dtype)

    def loss(self, X, y=None):
        """Scores (N, C) when y is None; else (loss, grads) with grads keyed like self.params."""
        X = X.astype(self.dtype)
        mode = "test" if y is None else "train"
        scores = None
        # TODO: the forward pass; store the class scores in scores.
        pass
        if mode == "test":
            return scores

        loss, grads = 0.0, {}
        # TODO: the backward pass; store the loss in loss and the gradients in grads.
        # Remember the L2 regularisation, with a factor 0.5.
        pass
        return loss, grads
