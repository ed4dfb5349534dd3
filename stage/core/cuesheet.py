"""The cue sheet (format version 1, TOML): model, parsing and validation.

Validation reports every problem at once, each naming the cue and the field
(:class:`stage.errors.Problem`), so a music editor fixes a sheet in one pass.
The model holds exact times: picture seconds as ``Fraction``.
"""

from __future__ import annotations

import itertools
import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any, TypeVar

from stage.core.limits import MAX_CUE_ID
from stage.core.tempo import ClickMap, Meter, TempoChange, parse_click_unit, parse_tempo
from stage.core.timecode import Rate, Timecode, parse_duration, parse_rate
from stage.errors import CueSheetError, Problem, StageError, TempoError

T = TypeVar("T")

COLORS = ("white", "yellow", "green", "red", "blue", "cyan", "magenta", "orange", "purple")
FLUTTERS = (0, 1, 3, 5, 7)
FIRST_WARNING_COLOR = "yellow"
DOWNBEAT_COLOR = "green"
END_COLOR = "red"

_TOP_KEYS = {"picture", "defaults", "cue"}
_PICTURE_KEYS = {"title", "rate", "start", "reel"}
_DEFAULT_KEYS = {"countoff", "streamer", "click", "color", "punch", "flutter_spacing"}
_CUE_KEYS = {
    "id", "title", "start", "tempo", "meter", "click", "bars", "end", "free", "countoff",
    "streamer", "streamers", "notes", "change", "hit",
}  # fmt: skip
_CHANGE_KEYS = {"bar", "beat", "tempo", "meter", "click", "ramp"}
_HIT_KEYS = {"at", "bar", "beat", "label", "color", "streamer", "punch", "flutter"}
_COLOR_RE = re.compile(r"^#[0-9a-fA-F]{6}$")
_ID_RE = re.compile(rf"^\S{{1,{MAX_CUE_ID}}}$")


@dataclass(frozen=True)
class Hit:
    """A sync point: by default a streamer into a punch."""

    label: str
    time: Fraction  # relative to the cue's downbeat
    color: str
    streamer: Fraction | None  # length in seconds; None: no streamer
    punch: bool
    flutter: int
    bar: int | None = None  # as written in the sheet, when placed by bar|beat
    beat: Fraction | None = None


@dataclass(frozen=True)
class Cue:
    """One cue of the sheet; ``clicks`` is None for a free-timing cue."""

    id: str
    title: str
    start: Timecode  # the downbeat (bar 1 beat 1), or the start of a free cue
    end_time: Fraction  # relative to the start
    clicks: ClickMap | None
    hits: tuple[Hit, ...]
    streamer: Fraction | None  # length of the cue's own streamers; None: none
    punch: bool
    flutter_spacing: Fraction
    notes: str = ""

    @property
    def free(self) -> bool:
        """True for a free-timing cue (no click)."""
        return self.clicks is None

    @property
    def downbeat(self) -> Fraction:
        """Picture seconds of the downbeat."""
        return self.start.picture_seconds

    @property
    def rate(self) -> Rate:
        """The picture rate."""
        return self.start.rate

    @property
    def first_time(self) -> Fraction:
        """Time of the first click (count-off included), relative to the downbeat; 0 for a free cue."""
        return self.clicks.clicks[0].time if self.clicks is not None else Fraction(0)

    @property
    def end(self) -> Timecode:
        """Timecode of the frame the cue ends in."""
        return self.timecode_at(self.end_time)

    def position_at(self, time: Fraction) -> tuple[int, Fraction] | tuple[None, None]:
        """Bar and (fractional) beat at ``time`` relative to the downbeat; None, None for a free-timing cue."""
        return self.clicks.position_at(time) if self.clicks is not None else (None, None)

    def timecode_at(self, time: Fraction) -> Timecode:
        """Timecode of the frame that ``time`` (seconds relative to the downbeat) falls in."""
        return Timecode.at(self.downbeat + time, self.rate)


@dataclass(frozen=True)
class CueSheet:
    """A whole cue sheet: picture rate and title, and its cues in time order."""

    title: str
    rate: Rate
    cues: tuple[Cue, ...] = field(default_factory=tuple)

    def cue(self, cue_id: str) -> Cue:
        """The cue with id ``cue_id``; raises ``KeyError`` with the known ids."""
        for c in self.cues:
            if c.id == cue_id:
                return c
        known = ", ".join(c.id for c in self.cues) or "none"
        raise KeyError(f"no cue {cue_id!r} on the cue sheet (cues: {known})")


