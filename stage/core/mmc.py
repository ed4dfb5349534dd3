"""MIDI Machine Control (MMC): the commands as a data table, their bytes, and a byte-stream parser.

MMC travels as real-time universal System Exclusive (MIDI 1.0 Detailed
Specification, *MIDI Machine Control 1.0*)::

    F0 7F <device> 06 <command> [<command> …] F7

``7F`` says real-time universal, ``<device>`` names the machine (``7F``: all
of them), ``06`` says *command* (a machine's answers are ``07``, not read
here).  Commands ``01``-``3F`` are one byte; commands ``40``-``77`` are
followed by a byte count and that many bytes, so a reader can step over the
ones it does not know.  Locate [TARGET] is ``44 06 01`` and a *standard
time code*::

    hr  0 tt hhhhh     tt: 0 = 24, 1 = 25, 2 = 30 drop, 3 = 30 fps (MTC's rate codes); hours
    mn  0 c mmmmmm     c: colour frame; minutes
    sc  0 k ssssss     k: reserved (0); seconds
    fr  0 g i fffff    g: sign (1 = negative), i: the next byte is status, not subframes; frames
    ff  0 bbbbbbb      subframes, 0-99

:data:`SPECS` is the table of the commands stage speaks; :func:`encode` writes
one, :class:`MmcParser` reads any byte stream (``feed`` bytes, then iterate
the messages), keeping the ones for this device or for all devices, counting
the rest.  Pure: no I/O, no clock; arrival times are arguments.
"""

from __future__ import annotations

import enum
from collections import deque
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace

from stage.core.mtc import rate_code
from stage.core.timecode import Rate, Timecode
from stage.errors import TimecodeError

SYSEX = 0xF0
EOX = 0xF7
REALTIME_UNIVERSAL = 0x7F
ALL_CALL = 0x7F
"""The device id every machine answers to."""
MCS = 0x06
"""Sub-ID#1 of a command to a machine (07 is a machine's response)."""
LOCATE_TARGET = 0x01
"""Locate's sub-command for a time code target (00 names an information field instead)."""
MAX_MESSAGE = 48
"""Longest MMC command message in bytes, F0 and F7 included (the MMC specification's limit)."""

_COUNTED = range(0x40, 0x78)  # commands followed by a byte count
_SINGLE = range(0x01, 0x40)  # one-byte commands
_HEADER = 4  # 7F <device> 06 <first command>


class Command(enum.Enum):
    """The MMC commands stage sends and obeys."""

    STOP = "stop"
    PLAY = "play"
    DEFERRED_PLAY = "deferred_play"
    RECORD_STROBE = "record_strobe"
    RECORD_EXIT = "record_exit"
    LOCATE = "locate"


@dataclass(frozen=True)
class Spec:
    """One MMC command: its code, what it asks of a machine, and the bytes after its count (0: no count)."""

    code: int
    command: Command
    doc: str
    data: int = 0


SPECS: tuple[Spec, ...] = (
    Spec(0x01, Command.STOP, "stop"),
    Spec(0x02, Command.PLAY, "play"),
    Spec(0x03, Command.DEFERRED_PLAY, "play once the locate in progress is done"),
    Spec(0x06, Command.RECORD_STROBE, "punch in (a stopped machine rolls in record)"),
    Spec(0x07, Command.RECORD_EXIT, "punch out"),
    Spec(0x44, Command.LOCATE, "locate to a time code: sub-command 01 [TARGET] and five bytes of time", data=6),
)
BY_CODE: Mapping[int, Spec] = {s.code: s for s in SPECS}
BY_COMMAND: Mapping[Command, Spec] = {s.command: s for s in SPECS}


