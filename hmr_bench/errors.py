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


def require_shape(x, shape: tuple, source: str, field: str, meaning: str = "") -> None:
    """Raises `InputError` unless tensor `x` has exactly `shape` (None = any size there), e.g. (B, M, None, 3)."""
    found = tuple(getattr(x, "shape", ()))
    if len(found) != len(shape) or any(s is not None and s != f for s, f in zip(shape, found)):
        want = ", ".join("*" if s is None else str(s) for s in shape)
        raise InputError(source, field, found=f"shape {found}", expected=f"shape ({want}) {meaning}".rstrip())


def check_variant(variant: str, valid: tuple[str, ...], source: str, field: str = "variant") -> None:
    """Raises `InputError` listing the valid choices unless `variant` is one of them."""
    if variant not in valid:
        raise InputError(source, field, found=repr(variant), expected="one of " + ", ".join(map(repr, valid)))


class NonFiniteLossError(HmrBenchError, FloatingPointError):
    """A loss term is NaN or ±Inf; the message names every such term. The trainer stops the run with it.

    terms: name → tensor (or float); only the non-finite ones are reported (`names`).
    """

    def __init__(self, terms: dict, detail: str | None = None):
        self.names = [k for k, v in terms.items() if not _finite(v)]
        parts = [f"{k} = {_describe(terms[k])}" for k in self.names]
        msg = "non-finite loss term(s): " + "; ".join(parts)
        super().__init__(msg + (f" ({detail})" if detail else ""))


class StoreError(HmrBenchError, RuntimeError):
    """The results database failed during an operation (still locked after every retry, disk full, connection
    lost)."""


class RunConflictError(StoreError):
    """A run cannot start or change state: its config is finished or held by a live worker, or it was taken over
    (raised by the store, and by the trainer when a heartbeat finds its run taken over)."""


def _finite(v) -> bool:
    import torch

    return bool(torch.isfinite(torch.as_tensor(v)).all())


def _describe(v) -> str:
    import torch

    t = torch.as_tensor(v).detach()
    if t.numel() == 1:
        return str(t.item())
    return f"{int(torch.isnan(t).sum())} NaN and {int(torch.isinf(t).sum())} Inf of {t.numel()} values"
