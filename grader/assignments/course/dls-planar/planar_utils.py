"""Course helper for the planar-data assignment, written for bpcheck's example (same names as the course's).

The assignment ships this file beside every submission ([environment] files in dls-planar.toml), as the course
workspace did: students import it and never hand it in.
"""
import numpy as np


def sigmoid(x):
    """The logistic function, elementwise."""
    return 1 / (1 + np.exp(-x))


def load_planar_dataset(m=400, seed=1):
    """A two-class "flower": X (2, m) points, Y (1, m) labels in {0, 1}."""
    rng = np.random.RandomState(seed)
    per_class = m // 2
    X = np.zeros((m, 2))
    Y = np.zeros((m, 1), dtype="uint8")
    for j in range(2):
        ix = range(per_class * j, per_class * (j + 1))
        t = np.linspace(j * 3.12, (j + 1) * 3.12, per_class) + rng.randn(per_class) * 0.2
        r = 4 * np.sin(4 * t) + rng.randn(per_class) * 0.2
        X[ix] = np.c_[r * np.sin(t), r * np.cos(t)]
        Y[ix] = j
    return X.T, Y.T


def plot_decision_boundary(model, X, y):
    """Plots the classifier's regions (matplotlib is imported only when a plot is drawn)."""
    import matplotlib.pyplot as plt

    x_min, x_max = X[0, :].min() - 1, X[0, :].max() + 1
    y_min, y_max = X[1, :].min() - 1, X[1, :].max() + 1
    xx, yy = np.meshgrid(np.arange(x_min, x_max, 0.01), np.arange(y_min, y_max, 0.01))
    Z = model(np.c_[xx.ravel(), yy.ravel()]).reshape(xx.shape)
    plt.contourf(xx, yy, Z)
    plt.scatter(X[0, :], X[1, :], c=y.ravel())
