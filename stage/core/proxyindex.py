"""The proxy's index (``index.json``): where each frame's bytes are, which are keyframes, how to decode them.

The media adapter reads the proxy's sample table back (:class:`Sample`: each
sample's offset, size, keyframe flag and timestamp, in decode order) and the
avcC record of its H.264 stream.  :func:`proxy_index` checks them against what
the pages rely on and builds the index:

- sample ``k`` is frame ``k`` of the cut: as many samples as the cut has
  frames, each one frame later than the one before (decode order is
  presentation order: no B-frames), all at the cut's exact rate;
- a keyframe every :data:`~stage.core.cut.GOP` samples exactly, and nowhere else;
- the samples lie one after the other inside the file, so a group of
  pictures (a keyframe to the next) is one HTTP range.

``codec`` (``avc1.PPCCLL``, from the avcC record) and ``description`` (the
record itself, base64 in JSON) are what ``VideoDecoder.configure`` takes.
Pure: no I/O.
"""

from __future__ import annotations

import base64
import bisect
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from stage.core.cut import GOP, Picture
from stage.core.timecode import RATES, Rate, Timecode
from stage.errors import PictureError

VERSION = 1


@dataclass(frozen=True)
class Sample:
    """One sample of the proxy as its sample table has it: bytes at ``offset``, ``size`` long; ``stamp`` is its
    presentation time in the stream's time base."""

    offset: int
    size: int
    keyframe: bool
    stamp: int


@dataclass(frozen=True)
class ProxyIndex:
    """The index of one revision's proxy: what a page needs to find, fetch and decode any frame."""

    revision: str
    codec: str
    description: bytes
    width: int
    height: int
    rate: Rate
    start: Timecode
    keyframes: tuple[int, ...]
    offsets: tuple[int, ...]
    sizes: tuple[int, ...]

    @property
    def frames(self) -> int:
        """How many samples (frames) the proxy holds."""
        return len(self.offsets)

    def group(self, sample: int) -> tuple[int, int]:
        """The byte range ``[first, end)`` of the group of pictures holding ``sample``: one HTTP range request."""
        if not 0 <= sample < self.frames:
            raise PictureError(f"sample {sample} is outside the proxy (0 to {self.frames - 1})")
        at = bisect.bisect_right(self.keyframes, sample) - 1  # the index's own keyframes: an older proxy's GOP
        key = self.keyframes[at]
        last = (self.keyframes[at + 1] if at + 1 < len(self.keyframes) else self.frames) - 1
        return self.offsets[key], self.offsets[last] + self.sizes[last]

    def as_json(self) -> dict[str, Any]:
        """The index as ``index.json`` holds it (docs/picture.md)."""
        return {"version": VERSION, "revision": self.revision, "codec": self.codec,
                "description": base64.b64encode(self.description).decode("ascii"), "width": self.width,
                "height": self.height, "rate": self.rate.name,
                "fps": [self.rate.fps.numerator, self.rate.fps.denominator], "start": str(self.start),
                "start_frame": self.start.frame_count, "frames": self.frames, "keyframes": list(self.keyframes),
                "offsets": list(self.offsets), "sizes": list(self.sizes)}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ProxyIndex:
        """An index read back from its JSON; :class:`PictureError` for one that does not hold together."""
        try:
            if data["version"] != VERSION:
                raise PictureError(f"index version {data['version']} is not {VERSION}")
            rate = RATES[data["rate"]]
            index = cls(str(data["revision"]), str(data["codec"]), base64.b64decode(data["description"]),
                        int(data["width"]), int(data["height"]), rate, Timecode.parse(data["start"], rate),
                        tuple(map(int, data["keyframes"])), tuple(map(int, data["offsets"])),
                        tuple(map(int, data["sizes"])))
        except (KeyError, TypeError, ValueError) as exc:
            raise PictureError(f"an index that does not hold together: {exc!r}") from None
        if len(index.sizes) != index.frames or index.start.frame_count != data["start_frame"] \
                or index.frames != data["frames"]:
            raise PictureError(f"index {index.revision}: its frames, sizes and start disagree")
        return index


def avc_codec(avcc: bytes) -> str:
    """The codec string ``avc1.PPCCLL`` (profile, constraints, level in hex) of an avcC record."""
    if len(avcc) < 7 or avcc[0] != 1:
        raise PictureError(f"the proxy's H.264 description is not an avcC record ({avcc[:8].hex() or 'empty'})")
    return f"avc1.{avcc[1]:02x}{avcc[2]:02x}{avcc[3]:02x}"


def proxy_index(
    samples: Sequence[Sample], *, avcc: bytes, width: int, height: int, time_base: Fraction, file_size: int,
    picture: Picture,
) -> ProxyIndex:
    """The index of a proxy whose sample table is ``samples`` (decode order), checked against ``picture``.

    :class:`PictureError` naming the first sample that breaks a rule (see the module's docstring).
    """
    where = f"the proxy of {picture.name}"
    if len(samples) != picture.frames:
        raise PictureError(f"{where} has {len(samples)} frames where the cut has {picture.frames}: a frame of the "
                           "cut could not be decoded (damaged?)")
    step = 1 / (picture.rate.fps * time_base)  # one frame in timestamp ticks
    first = samples[0].stamp
    end = 0
    for k, s in enumerate(samples):
        if s.offset < 0 or s.size <= 0 or s.offset + s.size > file_size:
            raise PictureError(f"{where}: sample {k} ({s.size} bytes at {s.offset}) is not inside the file "
                               f"({file_size} bytes)")
        if k and s.offset != end:
            raise PictureError(f"{where}: sample {k} starts at byte {s.offset}, not where sample {k - 1} ends ({end})")
        end = s.offset + s.size
        if abs((s.stamp - first) - k * step) >= 1:
            raise PictureError(f"{where}: sample {k} is at {s.stamp} ticks of {time_base}, not {first + k * step}: "
                               "not one frame after the one before (B-frames, or a frame lost)")
        if s.keyframe != (k % GOP == 0):
            raise PictureError(f"{where}: sample {k} is {'a' if s.keyframe else 'not a'} keyframe: the proxy "
                               f"needs one every {GOP} frames exactly")
    return ProxyIndex(picture.revision, avc_codec(avcc), avcc, width, height, picture.rate, picture.start,
                      tuple(range(0, len(samples), GOP)), tuple(s.offset for s in samples),
                      tuple(s.size for s in samples))
