"""Every error `stage` raises on purpose.

::

    StageError
    ├── TimecodeError (ValueError)      an impossible or unparsable timecode/rate
    ├── TempoError (ValueError)         a tempo, meter or click that makes no sense
    ├── CueSheetError                   a cue sheet with problems (all of them, at once)
    ├── RenderError                     a cue that cannot be rendered as asked
    ├── ConfigError                     a config file that cannot be used
    │   └── TlsError                    a certificate, key or authority that cannot be made or served
    ├── MidiError                       MIDI/JACK unavailable or misused
    ├── LtcError                        libltc unavailable, or asked for what it cannot do
    ├── SessionError                    a session command that is not allowed now
    │   ├── NotFound (LookupError)      an unknown cue or take
    │   ├── TransportTimeout            the engine did not report a roll or stop in time
    │   ├── EngineUnavailable           the engine is stalled or restarting (ask again), or was closed
    │   └── MasterError                 the timecode master did not do what MMC asked in time
    ├── Unavailable                     the part of the service that would do it is not running
    ├── PictureError                    a cut that cannot be imported (not a video, truncated, its rate …)
    ├── DiskFull                        the disk filled while writing (a proxy, an upload): nothing was kept
    ├── StoreError                      the take store cannot be used (its URL, its file, its schema)
    │   ├── StoreRefused                the store answered no: a duplicate, a stale version
    │   └── StoreUnavailable            the store could not be reached or failed while asked
    └── ProtocolError (ValueError)      a client message that breaks the WS/OSC/MQTT protocol

Errors carry what a user needs to fix the cause: the cue, the field, the value.
:func:`refusal_of` is the one table from an error to the protocol's
:class:`ErrorCode` and the HTTP status every edge answers with.
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


class TlsError(ConfigError):
    """A certificate, key or certificate authority that cannot be made, read or served (each names the file)."""


class MidiError(StageError):
    """MIDI or JACK is unavailable or was misused."""


class LtcError(StageError):
    """libltc is not installed, or was asked for something it cannot do (a frame longer than its buffer)."""


class SessionError(StageError):
    """A session command that is not allowed in the current state."""


class NotFound(SessionError, LookupError):
    """An unknown cue or take."""


class TransportTimeout(SessionError):
    """The engine did not report the roll or stop it was asked for in time."""


class EngineUnavailable(SessionError):
    """The engine cannot take commands now: it does not answer, it died and is being restarted, or it was closed."""


class MasterError(SessionError):
    """The timecode master driven by MMC did not answer as asked in time: no timecode came back, or it came back
    somewhere else, or never locked (the message says which, and where)."""


class Unavailable(StageError):
    """The part of the service that would do it is not running (no take log, say)."""


class PictureError(StageError):
    """A cut that cannot be imported: not a video, truncated, a variable or wrong rate, no timecode."""


class DiskFull(StageError):
    """The disk filled while writing (a proxy, an upload): what was written is removed, nothing changed."""


class StoreError(StageError):
    """The take store could not do what was asked."""


class StoreRefused(StoreError):
    """The take store answered no: a take already logged, an edit on a stale version, a take not ended."""


class StoreUnavailable(StoreError):
    """The take store could not be reached, or its driver failed: asking again later may work."""


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
    MASTER = "master"  # the timecode master did not do what MMC asked in time (the message says what came back)


class ProtocolError(StageError, ValueError):
    """A client message that breaks the protocol; ``code`` is the error code sent back.

    ``msg_id`` echoes the client's message id when it had one; ``status`` is
    the HTTP status when the refusal came from an error with its own (a
    timecode that can never work: 400), else the code's.  ``problems`` lists
    a refused cue sheet's problems one by one (REST answers them as a list).
    """

    def __init__(
        self,
        code: ErrorCode,
        message: str,
        msg_id: str | int | None = None,
        status: int | None = None,
        problems: tuple[str, ...] = (),
    ) -> None:
        super().__init__(message)
        self.code = code
        self.msg_id = msg_id
        self.status = status
        self.problems = problems


# Why a refusal, for each kind of error, most specific first: (error class, protocol code, HTTP status).
REFUSALS: tuple[tuple[type[StageError], ErrorCode, int], ...] = (
    (NotFound, ErrorCode.NOT_FOUND, 404),
    (CueSheetError, ErrorCode.INVALID, 422),
    (PictureError, ErrorCode.INVALID, 422),
    (DiskFull, ErrorCode.UNAVAILABLE, 507),
    (TransportTimeout, ErrorCode.UNAVAILABLE, 503),
    (EngineUnavailable, ErrorCode.UNAVAILABLE, 503),
    (MasterError, ErrorCode.MASTER, 504),
    (SessionError, ErrorCode.REFUSED, 409),
    (StoreRefused, ErrorCode.REFUSED, 409),
    (StoreError, ErrorCode.UNAVAILABLE, 503),
    (Unavailable, ErrorCode.UNAVAILABLE, 503),
    (StageError, ErrorCode.REFUSED, 400),
)

# The HTTP status of each protocol code, for a ProtocolError met by REST.
HTTP_STATUS: dict[ErrorCode, int] = {
    ErrorCode.TOO_LARGE: 413,
    ErrorCode.BINARY: 422,
    ErrorCode.INVALID_JSON: 422,
    ErrorCode.INVALID: 422,
    ErrorCode.HELLO_FIRST: 400,
    ErrorCode.UNAUTHORIZED: 401,
    ErrorCode.FORBIDDEN: 403,
    ErrorCode.REFUSED: 409,
    ErrorCode.CONFLICT: 409,
    ErrorCode.NOT_FOUND: 404,
    ErrorCode.UNAVAILABLE: 503,
    ErrorCode.TOO_SLOW: 503,
    ErrorCode.MASTER: 504,
}


def refusal_of(exc: StageError) -> tuple[ErrorCode, int]:
    """The protocol code and the HTTP status that answer ``exc``, the same on every edge."""
    if isinstance(exc, ProtocolError):
        return exc.code, exc.status or HTTP_STATUS[exc.code]
    for kind, code, status in REFUSALS:
        if isinstance(exc, kind):
            return code, status
    raise AssertionError(type(exc))  # pragma: no cover - StageError is the last row