def load_cue_sheet(path: str | Path) -> CueSheet:
    """Read and validate a cue sheet file; raises :class:`CueSheetError` listing every problem."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise CueSheetError([Problem("cue sheet", "file", f"cannot read {p}: {exc.strerror}")], str(p)) from exc
    except UnicodeDecodeError as exc:
        raise CueSheetError([Problem("cue sheet", "file", f"{p} is not UTF-8 text")], str(p)) from exc
    return parse_cue_sheet(text, source=str(p))


def parse_cue_sheet(text: str, source: str = "") -> CueSheet:
    """Parse and validate cue-sheet TOML text."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise CueSheetError([Problem("cue sheet", "syntax", f"not valid TOML: {exc}")], source) from exc
    return _Reader(data, source).read()


class _Reader:
    """Walks the TOML tables once, collecting problems instead of stopping at the first."""

    def __init__(self, data: dict[str, Any], source: str) -> None:
        self.data = data
        self.source = source
        self.problems: list[Problem] = []

    def problem(self, where: str, key: str, message: str) -> None:
        self.problems.append(Problem(where, key, message))

    def get(self, table: Mapping[str, Any], key: str, where: str, parse: Callable[[Any], T], default: T) -> T:
        """Parse ``table[key]`` with ``parse``; on error record it and return ``default``."""
        if key not in table:
            return default
        try:
            return parse(table[key])
        except (StageError, ValueError, TypeError) as exc:
            self.problem(where, key, str(exc))
            return default

    def unknown(self, table: Mapping[str, Any], allowed: set[str], where: str) -> None:
        for key in table:
            if key not in allowed:
                self.problem(where, key, f"unknown key (allowed: {', '.join(sorted(allowed))})")

    def table(self, key: str, allowed: set[str]) -> dict[str, Any]:
        """The top-level table ``key`` (empty when missing or not a table), its unknown keys reported."""
        table = self.data.get(key, {})
        if not isinstance(table, dict):
            self.problem("cue sheet", key, "must be a table")
            table = {}
        self.unknown(table, allowed, key)
        return table

    def read(self) -> CueSheet:
        data = self.data
        self.unknown(data, _TOP_KEYS, "cue sheet")
        picture = self.table("picture", _PICTURE_KEYS)
        if "rate" not in picture:
            self.problem("picture", "rate", "missing: the picture rate (23.976, 24, 25, 29.97, 29.97df or 30)")
        rate = self.get(picture, "rate", "picture", parse_rate, None)
        title = self.get(picture, "title", "picture", _string, "")
        defaults = self.table("defaults", _DEFAULT_KEYS)
        raw_cues = data.get("cue", [])
        if not isinstance(raw_cues, list) or not all(isinstance(c, dict) for c in raw_cues):
            self.problem("cue sheet", "cue", "must be an array of tables ([[cue]])")
            raw_cues = []
        cues: list[Cue] = []
        if rate is None:
            self.structure(raw_cues)  # without a rate no time can be read, but misspelt keys still can
        else:
            d = _Defaults.read(self, defaults, rate)
            seen: set[str] = set()
            for n, raw in enumerate(raw_cues, start=1):
                cue = self.cue(raw, n, rate, d, seen)
                if cue is not None:
                    cues.append(cue)
            self.check_overlaps(cues)
        if self.problems:
            raise CueSheetError(self.problems, self.source)
        return CueSheet(title=title, rate=rate, cues=tuple(sorted(cues, key=lambda c: c.downbeat)))  # type: ignore[arg-type]

    def structure(self, raw_cues: list[dict[str, Any]]) -> None:
        """Report unknown keys of every cue, change and hit."""
        for n, raw in enumerate(raw_cues, start=1):
            cue_id = raw.get("id")
            where = f"cue {cue_id}" if isinstance(cue_id, str) and cue_id else f"cue #{n}"
            self.unknown(raw, _CUE_KEYS, where)
            for key, allowed, name in (("change", _CHANGE_KEYS, "change"), ("hit", _HIT_KEYS, "hit")):
                items = raw.get(key, [])
                for k, item in enumerate(items if isinstance(items, list) else [], start=1):
                    if isinstance(item, dict):
                        self.unknown(item, allowed, f"{where}, {name} {k}")

    def cue(self, raw: dict[str, Any], n: int, rate: Rate, d: _Defaults, seen: set[str]) -> Cue | None:
        cue_id = raw.get("id")
        where = f"cue {cue_id}" if isinstance(cue_id, str) and cue_id else f"cue #{n}"
        before = len(self.problems)
        self.unknown(raw, _CUE_KEYS, where)
        if not isinstance(cue_id, str) or not _ID_RE.match(cue_id):
            self.problem(where, "id", "missing or not a short name without spaces (e.g. \"1M1\")")
        elif cue_id in seen:
            self.problem(where, "id", "used by another cue")
        else:
            seen.add(cue_id)
        title = self.get(raw, "title", where, _string, "")
        notes = self.get(raw, "notes", where, _string, "")
        if "start" not in raw:
            self.problem(where, "start", "missing: the timecode of the downbeat")
        start = self.get(raw, "start", where, lambda v: Timecode.parse(_string(v), rate), None)
        free = self.get(raw, "free", where, _bool, False)
        end_tc = self.get(raw, "end", where, lambda v: Timecode.parse(_string(v), rate), None)
        bars = self.get(raw, "bars", where, _positive_int, None)
        streamer = self.get(raw, "streamer", where, lambda v: _streamer(v, rate), d.streamer)
        if not self.get(raw, "streamers", where, _bool, True):
            streamer = None
        countoff = self.get(raw, "countoff", where, _count, d.countoff)

        end_rel: Fraction | None = None
        if start is not None and end_tc is not None:
            end_rel = end_tc.picture_seconds - start.picture_seconds
            if end_rel <= 0:
                self.problem(where, "end", f"{end_tc} is not after the start {start}")
                end_rel = None
        clicks: ClickMap | None = None
        if free:
            for key in ("tempo", "meter", "click", "bars", "change", "countoff"):
                if key in raw:
                    self.problem(where, key, "a free-timing cue has no click: remove it or set free = false")
            if "end" not in raw:
                self.problem(where, "end", "missing: a free-timing cue needs its end timecode")
        else:
            clicks = self.click_map(raw, where, rate, d, bars, end_rel, countoff)
        hits = self.hits(raw, where, rate, d, clicks)
        if len(self.problems) > before or start is None:
            return None
        end_time = clicks.end if clicks is not None else end_rel
        if end_time is None:
            return None
        cue = Cue(
            id=str(cue_id),
            title=title,
            start=start,
            end_time=end_time,
            clicks=clicks,
            hits=hits,
            streamer=streamer,
            punch=d.punch,
            flutter_spacing=d.flutter_spacing,
            notes=notes,
        )
        self.check_hits(cue, where)
        return cue

    def click_map(
        self,
        raw: dict[str, Any],
        where: str,
        rate: Rate,
        d: _Defaults,
        bars: int | None,
        end_rel: Fraction | None,
        countoff: int,
    ) -> ClickMap | None:
        if "tempo" not in raw:
            self.problem(where, "tempo", "missing: a frame click such as \"12-0\" or clicks per minute")
        length = self.get(raw, "tempo", where, lambda v: parse_tempo(v, rate), None)
        click_unit = raw.get("click", d.click)
        meter = self.get(raw, "meter", where, lambda v: Meter.parse(_string(v), click_unit), None)
        if "meter" not in raw:
            meter = self.get({"click": click_unit}, "click", where, lambda u: Meter.parse("4/4", u), None)
        both_or_neither = ("bars" in raw) == ("end" in raw)
        if both_or_neither:
            self.problem(where, "bars", "give the length as bars = N or as end = \"TC\" (one of them)")
        changes = self.changes(raw, where, rate, click_unit)
        if length is None or meter is None or changes is None or both_or_neither or (bars is None and end_rel is None):
            return None
        try:
            return ClickMap(length, meter, changes, bars=bars, end=end_rel, countoff=countoff)
        except TempoError as exc:
            # name the change the error is about, as the sheet numbers them
            index = next((k for k, c in enumerate(changes, start=1) if exc.at == (c.bar, c.beat)), None)
            if index is not None:
                self.problem(f"{where}, change {index}", exc.field or "bar", str(exc))
            else:
                self.problem(where, "change", str(exc))
            return None

    def changes(self, raw: dict[str, Any], where: str, rate: Rate, click_unit: object) -> list[TempoChange] | None:
        items = raw.get("change", [])
        if not isinstance(items, list) or not all(isinstance(c, dict) for c in items):
            self.problem(where, "change", "must be an array of tables ([[cue.change]])")
            return None
        before = len(self.problems)
        out: list[TempoChange] = []
        previous: tuple[int, int] = (1, 1)
        for k, c in enumerate(items, start=1):
            w = f"{where}, change {k}"
            self.unknown(c, _CHANGE_KEYS, w)
            if "bar" not in c:
                self.problem(w, "bar", "missing: the bar where the change happens")
            bar = self.get(c, "bar", w, _positive_int, None)
            beat = self.get(c, "beat", w, _positive_int, 1)
            length = self.get(c, "tempo", w, lambda v: parse_tempo(v, rate), None)
            unit = c.get("click", click_unit)
            meter = self.get(c, "meter", w, _meter_parser(unit), None)
            ramp = self.get(c, "ramp", w, _count, 0)
            if "tempo" not in c and "meter" not in c:
                self.problem(w, "tempo", "a change needs a tempo, a meter or both")
            if ramp and "tempo" not in c:
                self.problem(w, "ramp", "a ramp needs the tempo it ramps to")
            if "meter" in c and beat != 1:
                self.problem(w, "beat", "a meter changes only on beat 1")
            if bar is None:
                continue
            if bar == 1 and beat == 1:
                self.problem(w, "bar", "bar 1 beat 1 is the cue's own tempo and meter: set them on the cue")
            elif (bar, beat) <= previous and k > 1:
                self.problem(w, "bar", f"bar {bar} beat {beat} comes after bar {previous[0]} beat {previous[1]}: "
                             "changes must be in order")
            previous = max(previous, (bar, beat))
            out.append(TempoChange(bar=bar, beat=beat, length=length, meter=meter, ramp=ramp))
        return None if len(self.problems) > before else out

    def hits(
        self, raw: dict[str, Any], where: str, rate: Rate, d: _Defaults, clicks: ClickMap | None
    ) -> tuple[Hit, ...]:
        items = raw.get("hit", [])
        if not isinstance(items, list) or not all(isinstance(h, dict) for h in items):
            self.problem(where, "hit", "must be an array of tables ([[cue.hit]])")
            return ()
        start = _quiet(lambda: Timecode.parse(_string(raw["start"]), rate))  # its problems are the cue's
        out: list[Hit] = []
        for k, h in enumerate(items, start=1):
            w = f"{where}, hit {k}"
            self.unknown(h, _HIT_KEYS, w)
            label = self.get(h, "label", w, _string, f"hit {k}")
            color = self.get(h, "color", w, _color, d.color)
            streamer = self.get(h, "streamer", w, lambda v: _streamer(v, rate), d.streamer)
            punch = self.get(h, "punch", w, _bool, d.punch)
            flutter = self.get(h, "flutter", w, _flutter, 0)
            at = self.get(h, "at", w, lambda v: Timecode.parse(_string(v), rate), None)
            bar = self.get(h, "bar", w, _int, None)
            beat = self.get(h, "beat", w, _beat, None)
            time: Fraction | None = None
            if ("at" in h) == ("bar" in h):
                self.problem(w, "at", "place a hit with at = \"TC\" or with bar (and beat), one of them")
            elif "beat" in h and "bar" not in h:
                self.problem(w, "beat", "beat needs a bar")
            elif at is not None and start is not None:
                time = at.picture_seconds - start.picture_seconds
            elif bar is not None:
                if clicks is None:
                    if "free" in raw and raw["free"] is True:
                        self.problem(w, "bar", "a free-timing cue has no bars: place the hit with at = \"TC\"")
                else:
                    try:
                        time = clicks.time_of(bar, beat if beat is not None else 1)
                    except StageError as exc:
                        self.problem(w, "bar", str(exc))
            if time is not None:
                out.append(Hit(label, time, color, streamer, punch, flutter, bar, beat))
        return tuple(out)

    def check_hits(self, cue: Cue, where: str) -> None:
        lo, hi = cue.first_time, cue.end_time
        for k, h in enumerate(cue.hits, start=1):
            if not lo <= h.time <= hi:
                self.problem(f"{where}, hit {k}", "at" if h.bar is None else "bar",
                             f"{cue.timecode_at(h.time)} lies outside the cue ({cue.timecode_at(lo)} to {cue.end})")

    def check_overlaps(self, cues: list[Cue]) -> None:
        ordered = sorted(cues, key=lambda c: c.downbeat)
        for a, b in itertools.pairwise(ordered):
            if a.downbeat + a.end_time > b.downbeat:
                self.problem(f"cue {b.id}", "start", f"{b.start} overlaps cue {a.id} ({a.start} to {a.end})")