@dataclass(frozen=True)
class MmcTime:
    """A standard time code as MMC carries it: the fields as sent, read at a rate with :meth:`timecode`.

    ``code`` is the time type (MTC's rate codes: 0 = 24, 1 = 25, 2 = 30 drop,
    3 = 30 fps); like MTC it cannot tell 23.976 from 24 nor 29.97 from 30,
    so the actual rate comes from configuration.  Every field is checked
    against what its bits can carry; whether the time exists at a rate is
    :meth:`timecode`'s question.
    """

    hours: int
    minutes: int
    seconds: int
    frames: int
    subframes: int = 0
    code: int = 0
    colour: bool = False

    def __post_init__(self) -> None:
        for name, value, top in (("hours", self.hours, 31), ("minutes", self.minutes, 63),
                                 ("seconds", self.seconds, 63), ("frames", self.frames, 31),
                                 ("subframes", self.subframes, 127), ("code", self.code, 3)):
            if not 0 <= value <= top:
                raise TimecodeError(f"an MMC time's {name} is 0 to {top}, not {value}")

    @classmethod
    def of(cls, tc: Timecode, subframes: int = 0) -> MmcTime:
        """The MMC time of ``tc`` (its rate's code; :class:`TimecodeError` for a rate MTC cannot carry)."""
        return cls(tc.hours, tc.minutes, tc.seconds, tc.frames, subframes, rate_code(tc.rate))

    def timecode(self, rate: Rate) -> Timecode:
        """This time read at ``rate`` (the subframes dropped); :class:`TimecodeError` if it cannot exist there."""
        return Timecode(self.hours, self.minutes, self.seconds, self.frames, rate)

    def to_bytes(self) -> bytes:
        """The five bytes ``hr mn sc fr ff``."""
        return bytes((self.code << 5 | self.hours, int(self.colour) << 6 | self.minutes, self.seconds, self.frames,
                      self.subframes))

    def __str__(self) -> str:
        return f"{self.hours:02d}:{self.minutes:02d}:{self.seconds:02d}:{self.frames:02d}.{self.subframes:02d}"


@dataclass(frozen=True)
class MmcMessage:
    """One command read from the stream: for ``device``, completed at ``t`` (Locate's ``target`` with it)."""

    command: Command
    device: int = ALL_CALL
    target: MmcTime | None = None
    t: float = 0.0


def encode(command: Command, device: int = ALL_CALL, target: MmcTime | None = None) -> bytes:
    """One MMC command message to ``device``; Locate needs its ``target``, the others take none."""
    if not 0 <= device <= 0x7F:
        raise ValueError(f"an MMC device id is 0 to 127, not {device}")
    spec = BY_COMMAND[command]
    if (target is None) != (command is not Command.LOCATE):
        raise ValueError("Locate, and only Locate, takes a target time")
    body = bytes((spec.code,))
    if target is not None:
        body += bytes((spec.data, LOCATE_TARGET)) + target.to_bytes()
    return bytes((SYSEX, REALTIME_UNIVERSAL, device, MCS)) + body + bytes((EOX,))


def locate(tc: Timecode, device: int = ALL_CALL) -> bytes:
    """Locate [TARGET] to the start of frame ``tc``."""
    return encode(Command.LOCATE, device, MmcTime.of(tc))


@dataclass(frozen=True)
class MmcStats:
    """What the parser met: commands read, and what it left alone.

    other_device: whole messages for another device id (ignored).
    malformed: System Exclusive that begins like MMC but breaks its rules (cut
        short by another status byte, too long, a count that does not fit, a
        stray end of exclusive); every command in it is dropped.
    unknown: well-formed commands stage does not obey (fast forward, shuttle …).
    """

    messages: int = 0
    other_device: int = 0
    malformed: int = 0
    unknown: int = 0


