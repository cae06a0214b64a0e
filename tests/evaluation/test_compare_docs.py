"""The worked example of docs/which-model.md runs as written and prints what the page shows."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from bcelab.cli import main

pytest.importorskip("bcelab.kernels.bootstrap", reason="numba (bcelab[fast]) is missing")

ROOT = Path(__file__).resolve().parents[2]
SECTION = (ROOT / "docs" / "which-model.md").read_text().split("## Which model is better?", 1)[1]
README = (ROOT / "README.md").read_text().split("## Which model is better?", 1)[1].split("\n## ")[0]


def _blocks(lang: str) -> list[str]:
    return re.findall(rf"```{lang}\n(.*?)```", SECTION, flags=re.S)


def _no_time(text: str) -> str:
    return re.sub(r"; \d+\.\d\d s \(local\)", "; <time> (local)", text).strip()


def test_worked_example_output_is_the_documented_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    make, command = _blocks("bash")[0].strip().splitlines()
    monkeypatch.chdir(tmp_path)
    code = make.split('"', 2)[1]
    subprocess.run([sys.executable, "-c", code], check=True, cwd=tmp_path)
    assert command.startswith("bcelab compare ")
    assert main(command.split()[1:]) == 0
    printed = capsys.readouterr().out
    shown = _blocks("text")
    assert _no_time(printed) == _no_time(shown[0])
    readme = re.findall(r"```text\n(.*?)```", README, flags=re.S)[0].strip().splitlines()
    assert set(readme) <= set(printed.splitlines())
    assert main([*command.split()[1:], "--by", "segment"]) == 0
    by_segment = capsys.readouterr().out.strip().splitlines()
    assert by_segment[-3:] == shown[1].strip().splitlines()
