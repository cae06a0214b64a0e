"""The options that say where and how the data are read, shared by ``evaluate`` and ``compare``.

:func:`check_engine_options` checks ``engine``, ``threads``, ``workers`` and
``scheduler`` together, and :func:`progress_callable` turns ``progress=`` into a
callable, and :func:`check_clip_option` checks ``clip=`` against the kind of
prediction column; they run at the door, before any file is read, and name the
function that was called (``fname``).
"""

from __future__ import annotations

from .._core.options import check_choice, check_clip, check_positive_int, check_threads
from ..errors import OptionError
from .local_engine import ProgressFn
from .row_progress import RowProgressBar

__all__ = ["ENGINES", "check_clip_option", "check_engine_options", "progress_callable"]

ENGINES = ("local", "dask")


def check_engine_options(
    engine: object, threads: object, workers: object, scheduler: object, *, fname: str
) -> str:
    """The engine's name, after checking that the other options fit it."""
    name = check_choice(
        engine,
        ENGINES,
        name="engine",
        fname=fname,
        hint="use engine='local' (this machine) or engine='dask' (a dask.distributed cluster)",
    )
    n_threads = check_threads(threads, fname=fname)
    n_workers = (
        None
        if workers is None
        else check_positive_int(workers, name="workers", fname=fname, example=2)
    )
    if name == "dask":
        if n_threads is not None:
            raise OptionError(
                f"{fname}: threads= only with engine='local' (the threads of this machine)",
                f"received threads={threads!r} with engine='dask'",
                "size a new Dask LocalCluster with workers= (worker processes), or use "
                "engine='local'",
            )
        from .dask_engine import check_dask_options  # start-up time: only for Dask

        check_dask_options(scheduler, n_workers, fname=fname)
        return name
    if n_workers is not None:
        raise OptionError(
            f"{fname}: workers= only with engine='dask' (the worker processes of a new "
            "LocalCluster)",
            f"received workers={workers!r} with engine='local'",
            "use threads= for the local engine's threads, or engine='dask'",
        )
    if scheduler is not None:
        raise OptionError(
            f"{fname}: scheduler= only with engine='dask'",
            f"received scheduler={scheduler!r} with engine='local'",
            "pass engine='dask' too",
        )
    return name


def check_clip_option(clip: object, logits: object, *, fname: str) -> float | None:
    """The ``clip=eps`` option: None, or a number in (0, 0.5) for probabilities only.

    ``logits``: the value passed as ``logits=`` (a column name, a pair of them, or None
    for ``preds=``).  The loss from logits is exact, so nothing is clipped there.
    """
    eps = check_clip(clip, fname=fname)
    if eps is not None and logits is not None:
        raise OptionError(
            f"{fname}: clip= applies to probabilities (preds=) only",
            f"received clip={clip!r} together with logits={logits!r}",
            "drop clip= (logits need no clipping: the loss from logits is exact)",
        )
    return eps


def progress_callable(
    progress: object, *, fname: str
) -> tuple[ProgressFn | None, RowProgressBar | None]:
    """The progress callable, and the bar to close when this call drew its own."""
    if progress is True:
        bar = RowProgressBar()
        return bar, bar
    if progress is False or progress is None:
        return None, None
    if callable(progress):
        return progress, None
    raise OptionError(
        f"{fname}: progress must be True, False or a callable(rows_done, rows_total)",
        f"received progress={progress!r}",
        "pass progress=True",
    )
