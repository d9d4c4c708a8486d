"""Real data end to end: the reference trains on scikit-learn's digits exactly as torch does."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from bpcheck import oracles

pytest.importorskip("sklearn", reason="scikit-learn is not installed: pip install 'bpcheck[test]'")
if oracles.unavailable("torch"):
    pytest.skip(oracles.unavailable("torch"), allow_module_level=True)

spec = importlib.util.spec_from_file_location("digits", Path(__file__).resolve().parents[1] / "examples" / "digits.py")
digits = importlib.util.module_from_spec(spec)
spec.loader.exec_module(digits)


def test_trajectory_matches_torch_and_learns():
    (x, y), (xt, labels) = digits.load()
    ours = digits.reference_trajectory(150, x, y, every=10)
    theirs = digits.torch_trajectory(150, x, y, every=10)
    assert len(ours) == len(theirs) == 16
    for step, (p, q) in enumerate(zip(ours, theirs)):
        for k in p:
            assert np.max(np.abs(p[k] - q[k])) <= 1e-10, (step * 10, k)
    assert ours[-1]["W1"].shape == (64, 30)
    assert np.max(np.abs(ours[-1]["W1"] - ours[0]["W1"])) > 1e-2  # it really moved
    assert digits.accuracy(ours[0], xt, labels) < 0.3 < 0.85 < digits.accuracy(ours[-1], xt, labels)
