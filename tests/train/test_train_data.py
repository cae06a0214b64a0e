"""Data loading for `bcelab train`: built-ins, user tables, and every bad input of issue 3."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from bcelab.errors import BCELabError, DataError, DomainError, OptionError
from bcelab.train import data


@pytest.mark.parametrize("maker", ["make_circles", "make_moons"])
@pytest.mark.parametrize(("n", "noise", "rs"), [(1000, 0.1, 1), (101, None, 7), (10, 0.3, 0)])
def test_generators_match_sklearn_bit_for_bit(
    maker: str, n: int, noise: float | None, rs: int
) -> None:
    # reference: scikit-learn's own generators (the tutorial calls make_circles)
    skd = pytest.importorskip("sklearn.datasets")
    x_ref, y_ref = getattr(skd, maker)(n_samples=n, noise=noise, random_state=rs)
    x, y = getattr(data, maker)(n, noise=noise, random_state=rs)
    np.testing.assert_array_equal(x, x_ref)
    np.testing.assert_array_equal(y, y_ref)


def test_circles_is_seed_001_split() -> None:
    skd = pytest.importorskip("sklearn.datasets")
    x, y = skd.make_circles(n_samples=1000, noise=0.1, random_state=1)  # seed 001's data
    ds = data.builtin("circles")
    np.testing.assert_array_equal(ds.x_train, x[:500].astype(np.float32))
    np.testing.assert_array_equal(ds.y_test[:, 0], y[500:].astype(np.float32))
    assert ds.hard_targets
    assert ds.one_class is None


@pytest.mark.parametrize(("label", "expected"), [(1.0, 1), (0.0, 0), (0.7, None)])
def test_one_class_names_a_single_hard_training_label(label: float, expected: int | None) -> None:
    x = np.zeros((6, 2))
    y = np.full(6, label)
    ds = data.as_dataset((x[:4], y[:4], x[4:], np.array([0.0, 1.0])))
    assert ds.one_class == expected


def test_breast_cancer_standardised_with_training_statistics_only() -> None:
    ds = data.builtin("breast-cancer")
    assert ds.x_train.shape[1] == 30 and ds.x_train.shape[0] + ds.x_test.shape[0] == 569
    np.testing.assert_allclose(ds.x_train.mean(axis=0), 0, atol=1e-5)
    np.testing.assert_allclose(ds.x_train.std(axis=0), 1, atol=1e-4)
    assert np.abs(ds.x_test.mean(axis=0)).max() > 1e-3  # the test split was not re-centred


def test_unknown_builtin() -> None:
    with pytest.raises(OptionError, match="circles, moons, breast-cancer"):
        data.builtin("spirals")


def _csv(tmp_path, text: str, name: str = "d.csv"):
    p = tmp_path / name
    p.write_text(text)
    return p


GOOD = "a,b,label\n" + "".join(f"{i % 7 / 7},{(i * 3) % 5},{i % 2}\n" for i in range(40))


def test_table_split_and_standardisation(tmp_path) -> None:
    ds = data.load_table(_csv(tmp_path, GOOD), target="label", test_fraction=0.25)
    assert ds.x_train.shape == (30, 2) and ds.x_test.shape == (10, 2)
    assert ds.feature_names == ("a", "b")
    np.testing.assert_allclose(ds.x_train.mean(axis=0), 0, atol=1e-6)


def test_parquet_and_separate_test_file(tmp_path) -> None:
    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    t = pa.table({"x": [0.1, 0.2, 0.3, 0.9], "y": [0, 0, 1, 1]})
    pq.write_table(t, tmp_path / "tr.parquet")
    ds = data.load_table(
        tmp_path / "tr.parquet", target="y", test=_csv(tmp_path, "x,y\n0.5,1\n0.0,0\n", "te.csv")
    )
    assert ds.x_train.shape == (4, 1) and ds.x_test.shape == (2, 1)


def test_target_not_binary_lists_distinct_values(tmp_path) -> None:
    p = _csv(tmp_path, "a,label\n1,0\n2,1\n3,2\n4,5\n")
    with pytest.raises(DomainError) as e:
        data.load_table(p, target="label")
    assert "0, 1, 2, 5" in str(e.value)


def test_string_target_lists_distinct_values(tmp_path) -> None:
    p = _csv(tmp_path, "a,label\n1,yes\n2,no\n3,yes\n")
    with pytest.raises(DomainError, match="'no', 'yes'"):
        data.load_table(p, target="label")


def test_a_boolean_target_reads_as_one_and_zero(tmp_path) -> None:
    # what the docs say: True/False in a CSV (and a Parquet boolean) needs no positive_label
    rows = "".join(f"{i},{i % 3},{'True' if i % 2 else 'False'}\n" for i in range(20))
    ds = data.load_table(_csv(tmp_path, "a,b,label\n" + rows), target="label", test_fraction=0.5)
    got = np.concatenate([ds.y_train, ds.y_test]).ravel()
    assert sorted(set(got.tolist())) == [0.0, 1.0] and got.sum() == 10


def test_missing_values_named_or_dropped(tmp_path) -> None:
    p = _csv(tmp_path, "a,b,label\n1,2,0\n2,,1\n3,4,1\n4,5,0\n5,6,1\n6,7,0\n")
    with pytest.raises(DataError) as e:
        data.load_table(p, target="label")
    msg = str(e.value)
    assert "['b']" in msg and "rows 2" in msg and "dropna=True" in msg
    ds = data.load_table(p, target="label", dropna=True)
    assert ds.x_train.shape[0] + ds.x_test.shape[0] == 5


def test_infinite_values_name_their_columns(tmp_path) -> None:
    """It was 'inf in data rows 2 of ...', without the column."""
    p = _csv(tmp_path, "a,b,c,label\n1,2,3,0\n2,inf,3,1\n3,4,-inf,1\n4,5,6,0\n5,6,7,1\n")
    with pytest.raises(DataError) as e:
        data.load_table(p, target="label")
    assert "inf in columns ['b', 'c'], data rows 2, 3 of" in str(e.value)


def test_a_test_table_and_a_test_fraction_are_refused_together(tmp_path) -> None:
    """test_fraction= was silently ignored when test= was given."""
    p = _csv(tmp_path, GOOD)
    with pytest.raises(OptionError) as e:
        data.load_table(p, target="label", test=p, test_fraction=0.3)
    msg = str(e.value)
    assert "test=" in msg and "test_fraction=0.3" in msg and "not both" in msg
    assert data.load_table(p, target="label", test=p).x_test.shape == (40, 2)
    assert data.load_table(p, target="label").x_test.shape == (20, 2)  # 0.5 by default


def test_non_numeric_feature_named(tmp_path) -> None:
    p = _csv(tmp_path, "a,colour,label\n1,red,0\n2,blue,1\n")
    with pytest.raises(DataError, match="'colour'"):
        data.load_table(p, target="label")


def test_unknown_column_lists_available(tmp_path) -> None:
    p = _csv(tmp_path, GOOD)
    with pytest.raises(DataError) as e:
        data.load_table(p, target="Label")
    assert "['a', 'b', 'label']" in str(e.value)
    with pytest.raises(DataError, match="available"):
        data.load_table(p, target="label", features=["a", "zz"])


def test_table_names_are_those_bcelab_eval_reads(tmp_path) -> None:
    with pytest.raises(DataError, match=r"received 'd\.txt'.*rename .* to \.csv"):
        data.load_table(_csv(tmp_path, GOOD, "d.txt"), target="label")
    assert data.load_table(_csv(tmp_path, GOOD, "d.csv"), target="label")
    pa_csv = pytest.importorskip("pyarrow.csv")
    pq = pytest.importorskip("pyarrow.parquet")
    pq.write_table(pa_csv.read_csv(tmp_path / "d.csv"), tmp_path / "d.parq")
    assert data.load_table(tmp_path / "d.parq", target="label").x_train.shape[1] == 2


def test_features_named_twice_or_none_are_refused(tmp_path) -> None:
    p = _csv(tmp_path, GOOD)
    with pytest.raises(DataError, match=r"named once.*'a' 2 times.*\['a', 'b', 'label'\]"):
        data.load_table(p, target="label", features=["a", "a"])
    with pytest.raises(DataError, match=r"an empty list of features.*leave the features out"):
        data.load_table(p, target="label", features=[])
    assert data.load_table(p, target="label", features=["b", "a"]).x_train.shape[1] == 2


def test_a_header_that_repeats_a_name_is_refused(tmp_path) -> None:
    # pyarrow reads both columns; which one the name meant is unknown
    for header, name in (("a,b,label,label", "label"), ("a,a,label", "a")):
        rows = "".join(
            f"{i % 7 / 7},{i % 3},{i % 2}" + (",1" if header.count(",") == 3 else "") + "\n"
            for i in range(20)
        )
        p = _csv(tmp_path, f"{header}\n{rows}")
        with pytest.raises(DataError, match=f"one column named '{name}' in .*2 of its columns"):
            data.load_table(p, target="label")
    p = _csv(tmp_path, "a,a,b,label\n" + "".join(f"1,2,{i},{i % 2}\n" for i in range(20)))
    with pytest.raises(DataError, match="one column named 'a'"):
        data.load_table(p, target="label", features=["a", "b"])
    assert data.load_table(p, target="label", features=["b"]).x_train.shape[1] == 1


@pytest.mark.parametrize("frac", [0.01, 0.99])
def test_empty_split(tmp_path, frac: float) -> None:
    p = _csv(tmp_path, "a,label\n1,0\n2,1\n3,1\n")
    with pytest.raises(DataError, match="at least one row"):
        data.load_table(p, target="label", test_fraction=frac)


def test_empty_file_and_bad_fraction(tmp_path) -> None:
    with pytest.raises(BCELabError):
        data.load_table(_csv(tmp_path, "a,label\n"), target="label")
    with pytest.raises(OptionError):
        data.load_table(_csv(tmp_path, GOOD), target="label", test_fraction=1.0)
    with pytest.raises(OptionError, match=r"test_fraction='0\.5'"):  # was a TypeError
        data.load_table(_csv(tmp_path, GOOD), target="label", test_fraction="0.5")  # type: ignore[arg-type]
    with pytest.raises(DataError, match="does not exist"):
        data.load_table(tmp_path / "nope.csv", target="label")


def test_as_dataset_rejects_bad_arrays() -> None:
    x = np.zeros((4, 2))
    with pytest.raises(DomainError, match="found 2"):
        data.as_dataset((x, np.array([0, 1, 2, 1]), x, np.array([0, 1, 0, 1])))
    with pytest.raises(BCELabError):
        data.as_dataset((x, np.array([0, 1, 1]), x, np.array([0, 1, 0, 1])))
    with pytest.raises(BCELabError):
        data.as_dataset((np.zeros((0, 2)), np.zeros(0), x, np.zeros(4)))
    far = x.copy()
    far[2, 1] = -1e300  # float32 would hold -inf, and training would give NaN
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(DataError, match=r"x_test within float32's range.*received -1e\+300"):
            data.as_dataset((x, np.array([0, 1, 0, 1]), far, np.array([0, 1, 0, 1])))


@pytest.mark.parametrize(
    ("labels", "label", "received", "fix"),
    [
        ("01", 7, "positive_label=7 matches no row of", "pass positive_label=None: the column"),
        ("01", "7", "positive_label='7' matches no row of", "pass positive_label=None: the"),
        ("ny", "maybe", "positive_label='maybe' matches no row", "positive_label='y'"),
    ],
)
def test_a_positive_label_that_matches_no_training_row_is_refused(
    tmp_path, labels: str, label: object, received: str, fix: str
) -> None:
    """A number (or a text with no near spelling) trained on all-0 targets, with only a
    note; a text label in another case was refused already: one rule for both now."""
    neg, pos = labels
    p = _csv(tmp_path, "a,label\n" + "".join(f"{i},{pos if i % 2 else neg}\n" for i in range(8)))
    with pytest.raises(DataError) as e:
        data.load_table(p, target="label", positive_label=label)
    assert "one of the values of the target column 'label'" in e.value.expected
    assert received in e.value.received and fix in e.value.fix
    test = _csv(tmp_path, f"a,label\n1,{neg}\n2,{neg}\n", "test.csv")  # no positive: allowed
    ds = data.load_table(p, target="label", positive_label=pos, test=test)
    assert not ds.y_test.any() and ds.y_train.any()


@pytest.mark.parametrize("name", ["pred", "logit"])
def test_a_feature_named_like_a_predict_output_is_refused(tmp_path, name: str) -> None:
    """It trained a model that predict could never use ('already has ['pred']')."""
    p = _csv(tmp_path, GOOD.replace("a,b,label", f"{name},b,label", 1))
    with pytest.raises(DataError) as e:
        data.load_table(p, target="label")
    assert f"has the feature column {name!r}" in e.value.received
    assert f"(e.g. to '{name}_in'), or name the other features with features=" in e.value.fix
    with pytest.raises(DataError, match="or leave it out of features="):
        data.load_table(p, target="label", features=["b", name])
    assert data.load_table(p, target="label", features=["b"]).feature_names == ("b",)


def test_a_parquet_text_column_names_its_type_without_header_talk(tmp_path) -> None:
    """It read "received type large_string (1 = first row after the header)"."""
    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    t = pa.table({"a": [0.1, 0.2, 0.3, 0.4], "c": ["3", "1", "2", "x"], "y": [0, 1, 0, 1]})
    pq.write_table(t.slice(0, 3), tmp_path / "nums.parquet")
    with pytest.raises(DataError) as e:
        data.load_table(tmp_path / "nums.parquet", target="y")
    assert e.value.received == "received a column of type string (e.g. '3')"
    pq.write_table(t, tmp_path / "text.parquet")
    with pytest.raises(DataError) as e:
        data.load_table(tmp_path / "text.parquet", target="y")
    assert e.value.received == "received 'x' in data row 4"
    csv = _csv(tmp_path, "a,c,y\n0.1,3,0\n0.2,x,1\n")
    with pytest.raises(DataError, match=r"'x' in data row 2 \(1 = first row after the header\)"):
        data.load_table(csv, target="y")


def test_a_header_only_table_does_not_mention_dropna(tmp_path) -> None:
    """It said 'every row had a missing value, and dropna drops those' without dropna."""
    with pytest.raises(DataError) as e:
        data.load_table(_csv(tmp_path, "a,b,label\n"), target="label", test_fraction=0.5)
    assert e.value.received == "received no data rows (only the header)"
    assert "dropna" not in str(e.value) and e.value.fix == "add rows of data to the table"
    p = _csv(tmp_path, "a,b,label\n1,,0\n,2,1\n", "na.csv")
    with pytest.raises(DataError) as e:
        data.load_table(p, target="label", dropna=True)
    assert "every row has a missing value (2 rows), and dropna=True drops those" in str(e.value)
