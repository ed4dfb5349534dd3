"""The internal event bus: one publisher side, many bounded subscribers.

Every subscriber has its own bounded queue; when it is full the oldest event
is dropped and counted, so a slow subscriber never holds up the publisher or
the others.  Topics are the protocol's :class:`~stage.core.protocol.Topic`:
what goes on the bus is what clients can subscribe to, and a topic outside
it is refused when published, not dropped later without a word.  The state
topics (:data:`~stage.runtime.fanout.STATE`) are also kept as the latest
value, for subscribers that join late.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field
from typing import Any

from stage.core.protocol import Topic
from stage.errors import ErrorCode, ProtocolError
from stage.runtime.fanout import STATE


def topic_of(name: Topic | str) -> Topic:
    """``name`` as a :class:`Topic`; :class:`ProtocolError` for a topic the protocol does not have."""
    if isinstance(name, Topic):
        return name
    try:
        return Topic(name)
    except ValueError:
        known = ", ".join(t.value for t in Topic)
        raise ProtocolError(ErrorCode.INVALID, f"no bus topic {name!r} (topics: {known})") from None


@dataclass(frozen=True)
class BusEvent:
    """One event: a topic, its data and a sequence number."""

    topic: Topic
    data: dict[str, Any]
    seq: int = 0


@dataclass
class Subscription:
    """A subscriber's queue and what it missed."""

    topics: frozenset[Topic] | None
    queue: asyncio.Queue[BusEvent]
    dropped: int = 0

    async def __aiter__(self) -> AsyncIterator[BusEvent]:
        while True:
            yield await self.queue.get()


@dataclass
class EventBus:
    """Fan-out of :class:`BusEvent` to bounded subscriber queues (asyncio, one loop)."""

    maxsize: int = 256
    state: dict[Topic, BusEvent] = field(default_factory=dict)
    _subs: list[Subscription] = field(default_factory=list)
    _seq: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def subscribe(
        self, topics: Iterable[Topic | str] | None = None, maxsize: int | None = None, *, replay: bool = False
    ) -> Subscription:
        """A new subscription to ``topics`` (None: everything).

        With ``replay`` it starts with the latest event of every state topic it
        covers, in the order they were published: a subscriber that joins after
        the engine started still learns where the transport is.
        """
        wanted = frozenset(topic_of(t) for t in topics) if topics else None
        sub = Subscription(wanted, asyncio.Queue(maxsize or self.maxsize))
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

    def publish(self, name: Topic | str, data: dict[str, Any]) -> BusEvent:
        """Send ``data`` on ``name`` to every subscriber; never waits.  An unknown topic is a :class:`ProtocolError`."""
        topic = topic_of(name)
        ev = BusEvent(topic, data, next(self._seq))
        if topic in STATE:
            self.state[topic] = ev
        for sub in self._subs:
            if sub.topics is not None and topic not in sub.topics:
                continue
            if sub.queue.full():
                sub.queue.get_nowait()
                sub.dropped += 1
            sub.queue.put_nowait(ev)
        return ev
