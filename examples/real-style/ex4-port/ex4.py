## Machine Learning Online Class - Exercise 4 Neural Network Learning (Python port)
#  Instructions
#  ------------
#  This file contains code that helps you get started on the linear exercise.
#  You will need to complete the following functions in this exercise:
#
#     sigmoidGradient.py
#     randInitializeWeights.py
#     nnCostFunction.py
import numpy as np
import scipy.io
from scipy.optimize import fmin_cg

from displayData import displayData
from nnCostFunction import nnCostFunction
from randInitializeWeights import randInitializeWeights
from sigmoidGradient import sigmoidGradient

## Setup the parameters you will use for this exercise
input_layer_size = 400   # 20x20 Input Images of Digits
hidden_layer_size = 25   # 25 hidden units
num_labels = 10          # 10 labels, from 1 to 10 (note that we have mapped "0" to label 10)

## =========== Part 1: Loading and Visualizing Data =============
print('Loading and Visualizing Data ...')
data = scipy.io.loadmat('ex4data1.mat')
X = data['X']
y = data['y']
m = X.shape[0]
sel = np.random.permutation(m)[:100]
displayData(X[sel, :])
input('Program paused. Press enter to continue.\n')

## ================ Part 2: Loading Parameters ================
weights = scipy.io.loadmat('ex4weights.mat')
Theta1 = weights['Theta1']
Theta2 = weights['Theta2']
nn_params = np.concatenate((Theta1.reshape(Theta1.size, order='F'), Theta2.reshape(Theta2.size, order='F')))

## ================ Part 3: Compute Cost (Feedforward) ================
Lambda = 0
J, _ = nnCostFunction(nn_params, input_layer_size, hidden_layer_size, num_labels, X, y, Lambda)
print('Cost at parameters (loaded from ex4weights): %f \n(this value should be about 0.287629)' % J)

## =============== Part 4: Implement Regularization ===============
Lambda = 1
J, _ = nnCostFunction(nn_params, input_layer_size, hidden_layer_size, num_labels, X, y, Lambda)
print('Cost at parameters (loaded from ex4weights): %f \n(this value should be about 0.383770)' % J)

## =================== Part 8: Training NN ===================
initial_nn_params = np.concatenate((randInitializeWeights(input_layer_size, hidden_layer_size).ravel(order='F'),
                                    randInitializeWeights(hidden_layer_size, num_labels).ravel(order='F')))
costFunc = lambda p: nnCostFunction(p, input_layer_size, hidden_layer_size, num_labels, X, y, Lambda)[0]
gradFunc = lambda p: nnCostFunction(p, input_layer_size, hidden_layer_size, num_labels, X, y, Lambda)[1]
nn_params = fmin_cg(costFunc, x0=initial_nn_params, fprime=gradFunc, maxiter=50)
