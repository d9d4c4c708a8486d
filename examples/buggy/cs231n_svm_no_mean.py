"""CS231n assignment 2, layers.py's svm_loss, with one mistake: the loss is averaged over N, its gradient dx is not.

    bpcheck grade cs231n_svm_no_mean.py --assignment cs231n-bn-dropout-conv
"""
import numpy as np


def svm_loss(x, y):
    N = x.shape[0]
    correct_class_scores = x[np.arange(N), y]
    margins = np.maximum(0, x - correct_class_scores[:, np.newaxis] + 1.0)
    margins[np.arange(N), y] = 0
    loss = np.sum(margins) / N
    num_pos = np.sum(margins > 0, axis=1)
    dx = np.zeros_like(x)
    dx[margins > 0] = 1
    dx[np.arange(N), y] -= num_pos
    return loss, dx
