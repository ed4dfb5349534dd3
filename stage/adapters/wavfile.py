"""The click track of a cue as a Broadcast Wave file (48 kHz, 16-bit PCM, mono).

The file begins exactly at the cue's first click (the first warning click
when there is a count-off): a click ``s`` seconds from the downbeat starts at
sample ``round((s - s0) × rate)``, ``s0`` being the first click's time, with
exact arithmetic (ties to even).  Its ``bext`` chunk carries the
TimeReference (samples since 00:00:00:00 of that first click), so a DAW spots
it to picture.

Three short synthesized sounds (accent, normal, warning), the very ones the
engine plays on ``<client>:click_audio`` (:mod:`stage.core.clicksound`), are
rendered once and pasted at their offsets into a buffer of silence: no per-sample work
over the length of the cue.  Standard library only; the RIFF is written here
because :mod:`wave` cannot write a ``bext`` chunk.
"""

from __future__ import annotations

import functools
import struct
from dataclasses import dataclass
from datetime import datetime
from fractions import Fraction
from pathlib import Path

from stage.core.clicksound import SOUNDS, ClickSounds, Sound, db_to_gain, sound_samples
from stage.core.cuesheet import Cue
from stage.core.tempo import ClickKind
from stage.core.timecode import Timecode
from stage.errors import RenderError

__all__ = [
    "BEXT_VERSION",
    "ORIGINATOR",
    "SAMPLE_RATE",
    "SOUNDS",
    "ClickTrack",
    "Sound",
    "bext_chunk",
    "click_offsets",
    "click_sound",
    "render_click_track",
    "wav_header",
    "write_wav",
]

SAMPLE_RATE = 48_000
TAIL = Fraction(1, 2)  # seconds of silence after the cue's end
ORIGINATOR = "stage"
BEXT_VERSION = 1
_BYTES_PER_SAMPLE = 2
_FULL_SCALE = 32767
_MAX_RIFF = 0xFFFF_FFFF


@functools.cache
def click_sound(kind: ClickKind, sample_rate: int = SAMPLE_RATE, sounds: ClickSounds | None = None) -> bytes:
    """The 16-bit little-endian samples of one click sound (``sounds``: the default ones, see :data:`SOUNDS`)."""
    sound = SOUNDS[kind] if sounds is None else sounds.sound(kind)
    gain = 1.0 if sounds is None else db_to_gain(sounds.level_db)
    samples = [round(_FULL_SCALE * x) for x in sound_samples(sound, sample_rate, gain)]
    return struct.pack(f"<{len(samples)}h", *samples)


def click_offsets(
    cue: Cue, sample_rate: int = SAMPLE_RATE, origin: Fraction | None = None
) -> list[tuple[int, ClickKind]]:
    """Sample offset and kind of every click, counted from ``origin`` (seconds from the downbeat; by default the
    first click)."""
    if cue.clicks is None:
        raise RenderError(f"cue {cue.id} is in free timing: it has no click to render (its event list still works)")
    s0 = cue.first_time if origin is None else origin
    return [(round((c.time - s0) * sample_rate), c.kind) for c in cue.clicks.clicks]


@dataclass(frozen=True)
class ClickTrack:
    """A rendered click track: PCM samples and what the ``bext`` chunk says about them."""

    pcm: bytearray  # 16-bit little-endian mono samples
    sample_rate: int
    onsets: tuple[tuple[int, ClickKind], ...]
    time_reference: int  # samples since 00:00:00:00 of the first sample
    description: str
    reference: str  # OriginatorReference: the cue id

    @property
    def frames(self) -> int:
        """Number of samples."""
        return len(self.pcm) // _BYTES_PER_SAMPLE


