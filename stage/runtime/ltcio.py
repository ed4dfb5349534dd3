"""LTC on the engine's audio ports: read on ``<client>:ltc_in``, written on ``<client>:ltc_out``.

Both run inside the engine's cycle (JACK's process callback), beside the
click.  The codec is libltc, which the runtime only knows by the shape it
needs (:class:`LtcDecoding`, :class:`LtcEncoding`): the engine's driver opener
(:mod:`stage.adapters.engine_drivers`) hands the core a libltc decoder and
encoder when it opens the ports.

- :class:`LtcInput` feeds each cycle's samples to the decoder, stamped with
  JACK's frame of the cycle's first sample, and keeps the frames it read for
  the chase (:meth:`stage.core.chase.ChaseEstimator.receive_frame`), which
  runs in the same cycle right after.
- :class:`LtcOutput` asks :class:`~stage.core.ltc.LtcGenerator` which frames
  start in the cycle, has each one encoded to its exact length, and plays
  them from their first sample on (:class:`LtcVoice`), as the click voice
  plays click sounds.
"""

from __future__ import annotations

import collections
from array import array
from collections.abc import Sequence
from typing import Protocol

from stage.core.ltc import LtcFrame, LtcGenerator
from stage.core.timecode import Rate
from stage.core.transport import Anchor

LTC_IN_PORT = "ltc_in"
LTC_OUT_PORT = "ltc_out"
_SIGN = bytes(b ^ 0x80 for b in range(256))  # a little-endian float32's last byte with its sign bit flipped


class LtcDecoding(Protocol):
    """Reads LTC from audio (:class:`stage.adapters.libltc.LtcDecoder`); runs on the real-time thread."""

    def decode(self, samples: memoryview[float], frame0: int) -> Sequence[LtcFrame]:
        """Take float samples, the first one being sample ``frame0``; the frames that completed in them."""


class LtcEncoding(Protocol):
    """Writes LTC as audio (:class:`stage.adapters.libltc.LtcEncoder`); runs on the real-time thread."""

    def encode(self, frame: int, samples: int, reverse: bool = False) -> bytes:
        """Float32 samples of frame count ``frame`` lasting exactly ``samples`` (last bit first: ``reverse``)."""


class LtcInput:
    """The LTC read on the input port this cycle, waiting for the chase."""

    def __init__(self, decoder: LtcDecoding) -> None:
        self._decoder = decoder
        self._frames: list[LtcFrame] = []

    def read(self, frame0: int, samples: memoryview[float]) -> None:
        """Decode one cycle's samples (the port's buffer, first sample ``frame0``)."""
        self._frames.extend(self._decoder.decode(samples, frame0))

    def take(self) -> list[LtcFrame]:
        """The frames read since the last call, oldest first."""
        frames, self._frames = self._frames, []
        return frames


class LtcVoice:
    """Plays encoded frames into successive output blocks, each from its exact first sample.

    A frame cuts the one before it; a frame that ended before the next
    starts (the speed rose meanwhile) holds its last level, as a tape would
    rest on it; :meth:`silence` makes it quiet from a sample on.  Events come
    in sample order.

    Every frame must start with an edge, and the encoder starts each one on
    the same side (the polarity bit brings a whole frame back to where it
    began).  A frame cut short (a varispeed, a locate) may leave the signal on
    that side already; then the next frame is played upside down, which
    biphase mark allows (only the edges carry bits), and so are the frames
    after it until another cut turns it back.
    """

    def __init__(self, max_block: int = 8192) -> None:
        self._zeros = memoryview(bytes(4 * max_block)).cast("f")
        self._queue: collections.deque[tuple[int, bytes | None]] = collections.deque()
        self._sound: memoryview[float] | None = None
        self._start = 0
        self._level = 0.0  # the last sample written
        self._holds: dict[float, memoryview[float]] = {}

    def start(self, sample: int, data: bytes) -> None:
        """Play ``data`` (float32 samples) from absolute ``sample`` on."""
        self._queue.append((sample, data))

    def silence(self, sample: int) -> None:
        """Quiet from absolute ``sample`` on (until a frame starts)."""
        self._queue.append((sample, None))

    def render(self, frame0: int, out: memoryview[float]) -> None:
        """Fill ``out`` (the samples from ``frame0`` on)."""
        n = len(out)
        end = frame0 + n
        pos = frame0
        queue = self._queue
        while pos < end:
            upto = max(min(queue[0][0], end), pos) if queue else end
            self._fill(out, pos - frame0, pos, upto)
            if upto >= end:
                return
            sample, data = queue.popleft()
            self._sound = None if data is None else self._edged(memoryview(data).cast("f"), data)
            self._start, pos = sample, upto

    def _edged(self, sound: memoryview[float], data: bytes) -> memoryview[float]:
        """``sound``, upside down if it would start on the side the signal is on (no edge)."""
        if not sound or self._level * sound[0] <= 0:
            return sound
        flipped = bytearray(data)
        flipped[3::4] = data[3::4].translate(_SIGN)  # the sign bit of each float32, flipped in C
        return memoryview(bytes(flipped)).cast("f")

    def _fill(self, out: memoryview[float], at: int, a: int, b: int) -> None:
        """Samples ``a`` to ``b`` (absolute) of the current frame into ``out`` from index ``at``."""
        if b <= a:
            return
        sound = self._sound
        if sound is None:
            out[at : at + b - a] = self._zero(b - a)
            self._level = 0.0
            return
        i, j = a - self._start, min(b - self._start, len(sound))
        if j > i:
            out[at : at + j - i] = sound[i:j]
        rest = b - a - max(j - i, 0)
        if rest > 0:
            out[at + b - a - rest : at + b - a] = self._hold(sound[-1] if len(sound) else 0.0, rest)
        self._level = out[at + b - a - 1]

    def _zero(self, n: int) -> memoryview[float]:
        if n > len(self._zeros):
            self._zeros = memoryview(bytes(4 * n)).cast("f")  # a larger period: once
        return self._zeros[:n]

    def _hold(self, level: float, n: int) -> memoryview[float]:
        held = self._holds.get(level)
        if held is None or len(held) < n:
            held = memoryview(array("f", [level]) * max(n, len(self._zeros)))  # in practice two levels, once each
            self._holds[level] = held
        return held[:n]


class LtcOutput:
    """LTC written on the output port while picture rolls (stage is the master)."""

    def __init__(self, encoder: LtcEncoding, rate: Rate, samplerate: int, *, latency: float = 0.0) -> None:
        self.generator = LtcGenerator(rate, samplerate, latency=latency)
        self._encoder = encoder
        self._voice = LtcVoice()
        self.frames = 0  # frames written since the engine started

    def locate(self) -> None:
        """Picture jumped: the frame being written stops now."""
        self.generator.locate()

    def cycle(self, anchor: Anchor | None, t_a: float, t_b: float) -> None:
        """Plan and encode the frames starting in ``[t_a, t_b)``."""
        plan = self.generator.cycle(anchor, t_a, t_b)
        silence = plan.silence_from
        for f in plan.frames:
            if silence is not None and silence <= f.start:
                self._voice.silence(silence)
                silence = None
            self._voice.start(f.start, self._encoder.encode(f.frame, f.samples, f.reverse))
            self.frames += 1
        if silence is not None:
            self._voice.silence(silence)

    def render(self, frame0: int, out: memoryview[float]) -> None:
        """Fill the port's buffer for the cycle starting at ``frame0``."""
        self._voice.render(frame0, out)
