"""What every real-style submission (examples/real-style) must get: tests/test_real_style.py checks it, and
bench/run.py grades the same submissions by assignment, so a new one is listed here once."""

from __future__ import annotations

import importlib.util

PANDAS = importlib.util.find_spec("pandas") is not None

# (assignment, submission as found, verdict, words the message must contain)
EXPECTED = [
    ("cs231n-two-layer", "cs231n-2016-python2", "error", "neural_net.py line 93: this is Python 2 code (a print statement"),
    ("cs231n-two-layer", "cs231n-2016-ported", "pass", "correct, with the penalty ½·reg·ΣW²"),
    ("cs231n-two-layer", "cs231n-2017", "pass", "correct, with bias gradients shaped (1, n)"),
    ("cs231n-two-layer", "cs231n-2019", "pass", "all gradient checks pass"),
    ("cs231n-two-layer", "cs231n-2019-buggy", "fail", "'reg-on-biases'"),
    ("cs231n-fc-net", "cs231n-a2-2019", "pass", "all gradient checks pass"),
    ("cs231n-fc-net", "cs231n-a2-2021", "pass", "all gradient checks pass"),
    ("cs231n-fc-net", "cs231n-a2-no-init-buggy", "fail",
     "the hidden layers' weights: right when reg=0, wrong when reg>0: check the regularisation term"),
    ("cs231n-fc-net", "cs231n-a2-python2", "error", "cs231n/layers.py line 19: this is Python 2 code (a print statement"),
    ("cs231n-fc-net", "cs231n-a2-notebook-export", "pass", "all gradient checks pass"),
    ("cs231n-layers", "cs231n-a2-2019/cs231n/layers.py", "pass", "all 5 graded functions pass"),
    ("cs231n-layers", "cs231n-a2-2021/cs231n/layers.py", "pass", "all 5 graded functions pass"),
    ("cs231n-layers", "cs231n-a2-2018-cnn", "pass", "all 5 graded functions pass"),
    ("cs231n-bn-dropout-conv", "cs231n-a2-2018-cnn", "pass", "all 10 graded functions pass"),
    ("cs231n-bn-dropout-conv", "cs231n-a2-2019", "fail", "batchnorm_backward: batchnorm_backward(...) is not implemented yet"),
    ("cs231n-bn-dropout-conv", "cs231n-a2-2020-conv-buggy", "fail", "conv_backward_naive: gradient: case 1 failed: wrong on "
     "x (2, 3, 5, 5), w (3, 3, 3, 3), b (3,); stride=1, pad=1: dw (3, 3, 3, 3): 81 of 81 elements wrong"),
    ("cs231n-layers", "cs231n-a2-layers-buggy", "fail",
     "softmax_loss: differs only by a convention: batch sum instead of batch mean (no 1/N)"),
    ("dls-planar", "dls-c1w3-notebook", "pass", "all gradient checks pass"),
    ("dls-planar", "dls-c1w3-notebook-buggy", "fail", "code cell 8, line 8, `dZ2 = Y - A2`"),
    ("dls-deep", "dls-c1w4-2018", "pass", "all gradient checks pass"),
    ("dls-deep", "dls-c1w4-split", "pass", "all gradient checks pass"),
    ("dls-deep-steps", "dls-c1w4-split", "pass", "all 9 graded functions pass"),
    ("dls-deep-steps", "dls-c1w4-2018", "pass", "all 9 graded functions pass"),
    ("dls-deep-steps", "dls-c1w4-split-buggy", "fail", "first line giving the wrong shape: linear_backward.py line 8, "
     "`db = np.sum(dZ, axis=1) / m`"),
    ("nielsen", "nielsen-original", "pass", "all gradient checks pass"),
    ("nielsen", "nielsen-python2", "error", "network.py line 49: this is Python 2 code"),
    ("nielsen", "nielsen-network2", "pass", "correct, with the cross-entropy loss"),
    ("nielsen", "nielsen-rewrite", "pass", "all gradient checks pass"),
    ("nielsen", "nielsen-rewrite-sse", "pass", "correct, with the loss Σ(a − y)² (no ½)"),
    ("nielsen", "nielsen-src-layout", "pass", "all gradient checks pass"),
    ("nielsen", "nielsen-buggy", "fail", "'bp2-no-sigma-prime'"),
    ("coursera-ex4", "ex4-notebook", "pass", "exercise4.ipynb: ran code cells 1, 5, 8"),
    ("coursera-ex4", "ex4-port", "pass", "correct, with labels numbered 1..K and parameters unrolled in Fortran"),
    ("coursera-ex4", "ex4-port-packages", "pass", "correct, with labels numbered 1..K and labels as a column (m, 1)"),
    ("coursera-ex4", "ex4-port-split", "pass", "correct, with labels numbered 1..K"),
    ("coursera-ex4", "ex4-port-buggy", "fail", "'reg-on-biases'"),
    ("coursera-ex4", "ex4-port-pandas", "pass" if PANDAS else "error",
     "all gradient checks pass" if PANDAS else "environment problem (the grading machine's, not the student's): the submission "
                                               "imports 'pandas', which is not installed where bpcheck grades. Install it"),
    ("coursera-ex4", "ex4-python2", "error", "nnCostFunction.py line 13: this is Python 2 code"),
    ("blog-class", "blog/original.py", "pass", "all gradient checks pass"),
    ("blog-class", "blog/half_loss.py", "pass", "correct, with the loss ½Σ(a − y)²"),
    ("blog-class", "blog/learning_rate.py", "pass", "correct, with a learning rate of 0.1"),
    ("blog-class", "blog/stale.py", "fail", "'stale-weights'"),
    ("blog-class", "blog/python2.py", "error", "python2.py line 40: this is Python 2 code"),
    ("blog-class", "blog-notebook", "pass", "neural_network_from_scratch.ipynb: ran code cells 1, 2, 3"),
]
