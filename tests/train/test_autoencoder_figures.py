"""The autoencoder's curves: BCE with its floor, and the excess on a log axis."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

matplotlib = pytest.importorskip("matplotlib")

from bcelab.train.autoencoder import figures  # noqa: E402


def _history(excess: list[float]) -> dict[str, list[float]]:
    e = np.asarray(excess)
    return {
        "epoch": list(range(1, e.size + 1)),
        "train_bce": list(0.2 + e),
        "test_bce": list(0.2 + e * 1.01),
        "test_floor": [0.2] * e.size,
        "train_excess": list(e),
        "test_excess": list(e * 1.01),
        "test_excess_fraction": list(e / (0.2 + e)),
    }


def _axes(monkeypatch: pytest.MonkeyPatch, history: dict[str, list[float]], path: Path) -> list:
    seen: list = []
    monkeypatch.setattr(figures, "save_figure", lambda fig, p: seen.extend(fig.axes) or Path(p))
    figures.plot_curves(history, path)
    return seen


def test_one_epoch_is_drawn_as_points_on_a_readable_axis(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # a one-epoch run drew lines of one point (nothing), over epoch ticks of 0.02 and a log
    # axis whose labels all read 0.33
    left, right = _axes(monkeypatch, _history([0.330]), tmp_path / "c.png")
    for ax in (left, right):
        assert all(line.get_marker() == "o" for line in ax.get_lines()[:2])
        assert list(ax.get_xticks()) == [1]
    assert right.get_yscale() == "linear" and "log scale" not in right.get_ylabel()


def test_a_long_run_keeps_lines_and_the_log_axis(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    left, right = _axes(
        monkeypatch, _history(list(np.geomspace(0.3, 0.08, 30))), tmp_path / "c.png"
    )
    assert right.get_yscale() == "log" and "log scale" in right.get_ylabel()
    assert all(line.get_marker() in ("None", None, "") for line in left.get_lines()[:2])
