"""The Keras backend of a per-backend test file: ``KERAS_BACKEND``, or a skip.

Keras reads ``KERAS_BACKEND`` once, at import, so ``tests/keras/test_keras.py`` runs
each per-backend file in a fresh process with it set; in any other run those files skip.
"""

from __future__ import annotations

import os

import pytest


def chosen_backend() -> str:
    """``KERAS_BACKEND`` when it is jax or torch; otherwise skip the calling module."""
    backend = os.environ.get("KERAS_BACKEND")
    if backend not in ("jax", "torch"):
        pytest.skip(
            "run by tests/keras/test_keras.py with KERAS_BACKEND=jax/torch",
            allow_module_level=True,
        )
    return backend
