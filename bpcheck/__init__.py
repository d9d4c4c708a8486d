"""bpcheck: check anyone's NumPy gradient code against independent oracles.

    import bpcheck
    bpcheck.check_vjp(affine_forward, affine_backward, {"x": x, "w": w, "b": b})          # a layer
    bpcheck.check_function(loss, {"W": W, "b": b}, grad)                                   # a loss and its gradient
    bpcheck.check_function(f, theta, returns="loss_and_grad", static=(X, y))               # scipy's jac=True style
    bpcheck.assert_same_gradients(old, new, inputs)                                        # a refactor
    bpcheck.check_taylor(loss, {"W": W, "b": b}, grad)                                     # the Taylor test: orders, no tolerance
    bpcheck.check_hessp(grad, hessp, theta, static=(X, y))                                 # Hessian-vector products
    bpcheck.check_jvp(f, jvp, inputs)                                                      # forward mode
    bpcheck.check_adjoint(conv, conv_transpose, x_shape)                                   # the dot-product test

Each check returns a result that is truthy when it passed and whose ``message()`` names the input,
the elements, the expected values and the pattern of a failure.  See docs/api.md.

What is public: the names in ``__all__`` below.  The subpackages are ``bpcheck.reference`` (the
reference network, the code under test), ``bpcheck.oracles`` (its independent sources of truth) and
``bpcheck.grader`` (the grader behind the ``bpcheck`` command).  Nothing is imported until it is used,
so ``import bpcheck`` (and the pytest plugin, which pytest loads at every start) costs no numpy import.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

#: The package version: pyproject.toml reads it from here (one place), CITATION.cff and CHANGELOG.md repeat it.
__version__ = "0.4.0"

__all__ = ["AUTO_FULL_LIMIT", "CheckError", "CheckReport", "CheckResult", "assert_same_gradients", "check_adjoint",
           "check_function", "check_hessp", "check_jvp", "check_taylor", "check_vjp"]

#: Where each public name lives; imported on first use (PEP 562).
_HOME = {
    "AUTO_FULL_LIMIT": "bpcheck.oracles.generic",
    "CheckResult": "bpcheck.oracles.generic",
    "assert_same_gradients": "bpcheck.oracles.generic",
    "check_function": "bpcheck.oracles.generic",
    "check_vjp": "bpcheck.oracles.generic",
    "CheckError": "bpcheck.oracles.calls",
    "CheckReport": "bpcheck.oracles.directional",
    "check_adjoint": "bpcheck.oracles.adjoint",
    "check_hessp": "bpcheck.oracles.second_order",
    "check_jvp": "bpcheck.oracles.adjoint",
    "check_taylor": "bpcheck.oracles.taylor",
}

if TYPE_CHECKING:
    from bpcheck.oracles.adjoint import check_adjoint, check_jvp
    from bpcheck.oracles.calls import CheckError
    from bpcheck.oracles.directional import CheckReport
    from bpcheck.oracles.generic import AUTO_FULL_LIMIT, CheckResult, assert_same_gradients, check_function, check_vjp
    from bpcheck.oracles.second_order import check_hessp
    from bpcheck.oracles.taylor import check_taylor


def __getattr__(name: str) -> Any:
    if name in _HOME:
        value = getattr(importlib.import_module(_HOME[name]), name)
        globals()[name] = value  # later lookups skip this function
        return value
    raise AttributeError(f"module 'bpcheck' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
