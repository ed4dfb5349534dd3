"""Test cuts as a cutting room hands them over, made with Debian's ffmpeg: every frame carries its own number.

Frame ``k`` of a cut (0 = the file's first frame) shows ``k`` as a block code
across the top of the picture, readable from pixels after any scaling or lossy
coding: a strip of :data:`CELLS` cells (a white start cell, :data:`BITS` bits
most significant first, a black end cell) and below it the same strip
inverted.  :func:`read_code` reads it back from an image (a canvas, a
screenshot, a decoded movie frame) and answers None for anything that is not
one clean frame (a blend of two, a streamer drawn over the code).  The lower
part of the picture moves and shows the timecode, for the eye.

The frames are drawn with NumPy and piped to ``ffmpeg`` as raw video; ffmpeg
encodes them (ProRes in a QuickTime by default) and writes the timecode track
(``tmcd``) starting at ``start``.
"""

from __future__ import annotations

import functools
import shutil
import subprocess
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

if TYPE_CHECKING:
    from PIL import Image

BITS = 16
CELLS = BITS + 2
STRIP = 0.1  # each strip's share of the picture's height; the two strips sit at the very top
FONT = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf")

# The rates a cut may have, as ffmpeg's -r takes them, and whether its timecode is drop-frame.
RATES: dict[str, tuple[Fraction, bool]] = {
    "23.976": (Fraction(24000, 1001), False),
    "24": (Fraction(24), False),
    "25": (Fraction(25), False),
    "29.97": (Fraction(30000, 1001), False),
    "29.97df": (Fraction(30000, 1001), True),
    "30": (Fraction(30), False),
}

# Encoders as the cutting room's files carry them: (ffmpeg arguments, container suffix).
CODECS: dict[str, list[str]] = {
    "prores": ["-c:v", "prores_ks", "-profile:v", "1", "-pix_fmt", "yuv422p10le"],
    "dnxhr": ["-c:v", "dnxhd", "-profile:v", "dnxhr_lb", "-pix_fmt", "yuv422p"],
    "h264": ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-g", "24"],
}


@dataclass(frozen=True)
class Cut:
    """A cut made for a test: where it is and what is in it."""

    path: Path
    rate: str
    start: str | None  # the timecode track's first frame, None: the file has none
    frames: int
    width: int
    height: int


def ffmpeg() -> str:
    """The ffmpeg binary, or an error naming the Debian package."""
    path = shutil.which("ffmpeg")
    if path is None:
        raise RuntimeError("'ffmpeg' is not installed: apt-get install ffmpeg")
    return path


@functools.cache
def _diagonal(width: int, height: int) -> NDArray[np.int64]:
    ys, xs = np.mgrid[0:height, 0:width]
    diagonal: NDArray[np.int64] = xs + ys
    return diagonal


def code_frame(k: int, width: int, height: int, background: NDArray[np.uint8] | None = None) -> NDArray[np.uint8]:
    """Frame ``k`` as an RGB array (height × width × 3, uint8): the code strips over a moving background."""
    if not 0 <= k < 1 << BITS:
        raise ValueError(f"frame {k} does not fit {BITS} bits")
    if background is None:
        # A diagonal ramp that slides with k: every frame differs from its neighbours all over the picture.
        ramp = ((_diagonal(width, height) + 4 * k) % 256).astype(np.uint8)
        frame = np.empty((height, width, 3), np.uint8)
        frame[..., 0] = ramp // 2 + 40
        frame[..., 1] = 60
        frame[..., 2] = 255 - ramp // 2
    else:
        frame = background.copy()
    strip = max(4, round(height * STRIP))
    bits = [1] + [(k >> (BITS - 1 - i)) & 1 for i in range(BITS)] + [0]
    for i, bit in enumerate(bits):
        x0, x1 = i * width // CELLS, (i + 1) * width // CELLS
        frame[:strip, x0:x1] = 255 if bit else 0
        frame[strip:2 * strip, x0:x1] = 0 if bit else 255
    return frame


def read_code(image: Image.Image, box: tuple[int, int, int, int] | None = None) -> int | None:
    """The frame number shown in ``box`` (left, top, right, bottom) of ``image`` (all of it by default), or
    None when the strips are not one clean, valid code."""
    picture = image.convert("L") if box is None else image.convert("L").crop(box)
    luma = np.asarray(picture, dtype=np.float64)
    height, width = luma.shape
    strip = height * STRIP
    values: list[list[int]] = []
    for row in (0, 1):
        y0, y1 = round(strip * (row + 0.3)), round(strip * (row + 0.7))
        cells = []
        for i in range(CELLS):
            x0, x1 = (i + 0.3) * width / CELLS, (i + 0.7) * width / CELLS
            mean = float(luma[y0:max(y0 + 1, y1), round(x0):max(round(x0) + 1, round(x1))].mean())
            if 70 < mean < 185:  # neither black nor white: a blend, or something drawn over the code
                return None
            cells.append(1 if mean >= 128 else 0)
        values.append(cells)
    top, bottom = values
    if top[0] != 1 or top[-1] != 0 or any(a == b for a, b in zip(top, bottom, strict=True)):
        return None
    k = 0
    for bit in top[1:-1]:
        k = (k << 1) | bit
    return k


