"""Every public function of the library, called with arguments of the wrong kind.

The library's own errors (``BCELabError``: expected, received, fix) are the only ones
a caller may see: never a ``TypeError``, ``AttributeError`` or ``ValueError`` from
inside NumPy, pathlib or json.  Each required argument gets the same wrong value; the
functions that train stop at their checks, before any work.
"""

from __future__ import annotations

import importlib.util
import inspect
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import bcelab
import bcelab.evaluation
import bcelab.metrics

pytest.importorskip("torch")
pytest.importorskip("pyarrow")
import bcelab.torch
import bcelab.train

MODULES: tuple[Any, ...] = (bcelab, bcelab.metrics, bcelab.train, bcelab.evaluation, bcelab.torch)
if importlib.util.find_spec("jax") is not None:
    import bcelab.jax

    MODULES += (bcelab.jax,)
WRONG: tuple[Any, ...] = (
    5,
    None,
    object(),
    "no_such_file_anywhere.csv",
    b"\x00",
    [1, "a"],
    {"a": 1},
    np.array([["a"]]),
)


def _functions() -> list[tuple[str, Callable[..., Any]]]:
    found = []
    for module in MODULES:
        for name in module.__all__:
            obj = getattr(module, name)
            if callable(obj) and not isinstance(obj, type):
                found.append((f"{module.__name__}.{name}", obj))
    return found


@pytest.mark.parametrize(
    ("name", "fn"), _functions(), ids=lambda v: v if isinstance(v, str) else ""
)
def test_wrong_kinds_of_arguments_get_the_librarys_errors(
    name: str, fn: Callable[..., Any], tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # a function that writes would write here
    sig = inspect.signature(fn)
    positional = [
        p
        for p in sig.parameters.values()
        if p.default is inspect.Parameter.empty
        and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
    ]
    keywords = [
        p.name
        for p in sig.parameters.values()
        if p.default is inspect.Parameter.empty and p.kind == p.KEYWORD_ONLY
    ]
    for value in WRONG:
        try:
            fn(*[value] * len(positional), **dict.fromkeys(keywords, value))
        except bcelab.BCELabError:
            pass
    assert not list(tmp_path.iterdir()), name  # and nothing was written


def _objects() -> dict[str, Any]:
    """One object of each public class that has methods taking arguments."""
    from bcelab import metrics, train

    p = np.array([0.2, 0.7, 0.4, 0.9, 0.6, 0.3])
    y = np.array([0.0, 1.0, 0.0, 1.0, 0.0, 1.0])
    stats = metrics.BinaryStats().update(p, y)
    return {
        "BinaryStats": stats,
        "PairedBootstrapStats": metrics.PairedBootstrapStats().update(p, p[::-1], y),
        "ScalingStats": metrics.ScalingStats(),
        "ScalingFitter": metrics.ScalingFitter("platt"),
        "PlattMap": metrics.fit_platt(p, y),
        "TemperatureMap": metrics.fit_temperature(p, y),
        "IsotonicMap": metrics.fit_isotonic(stats),
        "History": train.History(seeds=[0], metrics={"train_loss": np.array([[0.7, 0.6]])}),
        "MLPSpec": train.MLPSpec(),
    }


@pytest.mark.parametrize("cls", sorted(_objects()))
def test_methods_given_wrong_kinds_of_arguments_get_the_librarys_errors(
    cls: str, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # the methods that write a file take the text as a path
    for name, method in inspect.getmembers(_objects()[cls], callable):
        if name.startswith("_"):
            continue
        params = inspect.signature(method).parameters.values()
        required = [p for p in params if p.default is inspect.Parameter.empty]
        positional = [p for p in required if p.kind != p.KEYWORD_ONLY]
        keywords = [p.name for p in required if p.kind == p.KEYWORD_ONLY]
        if not required:
            continue
        for value in WRONG:
            fresh = getattr(_objects()[cls], name)  # a failed call may not spoil the next
            try:
                fresh(*[value] * len(positional), **dict.fromkeys(keywords, value))
            except bcelab.BCELabError:
                pass
            except IsADirectoryError as e:  # the text taken as a path, where a method that
                # writes a folder (History.save) put one: the path, and no temporary file
                assert e.filename == "no_such_file_anywhere.csv", e
