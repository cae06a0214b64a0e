"""A run folder: curves.png, history.csv, history.json, model.pt, checkpoint.pt, summary.json.

:func:`save_run` builds the folder beside its place and swaps it in whole
(:func:`bcelab._core.atomic.replace_dir`), so a run folder is always complete: the
previous state, or the new one, never a mix.  :func:`write_run` fills a folder in place.
``model.pt`` and ``checkpoint.pt`` hold only tensors and plain Python values:
``torch.load(path, weights_only=True)`` reads them; ``predictor.json`` (for
:func:`bcelab.train.predict`) is plain JSON.
"""

from __future__ import annotations

import hashlib
import io
import platform
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy

from .. import __version__
from .._core.atomic import (
    atomic_open,
    check_replaceable,
    remove_stale,
    remove_stale_files,
    replace_dir,
    write_json,
)
from .._core.extras import TRAINING, needs_extras
from .._core.options import check_instance, check_path
from ..errors import DataError
from .history import History
from .plots import submit_curves

__all__ = [
    "CHECKPOINT_FORMAT",
    "MODEL_SHA256",
    "RUN_FILES",
    "check_out",
    "file_sha256",
    "load_checkpoint",
    "load_torch_file",
    "save_run",
    "save_torch",
    "summary_dict",
    "versions",
    "write_run",
]

#: the first bytes of every file that torch.save writes (a zip archive)
_ZIP = b"PK\x03\x04"

#: the ``format`` entry of every checkpoint.pt (a dict of plain values and tensors)
CHECKPOINT_FORMAT = "bcelab.train.checkpoint/1"

#: every file a run folder may hold (a folder with anything else is never replaced)
RUN_FILES = (
    "curves.png",
    "history.csv",
    "history.json",
    "model.pt",
    "checkpoint.pt",
    "summary.json",
    "predictor.json",
    "reconstructions.png",
    "per_pixel_excess.png",
    # the sub-folders of `bcelab train autoencoder --compare-losses`, one run per loss
    "bce",
    "kl",
    "mse",
)


def versions() -> dict[str, str]:
    """Versions of Python, bcelab, numpy and torch (for summary.json)."""
    import torch  # optional dependency (bcelab[train])

    return {
        "python": platform.python_version(),
        "bcelab": __version__,
        "numpy": numpy.__version__,
        "torch": torch.__version__,
        "platform": platform.platform(),
    }


def save_torch(obj: Any, path: str | Path, /) -> Path:
    """``torch.save`` through an atomic temporary file.

    The bytes are serialised in memory first, so that a failed write (a full disk) is an
    ``OSError`` naming the file, not torch's own error from inside its writer.
    """
    import torch  # optional dependency (bcelab[train])

    buf = io.BytesIO()
    torch.save(obj, buf)
    with atomic_open(path, "wb") as fh:
        fh.write(buf.getbuffer())
    return Path(path)


def load_torch_file(path: Path, expected: str, fix: str) -> Any:
    """``torch.load(path, weights_only=True)``: tensors and plain containers only, never
    code; a file that is not a zip archive (what ``torch.save`` writes) is refused before
    torch reads it, and a file torch cannot read is a :class:`DataError` (``expected``
    such as "a model.pt written by bcelab train", ``fix``) that gives torch's reason in
    one sentence."""
    import torch  # optional dependency (bcelab[train])

    try:
        with open(path, "rb") as fh:
            head = fh.read(len(_ZIP))
    except OSError as e:
        raise DataError(expected, f"reading {path} failed: {e.strerror or e}", fix) from None
    if head != _ZIP:  # torch.save writes a zip archive: anything else is another file
        got = "is empty" if not head else f"starts with {head!r}"
        raise DataError(
            expected,
            f"{path} is not one: it {got}, where torch.save writes a zip archive (PK)",
            fix,
        )
    try:
        return torch.load(path, weights_only=True)
    except Exception as e:  # UnpicklingError, RuntimeError (zip), OSError, EOFError, ...
        text = str(e).strip()
        reason = text.splitlines()[0].split(". ")[0] if text else type(e).__name__
        if reason.startswith("Weights only load failed"):
            reason = "it holds more than tensors, and bcelab loads nothing else (no code)"
        raise DataError(expected, f"reading {path} failed: {reason}", fix) from None


