"""``stage picture import FILE`` and ``stage picture show``: the cut in, from the command line (docs/cli.md).

The import checks the cut against the cue sheet's ``[picture] rate``, makes
its proxy and index under ``[picture] dir`` and makes it the current
revision; progress goes to stderr (a bar on a terminal, plain lines
otherwise), the result to stdout.  PyAV and the web server are imported when
a picture command runs, so the other commands stay quick.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from stage.core.breakdown import plural
from stage.core.cut import Picture, outside

if TYPE_CHECKING:
    from stage.cli import Subcommands

__all__ = ["ProgressBar", "register_picture"]

WORDS = {"hashing": "hashing", "reading": "reading", "encoding": "making the proxy", "indexing": "indexing",
         "rendering": "rendering the movie"}
FRAME_STEPS = frozenset({"encoding", "indexing", "rendering"})  # counted in frames; the others in bytes


class ProgressBar:
    """An import's progress on ``stream``: one bar redrawn in place on a terminal, else a line per quarter."""

    WIDTH = 30

    def __init__(self, stream: TextIO, *, tty: bool | None = None, clock: Any = time.monotonic) -> None:
        self.stream = stream
        self.tty = stream.isatty() if tty is None else tty
        self._clock = clock
        self._step = ""
        self._shown = -1  # the last quarter (plain) or percent (terminal) shown
        self._drawn = -math.inf

    def __call__(self, step: str, done: int, total: int) -> None:
        """Show ``done`` of ``total`` in ``step`` (frames while encoding, bytes while reading)."""
        fraction = done / total if total > 0 else 1.0
        if step != self._step:
            self.end()
            self._step, self._shown = step, -1
        unit = "frames" if step in FRAME_STEPS else "MB"
        count = f"{done}/{total}" if unit == "frames" else f"{done / 1e6:.1f}/{total / 1e6:.1f}"
        if self.tty:
            percent = int(fraction * 100)
            now = self._clock()
            if percent == self._shown or (now - self._drawn < 0.1 and percent < 100):
                return
            self._shown, self._drawn = percent, now
            filled = round(fraction * self.WIDTH)
            bar = "#" * filled + "-" * (self.WIDTH - filled)
            self.stream.write(f"\r{WORDS.get(step, step):<17} [{bar}] {percent:3d}%  {count} {unit}\x1b[K")
        else:
            quarter = int(fraction * 4)
            if quarter == self._shown:
                return
            self._shown = quarter
            self.stream.write(f"stage: {WORDS.get(step, step)}: {quarter * 25}% ({count} {unit})\n")
        self.stream.flush()

    def end(self) -> None:
        """Finish the bar's line (on a terminal)."""
        if self.tty and self._step:
            self.stream.write("\n")
            self.stream.flush()
        self._step = ""


def register_picture(commands: Subcommands) -> None:
    """``stage picture import FILE [--start TC] [--cues CUES] [--config FILE]`` and ``stage picture show``."""
    p = commands.add_parser("picture", help="the cut: import it, show the current one",
                            description="The cut the stage shows: import a new one, show the current one.")
    sub = p.add_subparsers(title="commands", metavar="COMMAND", parser_class=type(p), required=True)
    i = sub.add_parser(
        "import", help="import a cut as the new current picture",
        description="Check a cut (QuickTime, MXF or MP4: ProRes, DNxHR, H.264 …) against the cue sheet's "
        "[picture] rate, read its start timecode, make the proxy every browser decodes and its index under "
        "[picture] dir, and make it the current picture revision. Progress on stderr.")
    i.add_argument("file", metavar="FILE", type=Path, help="the cut")
    i.add_argument("--start", metavar="TC", help="its first frame's timecode, where the file has none (or a "
                   "wrong one)")
    i.add_argument("--cues", metavar="CUES", help="the cue sheet whose [picture] rate the cut must have "
                   "(default: the demo sheet, as stage serve without --cues)")
    i.add_argument("--config", metavar="FILE", help="the configuration naming [picture] dir")
    i.set_defaults(run=run_import)
    s = sub.add_parser("show", help="the current picture",
                       description="Show the current picture revision (and the others kept) under [picture] dir.")
    s.add_argument("--config", metavar="FILE", help="the configuration naming [picture] dir")
    s.add_argument("--json", action="store_true", help="print the current revision's record as JSON")
    s.set_defaults(run=run_show)


def _library(config_path: str | None) -> Any:
    from stage.adapters.pictures import PictureLibrary  # noqa: PLC0415 - PyAV only when a picture command runs
    from stage.config import load_config  # noqa: PLC0415

    return PictureLibrary(Path(load_config(config_path).picture.dir))


def describe(picture: Picture) -> str:
    """One line: the revision, its length, rate, span and source."""
    source = picture.source
    return (f"picture revision {picture.revision}: {picture.name}, {plural(picture.frames, 'frame')} at "
            f"{picture.rate} fps from {picture.start} to {picture.end} ({source.get('codec')} in "
            f"{source.get('container')}, {source.get('width')}×{source.get('height')}; proxy "
            f"{picture.width}×{picture.height}), imported {picture.imported_at}")


def run_import(args: argparse.Namespace) -> int:
    """Import a cut and make it current."""
    from stage.config import DEMO_CUES  # noqa: PLC0415 - the same default sheet as stage serve
    from stage.core.cuesheet import load_cue_sheet  # noqa: PLC0415

    sheet = load_cue_sheet(args.cues or DEMO_CUES)
    library = _library(args.config)
    bar = ProgressBar(sys.stderr)
    try:
        built = library.import_cut(args.file, rate=sheet.rate, start=args.start, now=datetime.now().astimezone(),
                                   step=bar)
    finally:
        bar.end()
    picture = built.picture
    proxy = library.file(picture.revision, "proxy.mp4")
    print(f"imported {describe(picture)}")
    size = proxy.stat().st_size
    print(f"proxy {proxy} ({f'{size / 1e6:.1f} MB' if size >= 1e6 else f'{size / 1e3:.0f} kB'}) and its index "
          "beside it")
    own = built.cut.probe.timecode
    if built.cut.start_given and own is not None:
        print(f"stage: --start {picture.start} replaces the file's own timecode {own}", file=sys.stderr)
    for line in outside(picture.start, picture.frames, sheet.cues):
        print(f"stage: warning: {line}", file=sys.stderr)
    return 0


def run_show(args: argparse.Namespace) -> int:
    """Show the current picture and the revisions kept."""
    library = _library(args.config)
    current = library.current()
    if args.json:
        print(json.dumps(None if current is None else current.record(), indent=2, ensure_ascii=False))
        return 0
    if current is None:
        print(f"no picture imported in {library.root}")
        return 0
    print(f"current {describe(current)}")
    print(f"proxy {library.file(current.revision, 'proxy.mp4')}")
    others = [p.revision for p in library.revisions() if p.revision != current.revision]
    if others:
        print(f"also kept: {', '.join(others)}")
    return 0
