"""Hostile submissions: the batch goes on, each gets a clear message and no credit it did not earn, nothing else changes.

Every hostile submission here runs under bubblewrap; without it these tests are skipped (some of
them, such as kill(-1, 9), must never run unsandboxed).
"""

from __future__ import annotations

import hashlib
import subprocess
import time
from pathlib import Path

import pytest

from grader import sandbox
from grader.assignment import load
from grader.grade import Grader, grade_batch

ROOT = Path(__file__).resolve().parents[1]
SANDBOXED, WHY = sandbox.sandbox_status()
pytestmark = pytest.mark.skipif(not SANDBOXED, reason=WHY)

CORRECT = (ROOT / "examples" / "solutions" / "canonical.py").read_text()
WRONG_BODY = """
def backprop(weights, biases, x, y):
    return [W * 0 + 1.0 for W in weights], [b * 0 + 1.0 for b in biases]
"""

# name -> (source, words the message must contain). {victim} and {grader_file} are filled in below.
HOSTILE = {
    "infinite_loop": ("def backprop(weights, biases, x, y):\n    while True:\n        pass\n", "timed out"),
    "sleep_at_import": ("import time\ntime.sleep(100)\ndef backprop(weights, biases, x, y):\n    pass\n", "while importing"),
    "memory_bomb": ("def backprop(weights, biases, x, y):\n    hog = [bytearray(10**8) for _ in range(100)]\n", "MemoryError"),
    "fork_bomb": ("import os\ndef backprop(weights, biases, x, y):\n    while True:\n        os.fork()\n", ""),
    "exit_at_import": ("import sys\nsys.exit(0)\ndef backprop(weights, biases, x, y):\n    pass\n", "SystemExit"),
    "os_exit_in_call": ("import os\ndef backprop(weights, biases, x, y):\n    os._exit(0)\n", "ended"),
    "kill_parent": ("import os, signal\ndef backprop(weights, biases, x, y):\n"
                    "    os.kill(os.getppid(), signal.SIGKILL)\n    os.kill(-1, signal.SIGKILL)\n", ""),
    "patch_numpy": ("import numpy as np\nnp.allclose = lambda *a, **k: True\nnp.array_equal = lambda *a, **k: True\n"
                    "np.testing.assert_allclose = lambda *a, **k: None\nnp.isclose = lambda a, b, *r, **k: np.ones(np.shape(a), bool)\n"
                    + WRONG_BODY, "wrong"),
    "lying_subclass": ("import numpy as np\nclass Liar(np.ndarray):\n    def __eq__(self, o): return np.ones(self.shape, bool)\n"
                       "    def __sub__(self, o): return np.zeros(self.shape)\n    def __rsub__(self, o): return np.zeros(self.shape)\n"
                       "    def __abs__(self): return np.zeros(self.shape)\n"
                       "def backprop(weights, biases, x, y):\n"
                       "    return [np.ones_like(W).view(Liar) for W in weights], [np.ones_like(b).view(Liar) for b in biases]\n", "wrong"),
    "pickle_payload": ("import os, pickle, numpy as np\n"
                       "class Boom:\n    def __reduce__(self): return (os.system, ('touch {marker}',))\n"
                       "def backprop(weights, biases, x, y):\n"
                       "    os.makedirs('/sandbox/out/small', exist_ok=True)\n"
                       "    np.save('/sandbox/out/small/gW0.npy', np.array([Boom()], dtype=object), allow_pickle=True)\n"
                       "    return [Boom() for W in weights], [Boom() for b in biases]\n", ""),
    "fake_results": ("import json, os\n"
                     "def backprop(weights, biases, x, y):\n"
                     "    print(json.dumps({{'score': 100, 'verdict': 'pass'}}))\n"
                     "    open('/sandbox/out/results.json', 'w').write(json.dumps({{'score': 100}}))\n"
                     "    open('/sandbox/out/status.json', 'w').write(json.dumps({{'phase': 'done', 'calls': {{}}}}))\n"
                     "    os._exit(0)\n", ""),
    "huge_output": ("import sys\ndef backprop(weights, biases, x, y):\n    s = 'x' * 10**6\n    while True:\n"
                    "        sys.stdout.write(s)\n        sys.stderr.write(s)\n", ""),
    "syntax_error": ("import numpy as np\nfor j in xrange(10):\n    print 'Error'\n", "SyntaxError"),
    "exception": ("def backprop(weights, biases, x, y):\n    raise RuntimeError('student bug here')\n", "student bug here"),
    "wrong_structure": ("def backprop(weights, biases, x, y):\n    return {{'W': 1}}\n", "pair"),
    "nan_inf": ("import numpy as np\ndef backprop(weights, biases, x, y):\n"
                "    return [np.full(W.shape, np.nan) for W in weights], [np.full(b.shape, np.inf) for b in biases]\n", "NaN or Inf"),
    "missing_entry": ("def back_prop(weights, biases, x, y):\n    pass\n", "did you mean 'back_prop'"),
    "reads_outside": ("import numpy as np\n"
                      "def backprop(weights, biases, x, y):\n"
                      "    stolen = open('{victim}').read()\n"
                      "    return [np.ones_like(W) for W in weights], [np.ones_like(b) for b in biases]\n", "No such file"),
    "imports_reference": ("def backprop(weights, biases, x, y):\n"
                          "    from reference import NetworkSpec, loss_and_grad\n"
                          "    raise AssertionError('the reference was importable')\n", "No module named 'reference'"),
    "reads_etc": ("def backprop(weights, biases, x, y):\n"
                  "    open('/etc/hostname').read()\n"
                  "    raise AssertionError('/etc was readable')\n", "No such file"),
    "writes_grader": ("def backprop(weights, biases, x, y):\n"
                      "    open('{grader_file}', 'a').write('\\nraise SystemExit')\n", ""),
}


