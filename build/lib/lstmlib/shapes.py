"""Input checks shared by the NumPy and PyTorch code paths.

A wrong shape is the most common mistake with recurrent networks, and the error
NumPy or PyTorch raises deep inside a matrix product ("shapes (3,4) and (5,4) not
aligned") does not say which argument was wrong. These checks do: every message
names the argument, the expected shape (with the symbols of the docstrings, such
as ``(T, B, I)``) and the shape received.
"""

from __future__ import annotations

from collections.abc import Sequence

Dim = int | str | None


class ShapeError(ValueError):
    """An argument has the wrong shape. The message names expected and received."""


def _describe(expected: Sequence[Dim], symbols: dict[str, int]) -> str:
    parts = []
    for dim in expected:
        if isinstance(dim, str):
            parts.append(f"{dim}={symbols[dim]}" if dim in symbols else dim)
        elif dim is None:
            parts.append("*")
        else:
            parts.append(str(dim))
    return "(" + ", ".join(parts) + ")"


def check_shape(name: str, array, expected: Sequence[Dim], symbols: dict[str, int] | None = None):
    """Check that ``array.shape`` matches ``expected`` and bind symbolic sizes.

    ``expected`` mixes integers (that exact size), strings (a symbol such as
    ``"B"``: the first array that uses it fixes its value in ``symbols``, later
    arrays must agree) and ``None`` (any size). ``symbols`` is updated in place,
    so one dict threads through all arguments of a function call.

    Raises ``ShapeError`` naming the argument, the expected and the received shape.
    """
    if symbols is None:
        symbols = {}
    shape = tuple(getattr(array, "shape", ()))
    if not hasattr(array, "shape"):
        raise TypeError(f"{name} must be an array or tensor, got {type(array).__name__}")
    if len(shape) != len(expected):
        raise ShapeError(
            f"{name} must have {len(expected)} dimensions {_describe(expected, symbols)}, "
            f"got shape {shape}"
        )
    pending = dict(symbols)
    for dim, size in zip(expected, shape, strict=True):
        if isinstance(dim, str):
            if dim in pending and pending[dim] != size:
                source = "from an earlier argument" if dim in symbols else "earlier in this shape"
                raise ShapeError(
                    f"{name} must have shape {_describe(expected, pending)}, got {shape} "
                    f"({dim} is {pending[dim]} {source}, here {size})"
                )
            pending[dim] = size
        elif dim is not None and dim != size:
            raise ShapeError(f"{name} must have shape {_describe(expected, pending)}, got {shape}")
    symbols.update(pending)
    return symbols


def check_float(name: str, array):
    """Check that ``array`` holds floating-point numbers (NumPy or PyTorch)."""
    dtype = getattr(array, "dtype", None)
    is_float = getattr(dtype, "is_floating_point", None)  # torch.dtype
    if is_float is None:
        is_float = getattr(dtype, "kind", "") == "f"  # numpy.dtype
    if not is_float:
        raise TypeError(f"{name} must be a floating-point array, got dtype {dtype}")


def check_labels(labels, n: int, what: str = "sequence"):
    """``labels`` as an int64 tensor ``(N,)``, one class id per ``what``; else a ShapeError."""
    import numpy as np  # here, so that the shape checks themselves import nothing
    import torch

    labels = torch.as_tensor(np.asarray(labels), dtype=torch.long)
    if labels.shape != (n,):
        raise ShapeError(
            f"labels must have shape (N,) with N={n} (one per {what}), got {tuple(labels.shape)}"
        )
    return labels
