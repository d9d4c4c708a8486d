"""CS231n assignment 2, layers.py (the Dropout notebook's functions only), with one mistake: p read as the
probability of DROPPING a unit (the 2016 notebook's convention), so 70% are kept and scaled by 1/(1 - p); here p is
the probability of keeping one. dropout_backward applies the mask its forward pass drew.

    bpcheck grade cs231n_dropout_p_drops.py --assignment cs231n-bn-dropout-conv
"""
import numpy as np


def dropout_forward(x, dropout_param):
    p, mode = dropout_param['p'], dropout_param['mode']
    if 'seed' in dropout_param:
        np.random.seed(dropout_param['seed'])

    mask = None
    out = None

    if mode == 'train':
        mask = (np.random.rand(*x.shape) >= p) / (1 - p)  # drop with probability p
        out = x * mask
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
