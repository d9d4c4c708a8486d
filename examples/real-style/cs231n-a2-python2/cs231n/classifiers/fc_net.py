import numpy as np

from cs231n.layers import *
from cs231n.layer_utils import *


class FullyConnectedNet(object):
  """
  {affine - [batch norm] - relu - [dropout]} x (L - 1) - affine - softmax
  """

  def __init__(self, hidden_dims, input_dim=3*32*32, num_classes=10,
               dropout=0, use_batchnorm=False, reg=0.0,
               weight_scale=1e-2, dtype=np.float32, seed=None):
    self.use_batchnorm = use_batchnorm
    self.use_dropout = dropout > 0
    self.reg = reg
    self.num_layers = 1 + len(hidden_dims)
    self.dtype = dtype
    self.params = {}

    dims = [input_dim] + hidden_dims + [num_classes]
    for i in xrange(self.num_layers):
      self.params['W%d' % (i + 1)] = weight_scale * np.random.randn(dims[i], dims[i + 1])
      self.params['b%d' % (i + 1)] = np.zeros(dims[i + 1])

    for k, v in self.params.iteritems():
      self.params[k] = v.astype(dtype)

  def loss(self, X, y=None):
    X = X.astype(self.dtype)
    mode = 'test' if y is None else 'train'
    caches = {}
    h = X
    for i in xrange(1, self.num_layers):
      h, caches[i] = affine_relu_forward(h, self.params['W%d' % i], self.params['b%d' % i])
    L = self.num_layers
    scores, caches[L] = affine_forward(h, self.params['W%d' % L], self.params['b%d' % L])

    if mode == 'test':
      return scores

    loss, grads = 0.0, {}
    loss, dout = softmax_loss(scores, y)
    for i in xrange(1, L + 1):
      loss += 0.5 * self.reg * np.sum(self.params['W%d' % i] ** 2)
    dout, grads['W%d' % L], grads['b%d' % L] = affine_backward(dout, caches[L])
    for i in xrange(L - 1, 0, -1):
      dout, grads['W%d' % i], grads['b%d' % i] = affine_relu_backward(dout, caches[i])
    for i in xrange(1, L + 1):
      grads['W%d' % i] += self.reg * self.params['W%d' % i]
    return loss, grads
