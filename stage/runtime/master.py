"""The timecode master driven by MIDI Machine Control while stage chases it, and its answer heard in the chase.

With ``[clock] source`` a chased one and ``[mmc] enabled``, the transport
commands of every edge become MMC to the master (``<client>:mmc_out``):
a locate is Locate [TARGET] to the frame the position falls in; a play is
Play (or Deferred Play, ``[mmc] play``), or Record Strobe in record mode when
``[mmc] record`` allows it; a stop is Stop, after Record Exit when Record
Strobe could have punched in.  The master answers in the timecode it sends
back, which the engine chases: :meth:`Master.answered` waits until the chase
shows the master where it was sent (stopped there after a locate, rolling
from there and locked after a play, stopped after a stop), or says why not
within ``[mmc] lock_timeout``: nothing came back, it came back somewhere
else (named), it came back but never locked or never rolled.

Where the master rolled from is checked without knowing when it started:
it cannot have rolled from before the frame it was sent to, nor covered more
picture than the time since the MMC left, so a locked anchor ``(t0, p0)`` is
in place when ``target − window ≤ p0 ≤ target + speed × (t0 − sent) + window``
(the window is the chase's own, :data:`~stage.core.mtc.WINDOW_FRAMES`).

Everything here runs on the service's loop; the bytes go to the engine,
which writes them at its next cycle.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from stage.config import MmcConfig
from stage.core import mmc
from stage.core.mtc import WINDOW_FRAMES
from stage.core.timecode import Rate, Timecode, frame_at
from stage.errors import MasterError
from stage.runtime import messages as m

Where = Callable[[float], dict[str, Any]]
"""What a picture position is in the session's words (the armed cue's bar and beat), for reports."""


@dataclass
class _Expectation:
    """What the chase must show after one command to the master, and what it has shown so far."""

    what: str  # "locate", "play", "stop"
    sent: tuple[str, ...]  # the MMC sent, in words
    at: float  # monotonic time the MMC left
    deadline: float
    target: float | None  # the frame start the master was sent to (picture seconds)
    done: asyncio.Event = field(default_factory=asyncio.Event)
    report: dict[str, Any] | None = None
    error: str = ""
    heard: int = 0  # transport or chase changes since the MMC left
    last: tuple[float, float, float, bool] | None = None  # (t0, p0, speed, locked) last heard


class Master:
    """Sends MMC to the timecode master and tells when the chase shows it obeyed (see the module's doc).

    ``send`` hands a command to the engine (:class:`~stage.runtime.messages.SendMmc`);
    ``recording`` says whether the session is in record mode; ``ports``
    names this stage's MMC out and timecode in for the messages.
    """

    def __init__(
        self,
        config: MmcConfig,
        rate: Rate,
        send: Callable[[m.SendMmc], None],
        *,
        recording: Callable[[], bool],
        where: Where,
        source: str = "mtc",
        ports: tuple[str, str] = ("stage:mmc_out", "stage:mtc_in"),
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.config = config
        self.rate = rate
        self._send = send
        self._recording = recording
        self._where = where
        self._source = source.upper()
        self._ports = ports
        self._clock = clock
        self._window = WINDOW_FRAMES / float(rate.fps)
        self._target: tuple[float, str] | None = None  # where the last locate sent the master, until it rolls or stops
        self.current: _Expectation | None = None
        self.sent = 0  # commands sent the master so far

    # -- commands (they return at once; answered() waits) -------------------------------------------

    def locate(self, position: float) -> float:
        """Locate the master to the frame ``position`` falls in; returns that frame's start (picture seconds)."""
        tc = Timecode.from_frames(frame_at(max(position, 0.0), self.rate), self.rate)
        target, words = float(tc.picture_seconds), f"locate {tc}"
        self._target = target, words
        self._expect("locate", [(mmc.locate(tc, self.config.device_id), words)], target)
        return target

    def play(self) -> None:
        """Roll the master (from where the last locate sent it, if one did)."""
        if self._recording() and self.config.record:
            command = mmc.Command.RECORD_STROBE
        else:
            command = mmc.Command.DEFERRED_PLAY if self.config.play == "deferred_play" else mmc.Command.PLAY
        located, self._target = self._target, None
        self._expect("play", [(mmc.encode(command, self.config.device_id), _words(command))],
                     None if located is None else located[0], () if located is None else (located[1],))

    def stop(self) -> None:
        """Stop the master (punching out first when Record Strobe may have punched in)."""
        commands = [mmc.Command.STOP]
        if self._recording() and self.config.record:
            commands.insert(0, mmc.Command.RECORD_EXIT)
        self._target = None
        self._expect("stop", [(mmc.encode(c, self.config.device_id), _words(c)) for c in commands], None)

    def _expect(
        self, what: str, messages: Sequence[tuple[bytes, str]], target: float | None, before: tuple[str, ...] = ()
    ) -> None:
        """Send ``messages``; from now on the chase is watched for ``what`` (``before``: MMC sent for it earlier)."""
        self._send(m.SendMmc(tuple(data for data, _ in messages)))  # EngineUnavailable: nothing was sent
        self.sent += 1
        now = self._clock()
        sent = before + tuple(words for _, words in messages)
        before_e, self.current = self.current, _Expectation(what, sent, now, now + self.config.lock_timeout, target)
        if before_e is not None and not before_e.done.is_set():
            before_e.error = f"the {what} sent to the master after it came before the chase answered"
            before_e.done.set()

    # -- the chase's answer (the service tells every transport and chase change) -----------------------

    def heard(self, t0: float, p0: float, speed: float, chase: str | None) -> None:
        """The chased transport now (``position(t) = p0 + speed × (t − t0)``) and the chase's state.

        ``chase`` is :class:`~stage.core.chase.ChaseState`'s value (None before
        the chase said anything): only while it is not ``stopped`` is timecode
        coming back, so only then does the transport say where the master is.
        """
        e = self.current
        if e is None or e.done.is_set():
            return
        locked = chase == "locked"
        if chase not in (None, "stopped"):
            e.heard += 1
            e.last = (t0, p0, speed, locked)
        elif e.what != "stop":
            return  # no timecode: nothing said about the master (a stop is obeyed when picture stands, below)
        if self._obeyed(e, t0, p0, speed, locked):
            e.report = self._report(e, t0, p0, speed)
            e.done.set()

    def _obeyed(self, e: _Expectation, t0: float, p0: float, speed: float, locked: bool) -> bool:
        if e.what == "stop":
            return speed == 0
        if speed == 0:
            return e.what == "locate" and e.target is not None and abs(p0 - e.target) <= self._window
        if not locked or (e.what == "play" and speed < 0):
            return False
        return e.target is None or self._in_place(e, t0, p0, speed)

    def _in_place(self, e: _Expectation, t0: float, p0: float, speed: float) -> bool:
        assert e.target is not None
        return e.target - self._window <= p0 <= e.target + abs(speed) * max(t0 - e.at, 0.0) + self._window

    def _report(self, e: _Expectation, t0: float, p0: float, speed: float) -> dict[str, Any]:
        tc = Timecode.from_frames(frame_at(max(p0, 0.0), self.rate), self.rate)
        return {
            "command": e.what,
            "mmc": list(e.sent),
            "target": None if e.target is None else str(self._tc(e.target)),
            "timecode": str(tc),
            "position": p0,
            "rolling": speed != 0,
            "after": max(t0, e.at) - e.at,
            **self._where(p0),
        }

    async def answered(self) -> dict[str, Any] | None:
        """The chase's answer to the last command sent the master: a report, or :class:`MasterError` saying why not.

        None when nothing was sent yet.  Waits at most until ``[mmc] lock_timeout``
        after the MMC left.
        """
        e = self.current
        if e is None:
            return None
        if not e.done.is_set():
            try:
                async with asyncio.timeout(max(e.deadline - self._clock(), 0.0)):
                    await e.done.wait()
            except TimeoutError:
                if not e.done.is_set():
                    e.error = self._why_not(e)
                    e.done.set()
        if e.error:
            raise MasterError(e.error)
        return e.report

    def _why_not(self, e: _Expectation) -> str:  # noqa: PLR0911 -- one return a reason
        waited = f"within {self.config.lock_timeout:g} s of the MMC {', '.join(e.sent)}"
        if e.heard == 0 or e.last is None:
            out, tc_in = self._ports
            return (f"no {self._source} came back {waited}: is {out} connected to the master, does it obey MMC "
                    f"for device {self.config.device_id}, and does its timecode reach {tc_in}?")
        t0, p0, speed, locked = e.last
        at = self._place(p0)
        if e.what == "stop":
            return f"{self._source} kept coming {waited}: the master did not stop (picture at {at})"
        if speed == 0:
            if e.what == "play" and e.target is not None and abs(p0 - e.target) <= self._window:
                return f"the master stands at {at} but did not roll {waited}"
            return f"{self._source} came back at {at}, stopped, {self._not_there(e)} {waited}"
        if not locked:
            return f"{self._source} came back near {at} but the chase did not lock {waited}"
        if e.target is not None and not self._in_place(e, t0, p0, speed):
            return f"{self._source} came back at {at}, {self._not_there(e)} {waited}"
        return f"the master runs backwards at {at} {waited}"  # a play answered by a reverse roll

    def _not_there(self, e: _Expectation) -> str:
        if e.target is None:
            return "not rolling"
        return f"not at {self._place(e.target)} where the master was sent"

    def _place(self, position: float) -> str:
        where = self._where(position)
        bar = f", bar {where['bar']} of {where['cue']}" if where.get("bar") is not None else ""
        return f"{self._tc(position)}{bar}"

    def _tc(self, position: float) -> Timecode:
        p = position if math.isfinite(position) else 0.0
        return Timecode.from_frames(frame_at(max(p, 0.0), self.rate), self.rate)


def _words(command: mmc.Command) -> str:
    return command.value.replace("_", " ")
