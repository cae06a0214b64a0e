"""Recalibration on Dask: every pass (Newton steps, the metrics after the map) on the same
merge tree as the local engine, so the JSON is identical."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import bcelab

distributed = pytest.importorskip("distributed")


@pytest.fixture(scope="module")
def client() -> Iterator[object]:
    cluster = distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0"
    )
    c = distributed.Client(cluster)
    yield c
    c.close()
    cluster.close()


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> object:
    d = tmp_path_factory.mktemp("recal-dask")
    for i in range(6):
        rng = np.random.default_rng(40 + i)
        z = rng.normal(0, 1.5, 8_000)
        t = pa.table(
            {
                "y": (rng.random(z.size) < 1 / (1 + np.exp(-z))).astype(np.float32),
                "p": (1 / (1 + np.exp(-2 * z))).astype(np.float32),
                "w": rng.uniform(0, 3, z.size).astype(np.float32),
                "g": rng.integers(0, 3, z.size),
            }
        )
        name = "calib.parquet" if i == 5 else f"part-{i}.parquet"
        pq.write_table(t, d / name, row_group_size=2_000)  # type: ignore[operator]
    return d


def _same(a: object, b: object) -> None:
    da, db = a.to_dict(), b.to_dict()  # type: ignore[attr-defined]
    da.pop("run")
    db.pop("run")
    assert da == db


def test_recalibrated_json_is_identical_on_dask(client, folder):
    client.wait_for_workers(2, timeout=60)  # type: ignore[attr-defined]
    parts = sorted(str(p) for p in folder.glob("part-*.parquet"))  # type: ignore[attr-defined]
    kw = {"preds": "p", "target": "y", "weight": "w", "by": "g", "negative_rate": 0.5}
    for extra in (
        {"recalibrate": "platt"},
        {"recalibrate": "temperature", "fit_on": folder / "calib.parquet"},  # type: ignore[operator]
        {"recalibrate": "isotonic"},
    ):
        local = bcelab.evaluate(parts, **kw, **extra)
        dask = bcelab.evaluate(parts, engine="dask", scheduler=client, **kw, **extra)
        _same(local, dask)
        assert dask.recalibration.recalibration_map.to_dict() == (
            local.recalibration.recalibration_map.to_dict()
        )
        assert dask.recalibration.stats == local.recalibration.stats
    assert client.status == "running"  # type: ignore[attr-defined]  # a caller's client stays open


def test_one_new_cluster_serves_every_pass(folder):
    parts = sorted(str(p) for p in folder.glob("part-*.parquet"))  # type: ignore[attr-defined]
    kw = {"preds": "p", "target": "y", "recalibrate": "platt"}
    passes: list[int] = []
    dask = bcelab.evaluate(
        parts, engine="dask", workers=1, progress=lambda done, total: passes.append(done), **kw
    )
    _same(bcelab.evaluate(parts, **kw), dask)
    # the rows of every pass are counted on: eval, Newton steps, the metrics after the map
    total = 5 * 8_000 * (2 + dask.recalibration.passes)
    assert passes[-1] == total and passes == sorted(passes)
