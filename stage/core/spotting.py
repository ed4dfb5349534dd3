"""Spotting notes in: the markers of a cutting room's or a DAW's marker list become cues and hits.

The readers of each kind of list (:mod:`stage.core.protools`,
:mod:`stage.core.markertables`, and the interchange files of
:mod:`stage.adapters.timelinefile`) make :class:`Marker` objects; :func:`spot`
pairs them into cues, in time order.  What a marker is, the first rule that
says so:

1. a ``kind`` column (CSV): ``start``, ``end``, ``hit`` (``skip`` is left out
   by the reader);
2. its name: ``<ID> start`` (or ``in``, ``begin``), optionally followed by the
   cue's title, starts cue ID; ``<ID> end`` (or ``out``, ``stop``) ends it.  An
   ID is reel + M + number (``1M1``, ``4m12A``, upper-cased);
3. its colour, by a :data:`DEFAULT_COLOURS`-like map of colour to
   :class:`Role`: ``skip`` leaves it out, ``hit`` makes it a hit, ``start`` or
   ``end`` make a marker whose name begins with an ID (``1M1 Main Title``)
   the start or end of that cue;
4. a marker whose name begins with an ID and which spans more than a frame
   is a whole cue: it starts where the marker does and ends where it ends;
5. anything else is a hit of the cue it falls in, labelled with its name.

A start marker's comment becomes the cue's notes; a hit's comment is kept
beside it.  Every marker that cannot be used is a
:class:`~stage.errors.Problem` naming its line (or event, marker, locator).
"""

from __future__ import annotations

import enum
import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from stage.core.timecode import Rate, Timecode
from stage.errors import Problem, StageError

__all__ = [
    "DEFAULT_COLOURS",
    "CueKind",
    "Marker",
    "MarkerList",
    "Role",
    "SpottedCue",
    "SpottedHit",
    "Spotting",
    "clean_comment",
    "clean_name",
    "colour_name",
    "parse_colours",
    "plain_number",
    "problem_order",
    "spot",
]

_START_WORDS = {"start", "in", "begin"}
_END_WORDS = {"end", "out", "stop"}
_CUE_RE = re.compile(r"^\s*(\d{1,3}[Mm]\d{1,3}[A-Za-z0-9.]*)[\s:_-]+([A-Za-z]+)\b[\s:—–-]*(.*?)\s*$")
_ID_RE = re.compile(r"^\s*(\d{1,3}[Mm]\d{1,3}[A-Za-z0-9.]*)(?:$|[\s:_—–-]+(.*?)\s*$)")


@dataclass(frozen=True)
class Marker:
    """One marker of a list: where it is, what it says, and the line (or event, marker …) it came from."""

    line: int  # its number in the file, counted in ``unit``
    timecode: Timecode
    name: str
    comment: str = ""
    kind: str = ""  # from a CSV kind column: "start", "end", "hit"; "" to go by the name
    colour: str = ""  # lower case, as :func:`colour_name` writes it; "" when the list has none
    duration: int = 0  # frames it spans: 0 or 1 for a point
    unit: str = "line"  # what ``line`` counts: "line", "event" (EDL), "marker" (XML), "locator" (AAF)

    @property
    def where(self) -> str:
        """``line 12``, ``event 4``: where a problem with it is reported."""
        return f"{self.unit} {self.line}"


def plain_number(text: str) -> int | None:
    """A whole number as a list writes it (a length in frames, an event's number), or None: not a plain number
    of up to nine digits."""
    text = text.strip()
    return int(text) if text.isascii() and text.isdigit() and len(text) <= 9 else None


def clean_name(text: str) -> str:
    """A marker's name on one line: tabs and line breaks are spaces to the reader, other control characters go."""
    return " ".join("".join(c for c in text if c.isspace() or unicodedata.category(c)[0] != "C").split())


def clean_comment(text: str) -> str:
    """A comment with its line breaks and tabs kept, other control characters gone, ends trimmed."""
    return "".join(c for c in text if c in "\n\t" or unicodedata.category(c)[0] != "C").strip()


