"""The internal event bus: one publisher side, many bounded subscribers.

Every subscriber has its own bounded queue; when it is full the oldest event
is dropped and counted, so a slow subscriber never holds up the publisher or
the others.  State-like topics (``transport``, ``sync``) are also kept as the
latest value, for snapshots.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class BusEvent:
    """One event: a topic (``transport``, ``beat``, ``cue``, ``take``, ``sync``, …), its data and a sequence number."""

    topic: str
    data: dict[str, Any]
    seq: int = 0


@dataclass
class Subscription:
    """A subscriber's queue and what it missed."""

    topics: frozenset[str] | None
    queue: asyncio.Queue[BusEvent]
    dropped: int = 0

    async def __aiter__(self) -> AsyncIterator[BusEvent]:
        while True:
            yield await self.queue.get()


@dataclass
class EventBus:
    """Fan-out of :class:`BusEvent` to bounded subscriber queues (asyncio, one loop)."""

    maxsize: int = 256
    state: dict[str, BusEvent] = field(default_factory=dict)
    _subs: list[Subscription] = field(default_factory=list)
    _seq: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    STATE_TOPICS = frozenset({"transport", "sync", "cue", "session", "engine"})

    def subscribe(
        self, topics: set[str] | None = None, maxsize: int | None = None, *, replay: bool = False
    ) -> Subscription:
        """A new subscription to ``topics`` (None: everything).

        With ``replay`` it starts with the latest event of every state topic it
        covers, in the order they were published: a subscriber that joins after
        the engine started still learns where the transport is.
        """
        sub = Subscription(frozenset(topics) if topics else None, asyncio.Queue(maxsize or self.maxsize))
        if replay:
            for ev in sorted(self.state.values(), key=lambda e: e.seq):
                if (sub.topics is None or ev.topic in sub.topics) and not sub.queue.full():
                    sub.queue.put_nowait(ev)
        self._subs.append(sub)
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        """Forget ``sub``."""
        if sub in self._subs:
            self._subs.remove(sub)

    def publish(self, topic: str, data: dict[str, Any]) -> BusEvent:
        """Send ``data`` on ``topic`` to every subscriber; never waits."""
        ev = BusEvent(topic, data, next(self._seq))
        if topic in self.STATE_TOPICS:
            self.state[topic] = ev
        for sub in self._subs:
            if sub.topics is not None and topic not in sub.topics:
                continue
            if sub.queue.full():
                sub.queue.get_nowait()
                sub.dropped += 1
            sub.queue.put_nowait(ev)
        return ev

    @property
    def subscribers(self) -> int:
        """How many subscriptions are open."""
        return len(self._subs)
