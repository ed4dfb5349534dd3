"""The ``stage`` command line.

Subcommands are a table (:data:`COMMANDS`) of ``register`` functions: each adds
its parser to the subcommand set and sets ``run`` to the function that does
the work and returns the exit code.  To add a command, write ``register_x``
and append it to :data:`COMMANDS`.

Exit codes: 0 done, 1 the input or the request is wrong (each problem as one
line on stderr), 2 the command line itself is wrong.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Sequence
from datetime import datetime
from fractions import Fraction
from pathlib import Path
from typing import Any, NoReturn, Protocol, TextIO, TypeVar

from stage.adapters.midifile import read_smf, write_smf
from stage.adapters.takefiles import BINARY, FORMATS, NEEDS_RATE
from stage.adapters.wavfile import render_click_track, write_wav
from stage.cli_movie import add_movie_options, run_movie
from stage.cli_picture import register_picture
from stage.core.breakdown import breakdown_dict, format_breakdown, format_duration, plural, sheet_breakdown
from stage.core.cuesheet import Cue, CueSheet, load_cue_sheet, parse_cue_sheet
from stage.core.eventlist import events_csv
from stage.core.smfimport import cue_toml, import_cue
from stage.core.takemarks import Selection
from stage.core.tempo import Meter
from stage.core.tempo_report import format_tempo_report, tempo_report
from stage.core.tempochanges import ChangePlan, find_changes
from stage.core.tempofind import Candidate, Family, FindSpec, Rank, SpotHit, find_steady
from stage.core.timecode import Rate, Timecode, parse_rate
from stage.errors import CueSheetError, MidiError, NotFound, RenderError, StageError

__all__ = ["COMMANDS", "Subcommands", "build_parser", "main"]

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2

T = TypeVar("T")

class Subcommands(Protocol):
    """What a ``register`` function adds its parser to (argparse's subparsers action)."""

    def add_parser(self, name: str, **kwargs: Any) -> argparse.ArgumentParser:
        """Add and return the parser of subcommand ``name``."""


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line, not usage plus a line."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _cue(sheet: CueSheet, cue_id: str) -> Cue:
    try:
        return sheet.cue(cue_id)
    except KeyError as exc:
        raise NotFound(exc.args[0]) from None


# -- validate --------------------------------------------------------------------------


def register_validate(commands: Subcommands) -> None:
    """``stage validate CUES``."""
    p = commands.add_parser(
        "validate",
        help="check a cue sheet",
        description="Check a cue sheet. Exit 0 with a one-line summary when it is valid; otherwise exit 1 "
        "with one line per problem on stderr, naming the cue and the field.",
    )
    p.add_argument("cues", metavar="CUES", type=Path, help="the cue sheet (TOML)")
    p.set_defaults(run=run_validate)


def run_validate(args: argparse.Namespace) -> int:
    """Validate a cue sheet and print a summary."""
    sheet = load_cue_sheet(args.cues)
    free = sum(1 for c in sheet.cues if c.free)
    hits = sum(len(c.hits) for c in sheet.cues)
    kinds = f"{len(sheet.cues) - free} with click, {free} free timing"
    title = f" — {sheet.title}" if sheet.title else ""
    print(f"ok: {plural(len(sheet.cues), 'cue')} ({kinds}), {plural(hits, 'hit')}, {sheet.rate} fps{title}")
    return EXIT_OK


# -- render ----------------------------------------------------------------------------


def register_render(commands: Subcommands) -> None:
    """``stage render CUES --cue ID [--wav FILE] [--midi FILE] [--events FILE] [--config FILE]`` and the streamer
    movie's ``--picture CUT --movie FILE [--guide FILE] [--size WxH] [--overlay WORDS] [--direction D]``."""
    p = commands.add_parser(
        "render",
        help="the offline click track (WAV, MIDI), event list (CSV) and streamer movie of one cue",
        description="Render one cue: a 48 kHz 16-bit mono Broadcast Wave click track, a Standard MIDI File, "
        "and/or the CSV event list. The WAV and MIDI files begin exactly at the cue's first click. With --picture "
        "and --movie, the streamer movie: the cut from the pre-roll to the cue's end with streamers, punches, "
        "bar|beat and timecode drawn on it and the click as its sound.",
    )
    p.add_argument("cues", metavar="CUES", type=Path, help="the cue sheet (TOML)")
    p.add_argument("--cue", required=True, metavar="ID", help="the cue to render")
    p.add_argument("--wav", type=Path, metavar="FILE", help="write the click track as a WAV file")
    p.add_argument("--midi", type=Path, metavar="FILE", help="write the click track as a MIDI file")
    p.add_argument("--events", metavar="FILE", help="write the event list as CSV ('-': standard output)")
    p.add_argument("--config", metavar="FILE", help="the configuration whose [click] sounds the WAV uses "
                   "(default: the default sounds, as stage serve without a config)")
    add_movie_options(p)
    p.set_defaults(run=run_render, parser=p)


def run_render(args: argparse.Namespace) -> int:
    """Render one cue's outputs."""
    if args.wav is None and args.midi is None and args.events is None and args.movie is None:
        args.parser.error("give at least one output: --wav FILE, --midi FILE, --events FILE or --movie FILE")
    if (args.movie is None) != (args.picture is None):
        args.parser.error("--movie FILE and --picture CUT go together")
    if args.guide is not None and args.movie is None:
        args.parser.error("--guide FILE is the movie's click track: give --movie FILE --picture CUT too")
    sheet = load_cue_sheet(args.cues)
    cue = _cue(sheet, args.cue)
    if cue.free and (args.wav is not None or args.midi is not None):
        raise RenderError(f"cue {cue.id} is in free timing: it has no click for --wav or --midi (--events still works)")
    # Reports go to stderr when the event list takes stdout.
    report: TextIO = sys.stderr if args.events == "-" else sys.stdout
    first = Timecode.at(cue.downbeat + cue.first_time, cue.rate)
    if args.wav is not None:
        from stage.config import load_config  # noqa: PLC0415 - pydantic only when a WAV is asked for

        track = render_click_track(cue, sounds=load_config(args.config).click.sounds())
        _write(args.wav, lambda: write_wav(args.wav, track, origination=datetime.now().astimezone()))
        length = format_duration(Fraction(track.frames, track.sample_rate))
        print(f"wrote {args.wav}: {length} at 48 kHz 16-bit mono, first click {first}", file=report)
    if args.midi is not None:
        _write(args.midi, lambda: write_smf(args.midi, cue))
        print(f"wrote {args.midi}: type 1, first click {first}", file=report)
    if args.movie is not None:
        run_movie(args, sheet, cue, report)
    if args.events is not None:
        text = events_csv(cue)
        if args.events == "-":
            sys.stdout.write(text)
        else:
            _write(Path(args.events), lambda: Path(args.events).write_text(text, encoding="utf-8"))
            print(f"wrote {args.events}: {plural(text.count(chr(10)) - 1, 'event')}", file=report)
    return EXIT_OK


def _write(path: Path, write: Callable[[], T]) -> T:
    try:
        return write()
    except OSError as exc:
        raise RenderError(f"cannot write {path}: {exc.strerror or exc}") from exc


# -- info ------------------------------------------------------------------------------


def register_info(commands: Subcommands) -> None:
    """``stage info CUES [--cue ID]``."""
    p = commands.add_parser(
        "info",
        help="the cue breakdown: lengths, bars, tempos, meters and hits",
        description="Print the breakdown of every cue (or of the cues named): start and end, length in time "
        "and feet+frames, bars and count-off, tempo segments, and every hit with bar|beat, timecode and footage "
        "from the cue's start.",
    )
    p.add_argument("cues", metavar="CUES", type=Path, help="the cue sheet (TOML)")
    p.add_argument("--cue", action="append", default=[], metavar="ID", help="only this cue (repeatable)")
    p.add_argument("--json", action="store_true", help="print JSON instead of text")
    p.add_argument("--pdf", type=Path, metavar="FILE", help="also write the breakdown as a printable PDF (A4)")
    p.set_defaults(run=run_info)


def run_info(args: argparse.Namespace) -> int:
    """Print the cue breakdown."""
    sheet = load_cue_sheet(args.cues)
    for cue_id in args.cue:
        _cue(sheet, cue_id)
    breakdowns = sheet_breakdown(sheet, args.cue)
    if args.json:
        doc = {"title": sheet.title, "rate": sheet.rate.name, "cues": [breakdown_dict(b) for b in breakdowns]}
        print(json.dumps(doc, indent=2, ensure_ascii=False))
    else:
        sys.stdout.write(format_breakdown(sheet, breakdowns))
    if args.pdf is not None:
        from stage.adapters.pdfsheet import write_breakdown_pdf  # noqa: PLC0415 - reportlab only when printing
        from stage.core.paper import paper_cue  # noqa: PLC0415

        cues = [sheet.cue(i) for i in args.cue] if args.cue else list(sheet.cues)
        title = f"{sheet.title or '(untitled)'}: cue breakdown"
        pages = _write(args.pdf, lambda: write_breakdown_pdf(args.pdf, [paper_cue(sheet, c) for c in cues], title))
        print(f"wrote {args.pdf}: {plural(pages, 'page')}, {plural(len(cues), 'cue')}",
              file=sys.stderr if args.json else sys.stdout)
    return EXIT_OK


# -- import-midi -----------------------------------------------------------------------


def register_import_midi(commands: Subcommands) -> None:
    """``stage import-midi FILE.mid --id ID [--start TC] [--rate R] [--title T]``."""
    p = commands.add_parser(
        "import-midi",
        help="turn a DAW's tempo map (SMF) into a [[cue]] block",
        description="Read the tempo map, time signatures, markers and SMPTE offset of a Standard MIDI File "
        "and print a [[cue]] block for the cue sheet. Bar 1 of the file is the cue's bar 1 unless --countoff "
        "says the file begins with count-off bars.",
    )
    p.add_argument("file", metavar="FILE.mid", type=Path, help="the Standard MIDI File")
    p.add_argument("--id", required=True, dest="cue_id", metavar="ID", help="the cue's id, e.g. 1M1")
    p.add_argument("--start", metavar="TC", help="timecode of the downbeat (default: from the file's SMPTE offset)")
    p.add_argument("--rate", metavar="R", help="picture rate (default: from the file's SMPTE offset)")
    p.add_argument("--title", metavar="T", help="the cue's title (default: the file's track name)")
    p.add_argument("--countoff", type=_natural, metavar="N", help="the file begins with N bars of count-off")
    p.add_argument("--bars", type=_positive, metavar="N", help="the cue's length in bars (default: to the file's end)")
    p.set_defaults(run=run_import_midi)


def _natural(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if n < 0:
        raise argparse.ArgumentTypeError(f"{n} must be 0 or more")
    return n


def _positive(text: str) -> int:
    n = _natural(text)
    if n < 1:
        raise argparse.ArgumentTypeError(f"{n} must be 1 or more")
    return n


def run_import_midi(args: argparse.Namespace) -> int:
    """Print the ``[[cue]]`` block of an SMF's tempo map."""
    smf = read_smf(args.file)
    cue = import_cue(
        smf,
        args.cue_id,
        rate=args.rate,
        start=args.start,
        title=args.title,
        countoff=args.countoff,
        bars=args.bars,
    )
    block = cue_toml(cue)
    rate = cue.start.rate
    # The block must stand on its own in a sheet at this rate: check it the way `validate` would.
    try:
        parse_cue_sheet(f'[picture]\nrate = "{rate}"\n\n{block}')
    except CueSheetError as exc:
        lines = "; ".join(str(p) for p in exc.problems)
        raise MidiError(f"the tempo map of {args.file} does not make a valid cue: {lines}") from exc
    for warning in cue.warnings:
        print(f"stage: warning: {warning}", file=sys.stderr)
    sys.stdout.write(f"# imported from {args.file.name} ({rate} fps)\n{block}")
    return EXIT_OK


# -- spot ------------------------------------------------------------------------------


def register_spot(commands: Subcommands) -> None:
    """``stage spot FILE [--format F] [--rate R] [--colour MAP] [--title T] [--tempo T] [--meter M] [-o OUT | --add-to
    SHEET]``."""
    from stage.core.markerformats import Format  # noqa: PLC0415 - the formats' names, nothing read yet

    p = commands.add_parser(
        "spot",
        help="turn spotting notes (markers from Avid, Resolve, Premiere, Final Cut, Pro Tools, a CSV) into a cue sheet",
        description="Read a marker list — Avid's marker export or an AAF's locators, Resolve's timeline markers in "
        "an EDL, Premiere's marker export, FCPXML or FCP 7 XML, a Pro Tools 'Session Info as Text' export, a CSV — "
        "and write a cue sheet: '<ID> start [title]' and '<ID> end' markers (or, by default, green and red ones "
        "named '<ID> [title]', or one marker spanning the cue) make a cue, the markers between them its hits. Every "
        "line that cannot be used is reported on stderr with its line (event, marker) number.",
    )
    p.add_argument("file", metavar="FILE", type=Path, help="the marker list")
    p.add_argument("--format", choices=("auto", *(f.value for f in Format)), default="auto",
                   help="default: told by the content")
    p.add_argument("--rate", metavar="R", help="picture rate: CSV, Avid, Premiere and EDL need it; for Pro Tools it "
                   "overrides TIMECODE FORMAT; FCP XML, FCPXML and AAF say theirs, which it may make drop-frame")
    p.add_argument("--colour", "--color", metavar="MAP", help="what marker colours say: COLOUR=ROLE,… with roles "
                   "start, end, hit, skip (default green=start,red=end; none: colours say nothing)")
    p.add_argument("--title", metavar="T", help="the picture's title (default: the session's or sequence's name)")
    p.add_argument("--tempo", metavar="T", help="give every cue this tempo (default: free timing until one is found)")
    p.add_argument("--meter", default="4/4", metavar="M", help="the meter with --tempo (default 4/4)")
    p.add_argument("--cues-only", action="store_true", help="print only the [[cue]] blocks, to add to a sheet")
    out = p.add_mutually_exclusive_group()
    out.add_argument("-o", "--output", type=Path, metavar="OUT", help="write the sheet here (default: stdout)")
    out.add_argument("--add-to", type=Path, metavar="SHEET", help="add the cues to this sheet, keeping its comments")
    p.add_argument("--strict", action="store_true", help="exit 1 when any line could not be used")
    p.set_defaults(run=run_spot)


def _read_text(path: Path) -> str:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise StageError(f"cannot read {path}: {exc.strerror or exc}") from exc
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        # Pro Tools' "TextEdit" export on a Mac is Mac Roman.
        return data.decode("mac_roman")


def run_spot(args: argparse.Namespace) -> int:
    """Write the cue sheet of a marker list."""
    from stage.adapters.markerfile import read_marker_file, why_no_cue  # noqa: PLC0415
    from stage.adapters.sheetfile import add_cues, spotted_sheet  # noqa: PLC0415 - tomlkit only when writing
    from stage.core.markerformats import Format  # noqa: PLC0415
    from stage.core.spotting import DEFAULT_COLOURS, clean_name, parse_colours, problem_order, spot  # noqa: PLC0415

    rate = parse_rate(args.rate) if args.rate else None
    colours = parse_colours(args.colour) if args.colour is not None else DEFAULT_COLOURS
    fmt, markers = read_marker_file(args.file, None if args.format == "auto" else Format(args.format), rate)
    spotting = spot(markers.markers, colours)
    problems = [*markers.problems, *spotting.problems]
    for problem in sorted(problems, key=lambda p: problem_order(p.where)):
        print(f"stage: {args.file} {problem}", file=sys.stderr)
    if markers.rate is None:
        return EXIT_FAILED
    if not spotting.cues:
        raise StageError(f"{args.file}: {why_no_cue(fmt, markers, colours)}")
    sheet = spotted_sheet(
        spotting.cues,
        markers.rate,
        title=args.title if args.title is not None else clean_name(markers.title),
        tempo=_tempo_value(args.tempo) if args.tempo else None,
        meter=args.meter,
        source=args.file.name,
        cues_only=args.cues_only or args.add_to is not None,
    )
    hits = sum(len(c.hits) for c in spotting.cues)
    unused = "line" if fmt in {Format.PROTOOLS, Format.CSV, Format.AVID, Format.PREMIERE} else "marker"
    summary = f"{plural(len(spotting.cues), 'cue')}, {plural(hits, 'hit')}, {plural(len(problems), unused)} not used"
    if args.add_to is not None:
        old = load_cue_sheet(args.add_to)  # it must be a valid sheet to begin with
        if old.rate != markers.rate:
            raise StageError(f"{args.add_to} is at {old.rate} fps, the markers at {markers.rate}: give --rate")
        new = add_cues(_read_text(args.add_to), sheet)
        parse_cue_sheet(new, source=str(args.add_to))  # a repeated id or an overlap refuses the whole addition
        _write(args.add_to, lambda: args.add_to.write_text(new, encoding="utf-8"))
        print(f"added to {args.add_to}: {summary}")
    else:
        # What is written must load: check it the way `validate` would.
        parse_cue_sheet(sheet if not args.cues_only else f'[picture]\nrate = "{markers.rate}"\n{sheet}')
        if args.output is not None:
            _write(args.output, lambda: args.output.write_text(sheet, encoding="utf-8"))
            print(f"wrote {args.output}: {summary}")
        else:
            sys.stdout.write(sheet)
            print(f"stage: {summary}", file=sys.stderr)
    return EXIT_FAILED if args.strict and problems else EXIT_OK


def _tempo_value(text: str) -> str | float:
    """A tempo as the sheet writes it: a frame click stays text, a number becomes one."""
    try:
        value = float(text)
    except ValueError:
        return text
    return int(value) if value.is_integer() else value


# -- tempo -----------------------------------------------------------------------------


def register_tempo(commands: Subcommands) -> None:
    """``stage tempo CUES --cue ID [options]``."""
    p = commands.add_parser(
        "tempo",
        help="find tempos that put a cue's hits on beats, or the fewest changes that do",
        description="Rank steady tempos (frame clicks in eighth frames, clicks per minute to 0.01) by how many "
        "of the cue's hits land on a click or a subdivision within the tolerance. When no steady tempo catches "
        "every hit, propose the fewest tempo changes at bar lines that do, as [[cue.change]] blocks.",
    )
    p.add_argument("cues", metavar="CUES", type=Path, help="the cue sheet (TOML)")
    p.add_argument("--cue", required=True, metavar="ID", help="the cue")
    p.add_argument("--range", default="40-240", metavar="LO-HI", help="clicks per minute to try (default 40-240)")
    p.add_argument("--meter", metavar="M", help="meter for bar numbers (default: the cue's, or 4/4)")
    p.add_argument("--click", metavar="U", help="the note value of a click in that meter (default: its denominator)")
    p.add_argument("--subdivision", type=_positive, default=1, metavar="N",
                   help="hits may land on 1/N of a click (default 1: on clicks)")
    p.add_argument("--tolerance", default="1", metavar="FRAMES", help="frames either way (default 1; 0.5, 1/4 …)")
    p.add_argument("--move", default="0", metavar="A:B",
                   help="whole frames the downbeat may move, earliest:latest, or N for -N:N (default 0)")
    p.add_argument("--only", choices=("frame", "bpm"), help="only frame clicks, or only clicks per minute")
    p.add_argument("--top", type=_positive, default=5, metavar="N", help="candidates to show (default 5)")
    p.add_argument("--rank", choices=[r.value for r in Rank], default=Rank.EDITOR.value,
                   help="editor (default): hits within half a frame are on it, frame clicks and round tempos first; "
                   "error: the closest first")
    p.add_argument("--changes", action="store_true", help="propose changes even when a steady tempo catches all")
    p.add_argument("--ramps", type=_natural, default=0, metavar="N",
                   help="changes may ramp over 2, 4, … N clicks before their bar (an even N; default 0: steps)")
    p.add_argument("--write", action="store_true", help="write the best answer into CUES, keeping its comments")
    p.add_argument("--json", action="store_true", help="print JSON instead of text")
    p.set_defaults(run=run_tempo, parser=p)


def _spec(args: argparse.Namespace, cue: Cue) -> FindSpec:
    try:
        lo_text, _, hi_text = args.range.partition("-")
        lo, hi = Fraction(lo_text), Fraction(hi_text)
        tolerance = Fraction(args.tolerance)
        a, sep, b = args.move.partition(":")
        move = (int(a), int(b)) if sep else (-abs(int(a)), abs(int(a)))
    except (ValueError, ZeroDivisionError):
        args.parser.error("--range LO-HI, --tolerance FRAMES and --move A:B take numbers")
    if args.meter is not None:
        meter = Meter.parse(args.meter, args.click)
    elif cue.clicks is not None:
        meter = cue.clicks.clicks[cue.clicks.downbeat_index].meter
    else:
        meter = Meter.parse("4/4", args.click)
    families = frozenset({Family(args.only)}) if args.only else frozenset(Family)
    return FindSpec(cue.rate, meter, lo, hi, tolerance, args.subdivision, move, families)


def run_tempo(args: argparse.Namespace) -> int:
    """Rank tempos for a cue; propose changes; optionally write the best into the sheet."""
    sheet = load_cue_sheet(args.cues)
    cue = _cue(sheet, args.cue)
    spec = _spec(args, cue)
    if args.ramps % 2:
        args.parser.error("--ramps takes an even number of clicks (2, 4, …)")
    if not cue.hits:
        raise StageError(f"cue {cue.id} has no hits to find a tempo for")
    hits = [SpotHit(h.label, h.time * cue.rate.fps) for h in cue.hits]
    rank = Rank(args.rank)
    steady = find_steady(hits, spec, args.top, rank)
    plan = None
    if args.changes or not steady or steady[0].caught < len(hits):
        plan = find_changes(hits, spec, ramps=args.ramps)
    if args.json:
        print(json.dumps(tempo_report(cue, spec, steady, plan, rank), indent=2, ensure_ascii=False))
    else:
        sys.stdout.write(format_tempo_report(cue, spec, steady, plan, rank))
    if args.write:
        _write_tempo(args, cue, spec, steady, plan)
    return EXIT_OK


def _write_tempo(args: argparse.Namespace, cue: Cue, spec: FindSpec, steady: list[Candidate],
                 plan: ChangePlan | None) -> None:
    from stage.adapters.sheetfile import TempoEdit, apply_tempo_edit  # noqa: PLC0415 - tomlkit only when writing

    placed = [k for k, h in enumerate(cue.hits, start=1) if h.bar is not None]
    if placed:
        raise StageError(f"cue {cue.id}: hit {placed[0]} is placed by bar|beat and would move with a new tempo: "
                         "place it with at = \"TC\" before --write")
    meter = str(spec.meter)
    if plan is not None:
        first, *rest = plan.segments
        edit = TempoEdit(cue.start, first.tempo.toml, meter, tuple((s.bar, s.tempo.toml, s.ramp) for s in rest),
                         f"{plural(plan.changes, 'change')} {'catches' if plan.changes == 1 else 'catch'} "
                         f"every hit within {args.tolerance} f")
    elif steady:
        best = steady[0]
        edit = TempoEdit(cue.start + best.move, best.tempo.toml, meter, (),
                         f"catches {best.caught} of {len(cue.hits)} hits within {args.tolerance} f")
    else:
        raise StageError(f"cue {cue.id}: no tempo to write")
    new = apply_tempo_edit(_read_text(args.cues), cue.id, edit)
    parse_cue_sheet(new, source=str(args.cues))  # never write a sheet that does not load
    _write(args.cues, lambda: args.cues.write_text(new, encoding="utf-8"))
    changes = f", {plural(len(edit.changes), 'change')}" if edit.changes else ""
    print(f"wrote {args.cues}: cue {cue.id} at {edit.tempo} from {edit.start}{changes}",
          file=sys.stderr if args.json else sys.stdout)


# -- tls ------------------------------------------------------------------------------


def register_tls(commands: Subcommands) -> None:
    """``stage tls init [--dir DIR] [--name NAME …] [--ip ADDR …] [--days N]``."""
    p = commands.add_parser("tls", help="HTTPS on the stage network: the stage's certificate authority",
                            description="HTTPS on the stage network (docs/tls.md).")
    sub = p.add_subparsers(title="commands", metavar="COMMAND", parser_class=_Parser, required=True)
    i = sub.add_parser(
        "init",
        help="make the stage's certificate authority (once) and a server certificate for this machine",
        description="Keep the certificate authority in DIR (make it the first time: devices trust it once) and write "
        "a new server certificate signed by it for this machine's names and addresses (default: its host name, "
        "<host>.local, stage.local, localhost and every address on its interfaces; --name and --ip give exactly "
        "the names instead). Prints the [http] lines that serve HTTPS with it.",
    )
    i.add_argument("--dir", type=Path, default=Path("stage-tls"), metavar="DIR",
                   help="where the authority is kept and the files are written (default: stage-tls)")
    i.add_argument("--name", action="append", default=[], metavar="NAME", help="a host name to certify (repeatable)")
    i.add_argument("--ip", action="append", default=[], metavar="ADDR", help="an address to certify (repeatable)")
    i.add_argument("--days", type=_positive, default=397, metavar="N",
                   help="how long the server certificate lasts, at most 398 days (default 397)")
    i.set_defaults(run=run_tls_init)


def run_tls_init(args: argparse.Namespace) -> int:
    """Make (or keep) the authority, write a server certificate, and print the config lines."""
    import socket  # noqa: PLC0415 - cryptography only when asked for
    from datetime import UTC  # noqa: PLC0415

    from stage.adapters import tls  # noqa: PLC0415
    from stage.adapters.reach import machine_addresses  # noqa: PLC0415

    if args.name or args.ip:
        names = tls.names_of(args.name, args.ip)
    else:
        try:
            addresses = machine_addresses()
        except OSError as exc:
            raise StageError(f"cannot list this machine's addresses ({exc}): name them with --ip") from None
        names = tls.default_names(socket.gethostname(), addresses)
    made = tls.init(args.dir, names, datetime.now(UTC), socket.gethostname(), args.days)
    root = made.root
    kept = "kept" if made.kept else "new"
    print(f"authority ({kept}): {made.path(tls.CA_PEM)}: {root.name}, until {root.not_after:%Y-%m-%d}")
    print(f"  SHA-256 {root.fingerprint}")
    print(f"certificate: {made.path(tls.CERT)} for {made.names}, until {made.not_after:%Y-%m-%d}")
    print(f"devices trust the authority from {made.path(tls.CA_DER)} or {made.path(tls.PROFILE)} (iPad, iPhone); "
          "the stage also serves them at /tls (docs/tls.md)")
    absolute = made.directory.resolve()
    print("\nAdd to the config's [http]:")
    for key, name in (("certificate", tls.CERT), ("key", tls.KEY), ("authority", tls.CA_PEM)):
        print(f'{key} = "{absolute / name}"')
    return EXIT_OK


# -- serve and takes --------------------------------------------------------------------
# The service and the take log pull in the web server and the database drivers: imported when used,
# so that validating or rendering a cue sheet stays quick.


def register_serve(commands: Subcommands) -> None:
    """``stage serve [--config FILE] [--cues FILE]``."""
    p = commands.add_parser(
        "serve",
        help="run the service: engine, REST API and take log",
        description="Run the session controller until SIGINT/SIGTERM: the click and timecode engine, the REST API "
        "under /api (OpenAPI at /docs) and the take log named in [takes] database.",
    )
    p.add_argument("--config", metavar="FILE", help="the configuration (TOML; default: every key's default)")
    p.add_argument("--cues", metavar="FILE", help="the cue sheet (TOML; default: the demo sheet)")
    p.set_defaults(run=run_serve)


def run_serve(args: argparse.Namespace) -> int:
    """Run the service."""
    from stage import app  # noqa: PLC0415 - see above

    return app.main(args.config, args.cues)


def register_takes(commands: Subcommands) -> None:
    """``stage takes export [--format csv|json|midi-markers|edl] [--takes WHICH] [--rate R | --cues CUES] …``."""
    p = commands.add_parser("takes", help="the take log", description="Read the take log.")
    sub = p.add_subparsers(title="commands", metavar="COMMAND", parser_class=_Parser, required=True)
    e = sub.add_parser(
        "export",
        help="print the take sheet, or the takes as a DAW's markers or an EDL",
        description="Export the take log named in the config's [takes] database: the take sheet (csv, json: one "
        "row per take in the order they were logged, times of day in local time), a Standard MIDI File with a "
        "marker per take at its timecode in, that a DAW imports as memory locations (midi-markers), or a CMX 3600 "
        "EDL of the circled takes (edl). The markers and the EDL count the take log's timecode at the picture's "
        "rate: --rate, else the rate of the sheet given with --cues, else the config's [clock] rate.",
    )
    e.add_argument("--format", choices=FORMATS, default="csv",
                   help="csv (the default), json, midi-markers or edl")
    e.add_argument("--takes", choices=[s.value for s in Selection], metavar="WHICH",
                   help="circled (print), kept (print and hold) or all; default: all, but circled for edl")
    e.add_argument("--rate", metavar="R", help="the picture's rate (23.976, 24, 25, 29.97, 29.97df, 30)")
    e.add_argument("--cues", metavar="CUES", type=Path, help="the cue sheet whose [picture] rate to use")
    e.add_argument("--title", default="", help="the EDL's TITLE and the MIDI file's name (default: takes)")
    e.add_argument("-o", "--output", metavar="FILE", type=Path, help="write to FILE instead of standard output")
    e.add_argument("--config", metavar="FILE", help="the configuration naming the take database")
    e.set_defaults(run=run_takes_export, parser=e)
    b = sub.add_parser(
        "backup",
        help="copy the take log while the stage runs",
        description="Copy the take log named in the config's [takes] database to DEST, safely while stage serve "
        "writes to it: SQLite through its online backup API (DEST is a SQLite file), PostgreSQL through pg_dump's "
        "custom format (restore with pg_restore). DEST is replaced only once the copy is whole.",
    )
    b.add_argument("dest", metavar="DEST", type=Path, help="the file to write")
    b.add_argument("--config", metavar="FILE", help="the configuration naming the take database")
    b.set_defaults(run=run_takes_backup)


def run_takes_export(args: argparse.Namespace) -> int:
    """Export the take log."""
    import asyncio  # noqa: PLC0415 - see above

    from stage.app import export_takes  # noqa: PLC0415
    from stage.config import load_config  # noqa: PLC0415

    binary = args.format in BINARY
    if binary and args.output is None and sys.stdout.isatty():
        args.parser.error(f"{args.format} is a binary file: give -o FILE or redirect standard output")
    config = load_config(args.config)
    rate = _export_rate(args, config.clock.rate)
    selection = Selection(args.takes) if args.takes else None
    out = asyncio.run(export_takes(config.takes.database, args.format, rate=rate, selection=selection,
                                   title=args.title))
    if args.output is not None:
        _write(args.output, lambda: args.output.write_bytes(out.data))
    elif binary:
        sys.stdout.buffer.write(out.data)
        sys.stdout.flush()
    else:
        sys.stdout.write(out.data.decode("utf-8"))
    return EXIT_OK


def run_takes_backup(args: argparse.Namespace) -> int:
    """Back the take log up."""
    from stage.adapters.store import backup_take_log  # noqa: PLC0415 - SQLAlchemy only for the take log's commands
    from stage.config import load_config  # noqa: PLC0415

    what = backup_take_log(load_config(args.config).takes.database, args.dest)
    print(f"wrote {args.dest}: {what}")
    return EXIT_OK


def _export_rate(args: argparse.Namespace, configured: str | None) -> Rate | None:
    """The picture's rate for an export: the command line's, the sheet's, the config's (None: not needed)."""
    if args.rate is not None:
        return parse_rate(args.rate)
    if args.cues is not None:
        return load_cue_sheet(args.cues).rate
    if configured is not None:
        return parse_rate(configured)
    if args.format in NEEDS_RATE:
        args.parser.error(f"{args.format} needs the picture's rate: give --rate R or --cues CUES "
                          "(the take log keeps timecode, not the rate it counts at)")
    return None


# -- main ------------------------------------------------------------------------------

COMMANDS: list[Callable[[Subcommands], None]] = [
    register_validate,
    register_render,
    register_info,
    register_import_midi,
    register_spot,
    register_tempo,
    register_tls,
    register_serve,
    register_takes,
    register_picture,
]


def build_parser(commands: Sequence[Callable[[Subcommands], None]] = COMMANDS) -> argparse.ArgumentParser:
    """The ``stage`` argument parser with every registered subcommand."""
    parser = _Parser(prog="stage", description="Session controller of a film-scoring stage.")
    sub = parser.add_subparsers(title="commands", metavar="COMMAND", parser_class=_Parser)
    for register in commands:
        register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the ``stage`` command line; returns the exit code."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        run: Callable[[argparse.Namespace], int] | None = getattr(args, "run", None)
        if run is None:
            parser.print_usage(sys.stderr)
            code = EXIT_USAGE
        else:
            code = run(args)
    except SystemExit as exc:  # argparse: --help, or a wrong command line
        code = exc.code if isinstance(exc.code, int) else EXIT_USAGE
    except CueSheetError as exc:
        # One line per problem, each once, even when a field is reached by two checks.
        for line in dict.fromkeys(str(p) for p in exc.problems):
            print(line, file=sys.stderr)
        code = EXIT_FAILED
    except StageError as exc:
        print(f"stage: {exc}", file=sys.stderr)
        code = EXIT_FAILED
    except KeyboardInterrupt:
        code = 130
    except BrokenPipeError:
        # The reader of stdout went away (`| head`): stop quietly, and keep Python from complaining at exit.
        _silence_stdout()
        code = EXIT_FAILED
    return code


def _silence_stdout() -> None:
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass
