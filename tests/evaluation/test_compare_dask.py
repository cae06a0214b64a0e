"""``compare`` on a real two-process Dask LocalCluster: the same JSON as the local engine."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

from bcelab.evaluation import compare

from .compare_data import REPS, table, write_parts

distributed = pytest.importorskip("distributed")
pytest.importorskip("bcelab.kernels.bootstrap", reason="numba (bcelab[fast]) is missing")


@pytest.fixture(scope="module")
def client() -> Iterator[object]:
    cluster = distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0"
    )
    c = distributed.Client(cluster)
    yield c
    c.close()
    cluster.close()


@pytest.mark.parametrize("keys", ["id", "file and row"])
def test_dask_json_is_the_local_json(client: object, tmp_path: Path, keys: str) -> None:
    write_parts(tmp_path / "d", table(), 5)
    opts: dict[str, object] = {
        "target": "y",
        "preds": ("a", "b"),
        "weight": "w",
        "by": "g",
        "replicates": REPS,
        "id": "id" if keys == "id" else None,
    }
    local = compare(tmp_path / "d", threads=2, **opts)  # type: ignore[arg-type]
    dask = compare(tmp_path / "d", engine="dask", scheduler=client, **opts)  # type: ignore[arg-type]
    assert dask.engine == "dask"
    assert dask.to_dict()["keyed_by"] == keys
    assert json.dumps(dask.to_dict()) == json.dumps(local.to_dict())
    assert dask.stats == local.stats


class _Threads:
    """A client that only answers how many threads its workers have."""

    def __init__(self, *per_worker: int) -> None:
        self._threads = {f"w{i}": n for i, n in enumerate(per_worker)}

    def nthreads(self) -> dict[str, int]:
        return self._threads


class _Exact:
    exact_merge = True


def test_exact_merge_plans_send_a_few_runs_of_units_and_others_one_each() -> None:
    from types import SimpleNamespace

    from bcelab.evaluation.dask_engine import unit_groups

    units = list(range(20))  # stand-ins: only their order matters here
    exact = SimpleNamespace(accumulator=_Exact())
    groups = unit_groups(units, exact, _Threads(1, 1))  # type: ignore[arg-type]
    assert len(groups) == 4 and [u for g in groups for u in g] == units
    assert unit_groups(units[:3], exact, _Threads(2, 2)) == [[0], [1], [2]]  # type: ignore[arg-type]
    plain = SimpleNamespace(accumulator=None)
    assert unit_groups(units, plain, _Threads(1, 1)) == [[u] for u in units]  # type: ignore[arg-type]


def test_a_csv_by_column_takes_the_parquet_type_on_dask(tmp_path: Path) -> None:
    # the CSV values were text: two segments '0' and 0 on every engine
    t = table()
    g = pa.array(np.arange(t.num_rows) % 3)
    t = t.set_column(t.schema.get_field_index("g"), "g", g)
    pq.write_table(t.slice(0, t.num_rows // 2), tmp_path / "a.parquet")
    pacsv.write_csv(t.slice(t.num_rows // 2), tmp_path / "b.csv")
    opts: dict[str, object] = {"target": "y", "preds": ("a", "b"), "by": "g", "replicates": REPS}
    local = compare(tmp_path, **opts)  # type: ignore[arg-type]
    dask = compare(tmp_path, engine="dask", workers=1, **opts)  # type: ignore[arg-type]
    assert [s.value for s in dask.segments] == [0, 1, 2]
    assert json.dumps(dask.to_dict()["segments"]) == json.dumps(local.to_dict()["segments"])