@dataclass(frozen=True)
class _Defaults:
    countoff: int
    streamer: Fraction | None
    click: str | int | None
    color: str
    punch: bool
    flutter_spacing: Fraction

    @classmethod
    def read(cls, r: _Reader, table: Mapping[str, Any], rate: Rate) -> _Defaults:
        w = "defaults"
        click = table.get("click")
        three_feet: Fraction | None = parse_duration("3ft", rate)
        if click is not None:
            r.get(table, "click", w, parse_click_unit, None)  # whether it fits a meter is each cue's business
        return cls(
            countoff=r.get(table, "countoff", w, _count, 2),
            streamer=r.get(table, "streamer", w, lambda v: _streamer(v, rate), three_feet),
            click=click if isinstance(click, (str, int)) else None,
            color=r.get(table, "color", w, _color, "white"),
            punch=r.get(table, "punch", w, _bool, True),
            flutter_spacing=r.get(table, "flutter_spacing", w, lambda v: _length(v, rate), parse_duration("2f", rate)),
        )


def _meter_parser(unit: Any) -> Callable[[Any], Meter | None]:
    return lambda v: Meter.parse(_string(v), unit)


def _quiet(parse: Callable[[], T]) -> T | None:
    """``parse()``, or None when it fails (for values whose problems are reported elsewhere)."""
    try:
        return parse()
    except (StageError, ValueError, TypeError, KeyError):
        return None


