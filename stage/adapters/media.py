"""Media files: reading a cut (PyAV), making its proxy (Debian's ffmpeg), reading the proxy's sample table (PyAV).

This is the only module that imports PyAV or runs ffmpeg.  Each tool does
what it is best at:

- **Reading** is PyAV, in this process: the demuxer hands over each packet's
  timestamp, byte offset, size and keyframe flag, the stream's timecode tag
  (a QuickTime's ``tmcd`` track, an MXF's header) and the H.264 avcC record
  as Python values, with no text to parse.  Reading never decodes a frame.
- **Decoding** (for the streamer movie) is PyAV too: frames found by their
  timestamps, so frame *k* is the cut's frame *k* whatever the codec's
  order, decoded on FFmpeg's own threads and scaled by swscale, neither
  holding the GIL.
- **Encoding** is the ``ffmpeg`` program, in a process of its own: x264 keeps
  both cores busy for minutes on a long cut, and in another process it
  neither holds this process's GIL (the service's event loop fans the
  screens out meanwhile) nor shares its fate; it runs at the lowest
  priority (``nice -n 19``: on what the service and the engine leave),
  reports each frame done on a pipe (``-progress``), and a cancelled import
  ends it at once.  The streamer movie is encoded the same way, its painted
  frames piped in raw (:class:`MovieEncoder`).

What this module reads is judged elsewhere (:mod:`stage.core.cut`,
:mod:`stage.core.proxyindex`): here are only the files and the tools.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import av.error
import av.logging

from stage.core.cut import GOP, Probe
from stage.core.proxyindex import Sample
from stage.errors import DiskFull, PictureError, RenderError, Unavailable

Progress = Callable[[int, int], None]
"""Told ``(done, total)`` as work advances: frames for the proxy, bytes for reading."""

# How the proxy is encoded: H.264 High, no B-frames, a closed group of pictures every GOP frames exactly, the
# cut's own timestamps (so its exact rate), 4:2:0, the index at the front (+faststart), nothing but the picture.
# CAVLC rather than CABAC: a page's locate decodes a group from its keyframe, and Chromium decodes such a group of
# 720p in 38 % less time (docs/picture.md) for some 15 % more bytes; the deblocking filter stays (without it, as
# x264's fastdecode tune has it, flat skies and gradients show their blocks on a projector).
X264 = ["-c:v", "libx264", "-preset", "veryfast", "-x264-params", "cabac=0", "-crf", "20", "-profile:v", "high",
        "-bf", "0",
        "-g", str(GOP), "-keyint_min", str(GOP), "-sc_threshold", "0", "-flags", "+cgop"]
NICENESS = 19  # the encoder yields the cores to the service and the engine: it runs on what they leave

_NO_SPACE = os.strerror(errno.ENOSPC)
_IMAGES = ("image2", "_pipe")  # demuxers of still pictures: a PNG opens as a "video" of one frame


def _container(fmt: av.ContainerFormat, brand: str | None) -> str:
    names = fmt.name.split(",")
    if "mov" in names:
        return "QuickTime" if (brand or "").strip() == "qt" else "MP4"
    if names[0] == "mxf":
        return "MXF"
    return str(fmt.long_name or fmt.name)


# A QuickTime or MP4 file opens with one of these boxes; text that ffmpeg tried as one because of its name does not.
_FIRST_BOXES = {b"ftyp", b"wide", b"free", b"skip", b"mdat", b"moov", b"pnot", b"uuid"}


def _quicktime(path: Path) -> bool:
    """Whether the file starts as a QuickTime or MP4 file does (its first box's type), however it ends."""
    try:
        with path.open("rb") as f:
            head = f.read(8)
    except OSError:
        return False
    size = int.from_bytes(head[:4], "big")  # 0: to the end of the file, 1: a 64-bit size follows
    return len(head) == 8 and (size in (0, 1) or size >= 8) and head[4:] in _FIRST_BOXES


def _opened(path: Path, name: str) -> av.container.InputContainer:
    """The file opened for reading, or :class:`PictureError` saying why it cannot be a cut."""
    av.logging.set_level(av.logging.ERROR)  # so that an error carries ffmpeg's last words ("moov atom not found")
    try:
        return av.open(str(path), "r")
    except av.error.FileNotFoundError:
        raise PictureError(f"{name}: no such file") from None
    except av.error.FFmpegError as exc:
        words = str(exc)
        if "moov atom not found" in words and _quicktime(path):
            raise PictureError(f"{name} is truncated: its movie header (moov) is missing, as in a copy cut short "
                               "or a file still being written: copy it again") from None
        raise PictureError(f"{name} is not a video ffmpeg can read: {exc.strerror or words}") from None
    except OSError as exc:
        raise PictureError(f"{name}: cannot read it: {exc.strerror or exc}") from None


def probe(path: Path, name: str | None = None, progress: Progress | None = None) -> Probe:
    """What the cut at ``path`` holds (``name``: how to call it in messages; default its file name).

    Every packet of its first video stream is read (not decoded) for its
    timestamp: ``progress`` hears ``(bytes read, file size)``.
    :class:`PictureError` for a file that is not a video or cannot be read.
    """
    label = name or path.name
    size = path.stat().st_size if path.exists() else 0
    with _opened(path, label) as container:
        if container.format.name.endswith(_IMAGES) or container.format.name in _IMAGES:
            raise PictureError(f"{label} is a still image ({container.format.name}), not a movie")
        if not container.streams.video:
            kinds = " and ".join(sorted({str(s.type) for s in container.streams})) or "nothing"
            raise PictureError(f"{label} is not a video: it holds {kinds} and no picture")
        video = container.streams.video[0]
        codec = video.codec_context
        timecode = video.metadata.get("timecode") or next(
            (s.metadata["timecode"] for s in container.streams if "timecode" in s.metadata), None
        ) or container.metadata.get("timecode")
        stamps: list[int] = []
        damaged = 0
        try:
            for packet in container.demux(video):
                if packet.size == 0 or packet.is_discard:  # the flush at the end; frames an edit list leaves out
                    continue
                stamp = packet.pts if packet.pts is not None else packet.dts
                if stamp is None:
                    raise PictureError(f"{label}: frame {len(stamps)} has no timestamp")
                stamps.append(stamp)
                damaged += packet.is_corrupt
                if progress is not None and packet.pos is not None and len(stamps) % 256 == 0:
                    progress(packet.pos, size)
        except av.error.FFmpegError as exc:
            raise PictureError(f"{label} is damaged after frame {len(stamps)}: {exc.strerror or exc}") from None
        if progress is not None:
            progress(size, size)
        if video.time_base is None:
            raise PictureError(f"{label}: its video stream has no time base")
        profile = codec.profile
        aspect = codec.sample_aspect_ratio or video.sample_aspect_ratio
        declared = video.average_rate or video.base_rate
        return Probe(
            name=label, size=size, container=_container(container.format, container.metadata.get("major_brand")),
            codec=f"{codec.name} ({profile})" if profile else codec.name, width=codec.width, height=codec.height,
            aspect=Fraction(aspect) if aspect else Fraction(1), time_base=Fraction(video.time_base),
            stamps=tuple(stamps),
            declared_rate=Fraction(declared) if declared else None,
            header_frames=video.frames or None, duration=video.duration or None, timecode=timecode, damaged=damaged,
        )


def ffmpeg() -> str:
    """The ffmpeg program, or :class:`Unavailable` naming the package that has it."""
    found = shutil.which("ffmpeg")
    if found is None:
        raise Unavailable("ffmpeg is not installed: apt-get install ffmpeg")
    return found


def nice() -> str:
    """nice(1), or :class:`Unavailable` naming the package that has it."""
    found = shutil.which("nice")
    if found is None:
        raise Unavailable("nice is not installed: apt-get install coreutils")
    return found


def proxy_command(source: Path, target: Path, size: tuple[int, int]) -> list[str]:
    """The ffmpeg command that makes the proxy of ``source`` at ``size`` (width, height) into ``target``."""
    width, height = size
    # Started through nice(1): every thread x264 starts inherits the priority (setpriority after the start
    # would reach only the threads that existed by then).
    return [nice(), "-n", str(NICENESS), ffmpeg(), "-nostdin", "-hide_banner", "-loglevel", "error", "-y",
            "-i", str(source), "-map", "0:v:0", "-map_metadata", "-1", "-map_chapters", "-1", "-an", "-sn", "-dn",
            "-vf", f"scale={width}:{height}:flags=bicubic,setsar=1,format=yuv420p", *X264,
            "-fps_mode", "passthrough", "-write_tmcd", "0", "-movflags", "+faststart",
            "-progress", "pipe:1", "-stats_period", "0.25", "-nostats", "-f", "mp4", str(target)]


def make_proxy(
    source: Path, target: Path, *, size: tuple[int, int], frames: int, progress: Progress | None = None,
    cancel: threading.Event | None = None, name: str | None = None,
) -> None:
    """Encode the proxy of ``source`` (``frames`` frames) into ``target``; ``progress`` hears ``(frames done,
    frames)``.

    ``cancel`` set ends ffmpeg at once (:class:`PictureError` "cancelled").
    A disk that fills is :class:`~stage.errors.DiskFull`; any other failure
    :class:`PictureError` with ffmpeg's own words.  What was written stays
    for the caller to remove.
    """
    label = name or source.name
    command = proxy_command(source, target, size)
    cancelled = False
    with tempfile.TemporaryFile() as errors:
        # stderr to a file: a damaged cut can make ffmpeg say more than a pipe holds while we read stdout
        proc = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=errors)
        try:
            assert proc.stdout is not None
            for raw in proc.stdout:  # a report every 0.25 s (-stats_period): a cancel is heard that soon
                if cancel is not None and cancel.is_set():
                    cancelled = True
                    proc.kill()
                    break
                key, _, value = raw.decode("ascii", "replace").strip().partition("=")
                if key == "frame" and progress is not None and value.isdigit():
                    progress(min(int(value), frames), frames)
        except BaseException:
            proc.kill()
            raise
        finally:
            code = proc.wait()
        errors.seek(0)
        said = errors.read().decode("utf-8", "replace").strip()
    if cancelled:
        raise PictureError(f"the import of {label} was cancelled")
    if _NO_SPACE in said:  # ffmpeg 5.1 exits 0 when the disk fills as it writes the trailer: its words tell
        raise DiskFull(f"the disk filled while making the proxy of {label} ({_NO_SPACE.lower()})")
    if code != 0 or "Error writing" in said or "Error closing" in said:
        last = said.splitlines()[-1] if said else f"exit status {code}"
        raise PictureError(f"ffmpeg could not make the proxy of {label}: {last}")
    if progress is not None:
        progress(frames, frames)


