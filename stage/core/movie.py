"""The streamer movie's frames and samples: which picture frames it holds, and where its audio begins.

A movie of a cue runs, as "from the top" plays it, from ``[clock] preroll``
seconds before the cue's first warning click (or click; a free-timing cue's
start) to its end plus a tail.  Its first frame is the picture frame that
position falls in, and everything else counts from that frame's start:

- movie frame ``i`` is picture frame ``first + i``, shown at picture time
  ``(first + i) / fps``; it shows cut frame ``first + i - cut.start_frame``
  when the cut has it, and black with a notice when not;
- audio sample ``n`` sounds at ``first / fps + n / sample_rate``: a click at
  ``s`` seconds from the downbeat starts on sample
  ``round((downbeat + s - first / fps) × sample_rate)``, exactly.

Pure: rates and times are exact fractions; the pixels are elsewhere.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from fractions import Fraction

from stage.core.cuesheet import Cue
from stage.core.timecode import Rate, Timecode
from stage.errors import RenderError

__all__ = ["MovieSpan", "fit", "movie_span", "parse_size", "uncovered"]

MAX_SIZE = 4096  # pixels a side: a guide movie, not a master
_SIZE_RE = re.compile(r"^\s*(\d{1,5})\s*[x×]\s*(\d{1,5})\s*$")


@dataclass(frozen=True)
class MovieSpan:
    """The picture frames a movie holds: ``frames`` of them from picture frame ``first``, at ``rate``."""

    rate: Rate
    first: int
    frames: int

    @property
    def start(self) -> Timecode:
        """The timecode of the movie's first frame: where its timecode track starts."""
        return Timecode.from_frames(self.first, self.rate)

    @property
    def origin(self) -> Fraction:
        """Picture seconds at the start of the first frame: the movie's time zero."""
        return Fraction(self.first) / self.rate.fps

    @property
    def duration(self) -> Fraction:
        """Seconds from the first frame's start to the last one's end."""
        return Fraction(self.frames) / self.rate.fps

    def time(self, i: int) -> Fraction:
        """Picture seconds at which movie frame ``i`` is shown."""
        return Fraction(self.first + i) / self.rate.fps

    def samples(self, sample_rate: int) -> int:
        """How many audio samples last as long as the frames."""
        return round(self.duration * sample_rate)


def movie_span(cue: Cue, preroll: Fraction, tail: Fraction) -> MovieSpan:
    """The frames of ``cue``'s movie: from ``preroll`` seconds before its first click (never before
    00:00:00:00) to ``tail`` seconds after its end, whole frames."""
    rate = cue.rate
    begin = max(cue.downbeat + cue.first_time - preroll, Fraction(0))
    first = math.floor(begin * rate.fps)
    last = math.ceil((cue.downbeat + cue.end_time + tail) * rate.fps)  # one past the last frame
    return MovieSpan(rate, first, last - first)


def uncovered(cue: Cue, cut_start: Timecode, frames: int) -> str | None:
    """Why a cut of ``frames`` frames from ``cut_start`` cannot picture ``cue`` (its first click to its end), or
    None when it covers it.  The pre-roll and the tail may fall outside the cut: those frames are black."""
    rate = cut_start.rate
    begin = Timecode.at(cue.downbeat + cue.first_time, rate)
    end = Timecode.at(cue.downbeat + cue.end_time, rate)
    first, last = cut_start.frame_count, cut_start.frame_count + frames - 1
    if begin.frame_count >= first and end.frame_count <= last:
        return None
    what = "first click" if not cue.free else "start"
    return (f"the cut runs from {cut_start} to {cut_start + (frames - 1)} and cue {cue.id} from its {what} "
            f"{begin} to its end {end}: the cut must cover the cue")


def parse_size(text: str) -> tuple[int, int]:
    """``1280x720`` as (width, height): both even (4:2:0 video), at least 64 × 64 and at most
    :data:`MAX_SIZE` a side."""
    m = _SIZE_RE.match(text)
    if m is None:
        raise RenderError(f"--size {text!r} is not WIDTHxHEIGHT (1280x720)")
    width, height = int(m.group(1)), int(m.group(2))
    if not (64 <= width <= MAX_SIZE and 64 <= height <= MAX_SIZE) or width % 2 or height % 2:
        raise RenderError(f"--size {text}: width and height must be even numbers from 64 to {MAX_SIZE}")
    return width, height


def fit(width: int, height: int, aspect: Fraction, box: tuple[int, int]) -> tuple[int, int, int, int]:
    """Where a ``width`` × ``height`` picture of pixel aspect ``aspect`` goes in a movie of size ``box``:
    (left, top, width, height), as large as fits with its shape kept, centred, on even pixels."""
    box_w, box_h = box
    shown = Fraction(width) * (aspect if aspect > 0 else 1) / height  # the picture's display aspect
    if shown >= Fraction(box_w, box_h):
        w, h = box_w, min(box_h, max(2, round(box_w / shown / 2) * 2))
    else:
        w, h = min(box_w, max(2, round(box_h * shown / 2) * 2)), box_h
    return (box_w - w) // 2 // 2 * 2, (box_h - h) // 2 // 2 * 2, w, h
