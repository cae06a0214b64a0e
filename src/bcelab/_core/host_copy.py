"""Torch tensors to host memory, fast also from a GPU.

``tensor.cpu()`` copies from a GPU into pageable memory, which the driver stages through
its own small pinned buffers one at a time; on some machines (virtual machines above
all) that runs at a fraction of the link's speed.  :func:`to_host` copies large CUDA
tensors in chunks through two pinned buffers instead: the GPU writes chunk k into one
while the host moves chunk k - 1 out of the other into the result.  The bytes are the
tensor's own (any dtype, bfloat16 and bool included), so the result is exactly
``tensor.cpu()``.  Pinned buffers come from torch's caching host allocator, so repeated
calls reuse them.
"""

from __future__ import annotations

from typing import Any

from .arrays import refuse_meta

__all__ = ["CHUNK_BYTES", "STAGED_MIN_BYTES", "to_host"]

Tensor = Any

#: CUDA tensors of at least this many bytes are copied through the pinned buffers
STAGED_MIN_BYTES = 1 << 23
#: the size of each of the two pinned buffers
CHUNK_BYTES = 1 << 25


def to_host(t: Tensor) -> Tensor:
    """``t.detach()`` as a tensor in CPU memory (sharing ``t``'s memory when it is there)."""
    t = t.detach()
    refuse_meta(t)
    nbytes = t.numel() * t.element_size()
    if t.device.type != "cuda" or nbytes < STAGED_MIN_BYTES:
        return t.cpu()
    import torch  # only reached with a torch tensor in hand

    with torch.cuda.device(t.device):  # the copies, and the events after them, on t's GPU
        try:
            size = min(CHUNK_BYTES, nbytes)
            bufs = [torch.empty(size, dtype=torch.uint8, pin_memory=True) for _ in range(2)]
        except RuntimeError:  # no pinned memory to be had (a limit, a container): plain copy
            return t.cpu()
        return _staged(t.contiguous(), bufs)


def _staged(t: Tensor, bufs: list[Tensor]) -> Tensor:
    """The chunked copy through the two pinned buffers ``bufs`` (see the module docstring)."""
    import torch  # only reached with a torch tensor in hand

    out = torch.empty(t.shape, dtype=t.dtype)
    src, dst = _bytes(t), _bytes(out)
    size = src.numel()
    chunk = bufs[0].numel()
    pending: tuple[Any, int, int, Any] | None = None  # (buffer, start, length, copy done)
    for k, lo in enumerate(range(0, size, chunk)):
        n = min(chunk, size - lo)
        buf = bufs[k % 2]
        # buf was last read by the host below, one iteration ago: free to overwrite
        buf[:n].copy_(src[lo : lo + n], non_blocking=True)
        done = torch.cuda.Event()
        done.record()
        if pending is not None:
            _drain(dst, *pending)
        pending = (buf, lo, n, done)
    if pending is not None:
        _drain(dst, *pending)
    return out


def _drain(dst: Tensor, buf: Tensor, lo: int, n: int, done: Any) -> None:
    done.synchronize()
    dst[lo : lo + n].copy_(buf[:n])


def _bytes(t: Tensor) -> Tensor:
    """The bytes of a contiguous tensor as a flat uint8 view."""
    import torch  # only reached with a torch tensor in hand

    return t.reshape(-1).view(torch.uint8)
