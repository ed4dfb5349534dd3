"""A streamer movie read from outside: what ffprobe says of it, its frames as PyAV decodes them, its sound as
ffmpeg decodes it, and what a test finds in them (click onsets, a colour's columns in a row of pixels).

Nothing here knows how the movie was made: a finding is compared, in the
tests, with what the cue sheet says by plain arithmetic.
"""

from __future__ import annotations

import json
import struct
import subprocess
from pathlib import Path
from typing import Any

import av
import numpy as np
from numpy.typing import NDArray

ONSET = 0.2  # of full scale: a click starts at its peak (0.6 … 0.85); the codec's pre-echo stays far below
GAP = 1000  # samples of quiet that part two clicks (they are 20–30 ms long, 12 frames apart at the least here)


def streams(path: Path) -> list[dict[str, Any]]:
    """ffprobe's streams of ``path``: codec type and name, tag, frame count, rate, size, the timecode tag."""
    entries = ("stream=codec_type,codec_name,codec_tag_string,nb_frames,r_frame_rate,width,height,sample_rate"
               ":stream_tags=timecode")
    out = subprocess.run(["ffprobe", "-v", "error", "-show_entries", entries, "-of", "json", str(path)],
                         check=True, capture_output=True)
    found: list[dict[str, Any]] = json.loads(out.stdout)["streams"]
    return found


def frames(path: Path) -> list[NDArray[np.uint8]]:
    """Every frame of the movie's picture as RGB arrays, in presentation order."""
    with av.open(str(path)) as container:
        return [np.asarray(f.to_ndarray(format="rgb24"), np.uint8) for f in container.decode(video=0)]


def sound(path: Path) -> NDArray[np.float64]:
    """The movie's (or a WAV's) first audio stream as ffmpeg decodes it: mono samples at 48 kHz in [-1, 1]."""
    out = subprocess.run(["ffmpeg", "-v", "error", "-i", str(path), "-map", "0:a:0", "-f", "s32le", "-ac", "1",
                          "-ar", "48000", "-"], check=True, capture_output=True)
    return np.frombuffer(out.stdout, "<i4").astype(np.float64) / 2**31


def onsets(samples: NDArray[np.float64]) -> list[int]:
    """The first sample of every click: where the sound first reaches :data:`ONSET` after a quiet gap."""
    loud = np.flatnonzero(np.abs(samples) >= ONSET)
    if loud.size == 0:
        return []
    starts = loud[np.concatenate(([True], np.diff(loud) > GAP))]
    return [int(s) for s in starts]


def near(pixels: NDArray[np.uint8], color: tuple[int, int, int], within: float = 60.0) -> NDArray[np.bool_]:
    """Where ``pixels`` (…× 3) are within ``within`` of ``color`` (Euclidean, in 8-bit RGB)."""
    diff = pixels.astype(np.float64) - np.array(color, np.float64)
    close: NDArray[np.bool_] = np.sqrt((diff**2).sum(axis=-1)) <= within
    return close


def bar_columns(row: NDArray[np.uint8], color: tuple[int, int, int]) -> tuple[int, int] | None:
    """The first and one past the last column of a row of pixels in ``color`` (None: none there)."""
    xs = np.flatnonzero(near(row, color))
    return None if xs.size == 0 else (int(xs[0]), int(xs[-1]) + 1)


def centre(frame: NDArray[np.uint8]) -> tuple[int, int, int]:
    """The mean colour of the 5 × 5 pixels at the picture's centre."""
    h, w = frame.shape[:2]
    patch = frame[h // 2 - 2 : h // 2 + 3, w // 2 - 2 : w // 2 + 3].reshape(-1, 3).mean(axis=0)
    return int(patch[0]), int(patch[1]), int(patch[2])


def time_reference(path: Path) -> int:
    """The Broadcast Wave TimeReference of the WAV at ``path``: samples since 00:00:00:00 of its first."""
    data = path.read_bytes()
    at = data.index(b"bext") + 8
    low, high = struct.unpack("<II", data[at + 338 : at + 346])  # after the description, names, date and time
    return int(high << 32 | low)