def make_cut(
    path: Path,
    rate: str = "23.976",
    start: str | None = "00:59:58:00",
    seconds: float = 10.0,
    *,
    size: tuple[int, int] = (640, 360),
    codec: str = "prores",
    extra: list[str] | None = None,
) -> Cut:
    """Write a cut to ``path`` (its suffix picks the container: ``.mov``, ``.mp4``, ``.mxf``).

    ``start`` is its timecode track's first frame (None: no timecode track); a
    drop-frame rate's timecode is written with ``;``.  ``extra``: more ffmpeg
    output arguments (before the path).
    """
    fps, drop = RATES[rate]
    width, height = size
    frames = round(seconds * fps)
    command = [ffmpeg(), "-hide_banner", "-loglevel", "error", "-y",
               "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{width}x{height}", "-r", str(fps), "-i", "-"]
    if start is not None:
        tc = start[:8] + (";" if drop else ":") + start[9:]
        command += ["-timecode", tc]
        if FONT.is_file():  # the timecode burnt in, for whoever looks at a screenshot
            size_px = max(12, height // 8)
            text = tc.replace(":", r"\:")
            command += ["-vf", (f"drawtext=fontfile={FONT}:timecode='{text}':rate={fps}:fontsize={size_px}"
                               f":fontcolor=white:box=1:boxcolor=black@0.6:x=(w-tw)/2:y=h-th-{height // 10}")]
    command += CODECS[codec] + (extra or []) + [str(path)]
    proc = subprocess.Popen(command, stdin=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdin is not None
    try:
        for k in range(frames):
            proc.stdin.write(code_frame(k, width, height).tobytes())
    finally:
        proc.stdin.close()
    err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
    if proc.wait() != 0:
        raise RuntimeError(f"ffmpeg could not write {path}: {err.strip()}")
    return Cut(path, rate, start, frames, width, height)


def make_vfr(path: Path, seconds: float = 4.0, size: tuple[int, int] = (320, 180)) -> Path:
    """A variable-frame-rate MP4 (a phone's or a screen recorder's): frames 1/24 s apart, then 1/30 s apart."""
    from PIL import Image  # noqa: PLC0415 -- the concat demuxer reads images: Pillow writes them

    width, height = size
    half = round(seconds * 12)
    stamps = [i / 24 for i in range(half)] + [half / 24 + i / 30 for i in range(round(seconds * 15))]
    frames_dir = path.with_suffix(".frames")
    frames_dir.mkdir(exist_ok=True)
    lines = ["ffconcat version 1.0"]
    for i, t in enumerate(stamps):
        png = frames_dir / f"{i:05d}.png"
        Image.fromarray(code_frame(i, width, height)).save(png)
        nxt = stamps[i + 1] if i + 1 < len(stamps) else t + 1 / 30
        lines += [f"file '{png}'", f"duration {nxt - t:.6f}"]
    lines.append(f"file '{frames_dir / f'{len(stamps) - 1:05d}.png'}'")  # the last duration needs a file after it
    listing = path.with_suffix(".ffconcat")
    listing.write_text("\n".join(lines) + "\n", encoding="utf-8")
    try:
        subprocess.run([ffmpeg(), "-hide_banner", "-loglevel", "error", "-y", "-f", "concat", "-safe", "0",
                        "-i", str(listing), "-fps_mode", "vfr", "-c:v", "libx264", "-preset", "ultrafast",
                        "-pix_fmt", "yuv420p", str(path)], check=True)
    finally:
        shutil.rmtree(frames_dir)
        listing.unlink()
    return path


def truncate(path: Path, share: float = 0.5) -> Path:
    """Cut ``path`` short to ``share`` of its bytes, as an interrupted copy leaves it; returns the path."""
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * share)])
    return path


def codes_of(path: Path) -> list[int | None]:
    """The code :func:`read_code` reads from every frame of the movie at ``path``, decoded with PyAV, in
    presentation order."""
    import av  # noqa: PLC0415 -- only the tests that decode a movie need PyAV

    with av.open(str(path)) as container:
        return [read_code(frame.to_image()) for frame in container.decode(video=0)]  # type: ignore[no-untyped-call]
