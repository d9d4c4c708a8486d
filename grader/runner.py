"""Runs one submission inside the sandbox.  Standalone: only the standard library and numpy.

    python -I runner.py JOB_DIR SUBMISSION_DIR OUT_DIR

JOB_DIR/job.json lists the calls to make; JOB_DIR/<call>/<name>.npy hold their inputs.  For each
call the runner imports nothing but the submission, calls its entry points, and saves every
returned array as OUT_DIR/<call>/<name>.npy (allow_pickle=False) the moment the call returns, so
that a submission that dies later loses nothing already computed.  OUT_DIR/status.json collects
error messages as text.  The grader trusts none of it: it only loads arrays, with
allow_pickle=False, and compares them in its own process.
"""

import json
import os
import resource
import sys
import traceback


def _drop_privileges(uid, processes):
    """Under bubblewrap as root, the runner starts as root: become the submission's own uid, then cap processes."""
    if os.getuid() == 0 and uid is not None:
        os.setgroups([])
        os.setgid(uid)
        os.setuid(uid)
        resource.setrlimit(resource.RLIMIT_NPROC, (processes, processes))


def _fresh_keyrings():
    """A new, empty session keyring (not the grader's inherited one), and this uid's user keyrings cleared.

    Kernel keyrings outlive processes: without this a submission could read what an earlier one left, or the
    keys of the session it was started from.  Where keyctl is forbidden (Docker's seccomp) there is nothing to do.
    """
    import ctypes
    import platform

    nr = {"x86_64": 250, "aarch64": 219, "i686": 288, "ppc64le": 289, "s390x": 280}.get(platform.machine())
    if nr is None:
        return
    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall(nr, 1, None)  # KEYCTL_JOIN_SESSION_KEYRING, anonymous
    for ring in (-4, -5):  # KEYCTL_CLEAR the user and user-session keyrings
        libc.syscall(nr, 7, ring)


def _load(job_dir, call, names):
    import numpy as np

    return {n: np.load(os.path.join(job_dir, call, n + ".npy"), allow_pickle=False) for n in names}


def _save(out_dir, call, name, value):
    import numpy as np

    # anything that is not numbers fails here, as an error of this call; complex numbers are kept, to be named
    kind = np.complex128 if np.iscomplexobj(value) else np.float64
    arr = np.asarray(value, dtype=kind)
    os.makedirs(os.path.join(out_dir, call), exist_ok=True)
    np.save(os.path.join(out_dir, call, name + ".npy"), np.array(arr, dtype=kind), allow_pickle=False)


def _listed(value, what):
    if not isinstance(value, (list, tuple)):
        raise TypeError(f"{what}: expected a list of arrays, got {type(value).__name__}")
    return list(value)


def _pair(value, what):
    if not isinstance(value, (list, tuple)) or len(value) != 2:
        raise TypeError(f"{what}: expected a pair (2-tuple), got {type(value).__name__}"
                        + (f" of length {len(value)}" if isinstance(value, (list, tuple)) else ""))
    return value


# --- one function per contract: (module, inputs) -> {output name: array} -------------------------------


def call_canonical(mod, inp, save):
    L = int(inp["depth"])
    weights = [inp[f"W{l}"].copy() for l in range(L)]
    biases = [inp[f"b{l}"].copy() for l in range(L)]
    gw, gb = _pair(mod.backprop(weights, biases, inp["x"].copy(), inp["y"].copy()), "backprop(...) return value")
    gw, gb = _listed(gw, "grad_weights"), _listed(gb, "grad_biases")
    if len(gw) != L or len(gb) != L:
        raise ValueError(f"backprop returned {len(gw)} weight and {len(gb)} bias gradients; expected {L} of each")
    for l in range(L):
        save(f"gW{l}", gw[l])
        save(f"gb{l}", gb[l])
    for l in range(L):
        save(f"after_W{l}", weights[l])
        save(f"after_b{l}", biases[l])


def call_blog_class(mod, inp, save):
    x, y = inp["x"].copy(), inp["y"].copy()
    nn = mod.NeuralNetwork(x, y)
    nn.weights1 = inp["W1"].copy()
    nn.weights2 = inp["W2"].copy()
    for step in range(int(inp["steps"])):
        nn.feedforward()
        if step == 0:
            save("output", nn.output)
        nn.backprop()
        save(f"W1_step{step + 1}", nn.weights1)
        save(f"W2_step{step + 1}", nn.weights2)
    save("after_x", x)
    save("after_y", y)


