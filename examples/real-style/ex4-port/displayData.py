import numpy as np
import matplotlib.pyplot as plt


def displayData(X, example_width=None):
    """Display 2D data in a nice grid."""
    m, n = X.shape
    example_width = example_width or int(round(np.sqrt(n)))
    example_height = n // example_width
    display_rows = int(np.floor(np.sqrt(m)))
    display_cols = int(np.ceil(m / display_rows))
    pad = 1
    display_array = -np.ones((pad + display_rows * (example_height + pad), pad + display_cols * (example_width + pad)))
    curr_ex = 0
    for j in range(display_rows):
        for i in range(display_cols):
            if curr_ex >= m:
                break
            max_val = np.max(np.abs(X[curr_ex, :]))
            rows = pad + j * (example_height + pad) + np.arange(example_height)
            cols = pad + i * (example_width + pad) + np.arange(example_width)
            display_array[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1] = \
                X[curr_ex, :].reshape(example_height, example_width, order='F') / max_val
            curr_ex += 1
    plt.imshow(display_array, cmap='gray')
    plt.axis('off')
    plt.show()
