"""Ctrl-C while training: the first press stops the epochs, later ones wait for the save.

Inside :func:`guarded` (the loop runs the epochs and the final save in it) the first
SIGINT raises ``KeyboardInterrupt`` as usual, and the loop then writes the run.  Any
SIGINT after that, or while :func:`hold` is in force, is deferred: the save that is under
way finishes, so a run folder is never lost to an impatient second Ctrl-C.  If the first
SIGINT arrived only during such a hold (a run that had finished and was being saved),
``KeyboardInterrupt`` is raised when the outermost guard ends, after the save.

Guards nest (the autoencoder command keeps one around training and its own save); only
the main thread can handle signals, elsewhere a guard does nothing.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from types import FrameType
from typing import Any

__all__ = ["guarded", "hold"]

_state: dict[str, Any] = {"depth": 0, "held": False, "pending": 0, "raised": False}


def _handler(signum: int, frame: FrameType | None) -> None:
    if _state["held"]:
        _state["pending"] += 1
        return
    _state["held"] = _state["raised"] = True  # from now on the save must finish
    raise KeyboardInterrupt


def hold() -> None:
    """Defer every later SIGINT until the outermost guard ends (the run is being saved)."""
    _state["held"] = True


@contextlib.contextmanager
def guarded() -> Iterator[None]:
    """SIGINT handling for a training run and its save (see the module doc)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    outer = _state["depth"] == 0
    previous = signal.getsignal(signal.SIGINT)
    if previous is None:  # installed outside Python: restore the usual one afterwards
        previous = signal.default_int_handler
    if outer and previous is signal.SIG_IGN:  # Ctrl-C is ignored (e.g. nohup): keep it so
        yield
        return
    if outer:
        _state.update(held=False, pending=0, raised=False)
        signal.signal(signal.SIGINT, _handler)
    _state["depth"] += 1
    late = False
    try:
        yield
    finally:
        _state["depth"] -= 1
        if outer:
            signal.signal(signal.SIGINT, previous)
            late = bool(_state["pending"]) and not _state["raised"]
            _state.update(held=False, pending=0, raised=False)
    if late:  # Ctrl-C came while a finished run was being saved: it is saved now
        raise KeyboardInterrupt
