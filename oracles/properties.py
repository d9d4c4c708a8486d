"""Property checks over Hypothesis-drawn cases: the code behind the pytest fixture ``gradcheck``
(``bpcheck.pytest_plugin``, which imports this module only when a test uses the fixture).

    def test_my_backprop(gradcheck):
        gradcheck(my_backward, spec=NetworkSpec((3, 4, 2), ("tanh", "softmax"), "softmax_ce"))

    def test_my_layer(gradcheck):
        gradcheck.vjp(affine_forward, affine_backward,
                      shapes={"x": ("N", "D"), "w": ("D", "M"), "b": ("M",)}, dims={"N": (1, 16), "D": (1, 8), "M": 3})

``my_backward(spec, params, x, y) -> {"W1": ..., "b1": ..., ...}`` is checked on Hypothesis-generated
parameters and batches for that spec (or, with ``specs=``, on generated networks too).  ``vjp`` checks
any layer the way ``bpcheck.check_vjp`` does, on Hypothesis-drawn sizes (each named dimension in its
range) and values (standard normal from a drawn seed).  A failure is shrunk to the smallest sizes
(batch, network) and the first seed that show it, and reported with the check's explanation.
"""

from __future__ import annotations

from typing import Any, Callable, Mapping, Optional, Union

import numpy as np
from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st

from bpcheck.reference.spec import NetworkSpec

from .generic import check_vjp
from .gradcheck import check_backward
from .strategies import Case, cases, network_specs


def run_gradcheck(
    backward: Callable,
    spec: Optional[NetworkSpec] = None,
    specs: Optional[st.SearchStrategy[NetworkSpec]] = None,
    max_examples: int = 50,
    mode: str = "auto",
    frameworks: tuple[str, ...] = (),
) -> None:
    """Run the property "backward agrees with the oracles" over generated cases; raise on the shrunk failure."""
    if spec is not None and specs is not None:
        raise ValueError("gradcheck: give spec= (one network) or specs= (a strategy of networks), not both")
    strategy = cases(specs=st.just(spec) if spec is not None else (specs or network_specs()))

    @settings(max_examples=max_examples, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(case=strategy)
    def agrees_with_oracles(case: Case) -> None:
        result = check_backward(backward, case.spec, case.params, case.x, case.y, mode=mode, frameworks=frameworks)
        note(f"network: {case.describe()}")
        if not result.ok:
            raise AssertionError(f"{backward.__name__} is wrong on {case.describe()}:\n{result.message()}")

    agrees_with_oracles()


Dim = Union[int, tuple[int, int]]


def _sizes(shapes: Mapping[str, tuple], dims: Mapping[str, Dim]) -> dict[str, st.SearchStrategy[int]]:
    """One strategy per named dimension: a fixed int, or an inclusive range (lo, hi)."""
    used = {d for shape in shapes.values() for d in shape if isinstance(d, str)}
    missing = sorted(used - set(dims))
    if missing:
        raise ValueError(f"dims: no size given for {missing}; give each named dimension an int or a range (lo, hi)")
    out = {}
    for name in sorted(used):
        d = dims[name]
        lo, hi = (d, d) if isinstance(d, int) else d
        if not 0 <= lo <= hi:
            raise ValueError(f"dims[{name!r}]: expected an int >= 0 or a range (lo, hi) with 0 <= lo <= hi, got {d!r}")
        out[name] = st.integers(lo, hi)
    return out


def run_vjp(
    forward: Callable,
    backward: Callable,
    shapes: Mapping[str, tuple],
    dims: Optional[Mapping[str, Dim]] = None,
    static: Union[None, Mapping[str, Any], Callable[[dict, np.random.Generator], Mapping[str, Any]]] = None,
    dtype: Any = np.float64,
    scale: float = 1.0,
    max_examples: int = 25,
    mode: str = "auto",
    reference: Optional[Callable] = None,
) -> None:
    """The property "backward is forward's vector-Jacobian product" over drawn sizes and values; raise on the shrunk failure.

    ``shapes``: each input's shape, by dimension names and ints.  ``static``: fixed arguments, or a
    function of (the drawn sizes, a numpy Generator) returning them (labels that must fit N, …).
    """
    strategy = st.fixed_dictionaries(_sizes(shapes, dims or {}))

    @settings(max_examples=max_examples, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(sizes=strategy, seed=st.integers(0, 2**32 - 1))
    def is_its_vjp(sizes: dict, seed: int) -> None:
        rng = np.random.default_rng(seed)
        inputs = {name: (scale * rng.standard_normal(tuple(sizes[d] if isinstance(d, str) else d for d in shape))).astype(dtype)
                  for name, shape in shapes.items()}
        fixed = static(sizes, rng) if callable(static) else static
        where = ", ".join(f"{k} = {v}" for k, v in sizes.items())
        note(f"sizes: {where}; values from seed {seed}")
        result = check_vjp(forward, backward, inputs, static=fixed, mode=mode, seed=seed, reference=reference)
        if not result.ok:
            said = "is wrong" if result.verdict == "FAILED" else f"was {result.verdict}"  # refused or inconclusive: not "wrong"
            raise AssertionError(f"{result.title} {said} at {where} (values from seed {seed}):\n{result.message()}")

    is_its_vjp()


class GradCheck:
    """The ``gradcheck`` fixture: ``gradcheck(backward, spec=...)`` for networks, ``gradcheck.vjp(...)`` for any layer."""

    def __call__(self, *args: Any, **kwargs: Any) -> None:
        run_gradcheck(*args, **kwargs)

    def vjp(self, *args: Any, **kwargs: Any) -> None:
        run_vjp(*args, **kwargs)

