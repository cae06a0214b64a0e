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

import logging
import os
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
    "check_scheduler_address",
    "dask_session",
    "local_cluster_config",
    "run_dask",
    "unit_groups",
]

DEFAULT_WORKERS = 2  # worker processes of the LocalCluster started when no scheduler is given


#: what ``scheduler=`` may be, in the messages that refuse it
_SCHEDULER_EXPECTED = (
    "scheduler must be the address of a running Dask scheduler, tcp://HOST:PORT (or "
    "tls://, ws://, wss://, ucx://; inproc:// for one in this process), or a distributed.Client"
)
_ADDRESS_FIX = (
    "pass the address that `dask scheduler` prints, e.g. scheduler='tcp://127.0.0.1:8786', "
    "or pass scheduler=None to start a LocalCluster"
)
_TLS_FIX = (
    "set Dask's TLS configuration (distributed.comm.tls.ca-file, "
    "distributed.comm.tls.client.cert and distributed.comm.tls.client.key, e.g. in "
    "~/.config/dask/distributed.yaml), or use the scheduler's tcp:// address"
)


def check_dask_options(scheduler: object, workers: int | None, *, fname: str) -> None:
    """Check ``engine='dask'``'s options before any file is read (``fname``: the function
    the caller called, at the front of the messages).

    Dask must be installed; ``scheduler`` is None, a ``Client``, or an address that
    ``Client`` can connect to (:func:`check_scheduler_address`); ``workers`` (already an
    integer >= 1 or None) only sizes the LocalCluster started without one.
    """
    try:
        # optional dependency: the dask extra
        from distributed import Client
    except ImportError:  # pragma: no cover - depends on the installation
        raise OptionError(
            f"{fname}: dask.distributed for engine='dask'",
            "it is not installed",
            "pip install 'bcelab[dask]', or use engine='local'",
        ) from None
    if scheduler is not None and not isinstance(scheduler, (str, Client)):
        raise OptionError(
            f"{fname}: {_SCHEDULER_EXPECTED}",
            f"received scheduler of type {type(scheduler).__name__}",
            _ADDRESS_FIX,
        )
    if isinstance(scheduler, str):
        check_scheduler_address(scheduler, fname=fname)
    if scheduler is not None and workers is not None:
        raise OptionError(
            f"{fname}: either a scheduler or a number of workers",
            f"received scheduler={scheduler!r} and workers={workers}",
            "workers= only sizes the LocalCluster started when no scheduler is given; "
            "drop one of them",
        )


def check_scheduler_address(address: str, *, fname: str) -> None:
    """``address`` is one that ``distributed.Client`` can connect to: SCHEME://HOST:PORT
    (no scheme: tcp://) with a port in 1-65535, tls:// only with Dask's TLS configuration
    set, or inproc://IP/PID/N of a scheduler in this process.  ``Client`` itself reads an
    address only when it connects, and refuses a malformed one with a ValueError or a
    TypeError from deep inside ``distributed``."""
    # optional dependency: the dask extra (checked by the caller)
    from distributed.comm.addressing import parse_address
    from distributed.comm.registry import backends

    scheme, loc = parse_address(address, strict=False)
    fix = _ADDRESS_FIX
    if scheme not in backends:
        known = ", ".join(f"{k}://" for k in sorted(backends))
        problem: str | None = f"{scheme}:// is no Dask protocol; Dask has {known}"
    elif scheme == "inproc":
        problem = _inproc_problem(loc)
    else:
        problem = _host_port_problem(scheme, loc)
        if problem is None and scheme == "tls" and not _tls_configured():
            problem, fix = "tls:// needs Dask's TLS configuration, and none is set", _TLS_FIX
    if problem is not None:
        raise OptionError(
            f"{fname}: {_SCHEDULER_EXPECTED}", f"received scheduler={address!r} ({problem})", fix
        )


def _host_port_problem(scheme: str, loc: str) -> str | None:
    """What is wrong with the HOST:PORT part of an address (IPv6 hosts in brackets)."""
    # optional dependency: the dask extra (checked by the caller)
    from distributed.comm.addressing import parse_host_port

    if not loc:
        return f"nothing after {scheme}://"
    tail = loc.rpartition("]")[2] if loc.startswith("[") else loc
    _, sep, port = tail.rpartition(":")
    if not sep:
        return "no :PORT after the host"
    if not (port.isascii() and port.isdigit() and 1 <= int(port) <= 65535):
        return f"the port {port!r} is not a whole number in 1-65535"
    try:
        host, _ = parse_host_port(loc)
    except ValueError as e:
        return str(e)
    return None if host else "no host before the port"


def _inproc_problem(loc: str) -> str | None:
    """An inproc:// address must name a scheduler of this process (its pid)."""
    # optional dependency: the dask extra (checked by the caller)
    from distributed.comm.inproc import global_manager

    try:
        global_manager.validate_address(loc)
    except ValueError:
        here = f"inproc://{global_manager.ip}/{os.getpid()}/N"
        return f"an inproc:// address is {here}, of a scheduler in this process"
    return None


def _tls_configured() -> bool:
    """Whether Dask's configuration gives a client the TLS context a tls:// address needs."""
    # optional dependency: the dask extra (checked by the caller)
    from distributed.security import Security

    return Security().get_connection_args("client").get("ssl_context") is not None


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
        # a task that fails on bad data raises its one error here; its workers' "Compute
        # Failed" log blocks with the traceback would only repeat it
        cluster = LocalCluster(
            n_workers=n,
            threads_per_worker=1,
            processes=True,
            dashboard_address=":0",
            silence_logs=logging.CRITICAL,
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
