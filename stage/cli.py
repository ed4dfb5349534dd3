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
from typing import Any, NoReturn, Protocol, TextIO

from stage.adapters.midifile import cue_toml, import_cue, read_smf, write_smf
from stage.adapters.wavfile import render_click_track, write_wav
from stage.core.breakdown import breakdown_dict, format_breakdown, format_duration, sheet_breakdown
from stage.core.cuesheet import Cue, CueSheet, load_cue_sheet, parse_cue_sheet
from stage.core.eventlist import events_csv
from stage.core.timecode import Timecode
from stage.errors import CueSheetError, MidiError, NotFound, RenderError, StageError

__all__ = ["COMMANDS", "Subcommands", "build_parser", "main"]

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2

Run = Callable[[argparse.Namespace], int]


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


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


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
    print(f"ok: {_plural(len(sheet.cues), 'cue')} ({kinds}), {_plural(hits, 'hit')}, {sheet.rate} fps{title}")
    return EXIT_OK


# -- render ----------------------------------------------------------------------------


def register_render(commands: Subcommands) -> None:
    """``stage render CUES --cue ID [--wav FILE] [--midi FILE] [--events FILE]``."""
    p = commands.add_parser(
        "render",
        help="the offline click track (WAV, MIDI) and event list (CSV) of one cue",
        description="Render one cue: a 48 kHz 16-bit mono Broadcast Wave click track, a Standard MIDI File, "
        "and/or the CSV event list. The WAV and MIDI files begin exactly at the cue's first click.",
    )
    p.add_argument("cues", metavar="CUES", type=Path, help="the cue sheet (TOML)")
    p.add_argument("--cue", required=True, metavar="ID", help="the cue to render")
    p.add_argument("--wav", type=Path, metavar="FILE", help="write the click track as a WAV file")
    p.add_argument("--midi", type=Path, metavar="FILE", help="write the click track as a MIDI file")
    p.add_argument("--events", metavar="FILE", help="write the event list as CSV ('-': standard output)")
    p.set_defaults(run=run_render, parser=p)


def run_render(args: argparse.Namespace) -> int:
    """Render one cue's outputs."""
    if args.wav is None and args.midi is None and args.events is None:
        args.parser.error("give at least one output: --wav FILE, --midi FILE or --events FILE")
    sheet = load_cue_sheet(args.cues)
    cue = _cue(sheet, args.cue)
    if cue.free and (args.wav is not None or args.midi is not None):
        raise RenderError(f"cue {cue.id} is in free timing: it has no click for --wav or --midi (--events still works)")
    # Reports go to stderr when the event list takes stdout.
    report: TextIO = sys.stderr if args.events == "-" else sys.stdout
    first = Timecode.at(cue.downbeat + cue.first_time, cue.rate)
    if args.wav is not None:
        track = render_click_track(cue)
        _write(args.wav, lambda: write_wav(args.wav, track, origination=datetime.now().astimezone()))
        length = format_duration(Fraction(track.frames, track.sample_rate))
        print(f"wrote {args.wav}: {length} at 48 kHz 16-bit mono, first click {first}", file=report)
    if args.midi is not None:
        _write(args.midi, lambda: write_smf(args.midi, cue))
        print(f"wrote {args.midi}: type 1, first click {first}", file=report)
    if args.events is not None:
        text = events_csv(cue)
        if args.events == "-":
            sys.stdout.write(text)
        else:
            _write(Path(args.events), lambda: Path(args.events).write_text(text, encoding="utf-8"))
            print(f"wrote {args.events}: {_plural(text.count(chr(10)) - 1, 'event')}", file=report)
    return EXIT_OK


def _write(path: Path, write: Callable[[], object]) -> None:
    try:
        write()
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
        _write_pdf(args.pdf, sheet, args.cue, report=sys.stderr if args.json else sys.stdout)
    return EXIT_OK


def _write_pdf(path: Path, sheet: CueSheet, cue_ids: list[str], report: TextIO) -> None:
    from stage.adapters.pdfsheet import write_breakdown_pdf  # noqa: PLC0415 - reportlab only when printing
    from stage.core.paper import paper_cue  # noqa: PLC0415

    cues = [sheet.cue(i) for i in cue_ids] if cue_ids else list(sheet.cues)
    title = sheet.title or "(untitled)"
    pages = write_breakdown_pdf(path, [paper_cue(sheet, c) for c in cues], f"{title}: cue breakdown")
    print(f"wrote {path}: {_plural(pages, 'page')}, {_plural(len(cues), 'cue')}", file=report)


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
    from stage.runtime import serve  # noqa: PLC0415 - see above

    return serve.main(args.config, args.cues)


def register_takes(commands: Subcommands) -> None:
    """``stage takes export [--format csv|json] [--config FILE]``."""
    p = commands.add_parser("takes", help="the take log", description="Read the take log.")
    sub = p.add_subparsers(title="commands", metavar="COMMAND", parser_class=_Parser, required=True)
    e = sub.add_parser(
        "export",
        help="print the take sheet",
        description="Print the take sheet of the take log named in the config's [takes] database: one row per "
        "take in the order they were logged, times of day in local time.",
    )
    e.add_argument("--format", choices=("csv", "json"), default="csv", help="csv (the default) or json")
    e.add_argument("--config", metavar="FILE", help="the configuration naming the take database")
    e.set_defaults(run=run_takes_export)


def run_takes_export(args: argparse.Namespace) -> int:
    """Print the take sheet."""
    import asyncio  # noqa: PLC0415 - see above

    from stage.config import load_config  # noqa: PLC0415
    from stage.runtime.takes import export_sheet  # noqa: PLC0415

    config = load_config(args.config)
    sys.stdout.write(asyncio.run(export_sheet(config.takes.database, args.format)))
    return EXIT_OK


# -- main ------------------------------------------------------------------------------

COMMANDS: list[Callable[[Subcommands], None]] = [
    register_validate,
    register_render,
    register_info,
    register_import_midi,
    register_serve,
    register_takes,
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
        run: Run | None = getattr(args, "run", None)
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
