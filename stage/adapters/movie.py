"""The streamer movie made: the cut's frames decoded, the overlay painted on them, the result encoded.

Three stages, each on its own core as far as the machine has them:

- **decode**: PyAV on a thread of its own (:func:`stage.adapters.media.decode`),
  the frames handed over through a short queue; FFmpeg's decoder and scaler
  run without the GIL;
- **paint**: this thread asks :class:`~stage.core.overlay.Overlay` what shows
  at each frame's time and :class:`~stage.adapters.painter.Painter` paints it;
- **encode**: ffmpeg in its own process (:class:`~stage.adapters.media.MovieEncoder`),
  fed through a pipe, with the click track as its audio.

The movie is written under a temporary name beside the target and renamed
into place when ffmpeg has finished it: a render that fails leaves what was
at the target untouched and nothing half-written.  :class:`MovieTimes` says
where the time went, for the report and ``bench/movie.py``.
"""

from __future__ import annotations

import contextlib
import queue
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from stage.adapters.media import MovieEncoder, decode
from stage.adapters.painter import Painter
from stage.core.movie import MovieSpan
from stage.core.overlay import Overlay

__all__ = ["CutFrames", "MovieTimes", "render_movie"]

Progress = Callable[[int, int], None]
_AHEAD = 6  # decoded frames waiting at most: enough to ride out a slow paint, a few MB each


@dataclass(frozen=True)
class CutFrames:
    """The cut as the movie reads it: its file, its frames' timestamps in order, and the picture frame its first
    frame is."""

    path: Path
    stamps: Sequence[int]
    start_frame: int
    name: str

    @property
    def frames(self) -> int:
        """How many frames the cut has."""
        return len(self.stamps)


@dataclass(frozen=True)
class MovieTimes:
    """Where a render's time went: seconds of wall clock in all, and per stage; CPU seconds per stage.

    ``decode`` is the decoding thread's time inside the decoder (waiting on
    FFmpeg's own threads included); ``paint`` this thread's time asking for
    and painting the overlay; ``write`` its time handing frames to ffmpeg
    (waiting when ffmpeg is behind).  ``decode_cpu`` and ``paint_cpu`` are
    those two threads' own CPU time (FFmpeg's decoding threads not
    included), ``cpu`` the whole process's (they are), ``encode_cpu`` the
    encoding ffmpeg's.
    """

    frames: int
    wall: float
    decode: float
    paint: float
    write: float
    decode_cpu: float
    paint_cpu: float
    cpu: float
    encode_cpu: float


class _Decoder(threading.Thread):
    """Decodes the cut's frames the movie shows into a short queue, ahead of the painting."""

    def __init__(self, cut: CutFrames, first: int, count: int, size: tuple[int, int]) -> None:
        super().__init__(name="movie-decode", daemon=True)
        self.cut, self.first, self.count, self.size = cut, first, count, size
        self.frames: queue.Queue[tuple[int, Any] | BaseException | None] = queue.Queue(_AHEAD)
        self.stop = threading.Event()
        self.busy = self.cpu = 0.0

    def run(self) -> None:
        clock, cpu = time.perf_counter, time.thread_time
        frames = decode(self.cut.path, self.cut.stamps, self.first, self.count, self.size, self.cut.name)
        try:
            while True:
                began, used = clock(), cpu()
                item = next(frames, None)
                self.busy, self.cpu = self.busy + clock() - began, self.cpu + cpu() - used
                if not self._put(item) or item is None:
                    return
        except BaseException as exc:  # handed to the painting thread, which raises it there
            self._put(exc)
        finally:
            frames.close()

    def _put(self, item: tuple[int, Any] | BaseException | None) -> bool:
        while not self.stop.is_set():
            with contextlib.suppress(queue.Full):
                self.frames.put(item, timeout=0.1)
                return True
        return False


def render_movie(cut: CutFrames, span: MovieSpan, overlay: Overlay, painter: Painter, target: Path, *,
                 audio: Path | None, container: str, title: str, progress: Progress | None = None) -> MovieTimes:
    """Write the movie of ``span`` to ``target``: each frame the cut's (or black outside it) with ``overlay``
    painted on, ``audio`` (a WAV starting at the first frame) as its sound, its timecode track from the first
    frame.  Raises what went wrong (:class:`~stage.errors.PictureError`, :class:`~stage.errors.RenderError`,
    :class:`~stage.errors.DiskFull`) with ``target`` as it was."""
    clock = time.perf_counter
    began, cpu0 = clock(), time.process_time()
    first = max(0, span.first - cut.start_frame)  # the cut's frames the movie shows: [first, last)
    last = min(cut.frames, span.first + span.frames - cut.start_frame)
    _, _, w, h = painter.rect
    decoder = _Decoder(cut, first, max(0, last - first), (w, h))
    partial = target.with_name(f".{target.name}.partial")
    encoder = MovieEncoder(partial, size=painter.size, rate=span.rate.fps, timecode=str(span.start), audio=audio,
                           container=container, title=title)
    paint = write = paint_cpu = 0.0
    dt = 1 / span.rate.fps
    done = False
    try:
        decoder.start()
        for i in range(span.frames):
            k = span.first + i - cut.start_frame
            picture = None
            if first <= k < last:
                item = decoder.frames.get()
                if isinstance(item, BaseException):
                    raise item
                assert item is not None, f"frame {k} expected from the decoder"
                assert item[0] == k, f"frame {k} expected from the decoder, not {item[0]}"
                picture = item[1]
            t0, c0 = clock(), time.thread_time()
            frame = painter.frame(picture)
            painter.paint(frame, overlay.at(span.time(i), dt))
            t1 = clock()
            paint_cpu += time.thread_time() - c0
            encoder.write(frame)
            paint, write = paint + t1 - t0, write + clock() - t1
            if progress is not None:
                progress(i + 1, span.frames)
        encoder.close()
        partial.replace(target)
        done = True
    finally:
        decoder.stop.set()
        decoder.join()
        if not done:
            encoder.abort()
            partial.unlink(missing_ok=True)
    return MovieTimes(span.frames, clock() - began, decoder.busy, paint, write, decoder.cpu, paint_cpu,
                      time.process_time() - cpu0, encoder.cpu)
