"""Commands into the engine process and events out of it (picklable value objects)."""

from __future__ import annotations

from dataclasses import dataclass

from stage.core.mmc import MmcMessage, MmcStats
from stage.core.playback import TimedClick

# -- commands ------------------------------------------------------------------


@dataclass(frozen=True)
class Play:
    """Roll from the current position (internal clock)."""


@dataclass(frozen=True)
class Stop:
    """Stop where the picture is."""


@dataclass(frozen=True)
class Locate:
    """Jump to picture position ``position`` (seconds since 00:00:00:00)."""

    position: float


@dataclass(frozen=True)
class Varispeed:
    """Play speed of the internal clock (1.0 = normal)."""

    speed: float


@dataclass(frozen=True)
class LoadClicks:
    """The clicks to play from now on (the armed cue's, or every cue's)."""

    clicks: tuple[TimedClick, ...]


@dataclass(frozen=True)
class Shutdown:
    """Close the MIDI client and leave."""


@dataclass(frozen=True)
class SendMmc:
    """MMC messages for the timecode master, written in order on ``<client>:mmc_out`` at the next cycle's start."""

    messages: tuple[bytes, ...]


Command = Play | Stop | Locate | Varispeed | LoadClicks | Shutdown | SendMmc


# -- events --------------------------------------------------------------------


@dataclass(frozen=True)
class Ready:
    """The engine runs; ``midi`` says whether JACK MIDI is live, ``reason`` why not."""

    midi: bool
    samplerate: int
    blocksize: int
    ports: tuple[str, ...] = ()
    reason: str = ""


@dataclass(frozen=True)
class TransportChanged:
    """A new transport anchor on the monotonic clock: ``position(t) = p0 + speed × (t − t0)``."""

    t0: float  # time.monotonic() seconds
    p0: float  # picture seconds
    speed: float
    rolling: bool
    source: str  # "internal" | "mtc" | "ltc"


@dataclass(frozen=True)
class BeatSounded:
    """A click was scheduled; ``t`` is when it sounds on the monotonic clock."""

    cue: str
    bar: int
    beat: int
    kind: str
    p: float
    t: float


@dataclass(frozen=True)
class SyncStatus:
    """Chase state: locked, speed, quarter frames (MTC) or frames (LTC) seen, locates, LTC's user bits."""

    state: str
    locked: bool
    speed: float
    quarter_frames: int
    locates: int
    source: str = "mtc"  # "mtc" | "ltc"
    frames: int = 0  # LTC frames read
    user_bits: str | None = None  # the last LTC frame's, eight hex digits (binary group 8 first)


@dataclass(frozen=True)
class EngineStats:
    """Counters of the real-time path, sent about once a second."""

    cycles: int
    late: int  # sent at the start of a later cycle than due
    xruns: int
    handler_errors: int = 0
    dropped: int = 0  # overdue by more than the catch-up limit (after a jump or a long stall): not sent
    chase_error: float | None = None  # the chase loop's last error in seconds (None: not chasing, or not yet)


@dataclass(frozen=True)
class Heartbeat:
    """The engine is alive: sent every :data:`~stage.core.watchdog.HEARTBEAT_INTERVAL` by its sender thread.

    ``cycles`` moves on while the clock (JACK's callback or the soft clock)
    runs; ``faults`` counts cycles whose logic raised and was caught;
    ``position`` is picture at the end of the last cycle, in the engine's
    own time (None: no picture, a chase not locked), so a restart resumes
    where the engine really was, whatever its clock's drift from the service's.
    """

    cycles: int
    faults: int = 0
    position: float | None = None


@dataclass(frozen=True)
class MmcReceived:
    """An MMC command for this stage arrived on ``<client>:mmc_in``; ``t`` is when, on the monotonic clock."""

    message: MmcMessage
    t: float


@dataclass(frozen=True)
class MmcCounts:
    """What the engine's MMC reader has met so far (sent when it changes); ``problem`` the last malformed one."""

    stats: MmcStats
    problem: str = ""


Event = Ready | TransportChanged | BeatSounded | SyncStatus | EngineStats | Heartbeat | MmcReceived | MmcCounts