def render_click_track(
    cue: Cue, sample_rate: int = SAMPLE_RATE, sounds: ClickSounds | None = None, *,
    span: tuple[Fraction, int] | None = None,
) -> ClickTrack:
    """The click track of ``cue``, from its first click to its end plus a short tail, in ``sounds`` ([click]).

    ``span`` (seconds from the downbeat of its first sample, and its length in
    samples) gives the track another start and length: a streamer movie's,
    from its first frame; it may not begin after the first click.
    """
    origin = cue.first_time if span is None else span[0]
    if origin > cue.first_time:
        raise RenderError(f"cue {cue.id}: a click track cannot begin after its first click")
    onsets = click_offsets(cue, sample_rate, origin)
    start = cue.downbeat + origin
    if start < 0:
        raise RenderError(f"cue {cue.id}: its first click falls before 00:00:00:00")
    total = round((cue.end_time - cue.first_time + TAIL) * sample_rate) if span is None else span[1]
    if total * _BYTES_PER_SAMPLE + 1024 > _MAX_RIFF:
        raise RenderError(f"cue {cue.id} is too long for one WAV file")
    pcm = bytearray(total * _BYTES_PER_SAMPLE)
    onsets = [o for o in onsets if o[0] < total]
    for i, (offset, kind) in enumerate(onsets):
        sound = click_sound(kind, sample_rate, sounds)
        room = (onsets[i + 1][0] if i + 1 < len(onsets) else total) - offset
        n = min(len(sound), room * _BYTES_PER_SAMPLE)
        at = offset * _BYTES_PER_SAMPLE
        pcm[at : at + n] = sound[:n]
    first = Timecode.at(start, cue.rate)
    title = f" {cue.title}" if cue.title else ""
    return ClickTrack(
        pcm=pcm,
        sample_rate=sample_rate,
        onsets=tuple(onsets),
        time_reference=round(start * sample_rate),
        description=f"{cue.id}{title}: click {'from' if span is None else 'guide from'} {first} ({cue.rate} fps)",
        reference=cue.id,
    )


def _ascii(text: str, size: int) -> bytes:
    """A fixed-size, NUL-padded ASCII field (bext text fields are ASCII)."""
    return text.encode("ascii", errors="replace")[:size].ljust(size, b"\0")


def bext_chunk(
    description: str,
    reference: str,
    time_reference: int,
    sample_rate: int = SAMPLE_RATE,
    origination: datetime | None = None,
    originator: str = ORIGINATOR,
) -> bytes:
    """A complete ``bext`` chunk (EBU Tech 3285, version 1), header included."""
    if not 0 <= time_reference < 1 << 64:
        raise RenderError(f"time reference {time_reference} does not fit a bext chunk")
    date = origination.strftime("%Y-%m-%d") if origination is not None else ""
    clock = origination.strftime("%H:%M:%S") if origination is not None else ""
    history = f"A=PCM,F={sample_rate},W=16,M=mono,T={originator}\r\n".encode("ascii")
    body = b"".join(
        (
            _ascii(description, 256),
            _ascii(originator, 32),
            _ascii(reference, 32),
            _ascii(date, 10),
            _ascii(clock, 8),
            struct.pack("<IIH", time_reference & 0xFFFF_FFFF, time_reference >> 32, BEXT_VERSION),
            bytes(64),  # UMID: none
            bytes(190),  # reserved in version 1
            history,
        )
    )
    if len(body) % 2:
        body += b"\0"
    return b"bext" + struct.pack("<I", len(body)) + body


def wav_header(track: ClickTrack, origination: datetime | None = None) -> bytes:
    """Everything before the samples: RIFF header, ``bext``, ``fmt `` and the ``data`` chunk header."""
    bext = bext_chunk(track.description, track.reference, track.time_reference, track.sample_rate, origination)
    block = _BYTES_PER_SAMPLE  # mono
    fmt = b"fmt " + struct.pack("<IHHIIHH", 16, 1, 1, track.sample_rate, track.sample_rate * block, block, 16)
    data_size = len(track.pcm)
    pad = data_size % 2  # always 0 for 16-bit mono, kept for the rule's sake
    riff_size = 4 + len(bext) + len(fmt) + 8 + data_size + pad
    return b"RIFF" + struct.pack("<I", riff_size) + b"WAVE" + bext + fmt + b"data" + struct.pack("<I", data_size)


def write_wav(path: str | Path, track: ClickTrack, origination: datetime | None = None) -> None:
    """Write ``track`` as a Broadcast Wave file; ``origination`` fills the bext date and time."""
    with Path(path).open("wb") as f:
        f.write(wav_header(track, origination))
        f.write(track.pcm)
