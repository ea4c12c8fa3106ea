"""A named registry of builders (after fvcore's `Registry`): backbones, fusions, heads, losses, variants.

    BACKBONES = Registry("backbone")

    @BACKBONES.register("resnet50")
    def resnet50(**kw): ...

    BACKBONES.build("resnet50", pretrained=None)

A duplicate name is an error; an unknown name raises a `KeyError` that names the registry, lists what it
holds and suggests the nearest name.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterator
from typing import Any


class UnknownNameError(KeyError):
    """An unknown registry entry. str() is the full message (KeyError would quote it)."""

    def __str__(self) -> str:
        return str(self.args[0])


class Registry:
    def __init__(self, kind: str):
        self.kind = kind
        self._items: dict[str, Callable[..., Any]] = {}

    def register(self, name: str | None = None) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        def deco(obj: Callable[..., Any]) -> Callable[..., Any]:
            key = name or obj.__name__
            if key in self._items:
                raise ValueError(f"{self.kind} registry: '{key}' is already registered ({self._items[key]!r})")
            self._items[key] = obj
            return obj

        return deco

    def get(self, name: str) -> Callable[..., Any]:
        if name not in self._items:
            near = difflib.get_close_matches(name, self._items, n=1)
            hint = f"; did you mean '{near[0]}'?" if near else ""
            raise UnknownNameError(
                f"unknown {self.kind} '{name}': registered {self.kind}s are {', '.join(sorted(self._items))}{hint}")
        return self._items[name]

    def build(self, name: str, /, **kwargs: Any) -> Any:
        return self.get(name)(**kwargs)

    def names(self) -> list[str]:
        return sorted(self._items)

    def __contains__(self, name: object) -> bool:
        return name in self._items

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __len__(self) -> int:
        return len(self._items)
