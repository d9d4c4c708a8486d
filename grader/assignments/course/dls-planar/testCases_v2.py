"""Course test inputs for the planar-data assignment, written for bpcheck's example (the course's function names)."""
import numpy as np


def layer_sizes_test_case():
    rng = np.random.RandomState(1)
    return rng.randn(5, 3), rng.randn(2, 3)


def forward_propagation_test_case():
    rng = np.random.RandomState(1)
    X = rng.randn(2, 3)
    parameters = {"W1": rng.randn(4, 2) * 0.01, "b1": rng.randn(4, 1) * 0.01,
                  "W2": rng.randn(1, 4) * 0.01, "b2": rng.randn(1, 1) * 0.01}
    return X, parameters


def compute_cost_test_case():
    rng = np.random.RandomState(1)
    return 1 / (1 + np.exp(-rng.randn(1, 3))), (rng.randn(1, 3) > 0).astype(float)


def backward_propagation_test_case():
    X, parameters = forward_propagation_test_case()
    A1 = np.tanh(parameters["W1"] @ X + parameters["b1"])
    A2 = 1 / (1 + np.exp(-(parameters["W2"] @ A1 + parameters["b2"])))
    cache = {"Z1": np.arctanh(A1), "A1": A1, "Z2": np.log(A2 / (1 - A2)), "A2": A2}
    return parameters, cache, X, np.array([[1.0, 0.0, 1.0]])
