"""The README's Python examples run and print what it says; its runnable blocks run as written."""

from __future__ import annotations

import doctest
import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_readme_doctests() -> None:
    res = doctest.testfile(
        str(ROOT / "README.md"), module_relative=False, optionflags=doctest.NORMALIZE_WHITESPACE
    )
    assert res.attempted > 0
    assert res.failed == 0


def test_readme_quick_start_is_the_two_commands() -> None:
    text = (ROOT / "README.md").read_text()
    quick = text.split("## Quick start", 1)[1].split("##", 1)[0]
    assert "make demo" in quick and "make test" in quick


_RUNNABLE = re.compile(r"```python\n(# docs-test: (\w+)\n.*?)```", re.S)
_NEEDS = {"torch": ("torch",), "keras": ("keras", "jax"), "jax": ("jax",)}


def _runnable_blocks() -> list[tuple[str, str]]:
    return [(name, code) for code, name in _RUNNABLE.findall((ROOT / "README.md").read_text())]


def test_the_readme_marks_its_runnable_blocks() -> None:
    assert {name for name, _ in _runnable_blocks()} == set(_NEEDS)


@pytest.mark.slow
@pytest.mark.parametrize(("name", "code"), _runnable_blocks(), ids=lambda v: v[:5])
def test_runnable_blocks_run_as_written(tmp_path: Path, name: str, code: str) -> None:
    """Each block marked ``# docs-test:`` runs as a script in a fresh interpreter, with
    KERAS_BACKEND unset: a block that needs a backend chooses it itself."""
    for module in _NEEDS[name]:
        if importlib.util.find_spec(module) is None:
            pytest.skip(f"{module} is not installed")
    script = tmp_path / f"readme_{name}.py"
    script.write_text(code)
    env = {k: v for k, v in os.environ.items() if k != "KERAS_BACKEND"}
    env.update(PYTHONPATH=os.pathsep.join(sys.path), OMP_NUM_THREADS="1", MPLBACKEND="Agg")
    res = subprocess.run(
        [sys.executable, str(script)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert res.returncode == 0, res.stderr[-4000:]
