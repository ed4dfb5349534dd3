"""Frame rates, SMPTE timecode, and exact conversions between frames and time.

Picture time is seconds since 00:00:00:00 at the picture's *actual* rate, kept
as :class:`fractions.Fraction` so that nothing drifts across 24 hours.  A frame
count is an ``int`` counted from 00:00:00:00.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from fractions import Fraction

from stage.errors import TimecodeError

FRAMES_PER_FOOT = 16  # 35 mm, 4-perf


@dataclass(frozen=True)
class Rate:
    """A picture frame rate.

    ``fps`` is the actual rate (24000/1001 for 23.976); ``nominal`` is the
    number of frames in one timecode second; drop-frame rates skip
    ``dropped`` frame numbers at the start of every minute not divisible by 10.
    ``mtc_code`` is the MTC rate code it travels as (None: not expressible).
    """

    name: str
    fps: Fraction
    nominal: int
    drop: bool = False
    mtc_code: int | None = None

    @property
    def dropped(self) -> int:
        """Frame numbers skipped per minute (0 for non-drop)."""
        return self.nominal // 15 if self.drop else 0

    @property
    def frames_per_day(self) -> int:
        """Frames from 00:00:00:00 up to (not including) 24:00:00:00."""
        return 24 * 6 * self.frames_per_10min

    @property
    def frames_per_10min(self) -> int:
        """Frames in ten minutes of timecode."""
        return self.nominal * 600 - 9 * self.dropped

    def __str__(self) -> str:
        return self.name

    def as_dict(self) -> dict[str, object]:
        """The rate as plain data, for a screen that counts timecode itself: fps as [numerator, denominator]."""
        return {"name": self.name, "fps": [self.fps.numerator, self.fps.denominator], "nominal": self.nominal,
                "drop": self.drop}


_NTSC = Fraction(1000, 1001)

RATES: dict[str, Rate] = {
    r.name: r
    for r in (
        Rate("23.976", 24 * _NTSC, 24, mtc_code=0),
        Rate("24", Fraction(24), 24, mtc_code=0),
        Rate("25", Fraction(25), 25, mtc_code=1),
        Rate("29.97", 30 * _NTSC, 30, mtc_code=3),
        Rate("29.97df", 30 * _NTSC, 30, drop=True, mtc_code=2),
        Rate("30", Fraction(30), 30, mtc_code=3),
        Rate("47.952", 48 * _NTSC, 48),
        Rate("48", Fraction(48), 48),
        Rate("50", Fraction(50), 50),
        Rate("59.94", 60 * _NTSC, 60),
        Rate("59.94df", 60 * _NTSC, 60, drop=True),
        Rate("60", Fraction(60), 60),
    )
}

_ALIASES = {
    "23.98": "23.976",
    "29.97nd": "29.97",
    "29.97ndf": "29.97",
    "29.97d": "29.97df",
    "29.97drop": "29.97df",
    "29.97-df": "29.97df",
    "59.94d": "59.94df",
    "59.94drop": "59.94df",
}


def parse_rate(value: str | float | Rate) -> Rate:
    """Return the :class:`Rate` named by ``value`` ("23.976", 24, "29.97df", …)."""
    if isinstance(value, Rate):
        return value
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise TimecodeError(f"rate must be a string or number, not {value!r}")
    key = str(value).strip().lower().replace(" ", "")
    key = _ALIASES.get(key, key)
    if key not in RATES and re.fullmatch(r"\d+\.0+", key):
        key = key.split(".")[0]  # 48.0 → 48
    try:
        return RATES[key]
    except KeyError:
        known = ", ".join(RATES)
        raise TimecodeError(f"unknown rate {value!r} (known: {known})") from None


_TC_RE = re.compile(r"^\s*(-)?(\d{1,2})[:.](\d{2})[:.](\d{2})([:;.,])(\d{2,3})\s*$")


@dataclass(frozen=True, order=True)
class Timecode:
    """A valid SMPTE timecode at a given rate; validates on construction."""

    hours: int
    minutes: int
    seconds: int
    frames: int
    rate: Rate

    def __post_init__(self) -> None:
        h, m, s, f, r = self.hours, self.minutes, self.seconds, self.frames, self.rate
        where = str(self)
        if not 0 <= h < 24:
            raise TimecodeError(f"{where}: hours must be 00-23")
        if not 0 <= m < 60:
            raise TimecodeError(f"{where}: minutes must be 00-59")
        if not 0 <= s < 60:
            raise TimecodeError(f"{where}: seconds must be 00-59")
        if not 0 <= f < r.nominal:
            raise TimecodeError(f"{where}: frame {f} does not exist at {r} fps (frames 00-{r.nominal - 1:02d})")
        if r.drop and s == 0 and f < r.dropped and m % 10 != 0:
            raise TimecodeError(
                f"{where}: does not exist in drop-frame: frames 00-{r.dropped - 1:02d} are skipped "
                f"at the start of every minute except minutes divisible by 10"
            )

    @classmethod
    def parse(cls, text: str, rate: Rate | str) -> Timecode:
        """Parse ``HH:MM:SS:FF`` (``;`` or ``:`` before the frames)."""
        rate = parse_rate(rate)
        m = _TC_RE.match(text) if isinstance(text, str) else None
        if m is None or m.group(1):
            raise TimecodeError(f"{text!r} is not a timecode (expected HH:MM:SS:FF, or HH:MM:SS;FF for drop-frame)")
        h, mi, s, f = (int(m.group(i)) for i in (2, 3, 4, 6))
        return cls(h, mi, s, f, rate)

    @classmethod
    def from_frames(cls, count: int, rate: Rate | str) -> Timecode:
        """The timecode of frame ``count`` (wraps at 24 hours)."""
        rate = parse_rate(rate)
        return cls(*frames_to_hmsf(count, rate), rate)

    @classmethod
    def at(cls, seconds: Fraction | int, rate: Rate | str) -> Timecode:
        """The timecode of the frame that picture time ``seconds`` falls in."""
        rate = parse_rate(rate)
        return cls.from_frames(seconds_to_frame(seconds, rate), rate)

    @property
    def frame_count(self) -> int:
        """Frames since 00:00:00:00."""
        return hmsf_to_frames(self.hours, self.minutes, self.seconds, self.frames, self.rate)

    @property
    def picture_seconds(self) -> Fraction:
        """Real seconds since 00:00:00:00 at the actual rate (start of this frame)."""
        return frames_to_seconds(self.frame_count, self.rate)

    def __add__(self, frames: int) -> Timecode:
        return Timecode.from_frames(self.frame_count + frames, self.rate)

    def __str__(self) -> str:
        sep = ";" if self.rate.drop else ":"
        return f"{self.hours:02d}:{self.minutes:02d}:{self.seconds:02d}{sep}{self.frames:02d}"


def hmsf_to_frames(h: int, m: int, s: int, f: int, rate: Rate) -> int:
    """Frame count of a timecode (not validated: see :class:`Timecode`)."""
    total_minutes = 60 * h + m
    count = (3600 * h + 60 * m + s) * rate.nominal + f
    return count - rate.dropped * (total_minutes - total_minutes // 10)


def frames_to_hmsf(count: int, rate: Rate) -> tuple[int, int, int, int]:
    """Hours, minutes, seconds and frames of frame ``count`` (mod 24 hours)."""
    count %= rate.frames_per_day
    if rate.drop:
        drop = rate.dropped
        tens, rest = divmod(count, rate.frames_per_10min)
        count += 9 * drop * tens
        if rest >= drop:
            count += drop * ((rest - drop) // (rate.nominal * 60 - drop))
    f = count % rate.nominal
    total_s = count // rate.nominal
    return total_s // 3600, total_s // 60 % 60, total_s % 60, f


def frames_to_seconds(count: int | Fraction, rate: Rate) -> Fraction:
    """Real seconds at the start of frame ``count`` (fractional counts allowed)."""
    return Fraction(count) / rate.fps


def seconds_to_frame(seconds: Fraction | int, rate: Rate) -> int:
    """The frame that picture time ``seconds`` falls in (floor)."""
    return math.floor(Fraction(seconds) * rate.fps)


# A run-time position is a float: an exact frame boundary can read as a hair
# below it. A millionth of a frame is far above float error for a day of
# picture and far below one sample.
_FLOAT_FRAME_TOLERANCE = Fraction(1, 1_000_000)


def frame_at(position: float, rate: Rate) -> int:
    """The frame a run-time (float) picture position is in, robust to float error at frame boundaries."""
    return math.floor(Fraction(position) * rate.fps + _FLOAT_FRAME_TOLERANCE)


def format_seconds(seconds: Fraction | int, rate: Rate) -> str:
    """Timecode text of the frame that ``seconds`` falls in."""
    return str(Timecode.at(seconds, rate))


def feet_frames(frames: int) -> tuple[int, int]:
    """35 mm footage of a frame count: (feet, frames), 16 frames a foot."""
    sign = -1 if frames < 0 else 1
    feet, rest = divmod(abs(frames), FRAMES_PER_FOOT)
    return sign * feet, rest


def format_feet(frames: int) -> str:
    """Footage as music editors write it: ``123+04``."""
    feet, rest = feet_frames(frames)
    sign = "-" if frames < 0 else ""
    return f"{sign}{abs(feet)}+{rest:02d}"


_DURATION_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ft|f|s|ms)\s*$")
_FEET_FRAMES_RE = re.compile(r"^\s*(\d+)\+(\d{1,2})\s*$")


def parse_duration(value: str | float, rate: Rate) -> Fraction:
    """Seconds of a length such as ``"3ft"``, ``"2s"``, ``"48f"``, ``"500ms"``, ``"2+08"``.

    Feet and frames are picture frames at the actual rate (16 frames a foot).
    A bare number is seconds.
    """
    if isinstance(value, bool):
        raise TimecodeError(f"{value!r} is not a length")
    if isinstance(value, (int, float)):
        if value < 0:
            raise TimecodeError(f"length {value!r} is negative")
        return Fraction(str(value))
    m = _FEET_FRAMES_RE.match(value)
    if m:
        feet, fr = int(m.group(1)), int(m.group(2))
        if fr >= FRAMES_PER_FOOT:
            raise TimecodeError(f"{value!r}: a foot has {FRAMES_PER_FOOT} frames (00-15)")
        return frames_to_seconds(feet * FRAMES_PER_FOOT + fr, rate)
    m = _DURATION_RE.match(value)
    if m is None:
        raise TimecodeError(f"{value!r} is not a length (examples: \"3ft\", \"2s\", \"48f\", \"500ms\", \"2+08\")")
    amount, unit = Fraction(m.group(1)), m.group(2)
    if unit == "ft":
        return frames_to_seconds(amount * FRAMES_PER_FOOT, rate)
    if unit == "f":
        return frames_to_seconds(amount, rate)
    if unit == "ms":
        return amount / 1000
    return amount
