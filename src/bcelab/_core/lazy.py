"""Names of a package that load on first use (start-up time), for a module ``__getattr__``."""

from __future__ import annotations

import importlib
from collections.abc import Callable

__all__ = ["lazy_getattr"]


def lazy_getattr(package: str, table: dict[str, str]) -> Callable[[str], object]:
    """A module ``__getattr__`` for ``package`` that imports ``table[name]`` (a module
    relative to ``package``) on first use of ``name``, keeps the value in the package's
    namespace and raises :class:`AttributeError` for other names."""

    def __getattr__(name: str) -> object:
        if name in table:
            value = getattr(importlib.import_module(table[name], package), name)
            setattr(importlib.import_module(package), name, value)
            return value
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    return __getattr__
