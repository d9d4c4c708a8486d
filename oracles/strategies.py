"""Hypothesis strategies for networks, parameters and inputs (public: build your own properties).

    from hypothesis import given
    from bpcheck.oracles.strategies import cases

    @given(cases())
    def test_my_backprop(case):
        spec, params, x, y = case.spec, case.params, case.x, case.y
        ...

Shapes are drawn directly (depth, widths, batch), so a failure shrinks to the smallest network
and batch that shows it.  Array values come from a drawn seed and a drawn scale, which keeps
examples fast and lets ``saturate`` push one layer's sigmoids into their flat tails.
ReLU-family pre-activations are kept at least ``KINK_MARGIN`` from 0, where the derivative jumps
and finite differences straddle the kink.
"""

from __future__ import annotations

from typing import Optional, Sequence

import numpy as np
from hypothesis import assume
from hypothesis import strategies as st

from bpcheck.reference.spec import ACTIVATIONS, LOSS_REQUIRES_OUTPUT, LOSSES, NON_ANALYTIC, NetworkSpec

from .cases import KINK_MARGIN, Case, kink_distance, make_targets

__all__ = ["HIDDEN", "KINK_MARGIN", "Case", "cases", "kink_distance", "make_targets", "network_specs"]

HIDDEN = tuple(a for a in ACTIVATIONS if a != "softmax")


@st.composite
def network_specs(
    draw: st.DrawFn,
    min_depth: int = 1,
    max_depth: int = 4,
    max_width: int = 8,
    losses: Sequence[str] = LOSSES,
    hidden: Sequence[str] = HIDDEN,
    analytic: Optional[bool] = None,
    bias: Optional[bool] = None,
    l2: Optional[bool] = None,
) -> NetworkSpec:
    """Any valid NetworkSpec: depth 1–4, widths 1–8 (square and not), every activation/loss pairing.

    analytic=True keeps relu/leaky_relu out; bias and l2 (True: λ > 0, False: λ = 0) fix those choices.
    """
    depth = draw(st.integers(min_depth, max_depth))
    sizes = tuple(draw(st.lists(st.integers(1, max_width), min_size=depth + 1, max_size=depth + 1)))
    loss = draw(st.sampled_from(list(losses)))
    pool = [h for h in hidden if not (analytic and h in NON_ANALYTIC)]
    acts = [draw(st.sampled_from(pool)) for _ in range(depth - 1)]
    if loss in LOSS_REQUIRES_OUTPUT:
        out = LOSS_REQUIRES_OUTPUT[loss]
    else:
        out = draw(st.sampled_from([*pool, "softmax"]))
    lam = draw(st.sampled_from([0.0, 0.01, 0.3])) if l2 is None else (draw(st.sampled_from([0.01, 0.3])) if l2 else 0.0)
    return NetworkSpec(
        sizes=sizes,
        activations=(*acts, out),
        loss=loss,
        reduction=draw(st.sampled_from(["mean", "sum"])),
        l2=lam,
        bias=draw(st.booleans()) if bias is None else bias,
        leaky_slope=0.1,
    )


@st.composite
def cases(
    draw: st.DrawFn,
    specs: Optional[st.SearchStrategy[NetworkSpec]] = None,
    max_batch: int = 6,
    min_batch: int = 1,
    saturate: Optional[bool] = None,
    huge: Optional[bool] = None,
) -> Case:
    """A NetworkSpec with parameters and a batch of 1–6 examples, in float64.

    saturate=True scales one layer's weights by 8 so its sigmoids / tanh saturate (|z| ~ 10–30);
    None draws it.  huge=True scales the output layer by 1000 (logits ~ 1e3, past exp's overflow at
    709); None draws it for about one case in eight.  Biases are drawn nonzero so bias gradients and
    bias bugs are visible.
    """
    spec = draw(specs if specs is not None else network_specs())
    n = draw(st.integers(min_batch, max_batch))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    gain = draw(st.sampled_from([0.5, 1.0, 2.0]))
    hot = draw(st.integers(1, spec.depth)) if (saturate if saturate is not None else draw(st.booleans())) else 0
    if huge is None:
        huge = draw(st.integers(0, 7)) == 7
    params = {}
    for name, shape in spec.param_shapes().items():
        l = int(name[1:])
        s = gain * (8.0 if l == hot else 1.0) * (1000.0 if huge and l == spec.depth else 1.0)
        if name.startswith("W"):
            params[name] = s * rng.standard_normal(shape) / np.sqrt(shape[0])
        else:
            params[name] = s * rng.uniform(-0.5, 0.5, shape)
    x = rng.uniform(-1, 1, (n, spec.sizes[0]))
    y = make_targets(spec, rng, n, labels=draw(st.booleans()))
    case = Case(spec, params, x, y)
    assume(kink_distance(case) > KINK_MARGIN)
    return case