@dataclass(frozen=True)
class SampleTable:
    """The proxy's H.264 stream as its MP4 sample table has it."""

    samples: tuple[Sample, ...]
    avcc: bytes  # the avcC record: VideoDecoder's description
    width: int
    height: int
    time_base: Fraction


def read_samples(path: Path) -> SampleTable:
    """The sample table of the proxy at ``path``: every sample's offset, size, keyframe flag and timestamp."""
    with _opened(path, path.name) as container:
        if not container.streams.video:
            raise PictureError(f"{path.name} has no video stream")
        video = container.streams.video[0]
        samples = tuple(
            Sample(p.pos if p.pos is not None else -1, p.size, p.is_keyframe, p.pts if p.pts is not None else -1)
            for p in container.demux(video) if p.size
        )
        codec = video.codec_context
        assert video.time_base is not None
        return SampleTable(samples, bytes(codec.extradata or b""), codec.width, codec.height,
                           Fraction(video.time_base))


# -- the streamer movie -------------------------------------------------------------------------------------------


def decode(path: Path, stamps: Sequence[int], first: int, count: int, size: tuple[int, int],
           name: str | None = None) -> Generator[tuple[int, Any], None, None]:
    """Frames ``first`` … ``first + count - 1`` of the cut at ``path`` as RGB arrays (height × width × 3) scaled
    to ``size``: ``(k, frame)`` in order.

    ``stamps`` are the cut's frame timestamps in presentation order (the
    probe's, sorted): frame ``k`` is the one stamped ``stamps[k]``, found
    from the keyframe before it.  :class:`PictureError` when a frame is
    missing or the file cannot be decoded.
    """
    label = name or path.name
    if count <= 0:
        return
    index = {stamp: k for k, stamp in enumerate(stamps)}
    width, height = size
    with _opened(path, label) as container:
        video = container.streams.video[0]
        video.thread_type = "AUTO"  # FFmpeg's frame or slice threads, whichever the codec has: both cores
        expected = first
        for target in (stamps[first], stamps[0]):  # the keyframe before frame `first`; the file's start if that fails
            container.seek(target, stream=video, backward=True, any_frame=False)
            try:
                for frame in container.decode(video):
                    k = index.get(frame.pts) if frame.pts is not None else None
                    if k is None:
                        raise PictureError(f"{label}: a decoded frame's timestamp {frame.pts} is none of its frames'")
                    if k < expected:
                        continue
                    if k > expected:
                        if expected == first and target != stamps[0]:
                            break  # the seek landed after the frame: start again from the top
                        raise PictureError(f"{label}: frame {expected} could not be decoded (the next was {k})")
                    yield k, frame.to_ndarray(format="rgb24", width=width, height=height)
                    expected += 1
                    if expected == first + count:
                        return
            except av.error.FFmpegError as exc:
                raise PictureError(f"{label} could not be decoded at frame {expected}: {exc.strerror or exc}") from None
            if expected > first:
                break
    raise PictureError(f"{label} ends at frame {expected}: frames to {first + count - 1} were asked for")


