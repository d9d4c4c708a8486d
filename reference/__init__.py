"""bpcheck's reference backpropagation: the code under test.

    from bpcheck.reference import NetworkSpec, init_params, loss_and_grad
    spec = NetworkSpec(sizes=(2, 2, 2), activations=("sigmoid", "sigmoid"), loss="half_sse")
    C, grads = loss_and_grad(spec, init_params(spec), x, y)
"""

from .network import Backprop, Cache, backward, forward, init_params, loss_and_grad, sgd_step, train
from .spec import ACTIVATIONS, LOSSES, NetworkSpec, check_batch, check_params

__all__ = [
    "ACTIVATIONS",
    "Backprop",
    "LOSSES",
    "Cache",
    "NetworkSpec",
    "backward",
    "check_batch",
    "check_params",
    "forward",
    "init_params",
    "loss_and_grad",
    "sgd_step",
    "train",
]
