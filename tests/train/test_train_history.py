"""History: statistics over seeds, serialisation, and the figure."""

from __future__ import annotations

import numpy as np
import pytest

from bcelab.train import History, load_history
from bcelab.train.stats import summarise, t975


@pytest.mark.parametrize("df", [1, 2, 5, 29, 35, 45, 70, 99, 150, 1000])
def test_t_quantile_matches_scipy(df: int) -> None:
    stats = pytest.importorskip("scipy.stats")  # reference: scipy.stats.t.ppf
    assert t975(df) == pytest.approx(stats.t.ppf(0.975, df), abs=2e-3)


def test_summarise_mean_sd_ci() -> None:
    v = np.array([0.84, 0.85, 0.86, 0.85])
    s = summarise(v)
    assert s["mean"] == pytest.approx(0.85) and s["sd"] == pytest.approx(np.std(v, ddof=1))
    half = 3.182 * s["sd"] / 2  # t_{0.975,3} = 3.182 (NIST table)
    assert s["ci95"] == pytest.approx([0.85 - half, 0.85 + half])
    assert summarise([0.5])["ci95"] is None


def _hist(seeds: int, soft: bool = False) -> History:
    rng = np.random.default_rng(seeds)
    h = History(seeds=list(range(seeds)), config={"loss": "bce", "data": "test data"})
    for _ in range(15):
        row = {
            f"{s}_{m}": rng.uniform(0.3, 0.7, seeds)
            for s in ("train", "test")
            for m in (("loss", "floor", "excess") if soft else ("loss", "acc"))
        }
        h.append(row)
    h.final = {k: v[:, -1] for k, v in h.metrics.items()}
    return h


@pytest.mark.parametrize(("seeds", "soft"), [(1, False), (5, False), (3, True)])
def test_save_round_trip_and_figure(tmp_path, seeds: int, soft: bool) -> None:
    h = _hist(seeds, soft)
    paths = h.save(tmp_path)
    assert (tmp_path / "curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    back = load_history(paths["history.json"])
    assert back.seeds == h.seeds
    for k in h.metrics:
        np.testing.assert_array_equal(back.metrics[k], h.metrics[k])
    assert len((tmp_path / "history.csv").read_text().splitlines()) == 16
    assert h.summary()["test_loss"]["n"] == seeds


@pytest.mark.parametrize("seeds", [1, 4])
def test_one_epoch_is_drawn_as_points_at_epoch_one(seeds: int) -> None:
    # a one-epoch run drew lines of one point, which show nothing, over ticks of 0.96 ... 1.04
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    from bcelab.train.plots import curve_panels, draw_series

    h = _hist(seeds)
    h.metrics = {k: v[:, :1] for k, v in h.metrics.items()}
    assert h.epochs == 1 and len(curve_panels(h)) == 2
    fig, ax = plt.subplots()
    draw_series(ax, h.metrics["train_loss"], label="train")
    (line,) = ax.get_lines()[:1]
    assert line.get_marker() == "o"
    if seeds > 1:  # the spread over seeds as a bar, which a band of no width is not
        assert any("±1 sd over 4 seeds" in t.get_label() for t in ax.containers)
    plt.close(fig)


def test_load_history_takes_the_run_folder_and_names_a_bad_file(tmp_path) -> None:
    from bcelab.errors import DataError

    h = History(seeds=[0], metrics={"train_loss": np.array([[0.7, 0.6]])})
    h.save(tmp_path)
    assert load_history(tmp_path).epochs == load_history(tmp_path / "history.json").epochs == 2
    with pytest.raises(DataError, match="No such file or directory"):
        load_history(tmp_path / "missing")
    (tmp_path / "bad.json").write_text("{")
    with pytest.raises(DataError, match=r"bad\.json is not one \(JSONDecodeError"):
        load_history(tmp_path / "bad.json")
    (tmp_path / "other.json").write_text("[]")
    with pytest.raises(DataError, match=r"other\.json is not one"):
        load_history(tmp_path / "other.json")


def test_append_refuses_what_would_spoil_the_history() -> None:
    from bcelab.errors import OptionError

    h = History(seeds=[0, 1], metrics={"train_loss": np.array([[0.7], [0.8]])})
    for bad, words in (
        ({"test_loss": [0.6, 0.7]}, "the metrics of the epochs before"),  # another name
        ({"train_loss": [0.6]}, r"one value per seed \(2\)"),
        ({"train_loss": ["a", "b"]}, "numbers for every metric"),
        ([0.6, 0.7], "values must be a dict"),
    ):
        with pytest.raises(OptionError, match=words):
            h.append(bad)  # type: ignore[arg-type]
    assert h.epochs == 1 and h.csv_text().count("\n") == 2  # still whole and writable
    h.append({"train_loss": [0.6, 0.7]})
    assert h.epochs == 2
    with pytest.raises(OptionError, match="received name='loss'"):
        h.mean("loss")
