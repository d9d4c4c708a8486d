#!/usr/bin/env python
# coding: utf-8

# # Fully-Connected Neural Nets
# In this exercise we will implement fully-connected networks using a modular approach.

# In[1]:


# As usual, a bit of setup
from __future__ import print_function
import time
import numpy as np
import matplotlib.pyplot as plt
from cs231n.data_utils import get_CIFAR10_data
from cs231n.gradient_check import eval_numerical_gradient, eval_numerical_gradient_array
from cs231n.solver import Solver

get_ipython().run_line_magic('matplotlib', 'inline')
plt.rcParams['figure.figsize'] = (10.0, 8.0)

get_ipython().run_line_magic('load_ext', 'autoreload')
get_ipython().run_line_magic('autoreload', '2')

def rel_error(x, y):
  """ returns relative error """
  return np.max(np.abs(x - y) / (np.maximum(1e-8, np.abs(x) + np.abs(y))))


# In[2]:


# Load the (preprocessed) CIFAR10 data.
data = get_CIFAR10_data()
for k, v in list(data.items()):
  print(('%s: ' % k, v.shape))


# In[3]:


# my layers, pasted here so the notebook runs on its own
def affine_forward(x, w, b):
    out = x.reshape(x.shape[0], -1) @ w + b
    return out, (x, w, b)

def affine_backward(dout, cache):
    x, w, b = cache
    dx = (dout @ w.T).reshape(x.shape)
    dw = x.reshape(x.shape[0], -1).T @ dout
    db = dout.sum(axis=0)
    return dx, dw, db

def relu_forward(x):
    return np.maximum(0, x), x

def relu_backward(dout, cache):
    return dout * (cache > 0)

def softmax_loss(x, y):
    e = np.exp(x - x.max(axis=1, keepdims=True))
    p = e / e.sum(axis=1, keepdims=True)
    n = x.shape[0]
    loss = -np.log(p[np.arange(n), y]).mean()
    p[np.arange(n), y] -= 1
    return loss, p / n


# In[4]:


class FullyConnectedNet(object):
    def __init__(self, hidden_dims, input_dim=3*32*32, num_classes=10, dropout=1, normalization=None,
                 reg=0.0, weight_scale=1e-2, dtype=np.float32, seed=None):
        self.reg = reg
        self.num_layers = 1 + len(hidden_dims)
        self.dtype = dtype
        dims = [input_dim] + list(hidden_dims) + [num_classes]
        self.params = {}
        for i in range(self.num_layers):
            self.params['W%d' % (i + 1)] = (weight_scale * np.random.randn(dims[i], dims[i + 1])).astype(dtype)
            self.params['b%d' % (i + 1)] = np.zeros(dims[i + 1], dtype=dtype)

    def loss(self, X, y=None):
        X = X.astype(self.dtype)
        hs, caches = X, []
        for i in range(1, self.num_layers + 1):
            hs, fc = affine_forward(hs, self.params['W%d' % i], self.params['b%d' % i])
            rc = None
            if i < self.num_layers:
                hs, rc = relu_forward(hs)
            caches.append((fc, rc))
        scores = hs
        if y is None:
            return scores
        loss, d = softmax_loss(scores, y)
        grads = {}
        for i in range(self.num_layers, 0, -1):
            fc, rc = caches[i - 1]
            if rc is not None:
                d = relu_backward(d, rc)
            d, dw, db = affine_backward(d, fc)
            W = self.params['W%d' % i]
            loss += 0.5 * self.reg * np.sum(W * W)
            grads['W%d' % i] = dw + self.reg * W
            grads['b%d' % i] = db
        return loss, grads


# In[5]:


np.random.seed(231)
N, D, H1, H2, C = 2, 15, 20, 30, 10
X = np.random.randn(N, D)
y = np.random.randint(C, size=(N,))

for reg in [0, 3.14]:
  print('Running check with reg = ', reg)
  model = FullyConnectedNet([H1, H2], input_dim=D, num_classes=C,
                            reg=reg, weight_scale=5e-2, dtype=np.float64)
  loss, grads = model.loss(X, y)
  print('Initial loss: ', loss)
  for name in sorted(grads):
    f = lambda _: model.loss(X, y)[0]
    grad_num = eval_numerical_gradient(f, model.params[name], verbose=False, h=1e-5)
    print('%s relative error: %.2e' % (name, rel_error(grad_num, grads[name])))


# In[6]:


model = FullyConnectedNet([100, 100], weight_scale=5e-2, dtype=np.float64)
solver = Solver(model, data, num_epochs=20, batch_size=25, update_rule='sgd',
                optim_config={'learning_rate': 1e-3})
solver.train()
plt.plot(solver.loss_history, 'o')
plt.show()
