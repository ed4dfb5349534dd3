"""Every error `stage` raises on purpose.

::

    StageError
    ├── TimecodeError (ValueError)      an impossible or unparsable timecode/rate
    ├── TempoError (ValueError)         a tempo, meter or click that makes no sense
    ├── CueSheetError                   a cue sheet with problems (all of them, at once)
    ├── RenderError                     a cue that cannot be rendered as asked
    ├── ConfigError                     a config file that cannot be used
    ├── MidiError                       MIDI/JACK unavailable or misused
    ├── SessionError                    a session command that is not allowed now
    │   ├── NotFound (LookupError)      an unknown cue or take
    │   └── EngineUnavailable           the engine is stalled or restarting (ask again), or was closed
    ├── StoreError                      the take store failed
    └── ProtocolError (ValueError)      a client message that breaks the WS/OSC/MQTT protocol

Errors carry what a user needs to fix the cause: the cue, the field, the value.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class StageError(Exception):
    """Root of every error `stage` raises on purpose."""


class TimecodeError(StageError, ValueError):
    """A timecode or frame rate that cannot exist or cannot be parsed."""


class TempoError(StageError, ValueError):
    """A tempo, meter or click unit that makes no sense.

    ``at`` is the bar and beat of the tempo change it concerns, when it
    concerns one, and ``field`` the change's key at fault.
    """

    def __init__(self, message: str, *, at: tuple[int, int] | None = None, field: str = "") -> None:
        super().__init__(message)
        self.at = at
        self.field = field


@dataclass(frozen=True)
class Problem:
    """One problem found in a cue sheet: where it is, which field, and why."""

    where: str  # "cue 1M1", "cue 1M1, change 2", "picture", "cue sheet"
    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.where}: {self.field}: {self.message}"


class CueSheetError(StageError):
    """A cue sheet with one or more problems; `problems` lists every one."""

    def __init__(self, problems: list[Problem], source: str = "") -> None:
        self.problems = list(problems)
        self.source = source
        head = f"{source}: " if source else ""
        lines = "\n".join(str(p) for p in self.problems)
        super().__init__(f"{head}{len(self.problems)} problem(s)\n{lines}")


class RenderError(StageError):
    """A cue that cannot be rendered as asked (unknown id, free timing, …)."""


class ConfigError(StageError):
    """A configuration file that cannot be read or holds bad values."""


class MidiError(StageError):
    """MIDI or JACK is unavailable or was misused."""


class SessionError(StageError):
    """A session command that is not allowed in the current state."""


class NotFound(SessionError, LookupError):
    """An unknown cue or take."""


class EngineUnavailable(SessionError):
    """The engine cannot take commands now: it does not answer, it died and is being restarted, or it was closed."""


class StoreError(StageError):
    """The take store could not do what was asked."""


class ErrorCode(enum.Enum):
    """Why a client's message was refused (the ``code`` of an ``error`` message)."""

    TOO_LARGE = "too_large"  # frame over MAX_FRAME bytes
    BINARY = "binary"  # binary frame: the protocol is JSON text
    INVALID_JSON = "invalid_json"
    INVALID = "invalid"  # JSON, but not a valid message
    HELLO_FIRST = "hello_first"  # anything but hello before hello
    UNAUTHORIZED = "unauthorized"  # wrong or missing token for the role
    FORBIDDEN = "forbidden"  # the role may not do that
    REFUSED = "refused"  # the session refused the command now (the message says why)
    NOT_FOUND = "not_found"  # an unknown cue or take
    UNAVAILABLE = "unavailable"  # the part of the service that does it is not running
    TOO_SLOW = "too_slow"  # sent before the server drops a client that does not keep up
    CONFLICT = "conflict"  # an edit made on a version someone else changed meanwhile


class ProtocolError(StageError, ValueError):
    """A client message that breaks the protocol; ``code`` is the error code sent back.

    ``msg_id`` echoes the client's message id when it had one.
    """

    def __init__(self, code: ErrorCode, message: str, msg_id: str | int | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.msg_id = msg_id
