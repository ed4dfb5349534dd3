"""The click's own sounds, and the voice that plays them sample by sample.

One definition serves the audio click through JACK (``<client>:click_audio``)
and the offline WAV of ``stage render``, so what the players hear on the
stage and what the editor spots in the DAW are the same sounds.

Each sound is a decaying sine that starts at its peak: the onset is its first
sample, sharp enough for a recorder (or a test) to find on its exact sample.
Three sounds, told apart by pitch: the downbeat (accent), the other clicks
and the warning clicks.

Pure: samples are computed once, as floats in ``[-1, 1]``;
:class:`ClickVoice` then only copies slices of them into the output buffer,
so the real-time callback does no per-sample arithmetic and allocates nothing
once running.
"""

from __future__ import annotations

import collections
import math
from array import array
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from stage.core.tempo import ClickKind
from stage.errors import StageError

MAX_DURATION = 0.5  # seconds: a click, not a note
FADE = 0.001  # seconds of linear fade at the end, so a sound never stops on a step


@dataclass(frozen=True)
class Sound:
    """A synthesized click: a sine of ``frequency`` starting at ``peak`` and falling by 1/e every ``decay`` s."""

    frequency: float  # Hz
    peak: float  # fraction of full scale, below 1: never clips
    decay: float  # seconds for the envelope to fall by 1/e
    duration: float  # seconds

    def __post_init__(self) -> None:
        if not 20 <= self.frequency <= 20000:
            raise StageError(f"a click sound's frequency must be 20-20000 Hz, not {self.frequency}")
        if not 0 < self.peak < 1:
            raise StageError(f"a click sound's peak must be above 0 and below 1 (full scale), not {self.peak}")
        if self.decay <= 0:
            raise StageError(f"a click sound's decay must be positive, not {self.decay}")
        if not FADE < self.duration <= MAX_DURATION:
            raise StageError(f"a click sound lasts {FADE * 1000:g}-{MAX_DURATION * 1000:g} ms, not {self.duration}")


# Downbeat high and bright, warning between, other clicks low (distinct by pitch, as a click sampler's would be).
SOUNDS: dict[ClickKind, Sound] = {
    ClickKind.ACCENT: Sound(frequency=2000.0, peak=0.85, decay=0.008, duration=0.030),
    ClickKind.NORMAL: Sound(frequency=1000.0, peak=0.6, decay=0.006, duration=0.025),
    ClickKind.WARNING: Sound(frequency=1500.0, peak=0.7, decay=0.004, duration=0.020),
}


def sound_samples(sound: Sound, sample_rate: int, gain: float = 1.0) -> list[float]:
    """The samples of ``sound`` at ``sample_rate``, scaled by ``gain`` (≤ 1)."""
    n = round(sound.duration * sample_rate)
    fade = max(1, round(FADE * sample_rate))
    w = 2 * math.pi * sound.frequency / sample_rate
    out = []
    for i in range(n):
        env = sound.peak * math.exp(-i / (sound.decay * sample_rate))
        env *= min(1.0, (n - i) / fade)  # stops one step short of zero: the last sample still sounds
        out.append(gain * env * math.cos(w * i))
    return out


def db_to_gain(db: float) -> float:
    """Linear gain of ``db`` decibels."""
    return float(10 ** (db / 20))


@dataclass(frozen=True)
class ClickSounds:
    """The three sounds and the level they play at (dB, 0 = as designed)."""

    accent: Sound = SOUNDS[ClickKind.ACCENT]
    normal: Sound = SOUNDS[ClickKind.NORMAL]
    warning: Sound = SOUNDS[ClickKind.WARNING]
    level_db: float = 0.0

    def __post_init__(self) -> None:
        if not -60 <= self.level_db <= 0:
            raise StageError(f"the click level must be -60 to 0 dB, not {self.level_db}")

    def sound(self, kind: ClickKind) -> Sound:
        """The sound of a click of ``kind``."""
        return {ClickKind.ACCENT: self.accent, ClickKind.NORMAL: self.normal, ClickKind.WARNING: self.warning}[kind]

    def samples(self, sample_rate: int) -> dict[ClickKind, list[float]]:
        """Every sound's samples at ``sample_rate``, at the level."""
        gain = db_to_gain(self.level_db)
        return {kind: sound_samples(self.sound(kind), sample_rate, gain) for kind in ClickKind}


class ClickVoice:
    """Plays click sounds into successive output blocks, each starting on its exact frame.

    :meth:`start` queues a sound at an absolute frame (in order);
    :meth:`render` fills one block.  A click cuts the sound before it, as in
    the rendered WAV.  Everything it copies is allocated here, up front.
    """

    def __init__(self, sounds: Mapping[ClickKind, Sequence[float]], max_block: int = 8192) -> None:
        self._sounds: dict[ClickKind, memoryview[float]] = {k: memoryview(array("f", s)) for k, s in sounds.items()}
        self._zeros = memoryview(array("f", bytes(4 * max_block)))
        self._queue: collections.deque[tuple[int, ClickKind]] = collections.deque()
        self._sound: memoryview[float] | None = None
        self._start = 0

    def start(self, frame: int, kind: ClickKind) -> None:
        """Sound ``kind`` from absolute ``frame`` on (frames in non-decreasing order)."""
        self._queue.append((frame, kind))

    def stop(self) -> None:
        """Silence at once, and forget what was queued."""
        self._queue.clear()
        self._sound = None

    def render(self, frame0: int, out: memoryview[float]) -> None:
        """Fill ``out`` (float32 samples of frames ``frame0 …``) with what sounds there."""
        n = len(out)
        if n > len(self._zeros):
            self._zeros = memoryview(array("f", bytes(4 * n)))  # a larger period: once
        out[:] = self._zeros[:n]
        end = frame0 + n
        pos = frame0
        queue = self._queue
        while True:
            upto = min(queue[0][0], end) if queue else end
            upto = max(upto, pos)
            sound = self._sound
            if sound is not None:
                a, b = pos - self._start, min(upto - self._start, len(sound))
                if b > a:
                    out[pos - frame0 : pos - frame0 + b - a] = sound[a:b]
                if self._start + len(sound) <= upto:
                    self._sound = None
            if upto >= end:
                return
            frame, kind = queue.popleft()
            self._sound, self._start = self._sounds[kind], frame
            pos = upto
