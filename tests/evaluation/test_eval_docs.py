"""The README's ``bcelab eval`` command lines run as written (on files made to match them)."""

from __future__ import annotations

import shlex
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

from bcelab.cli import main

ROOT = Path(__file__).resolve().parents[2]


def _commands() -> list[str]:
    text = (ROOT / "README.md").read_text()
    section = text.split("## Evaluate predictions at any scale", 1)[1].split("\n## ", 1)[0]
    block = section.split("```bash", 1)[1].split("```", 1)[0]
    return [
        line.split(" > ")[0]
        for line in block.splitlines()
        if line.startswith("bcelab eval ")
        and "dask" not in line  # Dask: tests/evaluation/test_eval_dask.py
    ]


def _write_inputs(d: Path) -> None:
    rng = np.random.default_rng(4)
    n = 5000
    p = rng.random(n)
    y = (rng.random(n) < p).astype(float)
    d.joinpath("exports", "2024-06").mkdir(parents=True)
    pq.write_table(
        pa.table({"y": y, "p": p, "country": rng.choice(["FR", "US"], n)}), d / "preds.parquet"
    )
    pq.write_table(
        pa.table({"clicked": y, "score": np.log(p / (1 - p)), "w": rng.random(n)}),
        d / "exports" / "2024-06" / "part-0.parquet",
    )
    clicked = np.where(y == 1, "yes", "no")
    pacsv.write_csv(pa.table({"clicked": clicked, "p": p}), d / "labels.csv")
    opts = pacsv.WriteOptions(delimiter="\t", quoting_style="none")
    pacsv.write_csv(pa.table({"y": y, "p": p}), d / "preds.tsv", write_options=opts)
    opts = pacsv.WriteOptions(delimiter=";", quoting_style="none")
    pacsv.write_csv(pa.table({"y": y, "p": p}), d / "semicolons.csv", write_options=opts)


def test_readme_eval_commands_run_as_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    commands = _commands()
    assert len(commands) >= 8
    _write_inputs(tmp_path)
    monkeypatch.chdir(tmp_path)
    for line in commands:
        rc = main(shlex.split(line, comments=True)[1:])
        out, err = capsys.readouterr()
        assert rc == 0, (line, err)
        assert "log loss" in out or out.lstrip().startswith("{"), line
    assert (tmp_path / "runs" / "eval-report" / "report.html").exists()
