"""The command-line example of docs/which-model.md runs as written and prints what the
page shows (times aside); the README's pointer runs too."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from bcelab.cli import main

ROOT = Path(__file__).resolve().parents[2]
TITLE = "## From the command line: `bcelab eval` and `bcelab recalibrate`"


def _section() -> str:
    text = (ROOT / "docs" / "which-model.md").read_text(encoding="utf-8")
    return text.split(TITLE, 1)[1].split("\n## ", 1)[0]


def _no_time(text: str) -> str:
    return re.sub(r"; \d+\.\d\d s, [\d.]+[kMG]? rows/s", "; <time>", text).strip()


def test_the_worked_example_prints_what_the_page_shows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    section = _section()
    commands = re.findall(r"```bash\n(.*?)```", section, flags=re.S)
    shown = re.findall(r"```text\n(.*?)```", section, flags=re.S)
    assert len(commands) == len(shown) == 5
    script = commands[0].split("python - <<'PY'\n", 1)[1].split("\nPY\n", 1)[0]
    subprocess.run([sys.executable, "-c", script], check=True, cwd=tmp_path)
    monkeypatch.chdir(tmp_path)
    for block, text in zip(commands, shown, strict=True):
        line = [c for c in block.splitlines() if c.startswith("bcelab ")][-1]
        assert main(shlex.split(line)[1:]) == 0, line
        printed = capsys.readouterr().out
        assert _no_time(printed).endswith(_no_time(text)), line
    assert (tmp_path / "iso.json").exists() and (tmp_path / "preds-recalibrated.parquet").exists()
