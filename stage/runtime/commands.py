"""The one way in: every edge (REST, ``/ws``, OSC, MQTT) hands a ``Command`` and a role to :meth:`Controls.run`.

:class:`Controls` turns a token into a role, checks the role may do the
command now (play and stop need RECORD while recording), and calls the service
or the take logger.  Whatever refuses it comes back as one
:class:`~stage.errors.ProtocolError` whose code comes from
:func:`~stage.errors.refusal_of`, the table REST takes its status from too.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Hashable, Sequence
from typing import Any

from stage.core import protocol as p
from stage.core.cuesheet import parse_cue_sheet
from stage.core.pairing import Pairing, page_urls, qr_data_uri
from stage.core.protocol import Command
from stage.core.session import EDITABLE, Action, Mode, Role, a_role, allowed, refusal
from stage.errors import (
    CueSheetError,
    ErrorCode,
    ProtocolError,
    SessionError,
    StageError,
    StoreRefused,
    Unavailable,
    refusal_of,
)
from stage.runtime.service import Service
from stage.runtime.takes import TakeLogger, edit_json


class Controls:
    """Control commands from any transport: token → role, role → permission, then the service or take logger."""

    def __init__(
        self, service: Service, takes: TakeLogger | None = None, reach: Sequence[str] = (), trust: str | None = None,
    ) -> None:
        """``reach``: where other devices on the stage network reach this service (``http://host:port``, none
        when it answers on this machine only), for the pages a pairing code opens; ``trust``: over HTTPS, the page
        a device new to the stage trusts its certificate authority from (docs/tls.md)."""
        self.service = service
        self.takes = takes
        self.reach = tuple(reach)
        self.trust = trust
        self.latest_take: int | None = None  # id of the take the last take event was about
        self._turns: dict[Hashable, tuple[asyncio.Lock, int]] = {}  # source → its lock, commands holding or waiting
        self.pairing = Pairing()

    # -- who is asking ---------------------------------------------------------------------------

    def _tokens(self) -> list[tuple[str, Role]]:
        auth = self.service.config.auth
        pairs = [(getattr(auth, r.value), r) for r in (Role.CONDUCTOR, Role.ENGINEER, Role.EDITOR)]
        return [(t, r) for t, r in pairs if t]

    def role_of_token(self, token: str) -> Role | None:
        """The role whose ``[auth]`` token is ``token`` (compared in constant time), if any."""
        found: Role | None = None
        for candidate, role in self._tokens():
            if secrets.compare_digest(candidate.encode(), token.encode()):
                found = role
        return found

    def authorize(self, role: Role, token: str | None) -> Role:
        """``role`` if ``token`` is its token (musicians need none); :class:`ProtocolError` otherwise."""
        if role is Role.MUSICIAN:
            return role
        if not token:
            raise ProtocolError(ErrorCode.UNAUTHORIZED, f"{a_role(role)} must give the role's token from [auth]")
        if self.role_of_token(token) is not role:
            raise ProtocolError(ErrorCode.UNAUTHORIZED, f"wrong token for {role.value}")
        return role

    def redeem(self, code: str, now: float | None = None) -> tuple[Role, str]:
        """The role and token a pairing code hands over (once); :class:`SessionError` saying why not."""
        role = self.pairing.redeem(code, time.monotonic() if now is None else now)
        token = {r: t for t, r in self._tokens()}.get(role)
        if token is None:
            raise SessionError(f"no [auth] token is set for {role.value}")
        return role, token

    def permit(self, role: Role, action: Action) -> None:
        """:class:`ProtocolError` (forbidden, in the words every edge uses) unless ``role`` may do ``action``: for
        a request no protocol command carries (a cut's upload)."""
        if not allowed(role, action):
            raise ProtocolError(ErrorCode.FORBIDDEN, refusal(role, action))

    # -- commands --------------------------------------------------------------------------------

    def action_for(self, command: Command) -> Action:
        """The action a role needs for ``command`` now (play and stop need RECORD while recording)."""
        if self.takes is not None and command.name in ("play", "from_top", "stop"):
            return self.takes.session.needs(stopping=command.name == "stop")
        return command.action

    async def run(self, command: Command, role: Role, source: Hashable | None = None) -> dict[str, Any]:
        """Do ``command`` as ``role``; its result, or :class:`ProtocolError` with the code and reason.

        Commands of one ``source`` (a WebSocket client, an OSC host, the MQTT
        link) run one at a time in the order they were given: *complete* then
        *print* pressed in quick succession ends at *print*, although each
        waits on the take log.
        """
        if command.name == "pair" and not (isinstance(source, tuple) and source[0] == "ws"):
            # Its answer is the code: on a shared broker or to an OSC host anyone listening could spend it.
            raise ProtocolError(ErrorCode.FORBIDDEN, "pairing codes are handed out over /ws only (the engineer's "
                                "console)", command.id)
        if source is None:
            return await self._run(command, role)
        lock, users = self._turns.get(source) or (asyncio.Lock(), 0)
        self._turns[source] = (lock, users + 1)
        try:
            async with lock:  # asyncio.Lock wakes its waiters first come, first served
                return await self._run(command, role)
        finally:
            lock, users = self._turns[source]
            if users == 1:
                del self._turns[source]
            else:
                self._turns[source] = (lock, users - 1)

    async def _run(self, command: Command, role: Role) -> dict[str, Any]:
        action = self.action_for(command)
        if not allowed(role, action):
            raise ProtocolError(ErrorCode.FORBIDDEN, refusal(role, action), command.id)
        try:
            return await self._do(command, role)
        except StageError as exc:
            code, status = refusal_of(exc)
            problems = tuple(str(x) for x in exc.problems) if isinstance(exc, CueSheetError) else ()
            raise ProtocolError(code, str(exc), command.id, status, problems) from None

    def _need_takes(self, what: str) -> TakeLogger:
        if self.takes is None:
            raise Unavailable(f"cannot {what}: the take log is not running")
        return self.takes

    async def _do(self, c: Command, role: Role) -> dict[str, Any]:
        sent = self.service.mmc_sent
        done = await self._command(c, role)
        if self.service.mmc_sent != sent:  # it went to the timecode master: the master's answer, heard in the chase
            done["master"] = await self.service.answered()
        return done

    async def _command(self, c: Command, role: Role) -> dict[str, Any]:  # noqa: PLR0911 -- one return per command
        s, a = self.service, c.args
        match c.name:
            case "arm":
                s.arm(a["cue"])
                return s.session_state()
            case "mode":
                await self._need_takes("change mode").set_mode(Mode(a["mode"]))
                return s.session_state()
            case "play" | "from_top":
                top = c.name == "from_top"
                if self.takes is None:
                    if top:
                        s.cue_top()
                    elif a.get("pickup_bar") is not None:
                        s.cue_pickup(a["pickup_bar"], a.get("pickup_beat", 1), a.get("countin"),
                                     locate=a.get("locate", True), once=True)
                    s.play()
                    return {"take": None}
                take = await self.takes.play(
                    pickup_bar=a.get("pickup_bar"), wild=a.get("wild", False), pickup_beat=a.get("pickup_beat", 1),
                    countin=a.get("countin"), from_top=top, locate=a.get("locate", True),
                )
                return {"take": self.takes.as_json(take)}
            case "pickup":
                if a.get("bar") is None:
                    position = s.cue_top()
                else:
                    position = s.cue_pickup(a["bar"], a.get("beat", 1), a.get("countin"))
                if position is not None:
                    await s.located(position)
                return {**s.session_state(), "position": position}
            case "stop":
                if self.takes is None:
                    s.stop_transport()
                    return {"take": None}
                return {"take": self.takes.as_json(await self.takes.stop())}
            case "locate":
                if "timecode" in a:
                    position = s.locate_timecode(a["timecode"])
                else:
                    position = s.locate_bar(a["bar"], a.get("beat", 1), a.get("cue"))
                await s.located(position)
                return {"position": position}
            case "varispeed":
                s.varispeed(a["speed"])
                return {"speed": a["speed"]}
            case "take_status" | "note":
                takes = self._need_takes("edit a take")
                take_id = a.get("take", self.latest_take)
                if take_id is None:
                    raise SessionError("no take has been recorded yet: name the take")
                changes = {"status": a["status"]} if c.name == "take_status" else {"note": a["text"]}
                take, _ = await takes.edit(take_id, changes, role)
                return {"take": takes.as_json(take)}
            case "take_edit":
                return await self._take_edit(c, role)
            case "load_sheet":
                sheet = parse_cue_sheet(a["text"], "upload")  # CueSheetError: every problem, the sheet stays
                changed = s.replace_sheet(sheet)
                return {"title": sheet.title, "changed": changed, "session": s.session_state()}
            case "pair":
                code = self.pairing.issue(Role(a["role"]), time.monotonic(), secrets.randbelow)
                urls = page_urls(self.reach, code)
                # Drawing the QR takes milliseconds: off the loop that fans the beats out.
                qr = await asyncio.to_thread(qr_data_uri, urls[0]) if urls else None
                return {"code": code.code, "role": code.role.value, "expires_in": self.pairing.lifetime,
                        "urls": urls, "qr": qr, "trust": self.trust}
        raise AssertionError(c.name)  # pragma: no cover

    async def _take_edit(self, c: Command, role: Role) -> dict[str, Any]:
        takes = self._need_takes("edit a take")
        changes = {name: c.args[name] for name in p.TAKE_EDIT_FIELDS if name in c.args}
        if not changes:
            raise ProtocolError(ErrorCode.INVALID, f"nothing to change: give any of {', '.join(p.TAKE_EDIT_FIELDS)}")
        for name in changes:
            if not allowed(role, EDITABLE[name]):
                raise ProtocolError(ErrorCode.FORBIDDEN, refusal(role, EDITABLE[name]))
        try:
            take, edits = await takes.edit(c.args["take"], changes, role, c.args.get("expected_version"))
        except StoreRefused as exc:  # the store answered no: the take changed since that version
            raise ProtocolError(ErrorCode.CONFLICT, str(exc)) from None
        return {"take": takes.as_json(take), "edits": [edit_json(e) for e in edits]}
