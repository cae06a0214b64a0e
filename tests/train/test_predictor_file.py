"""predictor.json and model.pt checked against each other before predict uses them."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("pyarrow")

from bcelab.cli import main  # noqa: E402
from bcelab.errors import DataError  # noqa: E402
from bcelab.train import MLPSpec, fit, load_predictor, load_table, predict  # noqa: E402


def _csv(path: Path, rng: np.random.Generator, n: int) -> Path:
    x = rng.normal(size=(n, 3))
    y = (x[:, 0] + rng.normal(scale=0.5, size=n)) > 0
    rows = [f"{a},{b},{c},{int(t)}" for (a, b, c), t in zip(x, y, strict=True)]
    path.write_text("a,b,c,label\n" + "\n".join(rows) + "\n")
    return path


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    """Two runs on the same data, with hidden layers of 6 and 4, and the test file."""
    d = tmp_path_factory.mktemp("pair")
    rng = np.random.default_rng(1)
    ds = load_table(_csv(d / "train.csv", rng, 80), target="label", test=_csv(d / "t.csv", rng, 20))
    for name, hidden in (("six", 6), ("four", 4)):
        fit(MLPSpec(hidden=(hidden,)), ds, epochs=1, lr=1e-2, out=d / name)
    return d / "six", d / "four", d / "t.csv"


def _copy(run: Path, tmp_path: Path) -> Path:
    out = tmp_path / "copy"
    shutil.copytree(run, out)
    return out


def test_the_model_of_another_run_is_a_data_error_naming_both_files(
    runs: tuple[Path, Path, Path], tmp_path: Path
) -> None:
    """It was torch's RuntimeError 'Error(s) in loading state_dict ... size mismatch'."""
    six, four, test = runs
    mixed = _copy(six, tmp_path)
    shutil.copy(four / "model.pt", mixed / "model.pt")
    with pytest.raises(DataError) as err:
        predict(mixed, test)
    assert "hidden layers [6]" in err.value.expected
    assert "0.weight of shape (6, 3)" in err.value.expected
    assert f"{mixed / 'model.pt'} holds 0.weight of shape (4, 3)" == err.value.received
    assert "model.pt and predictor.json of one run" in err.value.fix


def test_the_model_of_another_run_of_the_same_network_is_refused(
    runs: tuple[Path, Path, Path], tmp_path: Path
) -> None:
    """Two runs of one network (here a second run of the same spec and data, seed 1) used
    to be told apart by nothing: predict ran the other run's weights."""
    six, _, test = runs
    other = tmp_path / "other"
    ds = load_table(six.parent / "train.csv", target="label", test=test)
    fit(MLPSpec(hidden=(6,)), ds, epochs=1, lr=1e-2, seed=1, out=other)
    meta = json.loads((six / "predictor.json").read_text())
    assert len(meta["model_sha256"]) == 64
    mixed = _copy(six, tmp_path)
    shutil.copy(other / "model.pt", mixed / "model.pt")
    with pytest.raises(DataError) as err:
        predict(mixed, test)
    assert f"the model.pt that {mixed / 'predictor.json'} was written with" in err.value.expected
    assert "the two files come from different runs" in err.value.received
    assert "model.pt and predictor.json of one run" in err.value.fix
    # a predictor.json of an earlier version, without the SHA-256, is checked by shape
    _edit(mixed, lambda m: {k: v for k, v in m.items() if k != "model_sha256"})
    assert predict(mixed, test).num_rows == 20
    for bad in ("ab", 5, "g" * 64):
        _edit(mixed, lambda m, bad=bad: {**m, "model_sha256": bad})
        with pytest.raises(DataError, match="model_sha256"):
            load_predictor(mixed)


def test_a_model_with_other_tensors_is_named(runs: tuple[Path, Path, Path], tmp_path: Path) -> None:
    run = _copy(runs[0], tmp_path)
    torch.save({"weight": torch.zeros(2)}, run / "model.pt")
    with pytest.raises(DataError, match=r"holds the tensors \['weight'\]"):
        load_predictor(run)
    torch.save([torch.zeros(2)], run / "model.pt")
    with pytest.raises(DataError, match=r"holds a list, not a dict of tensors"):
        load_predictor(run)


def _edit(run: Path, change: Any) -> None:
    meta = run / "predictor.json"
    info = json.loads(meta.read_text())
    meta.write_text(json.dumps(change(info)))


@pytest.mark.parametrize(
    ("change", "expected", "received"),
    [
        (lambda d: [1, 2], "a JSON object", "holds a JSON list: [1, 2]"),
        (lambda d: {k: v for k, v in d.items() if k != "table"}, "'table'", "has no 'table'"),
        (
            lambda d: {**d, "model": {**d["model"], "hidden": "50"}},
            "'hidden' is a list of whole numbers >= 1",
            "'hidden' \"50\"",
        ),
        (
            lambda d: {**d, "table": {**d["table"], "mean": d["table"]["mean"][:2]}},
            "'mean' is a list of 3 finite numbers",
            "'mean' [",
        ),
        (
            lambda d: {**d, "table": {**d["table"], "scale": [0, 1, 1]}},
            "'scale' is a list of 3 finite numbers > 0",
            "'scale' [0, 1, 1]",
        ),
        (
            lambda d: {**d, "table": {**d["table"], "features": ["a", "a", "c"]}},
            "3 distinct column names",
            '["a", "a", "c"]',
        ),
        (lambda d: {**d, "seeds": []}, "non-empty list", "'seeds' []"),
        (lambda d: {**d, "n_inputs": "3"}, "'n_inputs' is a whole number", "'n_inputs' \"3\""),
    ],
)
def test_each_field_of_predictor_json_is_checked(
    runs: tuple[Path, Path, Path], tmp_path: Path, change: Any, expected: str, received: str
) -> None:
    """They were "'list' object has no attribute 'get'", "failed: 'table'.", "received
    ('5', '0')" and NumPy's "operands could not be broadcast"."""
    run = _copy(runs[0], tmp_path)
    _edit(run, change)
    with pytest.raises(DataError) as err:
        predict(run, runs[2])
    assert expected in err.value.expected
    assert str(run / "predictor.json") in err.value.received
    assert received in err.value.received
    assert "predictor.json that bcelab train wrote" in err.value.fix


def test_the_cli_exits_2_for_mixed_up_files(
    runs: tuple[Path, Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    six, four, test = runs
    mixed = _copy(six, tmp_path)
    shutil.copy(four / "model.pt", mixed / "model.pt")
    out = tmp_path / "p.csv"
    assert main(["predict", str(mixed), "--data", str(test), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "model.pt and predictor.json of one run" in err and "Traceback" not in err
    assert not out.exists()


@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_a_model_with_non_finite_weights_is_refused_naming_the_tensor(
    runs: tuple[Path, Path, Path], tmp_path: Path, bad: float
) -> None:
    """It was accepted, and predict wrote NaN predictions."""
    run = _copy(runs[0], tmp_path)
    sd = torch.load(run / "model.pt", weights_only=True)
    sd["0.weight"][0, 0] = bad
    torch.save(sd, run / "model.pt")
    with pytest.raises(DataError) as err:
        load_predictor(run)
    assert "finite values in 0.weight" in err.value.expected
    assert f"{run / 'model.pt'} holds 1 non-finite value(s)" in err.value.received
    assert "in 0.weight" in err.value.received