@dataclass(frozen=True)
class MarkerList:
    """The markers of a file, its title and rate when it names them, and the lines that could not be read."""

    markers: tuple[Marker, ...]
    problems: tuple[Problem, ...]
    rate: Rate | None = None
    title: str = ""


# -- what colours say -----------------------------------------------------------------------


class Role(enum.Enum):
    """What a marker's colour may say it is."""

    START = "start"
    END = "end"
    HIT = "hit"
    SKIP = "skip"


# As the stage's own streamers: green into a cue's downbeat, red into its end.
DEFAULT_COLOURS: Mapping[str, Role] = {"green": Role.START, "red": Role.END}


def colour_name(text: str) -> str:
    """A colour as the map names it: lower case, no spaces, without Resolve's ``ResolveColor`` prefix."""
    name = "".join(text.lower().split())
    return name.removeprefix("resolvecolor")


def parse_colours(text: str) -> dict[str, Role]:
    """``red=hit,green=start``: the colour map of ``--colour`` (``none``: colours say nothing)."""
    if text.strip().lower() == "none":
        return {}
    roles: dict[str, Role] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        colour, sep, role = item.partition("=")
        if not sep or not colour_name(colour):
            raise StageError(f"colour map {item!r}: write COLOUR=ROLE, for example red=hit,green=start (or none)")
        try:
            roles[colour_name(colour)] = Role(role.strip().lower())
        except ValueError:
            known = ", ".join(r.value for r in Role)
            raise StageError(f"colour map {item!r}: {role.strip()!r} is not a role ({known})") from None
    return roles


# -- markers to cues -----------------------------------------------------------------------


class CueKind(enum.Enum):
    """What a marker is to the cues."""

    START = "start"
    END = "end"
    SPAN = "span"  # start and end in one: the marker spans the cue
    HIT = "hit"
    SKIP = "skip"


@dataclass(frozen=True)
class SpottedHit:
    """A hit of a spotted cue."""

    at: Timecode
    label: str
    comment: str
    line: int


@dataclass(frozen=True)
class SpottedCue:
    """A cue between its start and end markers, with the markers between them as hits."""

    id: str
    title: str
    start: Timecode
    end: Timecode
    notes: str
    hits: tuple[SpottedHit, ...]
    line: int


@dataclass(frozen=True)
class Spotting:
    """The cues found, and every marker that could not be used."""

    cues: tuple[SpottedCue, ...]
    problems: tuple[Problem, ...]


def _classify(marker: Marker, colours: Mapping[str, Role]) -> tuple[CueKind, str, str]:
    """(kind, cue id, title) of a marker: by its kind column, its name, its colour, its length (module docs)."""
    m = _CUE_RE.match(marker.name)
    word = m.group(2).lower() if m else ""
    if marker.kind == "hit":
        return CueKind.HIT, "", ""
    if marker.kind in {"start", "end"}:
        # With a kind column the name is "<ID> [title]".
        cue_id, _, title = marker.name.strip().partition(" ")
        if m and word in _START_WORDS | _END_WORDS:
            cue_id, title = m.group(1), m.group(3)
        return CueKind(marker.kind), cue_id.upper(), title.strip()
    if m and word in _START_WORDS | _END_WORDS:
        kind = CueKind.START if word in _START_WORDS else CueKind.END
        return kind, m.group(1).upper(), m.group(3)
    return _by_colour(marker, colours.get(marker.colour) if marker.colour else None)


def _by_colour(marker: Marker, role: Role | None) -> tuple[CueKind, str, str]:
    """A marker whose name does not say: by its colour's role, then by its length when its name begins with an ID."""
    named = _ID_RE.match(marker.name)
    if role is Role.SKIP:
        return CueKind.SKIP, "", ""
    if role is Role.HIT or named is None:
        return CueKind.HIT, "", ""
    kind = CueKind.HIT
    if role is Role.END:
        kind = CueKind.END
    elif marker.duration > 1:
        kind = CueKind.SPAN
    elif role is Role.START:
        kind = CueKind.START
    return (kind, named.group(1).upper(), named.group(2) or "") if kind is not CueKind.HIT else (kind, "", "")


