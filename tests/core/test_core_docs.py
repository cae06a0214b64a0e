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


DATA_NAMES = {"preds", "logits", "targets", "values"}


@pytest.mark.parametrize("name", FUNCTIONS)
def test_prediction_first_target_second_options_keyword_only(name: str) -> None:
    """The one argument order: prediction, then target; both may be passed by keyword."""
    params = list(inspect.signature(getattr(bcelab, name)).parameters.values())
    data = [p for p in params if p.kind is inspect.Parameter.POSITIONAL_OR_KEYWORD]
    assert data and {p.name for p in data} <= DATA_NAMES, name
    if len(data) == 2:
        assert data[0].name in ("preds", "logits") and data[1].name == "targets", name
    rest = params[len(data) :]
    assert all(p.kind is inspect.Parameter.KEYWORD_ONLY for p in rest), name