AUDIO = {
    # AAC in MP4 plays everywhere; ffmpeg writes an edit list that drops the encoder's 1024 priming samples, so a
    # decoder that honours it (FFmpeg, Apple's, the browsers') puts every click on its sample.
    "mp4": ["-c:a", "aac", "-b:a", "192k"],
    # 24-bit PCM in a QuickTime: lossless, what a DAW's video track takes as it is.
    "mov": ["-c:a", "pcm_s24le"],
}
MOVIE_X264 = ["-c:v", "libx264", "-preset", "veryfast", "-crf", "20", "-profile:v", "high", "-pix_fmt", "yuv420p",
              "-colorspace", "bt709", "-color_primaries", "bt709", "-color_trc", "bt709", "-color_range", "tv"]
_PIPE_SIZE = 1 << 20  # a larger pipe: fewer trips through the kernel for a frame of megabytes


def movie_command(target: Path, *, size: tuple[int, int], rate: Fraction, timecode: str, audio: Path | None,
                  container: str, title: str) -> list[str]:
    """The ffmpeg command that encodes raw RGB frames from its standard input (and ``audio``, a WAV file) into
    the movie at ``target``, its timecode track starting at ``timecode``."""
    width, height = size
    command = [ffmpeg(), "-nostdin", "-hide_banner", "-loglevel", "error", "-y",
               "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{width}x{height}",
               "-framerate", f"{rate.numerator}/{rate.denominator}", "-i", "pipe:0"]
    if audio is not None:
        command += ["-i", str(audio)]
    command += ["-map", "0:v"] + (["-map", "1:a"] if audio is not None else [])
    command += ["-vf", "scale=out_color_matrix=bt709:out_range=tv,format=yuv420p", *MOVIE_X264]
    if audio is not None:
        command += AUDIO[container]
    command += ["-timecode", timecode, "-metadata", f"title={title}", "-movflags", "+faststart",
                "-f", container, str(target)]
    return command


