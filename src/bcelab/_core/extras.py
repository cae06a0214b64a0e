"""Which extra installs each optional package, and the error that names it.

A base ``pip install bcelab`` brings NumPy only; training needs torch (``bcelab[train]``),
file evaluation pyarrow (``bcelab[eval]``), and so on.  A public function that reaches
a package that is not installed raises :class:`~bcelab.errors.MissingDependencyError`
naming the function and the ``pip install`` line, not Python's bare
``ModuleNotFoundError``: :func:`needs_extras` wraps such a function,
:func:`missing_dependency` turns one error (the command line uses it too).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from ..errors import MissingDependencyError

__all__ = ["EXTRAS", "TRAINING", "missing_dependency", "needs_extras"]

#: top-level package -> the extra that installs it
EXTRAS = {
    "pyarrow": "eval",
    "matplotlib": "eval",
    "rich": "eval",
    "torch": "train",
    "sklearn": "train",
    "numba": "fast",
    "llvmlite": "fast",
    "dask": "dask",
    "distributed": "dask",
    "jax": "jax",
    "keras": "keras",
}

#: training's figures and progress bar come with ``bcelab[train]``
TRAINING = {"matplotlib": "train", "rich": "train"}

F = TypeVar("F", bound=Callable[..., Any])


def missing_dependency(
    err: ImportError, what: str, extras: Mapping[str, str] | None = None
) -> MissingDependencyError | None:
    """The error for ``what`` when ``err`` is a missing optional package, else None.

    ``extras`` overrides :data:`EXTRAS` for some packages (training's figures come with
    ``bcelab[train]``, not ``bcelab[eval]``).
    """
    if isinstance(err, MissingDependencyError):
        return err
    name = (getattr(err, "name", None) or "").split(".")[0]
    extra = (extras or {}).get(name) or EXTRAS.get(name)
    if not name or name == "bcelab" or extra is None:
        return None
    return MissingDependencyError(
        f"{name} for {what}", f"{name} is not installed", f"pip install 'bcelab[{extra}]'"
    )


def needs_extras(what: str, extras: Mapping[str, str] | None = None) -> Callable[[F], F]:
    """Decorate a public function: a missing optional package it imports becomes a
    :class:`~bcelab.errors.MissingDependencyError` naming ``what`` and the extra."""

    def wrap(fn: F) -> F:
        @functools.wraps(fn)
        def call(*args: Any, **kwargs: Any) -> Any:
            try:
                return fn(*args, **kwargs)
            except ImportError as e:
                clear = missing_dependency(e, what, extras)
                if clear is None:
                    raise
                raise clear from None

        return call  # type: ignore[return-value]

    return wrap
