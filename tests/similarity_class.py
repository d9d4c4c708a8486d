"""A generated class for the similarity groups: independent correct solutions written differently, and planted copies.

Independent solutions combine a sigmoid (3 ways), a forward pass (3 ways) and a backward pass (4 ways), each with
its author's own names; every one computes the canonical contract's gradients (``backprop(weights, biases, x, y)``,
sigmoid, mean of ½Σ(a − y)²).  A planted copy takes one solution and renames every name, reorders its functions,
writes the literals another way and adds comments: what a student hiding a copy does.
"""

from __future__ import annotations

import ast
import random
import re

SIGMOIDS = [
    "def {sig}({z}):\n    return 1.0 / (1.0 + np.exp(-{z}))\n",
    "def {sig}({z}):\n    return 0.5 * (1 + np.tanh(0.5 * {z}))\n",
    "def {sig}({z}):\n    {e} = np.exp(-np.abs({z}))\n    return np.where({z} >= 0, 1 / (1 + {e}), {e} / (1 + {e}))\n",
]

FORWARDS = [
    "    {acts} = [{x}]\n    {zs} = []\n    for {W}, {b} in zip({ws}, {bs}):\n"
    "        {zs}.append({acts}[-1] @ {W} + {b})\n        {acts}.append({sig}({zs}[-1]))\n",
    "    {acts} = [{x}]\n    {zs} = []\n    {i} = 0\n    while {i} < len({ws}):\n"
    "        {z} = np.dot({acts}[{i}], {ws}[{i}]) + {bs}[{i}]\n        {zs}.append({z})\n"
    "        {acts}.append({sig}({z}))\n        {i} += 1\n",
    "    {zs} = [None] * len({ws})\n    {acts} = [None] * (len({ws}) + 1)\n    {acts}[0] = {x}\n"
    "    for {i} in range(len({ws})):\n        {zs}[{i}] = np.matmul({acts}[{i}], {ws}[{i}]) + {bs}[{i}][None, :]\n"
    "        {acts}[{i} + 1] = {sig}({zs}[{i}])\n",
]

BACKWARDS = [
    "    {m} = {x}.shape[0]\n    {d} = ({acts}[-1] - {y}) * {acts}[-1] * (1 - {acts}[-1]) / {m}\n"
    "    {gw} = [None] * len({ws})\n    {gb} = [None] * len({bs})\n"
    "    for {l} in range(len({ws}) - 1, -1, -1):\n        {gw}[{l}] = {acts}[{l}].T @ {d}\n"
    "        {gb}[{l}] = {d}.sum(axis=0)\n        if {l} > 0:\n"
    "            {d} = ({d} @ {ws}[{l}].T) * {acts}[{l}] * (1 - {acts}[{l}])\n    return {gw}, {gb}\n",
    "    {d} = ({acts}[-1] - {y}) * {sig}({zs}[-1]) * (1 - {sig}({zs}[-1])) / len({x})\n"
    "    {gw}, {gb} = [], []\n    for {l} in reversed(range(len({ws}))):\n"
    "        {gw}.insert(0, np.dot({acts}[{l}].T, {d}))\n        {gb}.insert(0, np.sum({d}, axis=0))\n"
    "        {d} = np.dot({d}, {ws}[{l}].T) * {acts}[{l}] * (1.0 - {acts}[{l}])\n    return {gw}, {gb}\n",
    "    {m} = float(len({y}))\n    {e} = {acts}[-1] - {y}\n    {gw}, {gb} = [], []\n"
    "    for {l} in range(len({ws}), 0, -1):\n        {s} = {acts}[{l}] * (1 - {acts}[{l}])\n"
    "        {d} = {e} * {s}\n        {gw}.append({acts}[{l} - 1].T.dot({d}) / {m})\n"
    "        {gb}.append({d}.mean(axis=0))\n        {e} = {d}.dot({ws}[{l} - 1].T)\n"
    "    {gw}.reverse()\n    {gb}.reverse()\n    return {gw}, {gb}\n",
    "    {n} = {x}.shape[0]\n    {d} = np.multiply({acts}[-1] - {y}, {acts}[-1] - {acts}[-1] ** 2)\n"
    "    {gw} = []\n    {gb} = []\n    for {W}, {a}, {l} in zip({ws}[::-1], {acts}[-2::-1], range(len({ws}))):\n"
    "        {gw} = [np.einsum('ni,nj->ij', {a}, {d}) / {n}] + {gw}\n"
    "        {gb} = [np.einsum('nj->j', {d}) / {n}] + {gb}\n        {d} = ({d} @ {W}.T) * {a} * (1 - {a})\n"
    "    return {gw}, {gb}\n",
]

