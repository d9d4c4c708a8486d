"""CS231n assignment 2, layers.py (the ConvolutionalNetworks notebook's naive layers only), with one mistake:
max_pool_backward_naive hands each window's upstream gradient to every element of the window, not to its max.
The convolution is right.

    bpcheck grade cs231n_pool_whole_window.py --assignment cs231n-bn-dropout-conv
"""
import numpy as np


def conv_forward_naive(x, w, b, conv_param):
    N, C, H, W = x.shape
    F, _, HH, WW = w.shape
    S, P = conv_param['stride'], conv_param['pad']
    Ho = 1 + (H + 2 * P - HH) // S
    Wo = 1 + (W + 2 * P - WW) // S
    x_pad = np.pad(x, ((0,), (0,), (P,), (P,)), 'constant')
    out = np.zeros((N, F, Ho, Wo))
    for i in range(Ho):
        for j in range(Wo):
            x_pad_masked = x_pad[:, :, i * S:i * S + HH, j * S:j * S + WW]
            for k in range(F):
                out[:, k, i, j] = np.sum(x_pad_masked * w[k, :, :, :], axis=(1, 2, 3))
    out = out + (b)[None, :, None, None]
    cache = (x, w, b, conv_param)
    return out, cache


def conv_backward_naive(dout, cache):
    x, w, b, conv_param = cache
    N, C, H, W = x.shape
    F, _, HH, WW = w.shape
    S, P = conv_param['stride'], conv_param['pad']
    Ho = 1 + (H + 2 * P - HH) // S
    Wo = 1 + (W + 2 * P - WW) // S
    x_pad = np.pad(x, ((0,), (0,), (P,), (P,)), 'constant')
    dx_pad = np.zeros_like(x_pad)
    dw = np.zeros_like(w)
    db = np.sum(dout, axis=(0, 2, 3))
    for i in range(Ho):
        for j in range(Wo):
            x_pad_masked = x_pad[:, :, i * S:i * S + HH, j * S:j * S + WW]
            for k in range(F):  # compute dw
                dw[k, :, :, :] += np.sum(x_pad_masked * (dout[:, k, i, j])[:, None, None, None], axis=0)
            for n in range(N):  # compute dx_pad
                dx_pad[n, :, i * S:i * S + HH, j * S:j * S + WW] += np.sum(
                    (w[:, :, :, :] * (dout[n, :, i, j])[:, None, None, None]), axis=0)
    dx = dx_pad[:, :, P:-P, P:-P]
    return dx, dw, db


def max_pool_forward_naive(x, pool_param):
    N, C, H, W = x.shape
    HH, WW, S = pool_param['pool_height'], pool_param['pool_width'], pool_param['stride']
    H_out = (H - HH) // S + 1
    W_out = (W - WW) // S + 1
    out = np.zeros((N, C, H_out, W_out))
    for i in range(H_out):
        for j in range(W_out):
            x_masked = x[:, :, i * S:i * S + HH, j * S:j * S + WW]
            out[:, :, i, j] = np.max(x_masked, axis=(2, 3))
    cache = (x, pool_param)
    return out, cache


def max_pool_backward_naive(dout, cache):
    x, pool_param = cache
    N, C, H, W = x.shape
    HH, WW, S = pool_param['pool_height'], pool_param['pool_width'], pool_param['stride']
    H_out = (H - HH) // S + 1
    W_out = (W - WW) // S + 1
    dx = np.zeros_like(x)
    for i in range(H_out):
        for j in range(W_out):
            dx[:, :, i * S:i * S + HH, j * S:j * S + WW] += (dout[:, :, i, j])[:, :, None, None]
    return dx
