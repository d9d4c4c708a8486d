#!/usr/bin/env python
# coding: utf-8

# # Planar data classification with one hidden layer
#
# The graded functions as the student receives them (written for bpcheck's example of the dls-planar assignment):
# each body is left for the student between the START and END markers.

# In[1]:


import numpy as np
import matplotlib.pyplot as plt
from testCases_v2 import *
from planar_utils import plot_decision_boundary, sigmoid, load_planar_dataset

np.random.seed(1)


# In[2]:


# GRADED FUNCTION: forward_propagation

def forward_propagation(X, parameters):
    """
    Argument:
    X -- input data of size (n_x, m)
    parameters -- python dictionary containing your parameters (output of initialization function)

    Returns:
    A2 -- The sigmoid output of the second activation
    cache -- a dictionary containing "Z1", "A1", "Z2" and "A2"
    """
    # Retrieve each parameter from the dictionary "parameters"
    # (≈ 4 lines of code)
    # YOUR CODE STARTS HERE

    # YOUR CODE ENDS HERE

    # Implement Forward Propagation to calculate A2 (probabilities)
    # (≈ 4 lines of code)
    # YOUR CODE STARTS HERE

    # YOUR CODE ENDS HERE

    assert(A2.shape == (1, X.shape[1]))

    cache = {"Z1": Z1,
             "A1": A1,
             "Z2": Z2,
             "A2": A2}

    return A2, cache


# In[3]:


# GRADED FUNCTION: compute_cost

def compute_cost(A2, Y):
    """
    Computes the cross-entropy cost

    Returns:
    cost -- cross-entropy cost
    """
    m = Y.shape[1]  # number of examples

    # Compute the cross-entropy cost
    # (≈ 2 lines of code)
    # YOUR CODE STARTS HERE

    # YOUR CODE ENDS HERE

    cost = float(np.squeeze(cost))
    return cost


# In[4]:


# GRADED FUNCTION: backward_propagation

def backward_propagation(parameters, cache, X, Y):
    """
    Returns:
    grads -- python dictionary containing your gradients with respect to different parameters
    """
    m = X.shape[1]

    # First, retrieve W1 and W2 from the dictionary "parameters".
    # (≈ 2 lines of code)
    # YOUR CODE STARTS HERE

    # YOUR CODE ENDS HERE

    # Retrieve also A1 and A2 from dictionary "cache".
    # (≈ 2 lines of code)
    # YOUR CODE STARTS HERE

    # YOUR CODE ENDS HERE

    # Backward propagation: calculate dW1, db1, dW2, db2.
    # (≈ 6 lines of code, corresponding to 6 equations on slide above)
    # YOUR CODE STARTS HERE

    # YOUR CODE ENDS HERE

    grads = {"dW1": dW1,
             "db1": db1,
             "dW2": dW2,
             "db2": db2}

    return grads