class MovieEncoder:
    """ffmpeg encoding a movie from frames written to it one by one (:meth:`write`), finished by :meth:`close`.

    It runs in a process of its own: x264 and the colour conversion use
    every core without holding this process's GIL.
    """

    def __init__(self, target: Path, *, size: tuple[int, int], rate: Fraction, timecode: str,
                 audio: Path | None, container: str = "mp4", title: str = "") -> None:
        self.target = target
        self.cpu = 0.0  # seconds of CPU the encoder used, known once closed
        self._errors = tempfile.TemporaryFile()  # noqa: SIM115 - ffmpeg's stderr, kept until it has finished
        command = movie_command(target, size=size, rate=rate, timecode=timecode, audio=audio, container=container,
                                title=title)
        self._proc = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=self._errors)
        assert self._proc.stdin is not None
        self._stdin = self._proc.stdin
        with contextlib.suppress(OSError, AttributeError):
            fcntl.fcntl(self._stdin.fileno(), fcntl.F_SETPIPE_SZ, _PIPE_SIZE)

    def write(self, frame: Any) -> None:
        """Encode one frame (a C-contiguous RGB array of the movie's size)."""
        try:
            self._stdin.write(memoryview(frame).cast("B"))
        except BrokenPipeError:
            self._finish()  # ffmpeg has stopped: its own words say why
            raise RenderError(f"ffmpeg stopped writing {self.target}") from None

    def close(self) -> None:
        """Finish the movie: :class:`~stage.errors.DiskFull` or :class:`RenderError` with ffmpeg's words when it
        could not."""
        with contextlib.suppress(BrokenPipeError):
            self._stdin.close()
        self._finish()

    def abort(self) -> None:
        """Stop ffmpeg at once (what it wrote stays for the caller to remove)."""
        self._proc.kill()
        with contextlib.suppress(BrokenPipeError):
            self._stdin.close()
        self._proc.wait()
        self._errors.close()

    def _finish(self) -> None:
        _, status, usage = os.wait4(self._proc.pid, 0)
        self._proc.returncode = os.waitstatus_to_exitcode(status)
        self.cpu = usage.ru_utime + usage.ru_stime
        self._errors.seek(0)
        said = self._errors.read().decode("utf-8", "replace").strip()
        self._errors.close()
        if _NO_SPACE in said:
            raise DiskFull(f"the disk filled while writing {self.target} ({_NO_SPACE.lower()})")
        if self._proc.returncode != 0 or "Error writing" in said or "Error closing" in said:
            last = said.splitlines()[-1] if said else f"exit status {self._proc.returncode}"
            raise RenderError(f"ffmpeg could not write {self.target}: {last}")
