"""MMC in: a DAW's or a controller's transport buttons drive stage while it is the timecode master.

Every MMC command for this stage that arrives on ``<client>:mmc_in`` (read
in the engine, :mod:`stage.runtime.enginemmc`) becomes the protocol command
a tablet would send, run through :meth:`~stage.runtime.commands.Controls.run`
like every other edge's, in arrival order:

- Play and Deferred Play: ``play`` (a deferred play runs once the locate
  before it is done, as the commands of one edge run in turn);
- Stop: ``stop``;
- Locate [TARGET]: ``locate`` to its timecode, read at the picture's rate.

Record Strobe and Record Exit are not obeyed (stage's record is the
session's mode, armed on the consoles), nor is any MMC while stage chases
(the master is elsewhere): they are counted, once logged.

The edge speaks as :data:`ROLE`, the recording engineer: the DAW and the
transport controller sit on the engineer's desk.  So a command is refused
exactly as the engineer's tablet would be refused (a play while a take
rolls in record mode: ``picture is already rolling (recording take 1M1-3):
stop first``); MMC has no way to answer, so the refusal is logged and
counted, the last one kept for ``GET /api/health``.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from stage.core import protocol as p
from stage.core.mmc import Command, MmcMessage
from stage.core.session import Role
from stage.errors import ProtocolError
from stage.runtime import messages as m
from stage.runtime.commands import Controls

log = logging.getLogger(__name__)

ROLE = Role.ENGINEER
SOURCE = ("mmc",)  # the edge's commands run one at a time, in order (Controls.run's source)
_COMMANDS = {Command.PLAY: "play", Command.DEFERRED_PLAY: "play", Command.STOP: "stop", Command.LOCATE: "locate"}


class MmcEdge:
    """Runs the MMC arriving on ``<client>:mmc_in`` through the one way in, as :data:`ROLE`."""

    def __init__(self, controls: Controls) -> None:
        self.controls = controls
        self.service = controls.service
        self.done = 0
        self.refused = 0
        self.unused = 0  # commands stage does not obey here (record strobe/exit, anything while chasing)
        self.last_refusal = ""
        self._tasks: set[asyncio.Task[None]] = set()
        self._told_chasing = False

    def start(self) -> None:
        """Hear MMC from now on; the service publishes it and :meth:`detail` is its part of health."""
        self.service.mmc_listeners.append(self._heard)
        self.service.mmc_in_detail = self.detail

    async def close(self) -> None:
        """Stop hearing MMC; let the commands under way finish."""
        if self._heard in self.service.mmc_listeners:
            self.service.mmc_listeners.remove(self._heard)
        if self.service.mmc_in_detail == self.detail:
            self.service.mmc_in_detail = None
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    def detail(self) -> dict[str, Any]:
        """What the edge did with the MMC it heard."""
        return {"done": self.done, "refused": self.refused, "unused": self.unused, "last_refusal": self.last_refusal}

    def _heard(self, ev: m.MmcReceived) -> None:
        message = ev.message
        if self.service.config.clock.source != "internal":
            self.unused += 1
            if not self._told_chasing:
                self._told_chasing = True
                log.warning("MMC %s on mmc_in not obeyed: stage chases the timecode master, which MMC drives",
                            message.command.value)
            return
        name = _COMMANDS.get(message.command)
        if name is None:
            self.unused += 1
            log.info("MMC %s on mmc_in: not obeyed (the session's mode decides what is recorded)",
                     message.command.value)
            return
        task = asyncio.get_running_loop().create_task(self._run(name, message), name="stage-mmc-in")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _run(self, name: str, message: MmcMessage) -> None:
        args: dict[str, Any] = {}
        if message.target is not None:
            t = message.target
            sep = ";" if self.service.rate.drop else ":"
            args["timecode"] = f"{t.hours:02d}:{t.minutes:02d}:{t.seconds:02d}{sep}{t.frames:02d}"
        what = f"MMC {message.command.value.replace('_', ' ')}" + (f" {args['timecode']}" if args else "")
        try:
            command = p.parse_value({"type": "command", "command": name, "args": args})
            assert isinstance(command, p.Command)
            await self.controls.run(command, ROLE, SOURCE)
        except ProtocolError as exc:
            self.refused += 1
            self.last_refusal = f"{what}: {exc}"
            log.warning("%s from mmc_in refused, as the engineer's would be: %s", what, exc)
            return
        except Exception:  # a fault in a command must not end the edge: the next MMC still runs
            self.refused += 1
            log.exception("%s from mmc_in failed", what)
            return
        self.done += 1
        log.info("%s from mmc_in: done", what)
