"""``stage render CUES --cue ID --picture CUT --movie OUT.mp4``: the streamer movie, from the command line.

The cut is read and checked against the sheet as an import checks it (its
rate, its start timecode), and must cover the cue from its first click to
its end; then the movie is rendered (:mod:`stage.adapters.movie`) with a
progress bar on stderr, and ``--guide`` writes its click track as a
Broadcast Wave file.  PyAV, NumPy and Pillow are imported only when a movie
is asked for, so the other renders stay quick.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from dataclasses import dataclass
from datetime import datetime
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from stage.adapters.wavfile import SAMPLE_RATE, TAIL, ClickTrack, render_click_track, write_wav
from stage.cli_picture import ProgressBar
from stage.core.breakdown import format_duration, plural
from stage.core.clicksound import ClickSounds
from stage.core.cuesheet import Cue, CueSheet
from stage.core.cut import judge, proxy_size
from stage.core.movie import MovieSpan, fit, movie_span, parse_size, uncovered
from stage.core.overlay import SHOW_DEFAULT, Direction, Overlay, parse_show
from stage.core.schedule import cue_schedule
from stage.errors import RenderError

if TYPE_CHECKING:  # PyAV, NumPy and Pillow are imported when a movie is made
    from stage.adapters.movie import CutFrames, MovieTimes, Progress

__all__ = ["MoviePlan", "add_movie_options", "make_movie", "plan_movie", "run_movie"]

CONTAINERS = {".mp4": "mp4", ".m4v": "mp4", ".mov": "mov"}


def add_movie_options(p: argparse.ArgumentParser) -> None:
    """The movie's options of ``stage render``."""
    p.add_argument("--picture", type=Path, metavar="CUT", help="the cut to draw the movie on (QuickTime, MXF, MP4)")
    p.add_argument("--movie", type=Path, metavar="OUT", help="write the streamer movie (.mp4: H.264 and AAC; "
                   ".mov: H.264 and PCM) from the pre-roll to the cue's end")
    p.add_argument("--guide", type=Path, metavar="FILE", help="with --movie: its click track as a WAV file, "
                   "starting at the movie's first frame")
    p.add_argument("--size", metavar="WxH", help="the movie's size (default: the cut's, at most 720 lines)")
    p.add_argument("--overlay", default="all", metavar="WORDS",
                   help="what is drawn: streamers, punches, flutters, timecode, bars, countoff, cue; all (the "
                   "default) or none")
    p.add_argument("--direction", choices=[d.value for d in Direction], default="ltr",
                   help="which way streamers cross (default ltr)")
    p.add_argument("--picture-start", metavar="TC", help="the cut's first frame's timecode, where the file has none")


def _writable(path: Path) -> None:
    folder = path.parent if str(path.parent) else Path()
    if not folder.is_dir():
        raise RenderError(f"cannot write {path}: no such directory {folder}")
    if not os.access(folder, os.W_OK):
        raise RenderError(f"cannot write {path}: the directory {folder} is not writable")
    if path.is_dir():
        raise RenderError(f"cannot write {path}: it is a directory")


@dataclass(frozen=True)
class MoviePlan:
    """A movie ready to render: the cut's frames, the span, what is drawn and where, and its click track (None
    for a free-timing cue)."""

    cue: Cue
    cut: CutFrames
    span: MovieSpan
    overlay: Overlay
    size: tuple[int, int]
    rect: tuple[int, int, int, int]
    track: ClickTrack | None


