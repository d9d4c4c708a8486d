"""Seed 004's kind of network on real data: scikit-learn's bundled 8x8 digits (no download).

64-30-10 with sigmoid units and cross-entropy on sigmoid outputs (seed 004 / ex4's cost), trained by
full-batch gradient descent with the reference, and again with PyTorch autograd from the same
initialisation. The two trajectories agree to float64 rounding.

    python examples/digits.py [--steps 500]
"""
from __future__ import annotations

import argparse

import numpy as np

from bpcheck.reference import NetworkSpec, init_params, train

SPEC = NetworkSpec((64, 30, 10), ("sigmoid", "sigmoid"), "bce", "mean", l2=1e-4)
LR = 0.5


def load(n_train: int = 1500):
    from sklearn.datasets import load_digits

    digits = load_digits()
    x = digits.data / 16.0
    y = np.eye(10)[digits.target]
    order = np.random.default_rng(0).permutation(len(x))
    x, y, labels = x[order], y[order], digits.target[order]
    return (x[:n_train], y[:n_train]), (x[n_train:], labels[n_train:])


def reference_trajectory(steps: int, x, y, every: int = 1):
    """Parameters after every ``every``-th step, trained by the reference."""
    params = init_params(SPEC, seed=4)
    out = [params]
    for _ in range(steps // every):
        params = train(SPEC, params, x, y, lr=LR, steps=every)
        out.append(params)
    return out


def torch_trajectory(steps: int, x, y, every: int = 1):
    """The same, by torch autograd and torch.optim.SGD in float64 (the oracle's own network code)."""
    import torch

    from bpcheck.oracles.torch_oracle import _objective

    params = {k: torch.tensor(v, requires_grad=True) for k, v in init_params(SPEC, seed=4).items()}
    opt = torch.optim.SGD(list(params.values()), lr=LR)
    xt, yt = torch.tensor(x), torch.tensor(y)
    out = [{k: v.detach().numpy().copy() for k, v in params.items()}]
    for step in range(1, steps + 1):
        opt.zero_grad()
        _objective(SPEC, params, xt, yt).backward()
        opt.step()
        if step % every == 0:
            out.append({k: v.detach().numpy().copy() for k, v in params.items()})
    return out


def accuracy(params, x, labels) -> float:
    a = x
    for l in range(1, SPEC.depth + 1):
        a = 1 / (1 + np.exp(-(a @ params[f"W{l}"] + params[f"b{l}"])))
    return float(np.mean(np.argmax(a, axis=1) == labels))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=500)
    args = parser.parse_args()
    (x, y), (xt, lt) = load()
    every = max(1, args.steps // 10)
    ours = reference_trajectory(args.steps, x, y, every)
    theirs = torch_trajectory(args.steps, x, y, every)
    for i, (p, q) in enumerate(zip(ours, theirs)):
        diff = max(float(np.max(np.abs(p[k] - q[k]))) for k in p)
        print(f"step {i * every:5d}: max |reference − torch| over every parameter = {diff:.2e}; "
              f"test accuracy {accuracy(p, xt, lt):.3f}")


if __name__ == "__main__":
    main()