@dataclass
class _Open:
    """The cue being spotted: its start marker, and its end when one marker spans it."""

    start: Marker
    id: str
    title: str
    span_end: Timecode | None = None
    hits: list[SpottedHit] = field(default_factory=list)


def spot(markers: Iterable[Marker], colours: Mapping[str, Role] = DEFAULT_COLOURS) -> Spotting:
    """Pair start and end markers into cues, in time order; the markers between them are their hits."""
    problems: list[Problem] = []
    cues: list[SpottedCue] = []
    current: _Open | None = None
    ids: set[str] = set()

    def close(cue: _Open, end: Timecode) -> None:
        ids.add(cue.id)
        start = cue.start
        cues.append(SpottedCue(cue.id, cue.title, start.timecode, end, start.comment, tuple(cue.hits), start.line))

    for marker in sorted(markers, key=lambda mk: (mk.timecode.frame_count, mk.line)):
        if current is not None and current.span_end is not None and marker.timecode >= current.span_end:
            close(current, current.span_end)  # the marker that spans it ends it: what follows is outside
            current = None
        kind, cue_id, title = _classify(marker, colours)
        where, said = marker.where, f"{marker.name!r} at {marker.timecode}"
        if kind is CueKind.SKIP:
            continue
        if kind in {CueKind.START, CueKind.SPAN}:
            if current is not None:
                problems.append(Problem(where, "marker", f"{said} starts cue {cue_id} before cue {current.id} "
                                        f"({current.start.where}) has ended"))
            elif cue_id in ids:
                problems.append(Problem(where, "marker", f"cue {cue_id} was already spotted"))
            elif kind is CueKind.SPAN and _past_midnight(marker):
                problems.append(Problem(where, "marker", f"{said} spans {marker.duration} frames, past the end of "
                                        "the day"))
            else:
                current = _Open(marker, cue_id, title)
                if kind is CueKind.SPAN:
                    current.span_end = marker.timecode + marker.duration
        elif kind is CueKind.END:
            if current is None or current.id != cue_id:
                inside = f" (cue {current.id} is open)" if current is not None else ""
                problems.append(Problem(where, "marker", f"{said} ends cue {cue_id}, which has not started{inside}"))
            elif current.span_end is not None:
                problems.append(Problem(where, "marker", f"{said} ends cue {cue_id}, which its start marker "
                                        f"({current.start.where}) already ends at {current.span_end}"))
            elif marker.timecode <= current.start.timecode:
                problems.append(Problem(where, "marker", f"cue {cue_id} ends where it starts"))
            else:
                close(current, marker.timecode)
                current = None
        elif current is None:
            problems.append(Problem(where, "marker", f"{said} lies outside every cue"))
        else:
            current.hits.append(SpottedHit(marker.timecode, marker.name, marker.comment, marker.line))
    if current is not None and current.span_end is not None:
        close(current, current.span_end)
    elif current is not None:
        first = current.start
        problems.append(Problem(first.where, "marker", f"cue {current.id} starts at {first.timecode} "
                                "but has no end marker"))
        problems.extend(
            Problem(f"{first.unit} {hit.line}", "marker", f"{hit.label!r} belongs to cue {current.id}, "
                    "which has no end")
            for hit in current.hits
        )
    problems.sort(key=lambda p: problem_order(p.where))
    return Spotting(tuple(cues), tuple(problems))


def _past_midnight(marker: Marker) -> bool:
    return marker.timecode.frame_count + marker.duration >= marker.timecode.rate.frames_per_day


def problem_order(where: str) -> int:
    """The number in ``line 12`` or ``event 4`` (0 for ``file``): problems are listed in the file's order."""
    number = where.rpartition(" ")[2]
    return int(number) if number.isdigit() else 0
