"""Hand-written means hand-written: autodiff libraries are out of a submission's reach unless the assignment allows them.

A submission that lets torch or jax differentiate the canonical network would be right to the last bit. By default
it earns 0 in both sandbox modes, with a message that names the library and says why; it is the student's doing,
not a package the grading machine lacks.  With ``[environment] allow_autodiff = true`` the same file passes.  A
submission that removes the runner's import hook reaches nothing either: the sandbox hides the files (bubblewrap)
or the kernel refuses them to the uid (process mode).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from bpcheck.grader.assignment import load
from bpcheck.grader.grade import Grader

from .sandboxes import mode_or_skip

ROOT = Path(__file__).resolve().parents[1]

_TORCH = """
import numpy as np
import torch


def backprop(weights, biases, x, y):
    ws = [torch.tensor(W, requires_grad=True) for W in weights]
    bs = [torch.tensor(b, requires_grad=True) for b in biases]
    a = torch.tensor(x)
    for W, b in zip(ws, bs):
        a = torch.sigmoid(a @ W + b)
    loss = 0.5 * ((a - torch.tensor(y)) ** 2).sum() / x.shape[0]
    loss.backward()
    return [W.grad.numpy() for W in ws], [b.grad.numpy() for b in bs]
"""
_JAX = """
import numpy as np


def backprop(weights, biases, x, y):
    import jax
    jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp

    def loss(params):
        a = jnp.asarray(x)
        for W, b in params:
            a = jax.nn.sigmoid(a @ W + b)
        return 0.5 * jnp.sum((a - y) ** 2) / x.shape[0]

    grads = jax.grad(loss)([(jnp.asarray(W), jnp.asarray(b)) for W, b in zip(weights, biases)])
    return [np.asarray(g[0]) for g in grads], [np.asarray(g[1]) for g in grads]
"""
# Past the runner's hook: the hook gone from sys.meta_path, then torch imported through the path, or its files read.
_BYPASS = """
import sys
import numpy as np
sys.meta_path[:] = [f for f in sys.meta_path if type(f).__name__ != "_StubFinder"]


def backprop(weights, biases, x, y):
    import torch
    try:
        torch.autograd
    except AttributeError:
        raise RuntimeError("torch was an empty folder")
    raise AssertionError("torch was importable: " + repr(torch.__file__))
"""
LIBRARIES = {"torch": _TORCH, "jax": _JAX}
ALLOW_TOML = """
name = "canonical-autodiff"
contract = "canonical"
[environment]
allow_autodiff = true
[limits]
memory_mb = 8192  # jax reserves address space far beyond what it uses
[[probe]]
name = "small"
sizes = [3, 4, 2]
batch = 3
seed = 11
"""



def _library_or_skip(name: str) -> None:
    if importlib.util.find_spec(name) is None:
        pytest.skip(f"{name} is not installed (pip install 'bpcheck[{name}]')")


@pytest.mark.parametrize("library", sorted(LIBRARIES))
@pytest.mark.parametrize("mode", ["bubblewrap", "process"])
def test_autodiff_earns_nothing_and_is_named(mode, library, tmp_path):
    _library_or_skip(library)
    sub = tmp_path / "submission.py"
    sub.write_text(LIBRARIES[library])
    r = Grader(load("canonical"), mode_or_skip(mode)).grade(sub)
    assert r.score == 0 and r.verdict == "error", (r.message, [(c.name, c.score) for c in r.checks])
    assert f"uses {library}: this assignment asks for hand-written backprop; autodiff libraries are not available" \
        in r.message
    assert not r.environment  # the student's doing: never blamed on the grading machine


@pytest.mark.parametrize("library", sorted(LIBRARIES))
@pytest.mark.parametrize("mode", ["bubblewrap", "process"])
def test_an_assignment_that_allows_autodiff_grades_it(mode, library, tmp_path):
    _library_or_skip(library)
    toml = tmp_path / "allow.toml"
    toml.write_text(ALLOW_TOML)
    sub = tmp_path / "submission.py"
    sub.write_text(LIBRARIES[library])
    r = Grader(load(str(toml)), mode_or_skip(mode)).grade(sub)
    assert r.verdict == "pass" and r.score == r.max_score, r.message


@pytest.mark.parametrize("mode", ["bubblewrap", "process"])
def test_the_import_hook_removed_torch_is_still_out_of_reach(mode, tmp_path):
    _library_or_skip("torch")
    sub = tmp_path / "submission.py"
    sub.write_text(_BYPASS)
    r = Grader(load("canonical"), mode_or_skip(mode)).grade(sub)
    assert r.score == 0
    assert "torch was importable" not in r.message
    assert "empty folder" in r.message or "No module named 'torch'" in r.message, r.message


def test_allow_autodiff_is_validated(tmp_path):
    toml = tmp_path / "bad.toml"
    toml.write_text(ALLOW_TOML.replace("allow_autodiff = true", 'allow_autodiff = "yes"'))
    with pytest.raises(ValueError, match="allow_autodiff"):
        load(str(toml))
