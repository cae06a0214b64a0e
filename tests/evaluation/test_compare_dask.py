"""``compare`` on a real two-process Dask LocalCluster: the same JSON as the local engine."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

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
