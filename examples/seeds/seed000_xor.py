"""Seed 000's XOR script, ported from Python 2 to Python 3 and otherwise unchanged.

The only edits: ``xrange`` -> ``range``, the ``print`` statement -> ``print()``, and the loop
wrapped in ``main()`` so that tests can import it and read the errors it prints.
"""
import numpy as np


def sigmoid(x, deriv=False):
    if (deriv == True):
        return x * (1 - x)
    return 1 / (1 + np.exp(-x))


def main(iterations=60000, every=5000, echo=True):
    x = np.array([[0, 0, 1],
                  [0, 1, 1],
                  [1, 0, 1],
                  [1, 1, 1],
                  [0, 0, 1]]
                 )
    y = np.array([[0],
                  [1],
                  [1],
                  [0],
                  [0]]
                 )
    np.random.seed(22)
    w0 = 2 * np.random.random((3, 4)) - 1
    w1 = 2 * np.random.random((4, 1)) - 1
    errors = []
    for j in range(iterations):
        l0 = x
        l1 = sigmoid(np.dot(l0, w0))
        l2 = sigmoid(np.dot(l1, w1))
        l2_error = y - l2
        if (j % every) == 0:
            errors.append(np.mean(np.abs(l2_error)))
            if echo:
                print('Error' + str(np.mean(np.abs(l2_error))))
        l2_delta = l2_error * sigmoid(l2, deriv=True)
        l1_error = l2_delta.dot(w1.T)
        l1_delta = l1_error * sigmoid(l1, deriv=True)

        w1 += l1.T.dot(l2_delta)
        w0 += l0.T.dot(l1_delta)
    return errors, w0, w1


if __name__ == "__main__":
    main()