def call_nielsen(mod, inp, save):
    L = int(inp["depth"])
    sizes = [int(s) for s in inp["sizes"]]
    net = mod.Network(sizes)
    net.weights = [inp[f"W{l}"].copy() for l in range(L)]
    net.biases = [inp[f"b{l}"].copy() for l in range(L)]
    nabla_b, nabla_w = _pair(net.backprop(inp["x"].copy(), inp["y"].copy()), "backprop(x, y) return value")
    nabla_b, nabla_w = _listed(nabla_b, "nabla_b"), _listed(nabla_w, "nabla_w")
    if len(nabla_w) != L or len(nabla_b) != L:
        raise ValueError(f"backprop returned {len(nabla_b)} nabla_b and {len(nabla_w)} nabla_w; expected {L} of each")
    for l in range(L):
        save(f"nabla_w{l}", nabla_w[l])
        save(f"nabla_b{l}", nabla_b[l])
    if hasattr(net, "feedforward"):
        save("output", net.feedforward(inp["x"].copy()))


def call_cs231n_two_layer(mod, inp, save):
    D, H, C = (int(v) for v in inp["sizes"])
    net = mod.TwoLayerNet(D, H, C, std=1e-4)
    net.params = {k: inp[k].copy() for k in ("W1", "b1", "W2", "b2")}
    X = inp["X"].copy()
    save("scores", net.loss(X))
    loss, grads = _pair(net.loss(X, y=inp["y"].astype(int), reg=float(inp["reg"])), "loss(X, y, reg) return value")
    save("loss", loss)
    if not isinstance(grads, dict):
        raise TypeError(f"grads: expected a dict keyed like params, got {type(grads).__name__}")
    for k in ("W1", "b1", "W2", "b2"):
        if k not in grads:
            raise KeyError(f"grads has no key {k!r}; it has {sorted(map(str, grads))}")
        save(f"g{k}", grads[k])
    save("after_X", X)


def call_coursera_ex4(mod, inp, save):
    n, h, K = (int(v) for v in inp["sizes"])
    nn_params = inp["nn_params"].copy()
    J, grad = _pair(mod.nn_cost_function(nn_params, n, h, K, inp["X"].copy(), inp["y"].astype(int), float(inp["lambda_"])),
                    "nn_cost_function(...) return value")
    save("J", J)
    save("grad", grad)
    save("after_nn_params", nn_params)


CONTRACTS = {
    "canonical": call_canonical,
    "blog-class": call_blog_class,
    "nielsen": call_nielsen,
    "cs231n-two-layer": call_cs231n_two_layer,
    "coursera-ex4": call_coursera_ex4,
}


def main(job_dir, submission_dir, out_dir):
    with open(os.path.join(job_dir, "job.json")) as fh:
        job = json.load(fh)
    _drop_privileges(job.get("uid"), int(job.get("processes", 64)))
    _fresh_keyrings()
    status = {"phase": "import", "import": None, "calls": {}}
    status_path = os.path.join(out_dir, "status.json")

    def write_status():
        with open(status_path, "w") as fh:
            json.dump(status, fh)

    for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[name] = "1"
    sys.path.insert(0, submission_dir)
    os.chdir(out_dir)
    write_status()
    try:
        import importlib

        mod = importlib.import_module(job["module"])
    except BaseException as exc:  # SyntaxError, SystemExit at import, anything
        status["import"] = "".join(traceback.format_exception_only(type(exc), exc)).strip()[-2000:]
        write_status()
        return
    call = CONTRACTS[job["contract"]]
    for item in job["calls"]:
        name = item["name"]
        status["phase"] = name
        write_status()
        try:
            inp = _load(job_dir, name, item["inputs"])
            call(mod, inp, lambda key, value, _n=name: _save(out_dir, _n, key, value))
            status["calls"][name] = None
        except BaseException as exc:
            tb = traceback.extract_tb(exc.__traceback__)
            where = next((f"{os.path.basename(f.filename)}:{f.lineno}" for f in reversed(tb) if f.filename.startswith(submission_dir)), "")
            status["calls"][name] = (f"{type(exc).__name__}: {exc}"[:1500] + (f" (at {where})" if where else ""))
        write_status()
    status["phase"] = "done"
    write_status()


if __name__ == "__main__":
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    main(*sys.argv[1:4])
