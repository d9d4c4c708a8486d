"""Course test inputs for the deep-network assignment, written for bpcheck's example (the course's function names)."""
import numpy as np


def linear_forward_test_case():
    rng = np.random.RandomState(1)
    return rng.randn(3, 2), rng.randn(1, 3), rng.randn(1, 1)


def linear_backward_test_case():
    rng = np.random.RandomState(1)
    dZ = rng.randn(3, 4)
    return dZ, (rng.randn(5, 4), rng.randn(3, 5), rng.randn(3, 1))


def L_model_forward_test_case():
    rng = np.random.RandomState(6)
    X = rng.randn(5, 4)
    parameters = {"W1": rng.randn(4, 5), "b1": rng.randn(4, 1), "W2": rng.randn(3, 4), "b2": rng.randn(3, 1),
                  "W3": rng.randn(1, 3), "b3": rng.randn(1, 1)}
    return X, parameters
