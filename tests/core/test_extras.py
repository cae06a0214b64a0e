"""A missing optional package names the extra that installs it, in Python as on the
command line (``bcelab._core.extras``)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from bcelab._core.extras import TRAINING, missing_dependency, needs_extras
from bcelab.errors import MissingDependencyError


def _missing(name: str) -> ModuleNotFoundError:
    return ModuleNotFoundError(f"No module named {name!r}", name=name)


def test_a_missing_package_names_its_extra() -> None:
    err = missing_dependency(_missing("pyarrow.parquet"), "bcelab.evaluate")
    assert isinstance(err, MissingDependencyError) and isinstance(err, ImportError)
    assert str(err) == (
        "pyarrow for bcelab.evaluate; pyarrow is not installed. pip install 'bcelab[eval]'"
    )
    # training's figures come with bcelab[train]
    err = missing_dependency(_missing("matplotlib"), "History.plot", TRAINING)
    assert err is not None and str(err).endswith("pip install 'bcelab[train]'")
    # not an optional package of ours (or bcelab itself): left alone
    assert missing_dependency(_missing("somethingelse"), "x") is None
    assert missing_dependency(_missing("bcelab.nope"), "x") is None


def test_a_decorated_function_raises_the_named_error() -> None:
    @needs_extras("my_function")
    def needs_torch() -> None:
        raise _missing("torch")

    @needs_extras("my_function")
    def other_import_error() -> None:
        raise _missing("not_ours")

    with pytest.raises(MissingDependencyError, match=r"torch for my_function.*bcelab\[train\]"):
        needs_torch()
    with pytest.raises(ModuleNotFoundError, match="not_ours") as info:
        other_import_error()
    assert not isinstance(info.value, MissingDependencyError)


BLOCK = """
import importlib.abc, sys
class NotInstalled(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name.split(".")[0] in {blocked!r}:
            raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)
sys.meta_path.insert(0, NotInstalled())
try:
    {statement}
except Exception as e:
    print(type(e).__name__, "|", e)
"""


@pytest.mark.parametrize(
    ("blocked", "statement", "expected"),
    [
        (
            ["torch"],
            "import bcelab.torch",
            "torch for bcelab.torch; torch is not installed. pip install 'bcelab[train]'",
        ),
        (
            ["jax"],
            "import bcelab.jax",
            "jax for bcelab.jax; jax is not installed. pip install 'bcelab[jax]'",
        ),
        (
            ["torch"],
            "import bcelab.train as t; t.fit(None, t.builtin('circles'))",
            "torch for bcelab.train.fit; torch is not installed. pip install 'bcelab[train]'",
        ),
    ],
)
def test_without_the_package_the_python_api_names_the_extra(
    blocked: list[str], statement: str, expected: str
) -> None:
    code = BLOCK.format(blocked=set(blocked), statement=statement)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env=env
    )
    assert out.stdout.strip() == f"MissingDependencyError | {expected}", out.stdout + out.stderr