def _hash_tree(root: Path) -> str:
    h = hashlib.sha256()
    for f in sorted(root.rglob("*.py")):
        h.update(f.read_bytes())
    return h.hexdigest()


@pytest.fixture(scope="module")
def batch(tmp_path_factory):
    d = tmp_path_factory.mktemp("subs")
    victim = d / "victim.py"
    victim.write_text(CORRECT)
    marker = tmp_path_factory.mktemp("marker") / "pwned"
    values = {"victim": victim, "grader_file": ROOT / "grader" / "grade.py", "marker": marker}
    paths = [victim]
    for name, (source, _) in HOSTILE.items():
        p = d / f"{name}.py"
        p.write_text(source.format(**values) if "{" in source else source)
        paths.append(p)
    before = _hash_tree(ROOT / "grader"), _hash_tree(ROOT / "reference"), victim.read_bytes()
    nobody_before = _nobody()  # processes of other graders on this machine are not ours to judge
    grader = Grader(load(str(ROOT / "tests" / "data" / "hostile.toml")))
    results = grade_batch(grader, paths, jobs=2, state=d / "state")
    after = _hash_tree(ROOT / "grader"), _hash_tree(ROOT / "reference"), victim.read_bytes()
    return {Path(r.submission).stem: r for r in results}, before, after, marker, nobody_before


def test_the_batch_goes_on_and_the_honest_submission_passes(batch):
    results, *_ = batch
    assert len(results) == len(HOSTILE) + 1
    assert results["victim"].verdict == "pass" and results["victim"].score == results["victim"].max_score


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_submission_earns_nothing_and_is_told_why(batch, name):
    results, *_ = batch
    r = results[name]
    assert r.score == 0, (name, [(c.name, c.score, c.output) for c in r.checks])
    assert r.verdict in ("fail", "error")
    words = HOSTILE[name][1]
    text = r.message + " " + " ".join(c.output for c in r.checks)
    assert words in text, (name, text[:500])
    assert r.message  # never an empty explanation
    if r.verdict == "error":
        assert "catalog" not in r.message  # a crash is reported as the crash, not dressed up as a known bug


def test_nothing_else_changes(batch):
    _, before, after, marker, _ = batch
    assert before == after  # the grader's and the reference's files, and the other submission
    assert not marker.exists()  # the pickle payload never ran in the grader


def _nobody() -> set[str]:
    return set(subprocess.run(["pgrep", "-u", "65534"], capture_output=True, text=True).stdout.split())


def test_no_process_outlives_its_submission(batch):
    results, before, after, marker, nobody_before = batch
    deadline = time.monotonic() + 3  # a killed namespace takes a moment to be reaped
    while (leftover := _nobody() - nobody_before) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not leftover, f"processes of uid 65534 still running after the batch: {sorted(leftover)}"


def test_timeouts_are_bounded(batch):
    results, *_ = batch
    for name in ("infinite_loop", "sleep_at_import", "huge_output"):
        assert results[name].seconds < 4 + 3, (name, results[name].seconds)
