"""The Dask engine: the same unit tasks on a ``dask.distributed`` cluster, merged by a tree.

Every unit becomes one task (:func:`~bcelab.evaluation.tasks.run_unit`, a pure function
of its unit), and the states are merged by :func:`~bcelab.evaluation.tasks.tree_reduce`
with :func:`~bcelab.evaluation.tasks.merge_encoded` tasks, the same tree as the local
engine, so both engines give bit-identical results.  If a worker dies, the scheduler
recomputes the lost unit states from their files; a unit's state is only ever merged
once because the tree of task keys is fixed before anything runs.

The workers must see the files at the same paths as the client (a shared file system).
"""

from __future__ import annotations

import uuid
from typing import Any

from ..errors import DataError, OptionError
from .engine import ProgressFn, check_rows
from .reader import Unit
from .tasks import Plan, PortableError, UnitResult, decode, merge_encoded, run_unit, tree_reduce

__all__ = ["run_dask"]


def _client(scheduler: object, workers: int | None) -> tuple[Any, list[Any]]:
    """A client for ``scheduler`` (address or Client), or for a new LocalCluster."""
    try:
        import dask
        from distributed import Client, LocalCluster
    except ImportError:  # pragma: no cover - depends on the installation
        raise OptionError(
            "dask.distributed for engine='dask'",
            "it is not installed",
            "pip install 'bcelab[dask]', or use engine='local'",
        ) from None
    if scheduler is not None and workers is not None:
        raise OptionError(
            "either a scheduler address or a number of workers",
            f"received scheduler={scheduler!r} and workers={workers}",
            "--workers only sizes the LocalCluster started when no scheduler is given",
        )
    if isinstance(scheduler, Client):
        return scheduler, []
    if isinstance(scheduler, str):
        try:
            client = Client(scheduler, timeout=30)
        except (OSError, TimeoutError) as e:
            raise OptionError(
                f"a reachable Dask scheduler at {scheduler}",
                f"could not connect ({e})",
                "start one with `dask scheduler` or omit --scheduler",
            ) from None
        return client, [client]
    if scheduler is not None:
        raise OptionError(
            "scheduler must be an address like tcp://host:8786 or a Client",
            f"received {type(scheduler).__name__}",
            "pass the address string",
        )
    n = 2 if workers is None else workers
    if n < 1:
        raise OptionError("workers must be >= 1", f"received {n}", "pass e.g. --workers 2")
    with dask.config.set(_worker_config()):
        cluster = LocalCluster(
            n_workers=n, threads_per_worker=1, processes=True, dashboard_address=":0"
        )
    client = Client(cluster)
    return client, [client, cluster]


def _worker_config() -> dict[str, Any]:
    """Worker settings for the LocalCluster bcelab starts (measured in bench/bench_eval.py).

    Dask's default ``MALLOC_TRIM_THRESHOLD_=65536`` makes glibc hand freed memory back to
    the OS at once, so every batch's temporaries page-fault in again (about +10 ns per
    row here), and the statistical profiler samples every worker thread every 10 ms
    (about +4 ns per row).  The other thread limits (OMP/MKL/OpenBLAS = 1) stay.
    """
    import dask

    environ = dict(dask.config.get("distributed.nanny.pre-spawn-environ", {}) or {})
    environ.pop("MALLOC_TRIM_THRESHOLD_", None)
    return {
        "distributed.nanny.pre-spawn-environ": environ,
        "distributed.worker.profile.enabled": False,
    }


def run_dask(
    units: list[Unit],
    plan: Plan,
    *,
    scheduler: object = None,
    workers: int | None = None,
    progress: ProgressFn | None = None,
) -> UnitResult:
    """Run every unit on a Dask cluster and merge the states by tree reduction."""
    if not units:
        raise DataError("at least one file with rows", "received none", "check the paths")
    from distributed import as_completed

    client, owned = _client(scheduler, workers)
    token = uuid.uuid4().hex[:12]
    total = None if any(u.rows is None for u in units) else sum(u.rows or 0 for u in units)
    try:
        leaves = [
            # no retries: a task only fails on bad data, and bad data fails again (a dead
            # worker is handled by the scheduler, which recomputes what the worker held)
            client.submit(run_unit, u, plan, key=f"bcelab-unit-{token}-{u.index}", pure=False)
            for u in units
        ]
        count = iter(range(len(units)))

        def merge(a: Any, b: Any) -> Any:
            return client.submit(
                merge_encoded,
                a,
                b,
                key=f"bcelab-merge-{token}-{next(count)}",
                pure=False,
            )

        final = tree_reduce(list(leaves), merge)
        rows_of = {f.key: u.rows or 0 for f, u in zip(leaves, units, strict=True)}
        done = 0
        for f in as_completed(leaves):
            if f.status == "error":
                break  # the final result raises the task's error below
            if progress is not None:
                done += rows_of[f.key]
                progress(done, total)
        del leaves
        try:
            res: UnitResult = final.result()
        except PortableError as e:
            raise e.restore() from None
        res = decode(res)
        check_rows(units, res)
        return res
    finally:
        for obj in owned:
            obj.close()
