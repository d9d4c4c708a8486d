"""bpcheck: check anyone's NumPy gradient code against independent oracles.

    import bpcheck
    bpcheck.check_vjp(affine_forward, affine_backward, {"x": x, "w": w, "b": b})          # a layer
    bpcheck.check_function(loss, {"W": W, "b": b}, grad)                                   # a loss and its gradient
    bpcheck.check_function(f, theta, returns="loss_and_grad", static=(X, y))               # scipy's jac=True style
    bpcheck.assert_same_gradients(old, new, inputs)                                        # a refactor

Each check returns a result that is truthy when it passed and whose ``message()`` names the input,
the elements, the expected values and the pattern of a failure.  See docs/api.md.
The reference network, the oracles and the grader stay in ``reference``, ``oracles`` and ``grader``.
"""

from oracles.calls import CheckError
from oracles.generic import (
    AUTO_FULL_LIMIT,
    CheckResult,
    assert_same_gradients,
    check_function,
    check_vjp,
)

__all__ = ["AUTO_FULL_LIMIT", "CheckError", "CheckResult", "assert_same_gradients", "check_function", "check_vjp"]
