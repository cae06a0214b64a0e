"""Figure paths are checked before the work: only formats matplotlib can write here."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from bcelab.cli import main
from bcelab.cli.output import check_figure, figure_formats


@pytest.fixture()
def no_tex(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A PATH without TeX; the name of the engine matplotlib's .pgf writer runs."""
    from matplotlib import rcParams

    empty = tmp_path / "bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    return str(rcParams["pgf.texsystem"])


def test_pgf_without_tex_is_refused_before_the_work(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, no_tex: str
) -> None:
    # before: accepted, then the curve was computed and printed and saving raised
    # RuntimeError: 'xelatex' not found, a traceback with exit 1
    out_path = tmp_path / "curve.pgf"
    assert main(["explain", "--target", "0.3", "--plot", str(out_path)]) == 2
    out, err = capsys.readouterr()
    assert out == "" and "Traceback" not in err and not out_path.exists()
    assert f"received 'curve.pgf': .pgf needs {no_tex} (TeX), which is not installed" in err
    assert f"e.g. --plot {tmp_path / 'curve.png'}, or install {no_tex}" in err
    offered = err.split("a figure format (")[1].split(")")[0]
    assert ".pgf" not in offered and ".png" in offered and ".eps" in offered
    assert "pgf" not in figure_formats()


def test_pgf_is_accepted_where_tex_is_installed(tmp_path: Path, no_tex: str) -> None:
    engine = Path(os.environ["PATH"]) / no_tex
    engine.write_text("#!/bin/sh\n")
    engine.chmod(0o755)
    assert check_figure(tmp_path / "curve.pgf", "--plot") == tmp_path / "curve.pgf"


@pytest.mark.parametrize("ext", sorted(set(figure_formats()) - {"pgf"}))
def test_every_format_offered_is_written(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, no_tex: str, ext: str
) -> None:
    out_path = tmp_path / f"curve.{ext}"
    rc = main(["explain", "--target", "0.3", "--plot", str(out_path)])
    assert rc == 0, capsys.readouterr().err
    assert out_path.stat().st_size > 0
