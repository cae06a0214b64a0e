"""`to_host`: torch tensors to host memory; from a GPU in chunks through pinned buffers.

On the CPU it is ``detach()`` (no copy).  On a CUDA GPU (skipped elsewhere) the chunked
copy gives exactly ``tensor.cpu()`` for every dtype, for sizes that are not a multiple
of the chunk, for one chunk and many, and for non-contiguous views; small tensors take
``.cpu()`` directly.
"""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from bcelab._core import host_copy  # noqa: E402
from bcelab.errors import DataError  # noqa: E402

needs_cuda = pytest.mark.skipif(
    not torch.cuda.is_available(), reason="needs a CUDA GPU and a CUDA build of torch"
)


def test_cpu_tensors_are_returned_detached_without_a_copy() -> None:
    t = torch.arange(10.0, requires_grad=True)
    h = host_copy.to_host(t)
    assert h.data_ptr() == t.data_ptr() and not h.requires_grad


@needs_cuda
@pytest.mark.parametrize(
    "dtype",
    [torch.float32, torch.float64, torch.float16, torch.bfloat16, torch.bool, torch.int64],
)
@pytest.mark.parametrize("n", [1, 999, 4096, 100_003])
def test_the_chunked_copy_is_exactly_cpu(monkeypatch, dtype, n: int) -> None:
    monkeypatch.setattr(host_copy, "STAGED_MIN_BYTES", 1)
    monkeypatch.setattr(host_copy, "CHUNK_BYTES", 4096)  # many chunks, a short last one
    g = torch.Generator(device="cuda").manual_seed(n)
    t = torch.randn(n, device="cuda", generator=g)
    t = (t > 0) if dtype == torch.bool else (t * 1000).to(dtype)
    h = host_copy.to_host(t)
    assert h.device.type == "cpu" and h.dtype == t.dtype and h.shape == t.shape
    assert torch.equal(h, t.cpu())


@needs_cuda
def test_views_and_shapes_survive(monkeypatch) -> None:
    monkeypatch.setattr(host_copy, "STAGED_MIN_BYTES", 1)
    monkeypatch.setattr(host_copy, "CHUNK_BYTES", 1000)
    t = torch.randn(300, 70, device="cuda")
    for v in (t, t.T, t[::3, 5:], t.reshape(7, 30, 100)):
        assert torch.equal(host_copy.to_host(v), v.cpu())


@needs_cuda
def test_large_tensors_take_the_pinned_path_at_the_default_sizes() -> None:
    n = host_copy.CHUNK_BYTES // 4 * 2 + 17  # two full chunks and 68 bytes
    t = torch.rand(n, device="cuda")
    assert torch.equal(host_copy.to_host(t), t.cpu())


def test_a_meta_tensor_has_no_values_to_copy() -> None:
    with pytest.raises(DataError, match="holds a shape and a dtype but no values"):
        host_copy.to_host(torch.zeros(3, device="meta"))
