"""Go's ``sort.SliceStable``, step for step.

The Go SDL parser orders storage volumes with a comparator that is not a strict weak ordering
(chain-sdk ``go/sdl/storage.go``, ``v2ResourceStorageArray.sort``: two ephemeral volumes of the same
size are each "less" than the other). With such a comparator the result depends on the exact algorithm,
and storage order is part of the group spec and the manifest hash, so we replay Go's algorithm
(insertion sort on blocks of 20, then in-place SymMerge) instead of using ``sorted``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")

__all__ = ["slice_stable"]

_BLOCK = 20


def slice_stable(items: list[T], less: Callable[[T, T], bool]) -> list[T]:
    """Return a copy of ``items`` ordered exactly as Go's ``sort.SliceStable(items, less)`` would."""
    data = list(items)
    n = len(data)
    block = _BLOCK
    a, b = 0, block
    while b <= n:
        _insertion_sort(data, a, b, less)
        a, b = b, b + block
    _insertion_sort(data, a, n, less)
    while block < n:
        a, b = 0, 2 * block
        while b <= n:
            _sym_merge(data, a, a + block, b, less)
            a, b = b, b + 2 * block
        if a + block < n:
            _sym_merge(data, a, a + block, n, less)
        block *= 2
    return data


def _insertion_sort(data: list, a: int, b: int, less: Callable) -> None:
    for i in range(a + 1, b):
        j = i
        while j > a and less(data[j], data[j - 1]):
            data[j], data[j - 1] = data[j - 1], data[j]
            j -= 1


def _sym_merge(data: list, a: int, m: int, b: int, less: Callable) -> None:
    if m - a == 1:
        i, j = m, b
        while i < j:
            h = (i + j) // 2
            if less(data[h], data[a]):
                i = h + 1
            else:
                j = h
        for k in range(a, i - 1):
            data[k], data[k + 1] = data[k + 1], data[k]
        return
    if b - m == 1:
        i, j = a, m
        while i < j:
            h = (i + j) // 2
            if not less(data[m], data[h]):
                i = h + 1
            else:
                j = h
        for k in range(m, i, -1):
            data[k], data[k - 1] = data[k - 1], data[k]
        return
    mid = (a + b) // 2
    n = mid + m
    if m > mid:
        start, r = n - b, mid
    else:
        start, r = a, m
    p = n - 1
    while start < r:
        c = (start + r) // 2
        if not less(data[p - c], data[c]):
            start = c + 1
        else:
            r = c
    end = n - start
    if start < m < end:
        _rotate(data, start, m, end)
    if a < start < mid:
        _sym_merge(data, a, start, mid, less)
    if mid < end < b:
        _sym_merge(data, mid, end, b, less)


def _rotate(data: list, a: int, m: int, b: int) -> None:
    i, j = m - a, b - m
    while i != j:
        if i > j:
            _swap_range(data, m - i, m, j)
            i -= j
        else:
            _swap_range(data, m - i, m + j - i, i)
            j -= i
    _swap_range(data, m - i, m, i)


def _swap_range(data: list, a: int, b: int, n: int) -> None:
    for i in range(n):
        data[a + i], data[b + i] = data[b + i], data[a + i]
