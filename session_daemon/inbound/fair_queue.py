"""Per-session queues with round-robin batching.

One account's history-sync burst (tens of thousands of messages) must not delay the live messages
of the other accounts, nor block their transports: each account has its own FIFO queue, a batch
takes fair shares from every account that has work, and back-pressure is measured per account.
Not thread-safe: the pipeline guards it with its lock.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable
from typing import Generic, TypeVar

__all__ = ["FairQueue"]

T = TypeVar("T")


class FairQueue(Generic[T]):
    def __init__(self, key: Callable[[T], str]) -> None:
        self._key = key
        self._queues: dict[str, deque[T]] = {}
        self._size = 0

    def __len__(self) -> int:
        return self._size

    def __bool__(self) -> bool:
        return self._size > 0

    def size_of(self, account: str) -> int:
        queue = self._queues.get(account)
        return len(queue) if queue else 0

    def extend(self, items: Iterable[T]) -> None:
        for item in items:
            self._queues.setdefault(self._key(item), deque()).append(item)
            self._size += 1

    def push_front(self, items: list[T]) -> None:
        """Give back a batch that could not be written, keeping each account's order."""
        for item in reversed(items):
            self._queues.setdefault(self._key(item), deque()).appendleft(item)
            self._size += 1

    def take(self, limit: int) -> list[T]:
        """Up to `limit` items, in fair shares across accounts; FIFO within an account."""
        batch: list[T] = []
        while len(batch) < limit and self._size:
            active = [k for k, q in self._queues.items() if q]
            share = max(1, (limit - len(batch)) // len(active))
            for account in active:
                queue = self._queues[account]
                for _ in range(min(share, len(queue), limit - len(batch))):
                    batch.append(queue.popleft())
                    self._size -= 1
                if len(batch) >= limit:
                    break
            # Next time, start after the account served first this time.
            first = active[0]
            self._queues[first] = self._queues.pop(first)
        for account in [k for k, q in self._queues.items() if not q]:
            del self._queues[account]
        return batch
