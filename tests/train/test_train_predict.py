"""Predictions out and labels in: predictor.json, `predict`, `positive_label`, `.tsv`/`delimiter`."""

from __future__ import annotations

import argparse
import dataclasses
import io
import json
import warnings
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pa = pytest.importorskip("pyarrow")

import bcelab  # noqa: E402
from bcelab.errors import DataError, DomainError, OptionError  # noqa: E402
from bcelab.train import (  # noqa: E402
    MLPSpec,
    builtin,
    fit,
    load_predictor,
    load_table,
    predict,
    write_predictions,
)
from bcelab.train.scaling import scaling  # noqa: E402


def _table(rng: np.random.Generator, n: int, labels: tuple[object, object] = (0, 1)) -> dict:
    x = rng.normal(size=(n, 3)) * [1.0, 3.0, 0.5] + [0.0, 10.0, -2.0]
    y = (x[:, 0] + 0.3 * (x[:, 1] - 10) + rng.normal(scale=0.7, size=n)) > 0
    return {
        "f1": x[:, 0],
        "f2": x[:, 1],
        "noise": x[:, 2],
        "label": np.where(y, labels[1], labels[0]),
    }


def _write_csv(path: Path, cols: dict, sep: str = ",") -> Path:
    names = list(cols)
    lines = [sep.join(names)]
    for i in range(len(cols[names[0]])):
        lines.append(sep.join(str(cols[c][i]) for c in names))
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    d = tmp_path_factory.mktemp("predict")
    rng = np.random.default_rng(0)
    train = _write_csv(d / "train.csv", _table(rng, 300))
    test = _write_csv(d / "test.csv", _table(rng, 200))
    ds = load_table(train, target="label", test=test, features=["f2", "f1"])
    fit(MLPSpec(hidden=(8,)), ds, epochs=20, optimizer="adam", lr=1e-2, out=d / "run")
    return d / "run", test


def test_predict_reproduces_the_test_loss_of_the_run(run: tuple[Path, Path]) -> None:
    folder, test = run
    table = predict(folder, test)
    assert table.column_names == ["f1", "f2", "noise", "label", "logit", "pred"]
    summary = json.loads((folder / "summary.json").read_text())
    y = table.column("label").to_numpy().astype(float)
    z = table.column("logit").to_numpy()
    loss = float(bcelab.bce_with_logits(z, y, reduction="mean"))
    assert loss == pytest.approx(summary["final"]["test_loss"]["mean"], abs=1e-6)
    # the pred column evaluates to the same number
    res = bcelab.evaluate(table, preds="pred", target="label")
    assert res.metrics.log_loss == pytest.approx(summary["final"]["test_loss"]["mean"], abs=1e-6)
    np.testing.assert_allclose(table.column("pred").to_numpy(), 1 / (1 + np.exp(-z)), rtol=1e-12)


def test_predictor_json_keeps_what_prediction_needs(run: tuple[Path, Path]) -> None:
    folder, _ = run
    info = json.loads((folder / "predictor.json").read_text())
    assert info["table"]["features"] == ["f2", "f1"]  # the order of training
    assert info["table"]["target"] == "label" and info["table"]["positive_label"] is None
    assert info["model"] == {
        "kind": "mlp",
        "hidden": [8],
        "hidden_init": "he_uniform",
        "output_init": "glorot_uniform",
    }
    assert info["n_inputs"] == 2 and info["seeds"] == [0]
    p = load_predictor(folder)
    assert p.table.features == ("f2", "f1") and len(p.table.mean) == 2
    # model.pt stays a state_dict that loads without pickle
    state = torch.load(folder / "model.pt", weights_only=True)
    assert set(state) == {"0.weight", "0.bias", "2.weight", "2.bias"}


def test_standardisation_is_the_training_splits(run: tuple[Path, Path]) -> None:
    folder, test = run
    p = load_predictor(folder)
    raw = {n: pa.csv.read_csv(n) for n in (folder.parent / "train.csv", test)}
    x_train, x_test = (
        np.stack([t.column(c).to_numpy() for c in ("f2", "f1")], axis=1) for t in raw.values()
    )
    mu, sd = scaling(x_train)  # the training rows only; the test rows do not leak in
    assert p.table.mean == tuple(mu) and p.table.scale == tuple(sd)
    assert p.table.mean != tuple(scaling(np.concatenate([x_train, x_test]))[0])
    ds = load_table(folder.parent / "train.csv", target="label", test=test, features=["f2", "f1"])
    np.testing.assert_array_equal(p.table.transform(x_test), ds.x_test)  # bit for bit


