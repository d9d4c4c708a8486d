"""Named inputs: an array, a list or a dict of arrays (nested lists and dicts too), as flat named leaves.

    tree, leaves = flatten({"W": W, "b": b})          # leaves: [Leaf("W", W), Leaf("b", b)]
    f(**tree.rebuild([W2, b2]))                        # the caller's structure, new values
    grads = tree.match(backward_result, "backward")    # the returned gradients, one per leaf, checked

Leaves are named the way the caller would write them (``W``, ``coefs[0]``, ``layer.W``) so a
message can say ``coefs[1][3, 0]`` instead of ``theta[35]``.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import Any, Callable, Iterator, Optional, Sequence

import numpy as np

from .calls import CheckError


@dataclass
class Leaf:
    name: str
    value: np.ndarray  # a private copy in the caller's float dtype


@dataclass
class Tree:
    """The shape of a structure: ``kind`` is "array", "list", "tuple" or "dict"; ``children`` (key, Tree) for containers."""

    kind: str
    children: list[tuple[Any, "Tree"]]
    name: str

    def rebuild(self, values: Sequence[Any]) -> Any:
        it = iter(values)
        out = self._rebuild(it)
        return out

    def _rebuild(self, it: Iterator[Any]) -> Any:
        if self.kind == "array":
            return next(it)
        items = [(k, t._rebuild(it)) for k, t in self.children]
        if self.kind == "dict":
            return dict(items)
        return [v for _, v in items] if self.kind == "list" else tuple(v for _, v in items)

    def names(self) -> list[str]:
        if self.kind == "array":
            return [self.name]
        return [n for _, t in self.children for n in t.names()]

    def match(self, value: Any, what: str, shapes: Sequence[tuple[int, ...]],
              notes: Optional[list[str]] = None) -> list[np.ndarray]:
        """``value`` (gradients returned by ``what``) as one array per leaf, in leaf order, each of its leaf's shape.

        A dict may come back as a dict (by name) or a tuple/list (in order); a single input may come back bare.
        A gradient that differs from its input's shape only by axes of length 1 (dgamma (1, D) for gamma (D,),
        summed with keepdims=True) is the same gradient: it is reshaped, and the difference told in ``notes``.
        """
        out: list[np.ndarray] = []
        self._match(value, what, out)
        for k, (arr, name, shape) in enumerate(zip(out, self.names(), shapes)):
            if arr.shape != tuple(shape) and _without_unit_axes(arr.shape) == _without_unit_axes(shape):
                out[k] = arr.reshape(shape)
                if notes is not None:
                    notes.append(f"note: {what} returned the gradient for {name} with shape {arr.shape}, the shape of "
                                 f"{name} {tuple(shape)} with axes of length 1 kept; compared as that gradient")
                continue
            if arr.shape != tuple(shape):
                hint = ""
                if arr.shape == tuple(shape)[::-1] and len(shape) == 2:
                    hint = " (its transpose: the gradient is transposed)"
                elif arr.size == int(np.prod(shape)):
                    hint = " (same number of elements: reshape it to the input's shape)"
                raise CheckError(f"{what} returned a gradient for {name} of shape {arr.shape}; expected {tuple(shape)}, "
                                 f"the shape of {name}{hint}")
        return out

    def _match(self, value: Any, what: str, out: list[np.ndarray]) -> None:
        if self.kind == "array":
            if isinstance(value, tuple) and len(value) == 1:
                value = value[0]  # (dx,) for a single input
            out.append(_gradient_array(value, self.name, what))
            return
        keys = [k for k, _ in self.children]
        if len(self.children) == 1 and isinstance(value, dict) and set(value) != set(keys) and self.children[0][1].kind == "dict":
            self.children[0][1]._match(value, what, out)  # f(params=...) with params' gradient returned as is
            return
        if self.kind == "dict" and isinstance(value, dict):
            missing = [k for k in keys if k not in value]
            extra = [k for k in value if k not in keys]
            if missing or extra:
                raise CheckError(f"{what} returned gradients keyed {list(value)}; expected the inputs' keys {keys}"
                                 + (f" (missing {missing})" if missing else "") + (f" (unexpected {extra})" if extra else ""))
            for k, t in self.children:
                t._match(value[k], what, out)
            return
        if len(self.children) == 1 and not isinstance(value, (tuple, list, dict)):
            self.children[0][1]._match(value, what, out)  # one input, its gradient returned bare
            return
        if not isinstance(value, (tuple, list)):
            raise CheckError(f"{what} returned {type(value).__name__}; expected one gradient per input "
                             f"({', '.join(self.names()) if self.kind != 'array' else self.name}), as a tuple in order"
                             + (" or a dict by name" if self.kind == "dict" else ""))
        if len(value) != len(self.children):
            raise CheckError(f"{what} returned {len(value)} gradients; expected {len(self.children)}, one per input "
                             f"({', '.join(_short(t) for _, t in self.children)})")
        for (_, t), v in zip(self.children, value):
            t._match(v, what, out)


def _without_unit_axes(shape: Sequence[int]) -> tuple[int, ...]:
    return tuple(int(n) for n in shape if n != 1)


def _short(t: Tree) -> str:
    return t.name


def _gradient_array(value: Any, name: str, what: str) -> np.ndarray:
    if value is None:
        raise CheckError(f"{what} returned None as the gradient for {name}")
    try:
        arr = np.array(value, copy=True, subok=False)
    except Exception as e:  # ragged lists and other things numpy cannot take
        raise CheckError(f"{what} returned a gradient for {name} that is not an array: {type(value).__name__} ({e})") from e
    if arr.dtype.kind not in "fiu":
        raise CheckError(f"{what} returned a gradient for {name} of dtype {arr.dtype}; expected real floating-point numbers")
    return arr


def _input_array(value: Any, name: str) -> np.ndarray:
    arr = np.array(value, copy=True, subok=False)
    if arr.dtype.kind in "iub":
        raise CheckError(f"input {name} has dtype {arr.dtype}: only floating-point inputs can be differentiated; "
                         "pass labels, indices and other fixed arguments in static=")
    if arr.dtype.kind != "f":
        raise CheckError(f"input {name} has dtype {arr.dtype}; expected a real floating-point array")
    bad = ~np.isfinite(arr)
    if bad.any():
        k = tuple(int(i) for i in np.argwhere(bad)[0])
        raise CheckError(f"input {name} has {int(bad.sum())} non-finite elements (first: {element(name, k)} = {arr[k]})")
    return arr


def element(name: str, index: tuple[int, ...]) -> str:
    """``W[3, 1]`` (``W`` for a scalar)."""
    return f"{name}[{', '.join(str(i) for i in index)}]" if index else name


def element_at(name: str, flat: int, shape: tuple[int, ...]) -> str:
    """The element at flat index ``flat`` of an array of ``shape``, as ``element`` names it."""
    return element(name, tuple(int(j) for j in np.unravel_index(flat, shape)))


def _tree(value: Any, name: str, leaves: list[Leaf]) -> Tree:
    if isinstance(value, dict):
        children = []
        for k, v in value.items():
            if not isinstance(k, str):
                raise CheckError(f"{name}: dict keys must be strings (they name the inputs), got {k!r}")
            children.append((k, _tree(v, f"{name}.{k}" if name else k, leaves)))
        return Tree("dict", children, name)
    if isinstance(value, (list, tuple)):
        kind = "list" if isinstance(value, list) else "tuple"
        return Tree(kind, [(i, _tree(v, f"{name}[{i}]", leaves)) for i, v in enumerate(value)], name)
    leaves.append(Leaf(name, _input_array(value, name)))
    return Tree("array", [], name)


def positional_names(fn: Callable, count: int) -> Optional[list[str]]:
    """The names of ``fn``'s first ``count`` positional parameters, if it has that many."""
    try:
        params = list(inspect.signature(fn).parameters.values())
    except (TypeError, ValueError):
        return None
    names = [p.name for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    return names[:count] if len(names) >= count else None


def flatten(inputs: Any, fn: Optional[Callable] = None) -> tuple[Tree, list[Leaf]]:
    """The structure of ``inputs`` and its leaves, copied; a top-level array or list is named after ``fn``'s parameters."""
    leaves: list[Leaf] = []
    if isinstance(inputs, dict):
        if not inputs:
            raise CheckError("inputs: an empty dict; give at least one array to differentiate")
        tree = _tree(inputs, "", leaves)
    elif isinstance(inputs, (list, tuple)):
        if not inputs:
            raise CheckError("inputs: an empty list; give at least one array to differentiate")
        names = (fn and positional_names(fn, len(inputs))) or [f"inputs[{i}]" for i in range(len(inputs))]
        children = [(i, _tree(v, names[i], leaves)) for i, v in enumerate(inputs)]
        tree = Tree("list" if isinstance(inputs, list) else "tuple", children, "inputs")
    else:
        names = (fn and positional_names(fn, 1)) or ["x"]
        tree = _tree(inputs, names[0], leaves)
    return tree, leaves


def arguments(tree: Tree, values: Sequence[Any], static: Any) -> tuple[list[Any], dict[str, Any]]:
    """(args, kwargs) for calling a function the way its inputs were given: f(x, ...), f(*list, ...) or f(**dict, ...).

    Static arguments go by keyword (a dict) or after the inputs by position (a tuple, as scipy's ``args``).
    """
    structured = tree.rebuild(values)
    args: list[Any] = []
    kwargs: dict[str, Any] = {}
    if tree.kind == "dict":
        kwargs.update(structured)
    elif tree.kind in ("list", "tuple") and tree.name == "inputs":
        args.extend(structured)
    else:
        args.append(structured)
    if isinstance(static, dict):
        clash = [k for k in static if k in kwargs]
        if clash:
            raise CheckError(f"static: {clash} also named in inputs; a name is either differentiated or fixed")
        kwargs.update(static)
    elif isinstance(static, (tuple, list)):
        args.extend(static)
    return args, kwargs


def call_with(fn: Callable, tree: Tree, values: Sequence[Any], static: Any) -> Any:
    """``fn`` called with ``arguments(tree, values, static)``."""
    args, kwargs = arguments(tree, values, static)
    return fn(*args, **kwargs)


def static_arrays(static: Any) -> list[np.ndarray]:
    """The arrays among the static arguments (their axis lengths enter the rounding depth)."""
    if isinstance(static, dict):
        return [a for v in static.values() for a in static_arrays(v)]
    if isinstance(static, (list, tuple)):
        return [a for v in static for a in static_arrays(v)]
    return [static] if isinstance(static, np.ndarray) else []
