import numpy as np


def randInitializeWeights(L_in, L_out):
    """Randomly initialize the weights of a layer with L_in incoming connections and L_out outgoing ones."""
    epsilon_init = 0.12
    W = np.random.rand(L_out, 1 + L_in) * 2 * epsilon_init - epsilon_init
    return W
