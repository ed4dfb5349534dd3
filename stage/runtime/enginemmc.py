"""MIDI Machine Control in the engine's cycle: commands out on ``<client>:mmc_out``, MMC in read as it arrives.

Part of :class:`~stage.runtime.enginecore.EngineCore`, so on the real-time
thread: nothing here blocks or waits.  The service hands MMC for the timecode
master over as :class:`~stage.runtime.messages.SendMmc`; each message is
written at the first frame of the next cycle, in order, as the click is (off
the service's loop).  The bytes arriving on ``<client>:mmc_in`` are fed with
their JACK frame times to :class:`~stage.core.mmc.MmcParser`; each command for
this stage goes to the service as :class:`MmcIn`, the parser's counters as
:class:`MmcCountsOut` when they change (at most every :data:`COUNTS_EVERY`
seconds of engine time, so a stream of garbage cannot flood the outbox).
"""

from __future__ import annotations

import collections
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from stage.core.mmc import MmcMessage, MmcParser, MmcStats
from stage.core.playback import frame_of

MMC_OUT_PORT = "mmc_out"
MMC_IN_PORT = "mmc_in"
COUNTS_EVERY = 0.25  # engine seconds between reports of changed counters


@dataclass(frozen=True)
class MmcIn:
    """A command for this stage read on ``mmc_in`` (its ``t`` in engine time)."""

    message: MmcMessage


@dataclass(frozen=True)
class MmcCountsOut:
    """The MMC reader's counters, and the last malformed message's reason."""

    stats: MmcStats
    problem: str


class EngineMmc:
    """The engine's MMC: what waits to go out, and the reader of what comes in (``device``: this stage's id)."""

    def __init__(self, device: int) -> None:
        self.parser = MmcParser(device)
        self.pending: collections.deque[bytes] = collections.deque()
        self._told = MmcStats()
        self._told_at = -COUNTS_EVERY

    def send(self, messages: Sequence[bytes]) -> None:
        """Queue messages for the next cycle (the engine's command thread has handed them over)."""
        self.pending.extend(messages)

    def cycle(
        self,
        inputs: Mapping[str, Sequence[tuple[int, bytes]]],
        t_a: float,
        samplerate: int,
        out: dict[str, list[tuple[int, bytes]]],
        tell: Callable[[MmcIn | MmcCountsOut], None],
    ) -> None:
        """Add what waits to ``out`` at the cycle's first frame; read what arrived and ``tell`` the service."""
        if self.pending:
            frame = frame_of(t_a, samplerate)
            sent = out.setdefault(MMC_OUT_PORT, [])
            while self.pending:
                sent.append((frame, self.pending.popleft()))
        for frame, data in inputs.get(MMC_IN_PORT, ()):
            self.parser.feed(data, frame / samplerate)
        for message in self.parser:
            tell(MmcIn(message))
        stats = self.parser.stats
        if stats != self._told and t_a - self._told_at >= COUNTS_EVERY:
            self._told, self._told_at = stats, t_a
            tell(MmcCountsOut(stats, self.parser.problem))
