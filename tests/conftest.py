"""Shared test fixtures: the backend matrix and hypothesis profiles."""

from __future__ import annotations

import os
from collections.abc import Iterator

import numpy as np
import pytest
from hypothesis import HealthCheck, settings

os.environ.setdefault("MPLBACKEND", "Agg")

settings.register_profile(
    "bcelab",
    deadline=None,
    max_examples=int(os.environ.get("BCELAB_HYPOTHESIS_EXAMPLES", "100")),
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    derandomize=os.environ.get("CI") is not None,
)
settings.load_profile("bcelab")

#: the longest single tests (a whole test file in a Keras process per backend, about a
#: minute each on 2 cores): run first, so that no worker ends the run alone on one of them
_FIRST = "tests/keras/test_keras.py::test_keras_adapter_on_backend"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    items.sort(key=lambda item: not item.nodeid.startswith(_FIRST))  # stable: the rest in order


@pytest.fixture
def ctrl_c_raises() -> Iterator[None]:
    """Ctrl-C raises ``KeyboardInterrupt`` during the test, as in a terminal, even when the
    suite runs with SIGINT ignored (a background job, ``nohup``), which bcelab respects."""
    import signal

    before = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, before)


class Backend:
    """Converts NumPy test data to one array library and back."""

    def __init__(self, name: str) -> None:
        self.name = name
        if name == "numpy":
            self.mod = np
        elif name == "torch":
            self.mod = pytest.importorskip("torch")
        elif name == "jax":
            self.mod = pytest.importorskip("jax.numpy")
        else:  # pragma: no cover
            raise ValueError(name)

    def asarray(self, a: object, dtype: str | None = None) -> object:
        arr = np.asarray(a)
        if dtype is not None and dtype != "bfloat16":
            arr = arr.astype(dtype)
        if self.name == "numpy":
            if dtype == "bfloat16":  # NumPy's bfloat16 comes from ml_dtypes (installed with JAX)
                ml_dtypes = pytest.importorskip("ml_dtypes")
                return arr.astype(ml_dtypes.bfloat16)
            return arr
        if self.name == "torch":
            import torch

            t = torch.from_numpy(np.ascontiguousarray(arr))
            return t.to(torch.bfloat16) if dtype == "bfloat16" else t
        import jax.numpy as jnp

        if dtype == "float64":
            pytest.skip("JAX without x64 has no float64")
        return jnp.asarray(arr, dtype=jnp.bfloat16 if dtype == "bfloat16" else None)

    @staticmethod
    def to_numpy(x: object) -> np.ndarray:
        if hasattr(x, "detach"):
            x = x.detach().cpu()
            if str(x.dtype) == "torch.bfloat16":
                x = x.float()
            return np.asarray(x.numpy())
        return np.asarray(x)

    def __repr__(self) -> str:
        return self.name


@pytest.fixture(params=["numpy", "torch", "jax"])
def backend(request: pytest.FixtureRequest) -> Backend:
    return Backend(request.param)
