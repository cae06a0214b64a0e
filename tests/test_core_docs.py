"""Every public core function documents its formula and carries a doctest (issue 2, Docs)."""

from __future__ import annotations

import inspect

import pytest

import bcelab

FUNCTIONS = [
    name
    for name in bcelab.__all__
    if inspect.isfunction(getattr(bcelab, name, None)) and name != "evaluate"
]


@pytest.mark.parametrize("name", FUNCTIONS)
def test_docstring_has_formula_and_doctest(name: str) -> None:
    doc = inspect.getdoc(getattr(bcelab, name)) or ""
    assert ".. math::" in doc or ":math:" in doc, name
    assert ">>> " in doc, name


@pytest.mark.parametrize("name", FUNCTIONS)
def test_data_positional_options_keyword_only(name: str) -> None:
    sig = inspect.signature(getattr(bcelab, name))
    kinds = [p.kind for p in sig.parameters.values()]
    assert inspect.Parameter.POSITIONAL_OR_KEYWORD not in kinds, name
    assert kinds[0] == inspect.Parameter.POSITIONAL_ONLY, name