def _string(v: Any) -> str:
    if not isinstance(v, str):
        raise TypeError(f"{v!r} must be a string")
    return v


def _bool(v: Any) -> bool:
    if not isinstance(v, bool):
        raise TypeError(f"{v!r} must be true or false")
    return v


def _int(v: Any) -> int:
    if isinstance(v, bool) or not isinstance(v, int):
        raise TypeError(f"{v!r} must be a whole number")
    return v


def _positive_int(v: Any) -> int:
    n = _int(v)
    if n < 1:
        raise ValueError(f"{n} must be 1 or more")
    return n


def _count(v: Any) -> int:
    n = _int(v)
    if n < 0:
        raise ValueError(f"{n} must be 0 or more")
    return n


def _beat(v: Any) -> Fraction:
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise TypeError(f"{v!r} must be a number such as 3 or 2.5")
    beat = Fraction(str(v))
    if beat < 1:
        raise ValueError(f"beat {v} does not exist (beats count from 1)")
    return beat


def _color(v: Any) -> str:
    s = _string(v).strip().lower()
    if s not in COLORS and not _COLOR_RE.match(s):
        raise ValueError(f"unknown color {v!r} (one of {', '.join(COLORS)}, or #rrggbb)")
    return s


def _flutter(v: Any) -> int:
    n = _int(v)
    if n not in FLUTTERS:
        raise ValueError(f"flutter {n}: must be 0, 1, 3, 5 or 7 punches")
    return n


def _length(v: Any, rate: Rate) -> Fraction:
    length = parse_duration(v, rate)
    if length <= 0:
        raise ValueError(f"{v!r} has no length")
    return length


def _streamer(v: Any, rate: Rate) -> Fraction | None:
    if v is False:
        return None
    if v is True:
        raise TypeError("give the streamer a length (\"3ft\", \"2s\", \"48f\") or false")
    length = parse_duration(v, rate)
    if length <= 0:
        raise ValueError(f"streamer {v!r} has no length")
    return length
