"""The Dask engine on a real two-process LocalCluster (issue 5, section 4)."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

import bcelab
from bcelab.errors import DataError, DomainError, OptionError

distributed = pytest.importorskip("distributed")

N_FILES, ROWS = 16, 50_000


@pytest.fixture(scope="module")
def client() -> Iterator[object]:
    cluster = distributed.LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        dashboard_address=":0",
        silence_logs=50,  # logging.CRITICAL: the killed worker is expected
    )
    c = distributed.Client(cluster)
    yield c
    c.close()
    cluster.close()


def _write(d: object, n_files: int, rows: int, *, csv: bool = False) -> None:
    for i in range(n_files):
        rng = np.random.default_rng(100 + i)
        z = rng.normal(0, 2, rows)
        p = (1 / (1 + np.exp(-z))).astype(np.float32)
        t = pa.table(
            {
                "y": (rng.random(rows) < p).astype(np.float32),
                "p": p,
                "w": rng.uniform(0, 3, rows).astype(np.float32),
                "g": rng.integers(0, 4, rows),
            }
        )
        if csv:
            pacsv.write_csv(t, d / f"part-{i:02d}.csv")  # type: ignore[operator]
        else:
            pq.write_table(t, d / f"part-{i:02d}.parquet", row_group_size=10_000)  # type: ignore[operator]


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> object:
    d = tmp_path_factory.mktemp("dask")
    _write(d, N_FILES, ROWS)
    return d


def _ready(client: object) -> str:
    client.wait_for_workers(2, timeout=60)  # type: ignore[attr-defined]
    return str(client.scheduler.address)  # type: ignore[attr-defined]


def _assert_identical(a: object, b: object) -> None:
    # Same merge tree, same per-unit states: bit-identical (stronger than the 1e-12).
    assert a.stats == b.stats  # type: ignore[attr-defined]
    assert a.to_dict()["metrics"] == b.to_dict()["metrics"]  # type: ignore[attr-defined]
    for sa, sb in zip(a.segments, b.segments, strict=True):  # type: ignore[attr-defined]
        assert sa.value == sb.value and sa.stats == sb.stats


def test_dask_equals_local(client, folder, tmp_path):
    addr = _ready(client)
    kw = {"preds": "p", "target": "y", "weight": "w", "by": "g"}
    local = bcelab.evaluate(folder, **kw)
    dask = bcelab.evaluate(folder, engine="dask", scheduler=addr, **kw)
    assert dask.rows == N_FILES * ROWS and dask.to_dict()["run"]["engine"] == "dask"
    _assert_identical(local, dask)
    # CSV units (one per file) too, and a Client object instead of an address
    _write(tmp_path, 3, 2000, csv=True)
    _assert_identical(
        bcelab.evaluate(tmp_path, preds="p", target="y"),
        bcelab.evaluate(tmp_path, preds="p", target="y", engine="dask", scheduler=client),
    )


def test_dask_on_an_in_memory_table(client, folder):
    """A table's slices travel with their tasks: the same numbers as the local engine."""
    _ready(client)
    table = pa.Table.from_batches(
        b for f in sorted(folder.iterdir()) for b in pq.read_table(f).to_batches()
    )
    kw = {"preds": "p", "target": "y", "weight": "w", "by": "g"}
    _assert_identical(
        bcelab.evaluate(table, **kw), bcelab.evaluate(table, engine="dask", scheduler=client, **kw)
    )


def test_worker_errors_come_back_as_bcelab_errors(client, tmp_path):
    addr = _ready(client)
    _write(tmp_path, 2, 1000)
    pq.write_table(
        pa.table({"y": [1.0, 0.0], "p": [0.5, 3.0], "w": [1.0, 1.0], "g": [0, 0]}),
        tmp_path / "part-99.parquet",
    )
    with pytest.raises(DomainError, match=r"probabilities must lie in \[0, 1\].*part-99"):
        bcelab.evaluate(tmp_path, preds="p", target="y", engine="dask", scheduler=addr)
    with pytest.raises(OptionError, match="either a scheduler"):
        bcelab.evaluate(tmp_path, preds="p", target="y", engine="dask", scheduler=addr, workers=2)


