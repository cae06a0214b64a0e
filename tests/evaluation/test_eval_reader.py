"""The streaming reader and the shared merge order (issue 5, sections 3 and 4; Bad input)."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
from hypothesis import given
from hypothesis import strategies as st

import bcelab
from bcelab.errors import DataError, DTypeError
from bcelab.evaluation import compare
from bcelab.evaluation.columns import Columns
from bcelab.evaluation.merge_tree import OrderedReducer, tree_reduce
from bcelab.evaluation.reader import iter_unit, plan_units

COLS = Columns("y", "p")


def _table(n: int, seed: int = 0) -> pa.Table:
    rng = np.random.default_rng(seed)
    p = rng.random(n).astype(np.float32)
    y = (rng.random(n) < p).astype(np.float32)
    return pa.table({"y": y, "p": p, "g": rng.integers(0, 3, n)})


def _rows(path: object, cols: Columns = COLS, **kw: int) -> tuple[int, np.ndarray]:
    units = plan_units([path], cols, **kw)  # type: ignore[list-item]
    ps = [b.pred for u in units for b in iter_unit(u, cols)]
    return sum(len(p) for p in ps), np.concatenate(ps)


def test_parquet_units_cover_every_row_once(tmp_path):
    t = _table(10_000)
    pq.write_table(t, tmp_path / "a.parquet", row_group_size=700)
    units = plan_units([tmp_path / "a.parquet"], COLS, unit_rows=2000)
    # 15 row groups of <= 700 rows, grouped to >= 2000 rows: every group exactly once
    groups = [g for u in units for g in u.row_groups]
    assert groups == list(range(15))
    assert sum(u.rows or 0 for u in units) == 10_000
    n, p = _rows(tmp_path / "a.parquet", unit_rows=2000)
    assert n == 10_000
    np.testing.assert_array_equal(p, t["p"].to_numpy())


def test_batches_have_at_most_batch_rows(tmp_path):
    pq.write_table(_table(5000), tmp_path / "a.parquet", row_group_size=5000)
    (u,) = plan_units([tmp_path / "a.parquet"], COLS)
    sizes = [len(b) for b in iter_unit(u, COLS, batch_rows=1024)]
    assert max(sizes) <= 1024 and sum(sizes) == 5000


def test_csv_and_folder_discovery(tmp_path):
    t = _table(3000)
    pacsv.write_csv(t.slice(0, 1000), tmp_path / "b.csv")
    pq.write_table(t.slice(1000), tmp_path / "a.parquet")
    (tmp_path / "_SUCCESS").write_text("")
    (tmp_path / ".hidden.parquet").write_bytes(b"not parquet")
    (tmp_path / "notes.txt").write_text("ignored")
    units = plan_units([tmp_path], COLS)
    assert [u.kind for u in units] == ["parquet", "csv"]  # sorted by path: a.parquet, b.csv
    n, _ = _rows(tmp_path)
    assert n == 3000


def test_units_name_their_files_by_absolute_path(tmp_path, monkeypatch):
    """A Dask worker may run in another directory: a relative path the caller passed
    reaches the tasks as an absolute one."""
    (tmp_path / "d").mkdir()
    pq.write_table(_table(100), tmp_path / "d" / "a.parquet")
    pacsv.write_csv(_table(100), tmp_path / "b.csv")
    monkeypatch.chdir(tmp_path)
    units = plan_units(["d", "b.csv"], COLS)
    assert [u.path for u in units] == [str(tmp_path / "d" / "a.parquet"), str(tmp_path / "b.csv")]


def test_a_file_named_twice_is_refused_not_counted_twice(tmp_path):
    pq.write_table(_table(100), tmp_path / "a.parquet")
    (tmp_path / "link.parquet").symlink_to(tmp_path / "a.parquet")
    twice = {
        "twice": [tmp_path / "a.parquet", tmp_path / "a.parquet"],
        "folder and file": [tmp_path, tmp_path / "a.parquet"],
        "another name": [tmp_path / "a.parquet", tmp_path / "sub" / ".." / "a.parquet"],
    }
    (tmp_path / "sub").mkdir()
    for paths in twice.values():
        with pytest.raises(DataError, match=r"each file once.*pass each file or folder once"):
            plan_units(paths, COLS)
    with pytest.raises(DataError, match=r"one file as .*a\.parquet and .*link\.parquet"):
        plan_units([tmp_path / "a.parquet", tmp_path / "link.parquet"], COLS)
    with pytest.raises(DataError, match="each file once"):
        bcelab.evaluate([tmp_path / "a.parquet"] * 2, preds="p", target="y")
    other = tmp_path / "sub" / "a.parquet"
    pq.write_table(_table(100), other)  # the same name in another folder is another file
    assert sum(u.rows or 0 for u in plan_units([tmp_path / "a.parquet", other], COLS)) == 200


def test_hive_partition_folders_become_columns(tmp_path):
    for seg in ("x", "y y"):
        d = tmp_path / f"seg={seg.replace(' ', '%20')}"
        d.mkdir()
        pq.write_table(_table(100), d / "part-0.parquet")
    cols = Columns("y", "p", by="seg")
    units = plan_units([tmp_path], cols)
    vals = set()
    for u in units:
        for b in iter_unit(u, cols):
            assert b.by is not None
            codes, values = b.by
            vals |= {values[c] for c in codes}
    assert vals == {"x", "y y"}


def test_missing_column_lists_available(tmp_path):
    pq.write_table(_table(10), tmp_path / "a.parquet")
    with pytest.raises(DataError, match=r"\['label'\] not found; available: \['y', 'p', 'g'\]"):
        plan_units([tmp_path / "a.parquet"], Columns("label", "p"))
    pacsv.write_csv(_table(10), tmp_path / "b.csv")
    with pytest.raises(DataError, match=r"\['score'\] not found; available: \['y', 'p', 'g'\]"):
        plan_units([tmp_path / "b.csv"], Columns("y", "score"))


@pytest.mark.parametrize(("sep", "shown"), [(";", "';'"), ("\t", "'\\t'"), ("|", "'|'")])
def test_a_csv_file_read_with_the_wrong_separator_says_which(tmp_path, sep, shown):
    path = tmp_path / "semi.csv"
    path.write_text(f"p{sep}y\n0.5{sep}1\n0.25{sep}0\n")
    with pytest.raises(DataError) as err:
        bcelab.evaluate(path, preds="p", target="y")
    assert err.value.fix == f"the file's fields look separated by {shown}: pass delimiter={shown}"
    res = bcelab.evaluate(path, preds="p", target="y", delimiter=sep)
    assert res.rows == 2


def test_non_numeric_column_is_a_dtype_error(tmp_path):
    pq.write_table(pa.table({"y": [1.0, 0.0], "p": ["a", "b"]}), tmp_path / "a.parquet")
    with pytest.raises(DTypeError, match=r"'p'.*must hold numbers"):
        plan_units([tmp_path / "a.parquet"], COLS)


def test_text_target_names_its_values_and_the_fix(tmp_path):
    pq.write_table(pa.table({"y": ["no", "yes"], "p": [0.1, 0.2]}), tmp_path / "a.parquet")
    with pytest.raises(DataError, match=r"text labels.*'no', 'yes'.*positive_label='yes'"):
        plan_units([tmp_path / "a.parquet"], COLS)


def test_empty_files_are_clear_errors(tmp_path):
    (tmp_path / "e.parquet").write_bytes(b"")
    (tmp_path / "e.csv").write_text("")
    with pytest.raises(DataError, match=r"e\.parquet.*empty \(0 bytes\)"):
        plan_units([tmp_path / "e.parquet"], COLS)
    with pytest.raises(DataError, match=r"e\.csv.*empty \(0 bytes\)"):
        plan_units([tmp_path / "e.csv"], COLS)


def test_missing_path_and_unknown_suffix(tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        plan_units([tmp_path / "nope.parquet"], COLS)
    (tmp_path / "a.json").write_text("{}")
    with pytest.raises(DataError, match="rename it") as e:
        plan_units([tmp_path / "a.json"], COLS)
    assert "'.json'" in e.value.received and "(suffixes: .parquet, .parq," in e.value.fix
    (tmp_path / "rows").write_text("p,y\n0.5,1\n")
    with pytest.raises(DataError, match="the name has no suffix"):
        plan_units([tmp_path / "rows"], COLS)
    with pytest.raises(DataError, match="standard input") as e:  # the shell's "-"
        plan_units(["-"], COLS)
    assert "save the rows to a .csv or .parquet file" in e.value.fix
    (tmp_path / "sub").mkdir()
    with pytest.raises(DataError, match="found none"):
        plan_units([tmp_path / "sub"], COLS)


def test_truncated_parquet_names_the_file(tmp_path):
    pq.write_table(_table(20_000), tmp_path / "a.parquet")
    data = (tmp_path / "a.parquet").read_bytes()
    (tmp_path / "t.parquet").write_bytes(data[: len(data) // 2])
    with pytest.raises(DataError, match=r"t\.parquet.*footer.*corrupt or truncated"):
        plan_units([tmp_path / "t.parquet"], COLS)


def test_corrupt_parquet_page_names_file_row_group_and_batch(tmp_path):
    path = tmp_path / "c.parquet"
    pq.write_table(_table(30_000), path, row_group_size=10_000, write_page_checksum=True)
    md = pq.ParquetFile(path).metadata
    off = md.row_group(2).column(1).data_page_offset + 64  # inside row group 2's page data
    data = bytearray(path.read_bytes())
    data[off : off + 32] = bytes(b ^ 0xFF for b in data[off : off + 32])
    path.write_bytes(bytes(data))
    units = plan_units([path], COLS, unit_rows=1)
    for u in units[:2]:  # row groups 0 and 1 are intact
        assert sum(len(b) for b in iter_unit(u, COLS)) == 10_000
    with pytest.raises(DataError, match=r"c\.parquet \(row group 2\), batch 0"):
        list(iter_unit(units[2], COLS))


def test_corrupt_csv_names_file_and_batch(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("y,p\n" + "1,0.5\n" * 10 + "1,0.5,7\n" + "0,0.2\n" * 10)
    (u,) = plan_units([path], COLS)
    with pytest.raises(DataError, match=r"bad\.csv.*line 12: Expected 2 columns, got 3"):
        list(iter_unit(u, COLS))
    path.write_text("y,p\n1,0.5\n0,abc\n")
    (u,) = plan_units([path], COLS)
    with pytest.raises(DataError, match=r"column 'p' of .*bad\.csv; line 3 holds 'abc'"):
        list(iter_unit(u, COLS))


def test_csv_nulls_become_nan_not_dropped(tmp_path):
    path = tmp_path / "n.csv"
    path.write_text("y,p\n1,0.5\n0,\n,0.3\n")
    (u,) = plan_units([path], COLS)
    (b,) = list(iter_unit(u, COLS))
    assert len(b) == 3
    assert np.isnan(b.pred[1]) and np.isnan(b.target[2])


@given(st.integers(1, 70), st.permutations(range(70)))
def test_ordered_reducer_builds_the_tree_of_tree_reduce(n, perm):
    # The local engine (OrderedReducer, items in any arrival order) and the Dask engine
    # (tree_reduce) must merge in the same tree for bit-identical results.
    def merge(a: str, b: str) -> str:
        return f"({a} {b})"

    red = OrderedReducer(merge)
    for i in [k for k in perm if k < n]:
        red.add(i, str(i))
    assert red.result() == tree_reduce([str(i) for i in range(n)], merge)


def test_tree_reduce_shape():
    assert tree_reduce(list("abcde"), lambda a, b: f"({a}{b})") == "(((ab)(cd))e)"


def _mixed(folder, seg_type, csv_segs=("0", "1", "1", "")):
    """A folder of one Parquet file and one CSV file, both with a by column 'seg'."""
    folder.mkdir()
    seg = pa.array([0, 1, 0]).cast(seg_type)
    table = pa.table({"p": [0.2, 0.7, 0.4], "q": [0.3, 0.6, 0.5], "y": [0.0, 1.0, 1.0], "seg": seg})
    pq.write_table(table, folder / "a.parquet")
    lines = "".join(f"0.5,0.4,1,{s}\n" for s in csv_segs)
    (folder / "b.csv").write_text("p,q,y,seg\n" + lines)
    return folder


@pytest.mark.parametrize("seg_type", [pa.int64(), pa.int8(), pa.float32()])
def test_a_csv_by_column_takes_the_type_of_the_parquet_files(tmp_path, seg_type):
    # the CSV values were text: '0' and 0 made two segments
    folder = _mixed(tmp_path / "mixed", seg_type)
    res = bcelab.evaluate(folder, preds="p", target="y", by="seg")
    assert [(s.value, s.stats.rows) for s in res.segments] == [(0, 3), (1, 3), (None, 1)]
    assert all(type(s.value) is type(res.segments[0].value) for s in res.segments[:2])
    pair = compare(folder, preds=("p", "q"), target="y", by="seg", replicates=40)
    assert [s.value for s in pair.segments] == [0, 1, None]


def test_a_csv_by_column_stays_text_beside_text_parquet_files(tmp_path):
    folder = _mixed(tmp_path / "mixed", pa.string(), ("0", "x", "1", ""))
    res = bcelab.evaluate(folder, preds="p", target="y", by="seg")
    got = [(s.value, s.stats.rows) for s in res.segments]
    assert got == [("0", 3), ("1", 2), ("x", 1), (None, 1)]


def test_a_csv_by_value_the_parquet_type_cannot_hold_names_its_line(tmp_path):
    folder = _mixed(tmp_path / "mixed", pa.int64(), ("0", "1", "x1", "1"))
    with pytest.raises(DataError) as e:
        bcelab.evaluate(folder, preds="p", target="y", by="seg")
    assert str(e.value).startswith(
        f"values of type int64 in the by column 'seg' of {folder / 'b.csv'} (its type in the "
        "Parquet files of the run); line 4 holds 'x1'. fix that row (only an empty cell is a "
        "missing value), or write the by column "
        "as text in the Parquet files too"
    )


def test_by_columns_of_different_kinds_are_refused_not_merged(tmp_path):
    # False == 0 and True == 1 in Python: a bool file and an int file made two segments
    for name, seg in (("a", pa.array([False, True])), ("b", pa.array([0, 1]))):
        table = pa.table({"p": [0.2, 0.7], "q": [0.3, 0.6], "y": [0.0, 1.0], "seg": seg})
        pq.write_table(table, tmp_path / f"{name}.parquet")
    want = (
        rf"booleans \(bool\) in {tmp_path / 'a.parquet'}; numbers \(int64\) in "
        rf"{tmp_path / 'b.parquet'}"
    )
    with pytest.raises(DataError, match=want):
        bcelab.evaluate(tmp_path, preds="p", target="y", by="seg")
    with pytest.raises(DataError, match=want):
        compare(tmp_path, preds=("p", "q"), target="y", by="seg", replicates=40)
    assert bcelab.evaluate(tmp_path, preds="p", target="y").metrics.rows == 4
