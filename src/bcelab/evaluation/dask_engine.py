"""The Dask engine: the same unit tasks on a ``dask.distributed`` cluster, merged by a tree.

Every unit becomes one task (:func:`~bcelab.evaluation.tasks.run_unit`, a pure function
of its unit), and the states are merged by :func:`~bcelab.evaluation.merge_tree.tree_reduce`
with :func:`~bcelab.evaluation.tasks.merge_encoded` tasks, the same tree as the local
engine, so both engines give bit-identical results.  If a worker dies, the scheduler
recomputes the lost unit states from their files; a unit's state is only ever merged
once because the tree of task keys is fixed before anything runs.

The workers must see the files at the same paths as the client (a shared file system).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from ..errors import DataError, OptionError
from .local_engine import ProgressFn, check_rows, total_rows
from .merge_tree import tree_reduce
from .reader import Unit
from .tasks import (
    Plan,
    PortableError,
    UnitResult,
    decode,
    exact_merge,
    merge_encoded,
    run_unit,
    run_unit_group,
)

__all__ = [
    "DEFAULT_WORKERS",
    "check_dask_options",
    "dask_session",
    "local_cluster_config",
    "run_dask",
    "unit_groups",
]

DEFAULT_WORKERS = 2  # worker processes of the LocalCluster started when no scheduler is given


def check_dask_options(scheduler: object, workers: int | None) -> None:
    """Check ``engine='dask'``'s options before any file is read.

    Dask must be installed; ``scheduler`` is None, an address or a ``Client``; ``workers``
    (already an integer >= 1 or None) only sizes the LocalCluster started without one.
    """
    try:
        # optional dependency: the dask extra
        from distributed import Client
    except ImportError:  # pragma: no cover - depends on the installation
        raise OptionError(
            "evaluate: dask.distributed for engine='dask'",
            "it is not installed",
            "pip install 'bcelab[dask]', or use engine='local'",
        ) from None
    if scheduler is not None and not isinstance(scheduler, (str, Client)):
        raise OptionError(
            "evaluate: scheduler must be an address like 'tcp://host:8786' or a Client",
            f"received a {type(scheduler).__name__}",
            "pass the address string",
        )
    if scheduler is not None and workers is not None:
        raise OptionError(
            "evaluate: either a scheduler or a number of workers",
            f"received scheduler={scheduler!r} and workers={workers}",
            "workers= only sizes the LocalCluster started when no scheduler is given; "
            "drop one of them",
        )


def _client(scheduler: object, workers: int | None) -> tuple[Any, list[Any]]:
    """A client for ``scheduler`` (address or Client), or for a new LocalCluster.

    The options were checked by :func:`check_dask_options`.  Returns the client and the
    objects to close afterwards (none for a caller's Client).
    """
    # optional dependency: the dask extra
    import dask
    from distributed import Client, LocalCluster

    if isinstance(scheduler, Client):
        return scheduler, []
    if isinstance(scheduler, str):
        try:
            client = Client(scheduler, timeout=30)
        except (OSError, TimeoutError) as e:
            raise OptionError(
                f"a reachable Dask scheduler at {scheduler}",
                f"could not connect ({e})",
                "start one with `dask scheduler`, or pass scheduler=None to start a LocalCluster",
            ) from None
        return client, [client]
    n = DEFAULT_WORKERS if workers is None else workers
    with dask.config.set(local_cluster_config()):
        cluster = LocalCluster(
            n_workers=n, threads_per_worker=1, processes=True, dashboard_address=":0"
        )
    client = Client(cluster)
    return client, [client, cluster]


@contextmanager
def dask_session(scheduler: object, workers: int | None) -> Iterator[Any]:
    """One client for several passes over the data (closed at the end when it is ours).

    Yields what :func:`run_dask` takes as ``scheduler``; the options were checked by
    :func:`check_dask_options`.
    """
    client, owned = _client(scheduler, workers)
    try:
        yield client
    finally:
        for obj in owned:
            obj.close()


def local_cluster_config() -> dict[str, Any]:
    """Worker settings for the LocalCluster bcelab starts.

    Dask's default ``MALLOC_TRIM_THRESHOLD_=65536`` makes glibc hand freed memory back to
    the OS at once, so every batch's temporaries page-fault in again (about +10 ns per
    row), and the statistical profiler samples every worker thread every 10 ms (about
    +4 ns per row).  The other thread limits (OMP/MKL/OpenBLAS = 1) stay.
    """
    # optional dependency: the dask extra
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
    """Run every unit on a Dask cluster and merge the states by tree reduction.

    ``scheduler`` and ``workers`` were checked by :func:`check_dask_options`.
    """
    if not units:
        raise DataError("at least one file with rows", "received none", "check the paths")
    # optional dependency: the dask extra
    from distributed import as_completed

    client, owned = _client(scheduler, workers)
    token = uuid.uuid4().hex[:12]
    total = total_rows(units)
    try:
        groups = unit_groups(units, plan, client)
        leaves = [
            # no retries: a task only fails on bad data, and bad data fails again (a dead
            # worker is handled by the scheduler, which recomputes what the worker held)
            client.submit(run_unit, g[0], plan, key=f"bcelab-unit-{token}-{i}", pure=False)
            if len(g) == 1
            else client.submit(run_unit_group, g, plan, key=f"bcelab-units-{token}-{i}", pure=False)
            for i, g in enumerate(groups)
        ]
        count = iter(range(len(units)))

        def merge(a: Any, b: Any) -> Any:
            return client.submit(
                merge_encoded,
                a,
                b,
                plan,
                key=f"bcelab-merge-{token}-{next(count)}",
                pure=False,
            )

        final = tree_reduce(list(leaves), merge)
        rows_of = {f.key: sum(u.rows or 0 for u in g) for f, g in zip(leaves, groups, strict=True)}
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
        res = decode(res, plan.accumulator)
        check_rows(units, res)
        return res
    finally:
        for obj in owned:
            obj.close()


def unit_groups(units: list[Unit], plan: Plan, client: Any) -> list[list[Unit]]:
    """The units of each task: one each, or, for a plan whose states merge exactly, runs
    of consecutive units, two runs per worker thread (fewer states to send and merge; the
    result is the same bits)."""
    if not exact_merge(plan):
        return [[u] for u in units]
    threads = max(1, sum(client.nthreads().values()))
    n = min(len(units), 2 * threads)
    size = -(-len(units) // n)
    return [units[i : i + size] for i in range(0, len(units), size)]