def plan_movie(sheet: CueSheet, cue: Cue, picture: Path, *, preroll: Fraction, sounds: ClickSounds | None = None,
               size: tuple[int, int] | None = None, show: frozenset[str] = SHOW_DEFAULT,
               direction: Direction = Direction.LTR, start: str | None = None) -> MoviePlan:
    """Read the cut at ``picture``, check it against the sheet and the cue, and plan ``cue``'s movie:
    :class:`~stage.errors.PictureError` or :class:`RenderError` saying what does not fit."""
    from stage.adapters.media import probe  # noqa: PLC0415 - see the top
    from stage.adapters.movie import CutFrames  # noqa: PLC0415

    found = probe(picture)
    if found.timecode is None and start is None:
        raise RenderError(f"{found.name} has no timecode (no tmcd track, no timecode in its header): give its first "
                          "frame's with --picture-start HH:MM:SS:FF")
    cut = judge(found, sheet.rate, start)
    gap = uncovered(cue, cut.start, cut.frames)
    if gap is not None:
        raise RenderError(gap)
    span = movie_span(cue, preroll, TAIL)
    size = size or proxy_size(found.width, found.height, found.aspect)
    rect = fit(found.width, found.height, found.aspect, size)
    overlay = Overlay(cue, cue_schedule(cue), rect[2], rect[3], direction=direction, show=show,
                      cut=(cut.start_frame, cut.frames))
    frames = CutFrames(picture, tuple(sorted(found.stamps)), cut.start_frame, found.name)
    track = None if cue.free else render_click_track(
        cue, sounds=sounds, span=(span.origin - cue.downbeat, span.samples(SAMPLE_RATE)))
    return MoviePlan(cue, frames, span, overlay, size, rect, track)


def make_movie(plan: MoviePlan, movie: Path, *, progress: Progress | None = None) -> MovieTimes:
    """Render ``plan`` into ``movie`` (``.mp4``: AAC; ``.mov``: PCM)."""
    from stage.adapters.movie import render_movie  # noqa: PLC0415 - see the top
    from stage.adapters.painter import Painter  # noqa: PLC0415

    container = CONTAINERS[movie.suffix.lower()]
    with tempfile.TemporaryDirectory(prefix="stage-movie-") as scratch:
        audio = None
        if plan.track is not None:
            audio = Path(scratch) / "click.wav"
            write_wav(audio, plan.track)
        return render_movie(plan.cut, plan.span, plan.overlay, Painter(plan.size, plan.rect), movie, audio=audio,
                            container=container, title=f"{plan.cue.id} {plan.cue.title}".strip(), progress=progress)


def run_movie(args: argparse.Namespace, sheet: CueSheet, cue: Cue, report: TextIO) -> None:
    """Render ``cue``'s streamer movie (and its guide WAV) as ``args`` say."""
    from stage.config import load_config  # noqa: PLC0415 - pydantic only when a movie is asked for

    movie: Path = args.movie
    if movie.suffix.lower() not in CONTAINERS:
        raise RenderError(f"--movie {movie}: name it .mp4 (H.264 and AAC) or .mov (H.264 and PCM)")
    if args.guide is not None and cue.free:
        raise RenderError(f"cue {cue.id} is in free timing: it has no click for --guide (the movie has no sound)")
    show = parse_show(args.overlay)
    size = parse_size(args.size) if args.size is not None else None
    for out in (movie, args.guide):
        if out is not None:
            _writable(out)
    config = load_config(args.config)
    plan = plan_movie(sheet, cue, args.picture, preroll=Fraction(config.clock.preroll), sounds=config.click.sounds(),
                      size=size, show=show, direction=Direction(args.direction), start=args.picture_start)
    bar = ProgressBar(sys.stderr)
    try:
        times = make_movie(plan, movie, progress=lambda done, total: bar("rendering", done, total))
    finally:
        bar.end()
    track, span = plan.track, plan.span
    if args.guide is not None and track is not None:
        try:
            write_wav(args.guide, track, origination=datetime.now().astimezone())
        except OSError as exc:
            raise RenderError(f"cannot write {args.guide}: {exc.strerror or exc}") from exc

    sound = "no sound (free timing)" if track is None else ("AAC" if CONTAINERS[movie.suffix.lower()] == "mp4"
                                                             else "PCM")
    speed = float(span.duration) / times.wall if times.wall > 0 else float("inf")
    print(f"wrote {movie}: {plural(span.frames, 'frame')} ({format_duration(span.duration)}) at {span.rate} fps, "
          f"{plan.size[0]}×{plan.size[1]}, H.264 and {sound}, timecode from {span.start}; {speed:.1f}× real time",
          file=report)
    if args.guide is not None and track is not None:
        print(f"wrote {args.guide}: {format_duration(Fraction(track.frames, track.sample_rate))} at 48 kHz 16-bit "
              f"mono, from {span.start}", file=report)