def test_killed_workers_change_nothing(client, folder):
    addr = _ready(client)
    expected = bcelab.evaluate(folder, preds="p", target="y", weight="w", by="g")
    pids = list(client.run(os.getpid).values())
    killed: list[int] = []
    at_kill: list[int] = []

    def kill_on_first_progress(done: int, total: int | None) -> None:
        # After the first unit has finished, kill every worker: the finished unit states
        # they held are lost, the running units are interrupted, and the scheduler must
        # recompute them from the files on the restarted workers.
        if not killed:
            at_kill.append(done)
            for pid in pids:
                os.kill(pid, signal.SIGKILL)
                killed.append(pid)

    with distributed.get_task_stream(client) as stream:
        res = bcelab.evaluate(
            folder,
            preds="p",
            target="y",
            weight="w",
            by="g",
            engine="dask",
            scheduler=addr,
            progress=kill_on_first_progress,
        )
    assert killed == pids and at_kill[0] < N_FILES * ROWS  # killed mid-run
    runs = [t["key"] for t in stream.data if "bcelab-unit" in str(t["key"])]
    assert len(runs) > N_FILES  # some units really ran twice (lost results recomputed)
    new_pids = set(client.run(os.getpid).values())
    assert not new_pids & set(pids)  # the workers really were replaced
    # nothing lost, nothing counted twice: exact counts, bit-identical sums
    assert res.rows == expected.rows == N_FILES * ROWS
    assert res.metrics.rows == N_FILES * ROWS
    _assert_identical(expected, res)


def test_cli_starts_its_own_local_cluster(tmp_path, capsys):
    import json

    from bcelab.cli import main

    _write(tmp_path, 2, 3000)
    base = [str(tmp_path), "--target", "y", "--pred", "p", "--json"]
    assert main(["eval", *base]) == 0
    local = json.loads(capsys.readouterr().out)
    assert main(["eval", *base, "--engine", "dask", "--workers", "1"]) == 0
    dask = json.loads(capsys.readouterr().out)
    assert dask["run"]["engine"] == "dask" and dask["metrics"] == local["metrics"]


def test_local_cluster_worker_settings():
    # The LocalCluster bcelab starts keeps Dask's thread limits but neither trims malloc
    # after every free nor runs the profiler (both cost time per row; bench_eval.py).
    from bcelab.evaluation.dask_engine import local_cluster_config

    cfg = local_cluster_config()
    env = cfg["distributed.nanny.pre-spawn-environ"]
    assert "MALLOC_TRIM_THRESHOLD_" not in env and env.get("OMP_NUM_THREADS") in (1, "1")
    assert cfg["distributed.worker.profile.enabled"] is False


def test_nan_segment_is_one_segment_on_dask(client, tmp_path):
    """Each worker's NaN rows come back pickled: still one segment, the local one."""
    _ready(client)
    rng = np.random.default_rng(5)
    for i in range(3):
        g = rng.choice([0.5, np.nan], 1500)
        p = rng.uniform(0.05, 0.95, 1500)
        y = (rng.uniform(size=1500) < p).astype(float)
        pq.write_table(pa.table({"y": y, "p": p, "g": g}), tmp_path / f"part-{i}.parquet")
    kw = {"preds": "p", "target": "y", "by": "g"}
    local = bcelab.evaluate(tmp_path, **kw)
    dask = bcelab.evaluate(tmp_path, engine="dask", scheduler=client, **kw)
    assert len(dask.segments) == 2 and np.isnan(dask.segments[1].value)
    _assert_identical(local, dask)


def test_too_many_segments_across_files_names_the_column(client, tmp_path):
    """Each file under the limit, the files together over it: the merge task's error
    names the column, as the local engine's does."""
    from bcelab.evaluation.tasks import MAX_SEGMENTS

    _ready(client)
    for i in range(2):
        g = np.arange(i * 150, (i + 1) * 150)
        t = pa.table({"y": np.ones(150), "p": np.full(150, 0.5), "g": g})
        pq.write_table(t, tmp_path / f"part-{i}.parquet")
    with pytest.raises(
        DataError, match=f"at most {MAX_SEGMENTS} distinct values in the by column 'g'"
    ):
        bcelab.evaluate(tmp_path, preds="p", target="y", by="g", engine="dask", scheduler=client)


BAD_ADDRESSES = [
    ("nonsense", "no :PORT after the host"),
    ("tcp://", "nothing after tcp://"),
    ("tcp://:8786x", "the port '8786x' is not a whole number in 1-65535"),
    ("tcp://:8786", "no host before the port"),
    ("tcp://host:99999", "the port '99999' is not a whole number"),
    ("inproc://abc", "an inproc:// address is inproc://"),
    ("tls://host:1", "tls:// needs Dask's TLS configuration"),
    ("foo://host:1", "foo:// is no Dask protocol"),
]


