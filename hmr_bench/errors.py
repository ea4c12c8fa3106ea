"""Errors that hmr-bench raises for bad input.

Every message names the file (or source), the field, the value found and what was expected, so a user can
fix the input without reading a traceback.
"""

from __future__ import annotations


class HmrBenchError(Exception):
    """Base class of the errors hmr-bench raises on purpose."""


class InputError(HmrBenchError, ValueError):
    """Bad input: a file, field or argument that does not hold what is expected.

    Built from its parts so that every message has the same form::

        InputError("model.npz", "shapedirs", found="shape (10, 3)", expected="shape (V, 3, K) with V = 6890")
    """

    def __init__(self, source: object, field: str | None = None, *, found: object = None,
                 expected: object = None, hint: str | None = None):
        self.source, self.field, self.found, self.expected, self.hint = source, field, found, expected, hint
        parts = [str(source)]
        if field is not None:
            parts.append(f"field '{field}'")
        msg = ": ".join(parts)
        if found is not None:
            msg += f": found {found}"
        if expected is not None:
            msg += f"; expected {expected}"
        if hint:
            msg += f". {hint}"
        super().__init__(msg)


def require_last_dims(x, dims: tuple[int, ...], source: str, field: str, meaning: str = "") -> None:
    """Raises `InputError` unless array/tensor `x` ends in the dimensions `dims`, e.g. (..., 3, 3)."""
    shape = tuple(x.shape)
    if len(shape) < len(dims) or shape[len(shape) - len(dims):] != tuple(dims):
        want = ", ".join(str(d) for d in dims)
        raise InputError(source, field, found=f"shape {shape}", expected=f"shape (..., {want}) {meaning}".rstrip())