def test_in_memory_inputs_and_column_order(run: tuple[Path, Path]) -> None:
    folder, test = run
    t = pa.csv.read_csv(test)
    by_path = predict(folder, test)
    cols = {c: t.column(c).to_numpy() for c in reversed(t.column_names)}  # other order
    by_dict = predict(folder, cols)
    np.testing.assert_array_equal(by_dict.column("logit"), by_path.column("logit"))
    np.testing.assert_array_equal(predict(folder, t).column("pred"), by_path.column("pred"))


def test_predict_errors_name_what_is_wrong(run: tuple[Path, Path], tmp_path: Path) -> None:
    folder, test = run
    with pytest.raises(DataError, match=r"lacks \['f2'\]"):
        predict(folder, {"f1": np.zeros(3)})
    with pytest.raises(DataError, match=r"already has \['pred'\]"):
        predict(folder, {"f1": np.zeros(3), "f2": np.zeros(3), "pred": np.zeros(3)})
    with pytest.raises(DataError, match=r"columns \['f1'\], data rows 2"):
        predict(folder, {"f1": np.array([0.0, np.nan]), "f2": np.zeros(2)})
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the cast to float32 warned, and its NaN was written
        with pytest.raises(
            DataError, match=r"column 'f1' of the columns holds 1e\+300 in data row 3 "
        ):
            predict(folder, {"f1": np.array([0.0, 1e30, 1e300]), "f2": np.zeros(3)})
    repeated = tmp_path / "repeated.csv"
    repeated.write_text("f1,f2,f2\n0.1,0.2,0.3\n")
    with pytest.raises(DataError, match=r"one column named 'f2' in .*2 of its columns have"):
        predict(folder, repeated)
    with pytest.raises(OptionError, match="seed must be one of the run's seeds"):
        predict(folder, test, seed=5)
    with pytest.raises(DataError, match=r"no predictor\.json"):
        predict(tmp_path, test)
    with pytest.raises(OptionError, match="data must be"):
        predict(folder, 3.0)


def _saved(obj: object) -> bytes:
    buf = io.BytesIO()
    torch.save(obj, buf)
    return buf.getvalue()


@pytest.mark.parametrize(
    ("damage", "reason"),
    [
        (b"not a zip file at all", "model.pt is not one: it starts with b'not '"),
        (b"hello\n", "model.pt is not one: it starts with b'hell', where torch.save writes"),
        (b"", "model.pt is not one: it is empty"),
        (
            _saved({"0.weight": argparse.Namespace()}),
            "it holds more than tensors, and bcelab loads nothing else (no code)",
        ),
        (None, "PytorchStreamReader failed reading zip archive"),  # cut short
    ],
)
def test_a_damaged_model_file_is_a_data_error(
    run: tuple[Path, Path], tmp_path: Path, damage: bytes | None, reason: str
) -> None:
    """A file that is not a zip archive is refused before torch reads it (a text file
    read "failed: 101."); torch.load(weights_only=True) refuses anything but tensors:
    a DataError in one sentence, never torch's exception or its advice to unpickle."""
    folder, _ = run
    copy = tmp_path / "run"
    copy.mkdir()
    for f in folder.iterdir():
        (copy / f.name).write_bytes(f.read_bytes())
    model = copy / "model.pt"
    model.write_bytes(damage if damage is not None else model.read_bytes()[:100])
    with pytest.raises(DataError) as err:
        load_predictor(copy)
    assert err.value.expected == "a model.pt written by bcelab train"
    assert reason in err.value.received and "weights_only=False" not in str(err.value)


def test_write_predictions_by_extension(run: tuple[Path, Path], tmp_path: Path) -> None:
    folder, test = run
    table = predict(folder, test)
    import pyarrow.parquet as pq

    write_predictions(table, tmp_path / "p.parquet")
    assert pq.read_table(tmp_path / "p.parquet").equals(table)
    write_predictions(table, tmp_path / "p.tsv")
    head = (tmp_path / "p.tsv").read_text().splitlines()[0]
    assert head.replace('"', "").split("\t") == table.column_names
    with pytest.raises(OptionError, match=r"\.parquet, \.csv or \.tsv"):
        write_predictions(table, tmp_path / "p.xlsx")
    nested = table.append_column("tags", pa.array([[1]] * table.num_rows))
    with pytest.raises(DataError, match=r"'tags' \(list<item: int64>\).*as Parquet") as err:
        write_predictions(nested, tmp_path / "n.csv")
    assert str(tmp_path / "n.parquet") in err.value.fix and not (tmp_path / "n.csv").exists()


def test_builtin_tasks_can_be_predicted(tmp_path: Path) -> None:
    ds = builtin("circles")
    h = fit(MLPSpec(), ds, epochs=5, out=tmp_path / "c", seeds=2, seed=3)
    cols = {"x0": ds.x_test[:, 0].astype(float), "x1": ds.x_test[:, 1].astype(float)}
    for k, seed in enumerate((3, 4)):
        z = predict(tmp_path / "c", cols, seed=seed).column("logit").to_numpy()
        loss = float(bcelab.bce_with_logits(z, ds.y_test[:, 0], reduction="mean"))
        assert loss == pytest.approx(h.final["test_loss"][k], abs=1e-6)