@needs_extras("bcelab.train.load_checkpoint", TRAINING)
def load_checkpoint(run: str | Path | Mapping[str, Any], /) -> dict[str, Any]:
    """The checkpoint of a run folder (or a ``checkpoint.pt`` path), loaded with weights_only.

    A mapping (a checkpoint already loaded) is returned as a plain dict.
    """

    if isinstance(run, Mapping):
        if run.get("format") != CHECKPOINT_FORMAT:
            raise DataError(
                "resume= needs a run folder, or a checkpoint loaded from one (a dict with "
                f"format {CHECKPOINT_FORMAT!r})",
                f"received a {type(run).__name__} with format {run.get('format')!r}",
                "pass the out= folder of an earlier run",
            )
        return dict(run)
    p = check_path(
        run,
        name="run (resume=)",
        fname="load_checkpoint",
        hint="pass the out= folder of an earlier run, or a checkpoint loaded from one",
    )
    f = p / "checkpoint.pt" if p.is_dir() else p
    if not f.is_file():
        raise DataError(
            "resume= needs a run folder that contains checkpoint.pt",
            f"received {str(p)!r}, where {f.name} does not exist",
            "pass the out= folder of an earlier run",
        )
    ck = load_torch_file(
        f, "a checkpoint.pt written by bcelab train", "the file is damaged; start a new run"
    )
    if not (isinstance(ck, dict) and ck.get("format") == CHECKPOINT_FORMAT):
        raise DataError(
            "a checkpoint.pt written by bcelab train",
            f"{f} is not one (format {ck.get('format') if isinstance(ck, dict) else '?'})",
            "pass the out= folder of an earlier training run",
        )
    return ck


def summary_dict(
    history: History, *, run_info: Mapping[str, Any] | None = None, in_progress: bool = False
) -> dict[str, Any]:
    """The content of summary.json (``in_progress``: a checkpoint written during training)."""
    return {
        "config": history.config,
        "seeds": history.seeds,
        "epochs_completed": history.epochs,
        "in_progress": in_progress,
        "final": history.summary(),
        "train_time_s": history.train_time,
        "interrupted": history.interrupted,
        "stop_reason": history.stop_reason,
        "versions": versions(),
        "argv": list(sys.argv),
        **dict(run_info or {}),
    }


@needs_extras("bcelab.train.write_run", TRAINING)
def write_run(
    out: str | Path,
    history: History,
    /,
    *,
    model_state: Mapping[str, Any] | None,
    checkpoint: Mapping[str, Any] | None = None,
    run_info: Mapping[str, Any] | None = None,
    diverged: bool = False,
    figure: bool = True,
    files: Mapping[str, Any] | None = None,
    in_progress: bool = False,
) -> dict[str, Path]:
    """Write every artifact of a run into the folder ``out`` (in place); returns name -> path.

    ``files``: more JSON files (name -> content), e.g. ``predictor.json``, that describe
    ``model.pt``: written with it, each with its SHA-256 (``"model_sha256"``), so that a
    reader can tell that the two files come from one run.
    """
    d = check_path(out, name="out", fname="write_run", hint="pass a folder path for the run")
    check_instance(
        history,
        History,
        name="history",
        fname="write_run",
        what="a bcelab.train.History",
        hint="pass the History that fit returned",
    )
    d.mkdir(parents=True, exist_ok=True)
    paths: dict[str, Path] = {}
    paths["history.csv"] = history.to_csv(d / "history.csv")
    paths["history.json"] = history.to_json(d / "history.json")
    job = None
    if figure and history.epochs:
        job = submit_curves(history, d / "curves.png")  # drawn by the worker meanwhile
        if job is None:
            paths["curves.png"] = history.plot(d / "curves.png")
    if model_state is not None and not diverged:
        paths["model.pt"] = save_torch(dict(model_state), d / "model.pt")
        digest = file_sha256(paths["model.pt"])
        for name, content in (files or {}).items():
            paths[name] = write_json(d / name, {**content, MODEL_SHA256: digest})
    if checkpoint is not None and not diverged:
        paths["checkpoint.pt"] = save_torch(dict(checkpoint), d / "checkpoint.pt")
    if job is not None:
        if job.wait() is not None:  # the worker failed: draw it here
            history.plot(d / "curves.png")
        paths["curves.png"] = d / "curves.png"
    paths["summary.json"] = write_json(
        d / "summary.json", summary_dict(history, run_info=run_info, in_progress=in_progress)
    )
    return paths


#: the key of model.pt's SHA-256 in the JSON files written beside it
MODEL_SHA256 = "model_sha256"


def file_sha256(path: Path) -> str:
    """The SHA-256 of the file at ``path``, as 64 hexadecimal digits."""
    with path.open("rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def check_out(out: str | Path, /, *, allowed: tuple[str, ...] = RUN_FILES) -> Path:
    """``out`` can take a run folder: new, or a previous run (replaced whole).

    Temporary files and folders that a killed run left there are removed first.
    """
    d = Path(out).absolute()
    if d.parent.is_dir():
        remove_stale(d.parent)
    if d.is_dir():
        remove_stale_files(d, allowed)
    check_replaceable(d, allowed, fname="", name="out")
    return d


def save_run(
    out: str | Path,
    history: History,
    /,
    *,
    allowed: tuple[str, ...] = RUN_FILES,
    extra: Callable[[Path], None] | None = None,
    **kw: Any,
) -> dict[str, Path]:
    """:func:`write_run` into a folder built beside ``out`` and swapped in whole.

    ``extra(folder)`` adds more files before the swap.  ``out`` must be new or hold only
    ``allowed`` names (a previous run); a failure leaves it as it was.
    """
    with replace_dir(out, allowed, fname="", name="out") as tmp:
        paths = write_run(tmp, history, **kw)
        if extra is not None:
            extra(tmp)
    return {name: Path(out) / name for name in paths}
