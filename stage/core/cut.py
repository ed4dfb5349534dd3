"""The cut as the cutting room hands it over, judged: can the stage play it against the cue sheet?

The media adapter (:mod:`stage.adapters.media`) reads a file into a
:class:`Probe`: plain facts, the timestamp of every frame among them.  This
module decides what they mean, without I/O: the cut's exact frame rate (or
that it has none: a variable rate), that rate against the cue sheet's
``[picture] rate`` (a 24 cut for a 23.976 sheet is refused naming both;
29.97 against 29.97df is told by the drop-frame flag of the cut's timecode),
its start timecode (the file's own, or one given where the file has none),
whether the file holds every frame its header promises, the picture frames
it covers, and the size of the proxy the browsers decode.

An imported cut is a :class:`Picture`: one revision, recorded on every take.
"""

from __future__ import annotations

import itertools
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from stage.core.cuesheet import Cue
from stage.core.timecode import RATES, Rate, Timecode
from stage.errors import PictureError, TimecodeError

PROXY_HEIGHT = 720  # the proxy's height at most: every browser decodes 720p H.264 in real time
GOP = 6  # frames from one keyframe of the proxy to the next: a locate decodes at most this many

REVISION = re.compile(r"^(\d{1,9})-([0-9a-f]{6})$")
_DROP_SEPARATORS = ";.,"  # what SMPTE and the tools write before the frames of a drop-frame timecode


@dataclass(frozen=True)
class Probe:
    """What a media file holds, as read from it: the facts, judged by :func:`judge`.

    ``stamps`` are the presentation times of every frame, in the file's
    order, in units of ``time_base`` seconds.  ``header_frames`` and
    ``duration`` (in ``time_base`` units) are what the file's header
    promises, when it says.  ``timecode`` is the start timecode as the file
    writes it (``00:59:58;00``: drop-frame), from its ``tmcd`` track or its
    header.  ``damaged`` counts frames the demuxer found cut short.
    """

    name: str
    size: int
    container: str
    codec: str
    width: int
    height: int
    aspect: Fraction  # the pixels' aspect ratio: 1 for square pixels
    time_base: Fraction
    stamps: tuple[int, ...]
    declared_rate: Fraction | None = None
    header_frames: int | None = None
    duration: int | None = None
    timecode: str | None = None
    damaged: int = 0


@dataclass(frozen=True)
class Cut:
    """A cut the stage can play: what its file holds, the rate it plays at (the sheet's), its first frame."""

    probe: Probe
    rate: Rate
    start: Timecode
    start_given: bool = False  # the start was given by hand (the file has none, or a wrong one)

    @property
    def frames(self) -> int:
        """How many frames the cut has."""
        return len(self.probe.stamps)

    @property
    def start_frame(self) -> int:
        """The picture frame (counted from 00:00:00:00) of the cut's first frame."""
        return self.start.frame_count

    def source_json(self, sha256: str) -> dict[str, Any]:
        """The record of the source file kept with each revision."""
        p = self.probe
        return {"name": p.name, "size": p.size, "sha256": sha256, "container": p.container, "codec": p.codec,
                "width": p.width, "height": p.height, "rate": self.rate.name, "start": str(self.start),
                "start_given": self.start_given, "timecode": p.timecode}


def _ms(seconds: Fraction) -> str:
    return f"{float(seconds) * 1000:.3f} ms"


def steady(stamps: Sequence[int], step: Fraction) -> bool:
    """True when ``stamps`` (in order) are ``c + k × step`` rounded to whole ticks, for one ``c``: the spread of
    ``stamp - k × step`` is under one tick.  Integers only: a film has 10⁵ frames."""
    p, q = step.numerator, step.denominator
    residuals = [q * t - k * p for k, t in enumerate(stamps)]
    return max(residuals) - min(residuals) < q


