"""The one merge order both engines share: a fixed tree of pairwise merges.

Floating-point addition is not associative, so the engines merge the unit states in one
fixed tree, :func:`tree_reduce` (pairs of neighbours, level by level).  The local engine
builds the same tree incrementally with :class:`OrderedReducer`.  States whose merges
are exact (integer sums) give the same bits in any order; :class:`RunningReducer` merges
them as they arrive, holding one state instead of the tree's O(log n) blocks.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

__all__ = ["OrderedReducer", "RunningReducer", "tree_reduce"]

T = TypeVar("T")


def tree_reduce(items: list[T], merge: Callable[[T, T], T]) -> T:
    """Merge neighbours pairwise, level by level: ``((0 1) (2 3)) 4`` for five items."""
    if not items:
        raise ValueError("tree_reduce needs at least one item")
    while len(items) > 1:
        nxt = [merge(items[i], items[i + 1]) for i in range(0, len(items) - 1, 2)]
        if len(items) % 2:
            nxt.append(items[-1])
        items = nxt
    return items[0]


class OrderedReducer:
    """The tree of :func:`tree_reduce`, built as results arrive in any order.

    Items are buffered until all earlier indices are in, then pushed on a binary
    counter (two blocks of the same size are merged), so at most O(log n) merged
    blocks plus the out-of-order ones are held at a time.
    """

    def __init__(self, merge: Callable[[Any, Any], Any]) -> None:
        self._merge = merge
        self._pending: dict[int, Any] = {}
        self._next = 0
        self._stack: list[tuple[int, Any]] = []  # (level, merged block)

    def add(self, index: int, item: Any) -> None:
        self._pending[index] = item
        while self._next in self._pending:
            block, level = self._pending.pop(self._next), 0
            self._next += 1
            while self._stack and self._stack[-1][0] == level:
                block = self._merge(self._stack.pop()[1], block)
                level += 1
            self._stack.append((level, block))

    def empty(self) -> bool:
        """Whether no item was added."""
        return self._next == 0 and not self._pending

    def result(self) -> Any:
        if self._pending or not self._stack:
            raise ValueError(f"missing items: have {self._next}, pending {sorted(self._pending)}")
        out = self._stack[-1][1]
        for _, block in reversed(self._stack[:-1]):
            out = self._merge(block, out)
        return out


class RunningReducer:
    """One running merge in arrival order, for states whose merge is exact (any order
    gives the same bits): one merged state is held instead of a tree's O(log n) blocks."""

    def __init__(self, merge: Callable[[Any, Any], Any]) -> None:
        self._merge = merge
        self._total: Any = None

    def add(self, index: int, item: Any) -> None:
        self._total = item if self._total is None else self._merge(self._total, item)

    def empty(self) -> bool:
        """Whether no item was added."""
        return self._total is None

    def result(self) -> Any:
        if self._total is None:
            raise ValueError("missing items: none was added")
        return self._total