# --- labels as users have them, and delimiters --------------------------------------


@pytest.mark.parametrize(
    ("labels", "positive"), [(("no", "yes"), "yes"), ((-1, 1), 1), ((0, 255), 255), ((1, 2), "2")]
)
def test_positive_label_maps_that_value_to_one(
    tmp_path: Path, labels: tuple[object, object], positive: object
) -> None:
    rng = np.random.default_rng(1)
    cols = _table(rng, 60, labels)
    path = _write_csv(tmp_path / "d.csv", cols)
    ds = load_table(path, target="label", positive_label=positive)
    assert ds.table is not None and ds.table.positive_label == positive
    want = (cols["label"] == labels[1]).mean()
    got = np.concatenate([ds.y_train, ds.y_test]).mean()
    assert got == pytest.approx(want)
    assert set(np.unique(np.concatenate([ds.y_train, ds.y_test]))) <= {0.0, 1.0}


@pytest.mark.parametrize(
    ("labels", "shown", "suggested"),
    [
        (("no", "yes"), "'no', 'yes'", "positive_label='yes'"),
        ((-1, 1), "-1, 1", "positive_label=1"),
    ],
)
def test_labels_without_positive_label_name_the_values_and_the_fix(
    tmp_path: Path, labels: tuple[object, object], shown: str, suggested: str
) -> None:
    path = _write_csv(tmp_path / "d.csv", _table(np.random.default_rng(2), 20, labels))
    with pytest.raises(DomainError) as e:
        load_table(path, target="label")
    assert shown in str(e.value) and suggested in str(e.value)


def test_a_positive_label_in_another_case_is_refused_not_read_as_all_zeros(
    tmp_path: Path,
) -> None:
    path = _write_csv(tmp_path / "d.csv", _table(np.random.default_rng(2), 20, ("no", "yes")))
    for typo in ("YES", " yes", "Yes"):
        with pytest.raises(DataError, match="case matters") as e:
            load_table(path, target="label", positive_label=typo)
        assert "'no', 'yes'" in e.value.received and e.value.fix == "pass positive_label='yes'"
    # a label absent in every spelling is refused too: every target would be 0
    with pytest.raises(DataError, match="'maybe' matches no row of"):
        load_table(path, target="label", positive_label="maybe")


def test_tsv_and_delimiter(tmp_path: Path) -> None:
    cols = _table(np.random.default_rng(3), 40)
    comma = load_table(_write_csv(tmp_path / "d.csv", cols), target="label")
    tab = load_table(_write_csv(tmp_path / "d.tsv", cols, "\t"), target="label")
    semi = load_table(_write_csv(tmp_path / "s.csv", cols, ";"), target="label", delimiter=";")
    for ds in (tab, semi):
        np.testing.assert_array_equal(ds.x_train, comma.x_train)
        assert ds.feature_names == ("f1", "f2", "noise")
    with pytest.raises(DataError, match="columns"):  # a TSV read as commas has one column
        load_table(tmp_path / "d.tsv", target="label", delimiter=",")


def test_a_non_numeric_value_is_named_with_its_row(tmp_path: Path) -> None:
    path = tmp_path / "d.csv"
    path.write_text("a,b,label\n1,2,0\n2,abc,1\n3,4,1\n")
    with pytest.raises(DataError, match=r"'abc' in data row 2"):
        load_table(path, target="label")


def test_an_array_of_the_features_in_training_order_is_predicted(tmp_path: Path) -> None:
    from bcelab.errors import ShapeError

    ds = builtin("circles")
    out = tmp_path / "run"
    fit(None, ds, epochs=2, out=out)
    x = ds.x_test
    from_array = predict(out, x)
    from_columns = predict(out, {"x0": x[:, 0], "x1": x[:, 1]})
    assert from_array.column_names == ["x0", "x1", "logit", "pred"]
    assert from_array.column("logit").equals(from_columns.column("logit"))
    with pytest.raises(ShapeError, match=r"shape \(rows, 2\).*received shape \(2,\)"):
        predict(out, x[0])
    with pytest.raises(ShapeError, match=r"received shape \(500, 1\)"):
        predict(out, x[:, :1])
    with pytest.raises(OptionError, match="predict: run must be a path"):
        predict(5, x)  # type: ignore[arg-type]
    (out / "predictor.json").write_text("[1, 2]")  # JSON, but not a predictor's
    with pytest.raises(DataError, match=r"holds a JSON list: \[1, 2\]"):
        predict(out, x)