def frame_rate(probe: Probe) -> Fraction:
    """The cut's exact frame rate (frames per second), measured from every frame's timestamp.

    When the file's declared rate makes a frame a whole number of ticks,
    every frame must last exactly that.  Otherwise a rate the stage knows
    (24000/1001, 25 …) is chosen when every frame sits where that rate puts
    it, rounded to the tick; else the rate measured, if every frame lasts
    the same to the tick.  :class:`PictureError` for a variable rate, naming
    the frame where it changes and the durations seen.
    """
    ordered = sorted(probe.stamps)
    if not ordered:
        raise PictureError(f"{probe.name} holds no frames")
    if len(ordered) < 3:
        if probe.declared_rate is None or probe.declared_rate <= 0:
            raise PictureError(f"{probe.name} has {len(ordered)} frame(s) and says no frame rate: not a movie")
        if len(ordered) == 1:
            return probe.declared_rate
    tb = probe.time_base
    durations = [b - a for a, b in itertools.pairwise(ordered)]
    if min(durations) <= 0:
        at = durations.index(min(durations))
        raise PictureError(f"{probe.name} has two frames at one time (frames {at} and {at + 1}): "
                           "a variable frame rate; the stage needs a constant rate: export the cut again")
    seen = Counter(durations)
    declared = probe.declared_rate if probe.declared_rate and probe.declared_rate > 0 else None
    exact = declared is not None and (1 / (declared * tb)).denominator == 1
    if declared is not None and exact and set(seen) == {1 / (declared * tb)}:
        return declared  # a frame is a whole number of ticks: nothing to round, every frame lasts exactly that
    if not exact:
        mean = Fraction(ordered[-1] - ordered[0], len(ordered) - 1)
        known = sorted({r.fps for r in RATES.values()} | ({declared} if declared else set()))
        for _, fps in sorted((abs(1 / (fps * tb) - mean), fps) for fps in known):
            if steady(ordered, 1 / (fps * tb)):
                return fps
        # A rate the stage does not know: its frames last the same to the tick (1 and 2 ticks is a frame dropped).
        if steady(ordered, mean) and max(seen) - min(seen) <= 1 and max(seen) * 10 <= min(seen) * 11:
            return 1 / (mean * tb)
    usual = sorted(durations)[len(durations) // 2]  # the median: rounding makes neighbours differ by a tick
    odd = next((k for k, d in enumerate(durations) if abs(d - usual) > 1),
               max(range(len(durations)), key=lambda k: abs(durations[k] - usual)))
    shown = Counter(f"{float(d * tb) * 1000:.1f} ms" for d in durations)
    kinds = ", ".join(f"{ms} ×{n}" for ms, n in shown.most_common(4))
    raise PictureError(
        f"{probe.name} has a variable frame rate: frame {odd} lasts {_ms(durations[odd] * tb)} where most last "
        f"{_ms(usual * tb)} (durations seen: {kinds}); the stage needs a constant rate: export the cut again "
        "at the picture's rate")


def rate_name(fps: Fraction, drop: bool | None = None) -> str:
    """A rate as people say it: ``23.976``, ``29.97df``, ``24``; an unknown one as its number (``12.5``)."""
    for r in RATES.values():
        if r.fps == fps and (drop is None or r.drop == drop or r.nominal not in (30, 60)):
            return r.name
    return f"{float(fps):.3f}".rstrip("0").rstrip(".")


def timecode_drop(text: str | None) -> bool | None:
    """Whether a timecode as a file writes it is drop-frame (``;`` before the frames); None for no timecode."""
    if text is None:
        return None
    text = text.strip()
    return len(text) > 3 and text[-3] in _DROP_SEPARATORS


def check_rate(name: str, fps: Fraction, timecode: str | None, sheet: Rate) -> Rate:
    """The rate the cut plays at: the sheet's, when the cut's agrees; :class:`PictureError` naming both if not.

    At 29.97 and 59.94 the cut's timecode says drop-frame or not; a cut
    without timecode takes the sheet's word for it.
    """
    drop = timecode_drop(timecode)
    if fps != sheet.fps:
        raise PictureError(
            f"{name} runs at {rate_name(fps, drop)} fps and the cue sheet's [picture] rate is {sheet}: the cut and "
            "the sheet must be at one rate (conform the cut, or correct the sheet)")
    if drop is not None and sheet.nominal in (30, 60) and drop != sheet.drop:
        kind = "drop-frame" if drop else "non-drop"
        raise PictureError(
            f"{name}'s timecode {timecode} is {kind} ({rate_name(fps, drop)}) and the cue sheet's [picture] rate is "
            f"{sheet}: the cut and the sheet must count timecode alike")
    return sheet


def start_timecode(name: str, timecode: str | None, given: str | None, rate: Rate) -> Timecode:
    """The cut's first frame as timecode: ``given`` (by hand) over the file's own ``timecode``.

    :class:`PictureError` when there is neither, or the file's cannot exist
    at ``rate``; a ``given`` one that cannot is a
    :class:`~stage.errors.TimecodeError`.
    """
    if given is not None:
        return Timecode.parse(given, rate)
    if timecode is None:
        raise PictureError(
            f"{name} has no timecode (no tmcd track, no timecode in its header): give its first frame's timecode "
            "(stage picture import --start HH:MM:SS:FF, or PUT /api/picture?start=HH:MM:SS:FF)")
    try:
        return Timecode.parse(timecode, rate)
    except TimecodeError as exc:
        raise PictureError(f"{name}'s timecode {timecode!r} cannot be read at {rate} fps: {exc}") from None


def _expected_frames(probe: Probe, fps: Fraction) -> int | None:
    if probe.header_frames:
        return probe.header_frames
    if probe.duration:
        return round(probe.duration * probe.time_base * fps)
    return None


def judge(probe: Probe, sheet: Rate, start: str | None = None) -> Cut:
    """Whether the stage can play the cut in ``probe`` against a sheet at ``sheet``: the :class:`Cut`, or
    :class:`PictureError` naming what is wrong and what was expected.

    ``start``: its first frame's timecode, given by hand (where the file has none, or a wrong one).
    """
    frames = len(probe.stamps)
    if probe.damaged:
        raise PictureError(f"{probe.name} is truncated or damaged: {probe.damaged} frame(s) are cut short "
                           f"({probe.size} bytes, {frames} frames read): copy it again")
    fps = frame_rate(probe)
    expected = _expected_frames(probe, fps)
    if expected is not None and frames < expected:
        raise PictureError(f"{probe.name} is truncated: its header promises {expected} frames, the file holds "
                           f"{frames} ({probe.size} bytes): copy it again")
    rate = check_rate(probe.name, fps, probe.timecode, sheet)
    first = start_timecode(probe.name, probe.timecode, start, rate)
    if first.frame_count + frames > rate.frames_per_day:
        raise PictureError(f"{probe.name}: {frames} frames from {first} run past 24:00:00:00")
    return Cut(probe, rate, first, start_given=start is not None)


def proxy_size(width: int, height: int, aspect: Fraction = Fraction(1)) -> tuple[int, int]:
    """The proxy's width and height: square pixels, at most :data:`PROXY_HEIGHT` high, both even (4:2:0)."""
    high = max(2, min(PROXY_HEIGHT, height) // 2 * 2)
    shown = Fraction(width) * (aspect if aspect > 0 else 1)
    wide = max(2, round(shown * high / height / 2) * 2)
    return wide, high


def revision_id(counter: int, sha256: str) -> str:
    """A revision's id: the import's number and the start of the source's hash, ``"3-1f9a2c"``."""
    return f"{counter}-{sha256[:6]}"


def revision_number(revision: str) -> int | None:
    """The import number of a revision id; None for anything that is not one."""
    m = REVISION.match(revision)
    return int(m.group(1)) if m else None


def next_revision_number(existing: Iterable[str]) -> int:
    """The number of the next import: one past the highest revision id in ``existing`` (others ignored)."""
    return max((n for n in map(revision_number, existing) if n is not None), default=0) + 1


@dataclass(frozen=True)
class Picture:
    """One imported cut: a revision, its rate, its first frame, its length and its proxy's size.

    Sample ``k`` of the proxy is picture frame ``start_frame + k``
    (counted from 00:00:00:00, drop-frame as :mod:`stage.core.timecode`
    counts it).  ``source`` is the record of the file it came from
    (:meth:`Cut.source_json`); ``imported_at`` an ISO 8601 time.
    """

    revision: str
    name: str
    rate: Rate
    start: Timecode
    frames: int
    width: int
    height: int
    imported_at: str
    source: Mapping[str, Any]

    def __post_init__(self) -> None:
        if revision_number(self.revision) is None:
            raise PictureError(f"{self.revision!r} is not a picture revision (a number, '-', six hex digits)")
        if self.frames < 1:
            raise PictureError(f"picture {self.revision} has no frames")
        if self.start.rate != self.rate:
            raise PictureError(f"picture {self.revision}: start {self.start} is not at {self.rate} fps")

    @property
    def start_frame(self) -> int:
        """The picture frame of sample 0."""
        return self.start.frame_count

    @property
    def end(self) -> Timecode:
        """The timecode of the cut's last frame."""
        return self.start + (self.frames - 1)

    def sample_of(self, frame: int) -> int | None:
        """The proxy sample showing picture frame ``frame``; None outside the cut."""
        k = frame - self.start_frame
        return k if 0 <= k < self.frames else None

    def session_json(self) -> dict[str, Any]:
        """The picture as the session state carries it: what a page needs to know its index is current."""
        return {"revision": self.revision, "rate": self.rate.name, "start_frame": self.start_frame,
                "frames": self.frames}

    def record(self) -> dict[str, Any]:
        """The revision's record (``picture.json``), read back by :meth:`from_record`."""
        return {"revision": self.revision, "name": self.name, "rate": self.rate.name, "start": str(self.start),
                "start_frame": self.start_frame, "frames": self.frames, "width": self.width, "height": self.height,
                "imported_at": self.imported_at, "source": dict(self.source)}

    @classmethod
    def from_record(cls, data: Mapping[str, Any]) -> Picture:
        """A picture from its record; :class:`PictureError` for one that does not hold together."""
        try:
            rate = RATES[data["rate"]]
            return cls(str(data["revision"]), str(data["name"]), rate, Timecode.parse(data["start"], rate),
                       int(data["frames"]), int(data["width"]), int(data["height"]), str(data["imported_at"]),
                       dict(data["source"]))
        except (KeyError, TypeError, ValueError) as exc:
            raise PictureError(f"a picture record that does not hold together: {exc!r}") from None


def outside(cut_start: Timecode, frames: int, cues: Iterable[Cue]) -> list[str]:
    """One line for each cue that runs (in part) outside the cut's frames: the stage would show black there."""
    rate = cut_start.rate
    first, last = cut_start.frame_count, cut_start.frame_count + frames  # [first, last)
    lines = []
    for cue in cues:
        begin = Timecode.at(cue.downbeat + cue.first_time, rate)
        end = Timecode.at(cue.downbeat + cue.end_time, rate)
        if begin.frame_count < first or end.frame_count >= last:
            lines.append(f"cue {cue.id} ({begin} to {end}) runs outside the cut ({cut_start} to "
                         f"{cut_start + (frames - 1)})")
    return lines

