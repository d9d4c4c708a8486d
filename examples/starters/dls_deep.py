#!/usr/bin/env python
# coding: utf-8

# # Building your Deep Neural Network: Step by Step
#
# The graded functions as the student receives them (written for bpcheck's example of the dls-deep assignment):
# each body is left for the student between the START and END markers.

# In[1]:


import numpy as np
import h5py
import matplotlib.pyplot as plt
from testCases import *
from dnn_utils import sigmoid, sigmoid_backward, relu, relu_backward

np.random.seed(1)


# In[2]:


# GRADED FUNCTION: linear_forward

def linear_forward(A, W, b):
    """
    Implement the linear part of a layer's forward propagation.

    Returns:
    Z -- the input of the activation function, also called pre-activation parameter
    cache -- a python tuple containing "A", "W" and "b"; stored for computing the backward pass efficiently
    """
    # (≈ 1 line of code)
    # Z = ...
    # YOUR CODE STARTS HERE

    # YOUR CODE ENDS HERE
    cache = (A, W, b)

    return Z, cache


# In[3]:


# GRADED FUNCTION: linear_activation_forward

def linear_activation_forward(A_prev, W, b, activation):
    """
    Returns:
    A -- the output of the activation function, also called the post-activation value
    cache -- a python tuple containing "linear_cache" and "activation_cache"
    """
    if activation == "sigmoid":
        # (≈ 2 lines of code)
        # YOUR CODE STARTS HERE

        # YOUR CODE ENDS HERE
        pass

    elif activation == "relu":
        # (≈ 2 lines of code)
        # YOUR CODE STARTS HERE

        # YOUR CODE ENDS HERE
        pass
    cache = (linear_cache, activation_cache)

    return A, cache


# In[4]:


# GRADED FUNCTION: L_model_forward

def L_model_forward(X, parameters):
    """
    Returns:
    AL -- activation value from the output (last) layer
    caches -- list of caches containing every cache of linear_activation_forward() (there are L of them)
    """
    caches = []
    A = X
    L = len(parameters) // 2  # number of layers in the neural network

    # The for loop starts at 1 because layer 0 is the input
    for l in range(1, L):
        A_prev = A
        # (≈ 2 lines of code)
        # YOUR CODE STARTS HERE

        # YOUR CODE ENDS HERE

    # (≈ 2 lines of code)
    # YOUR CODE STARTS HERE

    # YOUR CODE ENDS HERE

    return AL, caches


# In[5]:


# GRADED FUNCTION: compute_cost

def compute_cost(AL, Y):
    """
    Returns:
    cost -- cross-entropy cost
    """
    m = Y.shape[1]

    # (≈ 1 line of code)
    # YOUR CODE STARTS HERE

    # YOUR CODE ENDS HERE

    cost = np.squeeze(cost)
    return cost


# In[6]:


# GRADED FUNCTION: linear_backward

def linear_backward(dZ, cache):
    """
    Returns:
    dA_prev -- Gradient of the cost with respect to the activation (of the previous layer l-1), same shape as A_prev
    dW -- Gradient of the cost with respect to W (current layer l), same shape as W
    db -- Gradient of the cost with respect to b (current layer l), same shape as b
    """
    A_prev, W, b = cache
    m = A_prev.shape[1]

    # (≈ 3 lines of code)
    # YOUR CODE STARTS HERE

    # YOUR CODE ENDS HERE

    return dA_prev, dW, db


# In[7]:


# GRADED FUNCTION: linear_activation_backward

def linear_activation_backward(dA, cache, activation):
    linear_cache, activation_cache = cache

    if activation == "relu":
        # (≈ 2 lines of code)
        # YOUR CODE STARTS HERE

        # YOUR CODE ENDS HERE
        pass

    elif activation == "sigmoid":
        # (≈ 2 lines of code)
        # YOUR CODE STARTS HERE

        # YOUR CODE ENDS HERE
        pass

    return dA_prev, dW, db


# In[8]:


# GRADED FUNCTION: L_model_backward

def L_model_backward(AL, Y, caches):
    """
    Returns:
    grads -- A dictionary with the gradients
             grads["dA" + str(l)] = ...
             grads["dW" + str(l)] = ...
             grads["db" + str(l)] = ...
    """
    grads = {}
    L = len(caches)  # the number of layers
    m = AL.shape[1]
    Y = Y.reshape(AL.shape)  # after this line, Y is the same shape as AL

    # Initializing the backpropagation
    # (1 line of code)
    # YOUR CODE STARTS HERE

    # YOUR CODE ENDS HERE

    # Lth layer (SIGMOID -> LINEAR) gradients.
    # (approx. 5 lines)
    # YOUR CODE STARTS HERE

    # YOUR CODE ENDS HERE

    # Loop from l=L-2 to l=0
    for l in reversed(range(L - 1)):
        # lth layer: (RELU -> LINEAR) gradients.
        # (approx. 5 lines)
        # YOUR CODE STARTS HERE

        # YOUR CODE ENDS HERE
        pass

    return grads
