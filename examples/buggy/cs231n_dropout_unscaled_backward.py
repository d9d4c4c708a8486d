"""CS231n assignment 2, layers.py (the Dropout notebook's functions only), with one mistake: the forward pass keeps
the boolean mask and scales by 1/p itself, and dropout_backward multiplies by the boolean mask alone (no 1/p).

    bpcheck grade cs231n_dropout_unscaled_backward.py --assignment cs231n-bn-dropout-conv
"""
import numpy as np


def dropout_forward(x, dropout_param):
    p, mode = dropout_param['p'], dropout_param['mode']
    if 'seed' in dropout_param:
        np.random.seed(dropout_param['seed'])

    mask = None
    out = None

    if mode == 'train':
        mask = np.random.rand(*x.shape) < p  # keep with probability p
        out = x * mask / p
    elif mode == 'test':
        out = x

    cache = (dropout_param, mask)
    out = out.astype(x.dtype, copy=False)

    return out, cache


def dropout_backward(dout, cache):
    dropout_param, mask = cache
    mode = dropout_param['mode']

    dx = None
    if mode == 'train':
        dx = dout * mask
    elif mode == 'test':
        dx = dout
    return dx