NAMES = ["sig", "z", "e", "acts", "zs", "x", "y", "ws", "bs", "W", "b", "i", "m", "d", "gw", "gb", "l", "s", "n", "a",
         "fn", "fwd"]
WORDS = ["alpha", "beta", "gamma", "delta_", "eps", "zeta", "theta", "kappa", "lam", "mu", "nu", "xi", "rho", "tau",
         "phi", "chi", "psi", "omega", "val", "tmp", "res", "out", "cur", "nxt", "buf", "acc", "grad", "err", "layer",
         "node", "unit", "step", "idx", "pos", "inp", "tgt", "mat", "vec", "cache", "store"]


def _names(rng: random.Random) -> dict[str, str]:
    """One author's names for every role (the public ones, ``backprop`` and numpy, stay)."""
    picks = rng.sample(WORDS, len(NAMES))
    return {k: f"{v}{rng.randrange(10) if rng.random() < 0.5 else ''}" for k, v in zip(NAMES, picks)}


def solution(style: tuple[int, int, int], rng: random.Random) -> str:
    """One author's solution in ``style`` (sigmoid, forward, backward), with a forward helper for half of them."""
    s, f, b = style
    n = _names(rng)
    head = f"def backprop({n['ws']}, {n['bs']}, {n['x']}, {n['y']}):\n"
    if rng.random() < 0.5:  # the forward pass in its own function
        fwd = f"def {n['fwd']}({n['ws']}, {n['bs']}, {n['x']}):\n" + FORWARDS[f].format(**n) + f"    return {n['acts']}, {n['zs']}\n"
        body = head + f"    {n['acts']}, {n['zs']} = {n['fwd']}({n['ws']}, {n['bs']}, {n['x']})\n" + BACKWARDS[b].format(**n)
        parts = [SIGMOIDS[s].format(**n), fwd, body]
    else:
        parts = [SIGMOIDS[s].format(**n), head + FORWARDS[f].format(**n) + BACKWARDS[b].format(**n)]
    return "import numpy as np\n\n\n" + "\n\n".join(parts)


def disguise(source: str, rng: random.Random) -> str:
    """A planted copy: every name renamed, the functions reordered, literals rewritten, comments added; half of its
    longer functions get a line of their own."""
    tree = ast.parse(source)
    names = {getattr(node, "id", None) or getattr(node, "arg", None) or getattr(node, "name", None)
             for node in ast.walk(tree) if isinstance(node, (ast.Name, ast.arg, ast.FunctionDef))}
    names -= {"backprop", "np", "zip", "len", "range", "reversed", "float", "None"}
    new = {w: f"q_{w[::-1]}{rng.randrange(100)}" for w in names}
    # identifiers outside string literals only (an einsum's subscripts are not names)
    renamed = re.sub(r"'[^']*'|\b[A-Za-z_][A-Za-z0-9_]*\b", lambda m: new.get(m.group(), m.group()), source)
    renamed = re.sub(r"\b1\.0\b", "1.", renamed)
    head, *defs = re.split(r"\n(?=def )", renamed)
    rng.shuffle(defs)
    commented = []
    for d in defs:
        lines = d.splitlines()
        if rng.random() < 0.5 and len(lines) > 6:  # a line of its own in the middle: equal up to names no more
            at = len(lines) // 2
            lines.insert(at, re.match(r"\s*", lines[at]).group() + 'checked = True')
        lines.insert(1, f'    """{rng.choice(["Compute it.", "My own work.", "See lecture 4."])}"""')
        commented.append("\n".join(f"{ln}  # step {k}" if ln.strip() and k % 3 == 0 else ln for k, ln in enumerate(lines)))
    return "# homework 3\n" + head + "\n\n# ---\n" + "\n\n".join(commented) + "\n"


#: Every style; and the 12 whose forward and backward passes both differ pairwise (the sigmoid cycled).
ALL_STYLES = [(s, f, b) for s in range(3) for f in range(3) for b in range(4)]
DISTINCT_PASSES = [(k % 3, f, b) for k, (f, b) in enumerate((f, b) for f in range(3) for b in range(4))]


def make_class(n_authors: int, n_copied: int, copies_each: int, seed: int = 0,
               styles: list[tuple[int, int, int]] = ALL_STYLES) -> tuple[list[str], list[int]]:
    """Sources and, for each, the author it comes from: ``n_authors`` independent solutions (``styles`` cycled,
    names drawn), the first ``n_copied`` of them copied ``copies_each`` times in disguise."""
    rng = random.Random(seed)
    sources, author = [], []
    for i in range(n_authors):
        sources.append(solution(styles[i % len(styles)], rng))
        author.append(i)
    for i in range(n_copied):
        for _ in range(copies_each):
            sources.append(disguise(sources[i], rng))
            author.append(i)
    return sources, author