@pytest.mark.parametrize(("address", "problem"), BAD_ADDRESSES)
@pytest.mark.parametrize("fname", ["evaluate", "compare"])
def test_a_malformed_scheduler_address_is_refused_before_any_file(address, problem, fname):
    """Client reads an address only when it connects (a ValueError or TypeError from
    inside distributed, after the files were opened): refused at the door instead."""
    call = bcelab.evaluate if fname == "evaluate" else bcelab.evaluation.compare
    preds = "p" if fname == "evaluate" else ("p", "q")
    with pytest.raises(OptionError) as e:
        call("/no/such/file.parquet", preds=preds, target="y", engine="dask", scheduler=address)
    assert e.value.expected.startswith(f"{fname}: scheduler must be the address of a running")
    assert "tcp://HOST:PORT" in e.value.expected
    assert e.value.received.startswith(f"received scheduler={address!r} ({problem}")
    tls = address.startswith("tls")
    assert ("distributed.comm.tls.ca-file" if tls else "scheduler='tcp://") in e.value.fix


@pytest.mark.parametrize(
    "address", ["tcp://127.0.0.1:8786", "localhost:8786", "tcp://[::1]:8786", "ws://host:80"]
)
def test_well_formed_scheduler_addresses_pass_the_check(address, client):
    from bcelab.evaluation.dask_engine import check_dask_options

    check_dask_options(address, None, fname="evaluate")
    check_dask_options(client, None, fname="evaluate")
    check_dask_options(client.scheduler.address, None, fname="evaluate")


def test_relative_paths_reach_workers_in_another_directory(client, tmp_path, monkeypatch):
    """The workers of a scheduler may run anywhere: a path relative to the caller's
    directory reaches them as an absolute one."""
    _ready(client)
    _write(tmp_path, 2, 1000)
    _write(tmp_path, 1, 1000, csv=True)
    expected = bcelab.evaluate(tmp_path, preds="p", target="y")
    monkeypatch.chdir(tmp_path)
    before = client.run(os.getcwd)
    client.run(os.chdir, "/")
    try:
        names = ["part-00.parquet", "part-01.parquet", "part-00.csv"]
        res = bcelab.evaluate(names, preds="p", target="y", engine="dask", scheduler=client)
    finally:
        for worker, cwd in before.items():
            client.run(os.chdir, cwd, workers=[worker])
    assert res.rows == expected.rows == 3000
    assert res.source == tuple(names)  # the result names the paths as they were given


def test_a_data_error_on_bcelabs_own_cluster_prints_only_its_message(tmp_path, capfd):
    """The workers of the LocalCluster bcelab starts log nothing below CRITICAL: a task
    that fails on bad data gives one message, not "Compute Failed" blocks before it."""
    from bcelab.cli import main

    pq.write_table(pa.table({"y": [1.0, -1.0], "p": [0.5, 0.5]}), tmp_path / "pm1.parquet")
    args = ["--target", "y", "--pred", "p", "--engine", "dask", "--workers", "1"]
    assert main(["eval", str(tmp_path / "pm1.parquet"), *args]) == 2
    err = capfd.readouterr().err
    assert "bcelab eval: error: --target column 'y' with values in [0, 1]" in err
    assert "Compute Failed" not in err and "Traceback" not in err, err


def test_a_csv_by_column_takes_the_parquet_type_on_dask(tmp_path):
    # the CSV values were text: two segments '0' and 0 on every engine
    rng = np.random.default_rng(6)
    p = rng.uniform(0.05, 0.95, 400)
    table = pa.table({"y": (rng.uniform(size=400) < p).astype(float), "p": p})
    table = table.append_column("g", pa.array(rng.integers(0, 2, 400)))
    pq.write_table(table.slice(0, 200), tmp_path / "a.parquet")
    pacsv.write_csv(table.slice(200), tmp_path / "b.csv")
    kw = {"preds": "p", "target": "y", "by": "g"}
    local = bcelab.evaluate(tmp_path, **kw)
    dask = bcelab.evaluate(tmp_path, engine="dask", workers=1, **kw)
    assert [s.value for s in dask.segments] == [0, 1]
    _assert_identical(local, dask)
