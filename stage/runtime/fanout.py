"""The fan-out's queueing: what every transport (WebSocket, OSC, MQTT) shares with the broadcaster.

A bus event is encoded once into an :class:`Outgoing` and offered to every
:class:`Sink`; a sink only queues.  Per-client queues are :class:`LatestWins`:
bounded, and a newer state of a topic replaces the one still waiting.  The
broadcaster (runtime) and the transports (adapters) both import this module,
so neither imports the other's internals.
"""

from __future__ import annotations

import asyncio
import collections
from collections.abc import Coroutine, Hashable, Mapping
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

from stage.core.protocol import Topic

# Topics whose latest event is the state: a newer one replaces one still queued for a client.
COALESCED = frozenset({Topic.TRANSPORT, Topic.SYNC, Topic.SESSION, Topic.CLIENTS, Topic.PICTURE})
# Topics kept for snapshots (and retained on MQTT): the latest event of each.
STATE = frozenset({Topic.TRANSPORT, Topic.SYNC, Topic.CUE, Topic.SESSION, Topic.TAKE, Topic.CLIENTS,
                   Topic.PICTURE})


@dataclass(frozen=True)
class Outgoing:
    """One bus event on its way out: topic, sequence number, data, and the WebSocket frame (encoded once)."""

    topic: Topic
    seq: int
    data: Mapping[str, Any]
    frame: str

    @property
    def coalesce(self) -> bool:
        """True when a newer event of this topic makes this one worthless."""
        return self.topic in COALESCED


class Sink(Protocol):
    """Where outgoing events go; ``offer`` must never wait or raise."""

    def offer(self, out: Outgoing) -> None:
        """Queue ``out`` for sending."""


T = TypeVar("T")


class _Slot(Generic[T]):
    __slots__ = ("alive", "item", "key")

    def __init__(self, item: T, key: Hashable | None) -> None:
        self.item = item
        self.key = key
        self.alive = True


class LatestWins(Generic[T]):
    """A bounded queue where an item put with a key replaces the one with that key still waiting.

    Items without a key (events that each matter) take room; when ``limit``
    of them wait, :meth:`put` refuses (returns False) and the owner decides:
    drop the client, or drop the oldest.  Keyed items always fit (there are
    only so many keys).  One consumer.
    """

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._slots: collections.deque[_Slot[T]] = collections.deque()
        self._keys: dict[Hashable, _Slot[T]] = {}
        self._unkeyed = 0
        self._live = 0
        self._ready = asyncio.Event()
        self.replaced = 0  # keyed items replaced before they were sent

    def __len__(self) -> int:
        return self._live

    def put(self, item: T, key: Hashable | None = None) -> bool:
        """Queue ``item``; False (and nothing queued) when ``limit`` unkeyed items already wait."""
        if key is None:
            if self._unkeyed >= self.limit:
                return False
            self._unkeyed += 1
        else:
            old = self._keys.get(key)
            if old is not None:
                old.alive = False
                self._live -= 1
                self.replaced += 1
        slot = _Slot(item, key)
        if key is not None:
            self._keys[key] = slot
        self._slots.append(slot)
        self._live += 1
        self._ready.set()
        return True

    def put_first(self, item: T) -> None:
        """Queue ``item`` ahead of everything (a clock-sync reply: its timing is the point)."""
        self._slots.appendleft(_Slot(item, None))
        self._unkeyed += 1
        self._live += 1
        self._ready.set()

    def drop_oldest(self) -> T | None:
        """Remove and return the oldest item (None when empty)."""
        return self.get_nowait()

    def get_nowait(self) -> T | None:
        """The next item, or None when there is none."""
        while self._slots:
            slot = self._slots.popleft()
            if not slot.alive:
                continue
            self._live -= 1
            if slot.key is None:
                self._unkeyed -= 1
            elif self._keys.get(slot.key) is slot:
                del self._keys[slot.key]
            return slot.item
        return None

    async def get(self) -> T:
        """Wait for the next item."""
        while True:
            item = self.get_nowait()
            if item is not None:
                return item
            self._ready.clear()
            await self._ready.wait()


def spawn(tasks: set[asyncio.Task[None]], work: Coroutine[Any, Any, None], name: str | None = None) -> None:
    """Run ``work`` as a task held in ``tasks`` (to be cancelled with its owner) until it ends."""
    task = asyncio.create_task(work, name=name)
    tasks.add(task)
    task.add_done_callback(tasks.discard)


class Throttle:
    """Say whether to log the n-th occurrence of something: the first few, then one in ``every``."""

    def __init__(self, first: int = 5, every: int = 100) -> None:
        self.first = first
        self.every = every
        self.counts: collections.Counter[str] = collections.Counter()

    def __call__(self, key: str) -> bool:
        """Count one ``key``; True when this one should be logged."""
        self.counts[key] += 1
        n = self.counts[key]
        return n <= self.first or n % self.every == 0