def test_in_memory_inputs_pyarrow_cannot_hold_are_named(run: tuple[Path, Path]) -> None:
    """A Series was AttributeError ('Series' object has no attribute 'columns'), a
    DataFrame with a repeated name pyarrow's ValueError, complex numbers
    ArrowNotImplementedError ('Unsupported numpy type 15')."""
    pd = pytest.importorskip("pandas")
    folder, _ = run
    df = pd.DataFrame({"f1": [0.1, 0.2], "f2": [9.0, 11.0], "id": [1, 2]})
    with pytest.raises(OptionError, match=r"received a pandas Series named 'f1'\. pass the "):
        predict(folder, df["f1"])
    with pytest.raises(DataError, match=r"one column named 'f2' in the DataFrame; 2 of its"):
        predict(folder, pd.concat([df, df[["f2"]]], axis=1))
    twice = predict(folder, pd.concat([df, df[["id"]]], axis=1))  # not a feature: kept
    assert twice.column_names == ["f1", "f2", "id", "id", "logit", "pred"]
    with pytest.raises(DataError, match=r"received an array of dtype complex128\. pass x\.real"):
        predict(folder, df[["f2", "f1"]].to_numpy().astype(complex))
    with pytest.raises(DataError, match=r"column 'f1' of the DataFrame holds complex numbers"):
        predict(folder, df.astype({"f1": complex}))
    with pytest.raises(DataError, match=r"column 'f2' of the columns holds complex numbers"):
        predict(folder, {"f1": np.zeros(2), "f2": np.zeros(2, complex)})
    with pytest.raises(DataError, match=r"converting the DataFrame to a table failed: "):
        predict(folder, df.astype({"f1": object}).assign(f1=[1, "x"]))


def test_a_run_trained_on_a_feature_named_pred_says_to_train_again(
    run: tuple[Path, Path], tmp_path: Path
) -> None:
    """bcelab train refuses such a feature now; a run made before names it when predicted."""
    folder, _ = run
    old = tmp_path / "old"
    old.mkdir()
    for f in folder.iterdir():
        (old / f.name).write_bytes(f.read_bytes())
    info = json.loads((old / "predictor.json").read_text())
    info["table"]["features"] = ["pred", "f1"]
    (old / "predictor.json").write_text(json.dumps(info))
    with pytest.raises(DataError) as e:
        predict(old, np.zeros((2, 2)))
    assert e.value.received == f"the model of {old} was trained on a feature column named 'pred'"
    assert "train the model again" in e.value.fix


def test_the_other_columns_of_a_csv_are_kept_as_written(
    run: tuple[Path, Path], tmp_path: Path
) -> None:
    """With as_written=True (`bcelab predict` to a CSV file), an id with leading zeros or
    more digits than a float holds, and True/False: read as text; the features and the
    target (which `bcelab eval` reads) as numbers.  By default every type is inferred."""
    folder, _ = run
    path = tmp_path / "ids.csv"
    path.write_text(
        "id,f1,f2,flag,label\n00042,0.5,10.0,True,1\n12345678901234567891,-0.5,9.0,False,0\n"
    )
    inferred = predict(folder, path)
    assert inferred["flag"].to_pylist() == [True, False] and inferred["id"][0].as_py() == 42
    table = predict(folder, path, as_written=True)
    assert table["id"].to_pylist() == ["00042", "12345678901234567891"]
    assert table["flag"].to_pylist() == ["True", "False"]
    assert table["label"].to_pylist() == [1, 0]
    assert pa.types.is_floating(table["f1"].type)
    write_predictions(table, tmp_path / "p.csv")
    rows = (tmp_path / "p.csv").read_text().splitlines()
    assert rows[1].startswith('"00042",0.5,10,"True",1,')
    assert rows[2].startswith('"12345678901234567891",-0.5,9,"False",0,')


@pytest.mark.parametrize(
    ("seeds", "shown"),
    [
        ((0,), "seeds (0)"),
        (tuple(range(30)), "30 seeds (0 to 29)"),
        ((3, 9, 4), "3 seeds (3, 9, 4)"),
        (tuple(range(0, 60, 2)), "30 seeds (0, 2, 4, 6, 8, 10, 12, 14, 16, 18, ...)"),
    ],
)
def test_an_unknown_seed_names_all_the_runs_seeds(
    run: tuple[Path, Path], seeds: tuple[int, ...], shown: str
) -> None:
    """The seeds were cut at 10 with no sign: '(0, 1, 2, 3, 4, 5, 6, 7, 8, 9)' for 30."""
    pred = dataclasses.replace(load_predictor(run[0]), seeds=seeds)
    with pytest.raises(OptionError) as err:
        pred.seed_index(99)
    assert f"seed must be one of the run's {shown}" in str(err.value)