class MmcParser:
    """Reads MMC from any MIDI byte stream: :meth:`feed` bytes, then iterate the messages.

    Keeps the commands for ``device`` or for all devices (127); a ``device``
    of 127 keeps only the commands to all devices.  Real-time bytes (F8-FF)
    inside a message are skipped, as MIDI allows; anything else that is not
    MMC (channel messages, MTC, other System Exclusive) passes by uncounted.
    Never raises: what it cannot use is counted in :attr:`stats`, with the
    last reason in :attr:`problem`.
    """

    def __init__(self, device: int = ALL_CALL) -> None:
        if not 0 <= device <= 0x7F:
            raise ValueError(f"an MMC device id is 0 to 127, not {device}")
        self.device = device
        self.stats = MmcStats()
        self.problem = ""
        self._messages: deque[MmcMessage] = deque()
        self._buf: bytearray | None = None  # data bytes of an MMC-shaped System Exclusive being read
        self._skipping = False  # inside a System Exclusive that is not MMC

    def feed(self, data: bytes, t: float = 0.0) -> None:
        """Read ``data``; commands it completes are stamped ``t`` and wait to be iterated."""
        for b in data:
            self._byte(b, t)

    def __iter__(self) -> Iterator[MmcMessage]:
        """The commands read so far, oldest first (each is handed out once)."""
        while self._messages:
            yield self._messages.popleft()

    def _byte(self, b: int, t: float) -> None:
        if b >= 0xF8:
            return  # real-time: allowed anywhere, even inside a System Exclusive
        if b < 0x80:
            buf = self._buf
            if buf is None:
                return  # outside MMC: running status of channel messages, other System Exclusive
            buf.append(b)
            self._check_header(buf)
            return
        if b == EOX:
            buf, self._buf = self._buf, None
            if buf is not None:
                self._complete(buf, t)
            elif not self._skipping:
                self._malformed("an end of exclusive (F7) with no start")
            self._skipping = False
            return
        if self._buf is not None:
            self._malformed(f"cut short by status byte {b:02X} after {len(self._buf) + 1} bytes")
        self._buf, self._skipping = (bytearray(), False) if b == SYSEX else (None, False)

    def _check_header(self, buf: bytearray) -> None:
        """Stop collecting as soon as the bytes say this is not an MMC command (or is too long for one)."""
        n = len(buf)
        if (n == 1 and buf[0] != REALTIME_UNIVERSAL) or (n == 3 and buf[2] != MCS):
            self._buf, self._skipping = None, True  # another System Exclusive (MTC, a response …): not ours
        elif n > MAX_MESSAGE - 2:
            self._malformed(f"longer than the {MAX_MESSAGE} bytes an MMC message may have")
            self._buf, self._skipping = None, True

    def _complete(self, buf: bytearray, t: float) -> None:
        if len(buf) < _HEADER:
            self._malformed(f"{_hex(buf)}: no command after the header")
            return
        device = buf[1]
        if device not in (self.device, ALL_CALL):
            self._count(other_device=1)
            return
        read = _commands(bytes(buf[3:]), device, t)
        if isinstance(read, str):
            self._malformed(f"{_hex(buf)}: {read}")
            return
        found, unknown = read
        self._messages.extend(found)
        self._count(messages=len(found), unknown=unknown)

    def _malformed(self, why: str) -> None:
        self.problem = why
        self._count(malformed=1)

    def _count(self, **increments: int) -> None:
        self.stats = replace(self.stats, **{k: getattr(self.stats, k) + v for k, v in increments.items()})


def _commands(body: bytes, device: int, t: float) -> tuple[list[MmcMessage], int] | str:
    """Every command in a message's body and how many were not ours; or why the whole message is malformed."""
    found: list[MmcMessage] = []
    unknown = 0
    i = 0
    while i < len(body):
        code = body[i]
        spec = BY_CODE.get(code)
        if code in _SINGLE:
            i += 1
            if spec is None:
                unknown += 1
            else:
                found.append(MmcMessage(spec.command, device, None, t))
            continue
        if code not in _COUNTED:
            return found, unknown + 1  # 00 and 78-7F open extension sets: nothing after them can be read
        if i + 1 >= len(body):
            return f"command {code:02X} has no byte count"
        count = body[i + 1]
        data = body[i + 2: i + 2 + count]
        if len(data) < count:
            return f"command {code:02X} counts {count} bytes, {len(data)} follow"
        i += 2 + count
        if spec is None or (spec.command is Command.LOCATE and data[:1] != bytes((LOCATE_TARGET,))):
            unknown += 1  # Locate [I/F] names a stored point stage does not keep
            continue
        if count != spec.data:
            return f"{spec.command.value} carries {spec.data} bytes, not {count}"
        target = _time(data[1:])
        if isinstance(target, str):
            return target
        found.append(MmcMessage(spec.command, device, target, t))
    return found, unknown


def _time(st: bytes) -> MmcTime | str:
    """A locate target's time, or why it cannot be one."""
    hr, mn, sc, fr, ff = st
    if fr & 0x40:
        return "a locate target with the negative sign"
    if fr & 0x20:
        return "a locate target with a status byte instead of subframes"
    return MmcTime(hr & 0x1F, mn & 0x3F, sc & 0x3F, fr & 0x1F, ff, hr >> 5 & 0x03, bool(mn & 0x40))


def _hex(buf: bytes | bytearray) -> str:
    return "F0 " + bytes(buf).hex(" ").upper()
