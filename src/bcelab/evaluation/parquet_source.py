"""Parquet files for the streaming reader: open a file, and read its row groups in batches.

pyarrow reads a column chunk either whole (one read, then pages decoded from memory) or
through a buffer of a fixed size.  Whole chunks decode about a fifth faster on this
project's benchmark file (row groups of 2**20 float32 rows), so a unit reads them whole
when every chunk it needs is at most :data:`WHOLE_CHUNK_BYTES` compressed; a file of
larger row groups is read through a 1 MiB buffer, so memory stays bounded whatever the
writer chose.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import pyarrow as pa
import pyarrow.parquet as pq

from .._core.tables import refuse_empty_file
from ..errors import DataError

__all__ = [
    "READ_ERRORS",
    "WHOLE_CHUNK_BYTES",
    "open_parquet",
    "row_group_batches",
    "unreadable",
    "whole_chunks",
]

#: The errors pyarrow raises on a bad file, turned into :class:`bcelab.DataError` s.
READ_ERRORS = (pa.ArrowException, OSError, ValueError, EOFError)
#: The largest compressed column chunk a unit reads whole.
WHOLE_CHUNK_BYTES = 64 << 20
_BUFFER_BYTES = 1 << 20


def unreadable(path: str, what: str, err: BaseException | str, fix: str) -> DataError:
    """The error for a file that cannot be read: ``what`` failed, with pyarrow's first
    line, and ``fix``."""
    msg = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
    return DataError(f"a readable Parquet or CSV file at {path}", f"{what}: {msg}", fix)


def open_parquet(path: str, *, buffered: bool = False) -> pq.ParquetFile:
    """The file, its footer read (``buffered``: column chunks are read through a 1 MiB
    buffer instead of whole, see :func:`whole_chunks`)."""
    refuse_empty_file(path, "a Parquet file")
    try:
        return pq.ParquetFile(
            path,
            buffer_size=_BUFFER_BYTES if buffered else 0,
            pre_buffer=False,
            page_checksum_verification=True,
        )
    except READ_ERRORS as e:
        raise unreadable(
            path,
            "cannot read the Parquet footer (file corrupt or truncated)",
            e,
            "re-export the file; a truncated copy is the usual cause",
        ) from None


def whole_chunks(md: pq.FileMetaData, groups: Sequence[int], names: Sequence[str]) -> bool:
    """Whether every chunk of the columns ``names`` in the row groups ``groups`` is at
    most :data:`WHOLE_CHUNK_BYTES` compressed (top-level columns; a name that is not
    one, such as a partition key, has no chunk)."""
    schema = md.schema
    index = {schema.column(i).path: i for i in range(md.num_columns)}
    columns = [index[n] for n in names if n in index]
    return all(
        md.row_group(g).column(c).total_compressed_size <= WHOLE_CHUNK_BYTES
        for g in groups
        for c in columns
    )


def row_group_batches(
    pf: pq.ParquetFile, groups: Sequence[int], names: Sequence[str], batch_rows: int
) -> Iterator[pa.RecordBatch]:
    """The columns ``names`` of the row groups ``groups``, in batches of ``batch_rows``
    rows (the last one shorter), decoded on the calling thread."""
    return pf.iter_batches(
        batch_size=batch_rows, row_groups=list(groups), columns=list(names), use_threads=False
    )
