"""Record batches cut to a fixed number of rows: an in-memory table or a stream is read in
the batches a Parquet file of the same rows gives, so both give the same states."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import pyarrow as pa

__all__ = ["exact_batches"]


def exact_batches(batches: Iterable[pa.RecordBatch], batch_rows: int) -> Iterator[pa.RecordBatch]:
    """The same rows in batches of exactly ``batch_rows`` rows (the last one shorter), so
    that an in-memory table is cut where a file of the same rows would be."""
    buf: list[pa.RecordBatch] = []
    n = 0
    for rb in batches:
        while rb.num_rows:
            take = min(batch_rows - n, rb.num_rows)
            buf.append(rb.slice(0, take))
            n += take
            rb = rb.slice(take)
            if n == batch_rows:
                yield _concat(buf)
                buf, n = [], 0
    if n:
        yield _concat(buf)


def _concat(buf: list[pa.RecordBatch]) -> pa.RecordBatch:
    if len(buf) == 1:
        return buf[0]
    (rb,) = pa.Table.from_batches(buf).combine_chunks().to_batches()
    return rb
