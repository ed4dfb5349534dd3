"""Pro Tools' "Session Info as Text" export: the markers of its ``M A R K E R S  L I S T I N G``.

Its header (``SESSION START TIMECODE``, ``TIMECODE FORMAT``, ``SAMPLE RATE``)
and its marker section are read, with or without the ``TRACK NAME`` and
``TRACK TYPE`` columns of newer versions.  A marker's ``LOCATION`` is used
when it is timecode (subframes allowed); in any other time format
(bars|beats, min:secs, feet+frames, samples) its ``TIME REFERENCE`` in samples
from the session start is used.  Every line that cannot be used is a
:class:`~stage.errors.Problem` naming its line.
"""

from __future__ import annotations

import dataclasses
import math
import re
from fractions import Fraction

from stage.core.spotting import Marker, MarkerList, clean_comment, clean_name
from stage.core.timecode import Rate, Timecode, parse_rate
from stage.errors import Problem, StageError

__all__ = ["pro_tools_rate", "read_pro_tools"]

_MARKERS_TITLE = "M A R K E R S  L I S T I N G"
# Other sections of the export start with a spaced-out title like the markers' own.
_SECTION_RE = re.compile(r"^(?:[A-Z0-9#&-] ){3,}[A-Z0-9#&-]\s*$")
_HEADER_RE = re.compile(r"^([A-Z# ]+):\t(.*)$")
_MARKER_RE = re.compile(r"^\s*(\d+)\s*\t")
_TC_RE = re.compile(r"^(\d{1,2}):(\d{2}):(\d{2})([:;.,])(\d{2,3})(?:\.(\d{1,2}))?$")

# TIMECODE FORMAT values of the export ("30 Drop Frame" is 29.97 drop-frame in Pro Tools' own words).
_PT_RATES = {
    "23.976 frame": "23.976",
    "24 frame": "24",
    "25 frame": "25",
    "29.97 frame": "29.97",
    "29.97 drop frame": "29.97df",
    "30 frame": "30",
    "30 drop frame": "29.97df",
    "47.952 frame": "47.952",
    "48 frame": "48",
    "50 frame": "50",
    "59.94 frame": "59.94",
    "59.94 drop frame": "59.94df",
    "60 frame": "60",
    "60 drop frame": "59.94df",
}


def _line(n: int) -> str:
    return f"line {n}"


def pro_tools_rate(text: str) -> Rate:
    """The rate of a ``TIMECODE FORMAT`` value (``"23.976 Frame"``, ``"29.97 Drop Frame"``)."""
    key = " ".join(text.lower().split())
    if key in _PT_RATES:
        return parse_rate(_PT_RATES[key])
    raise StageError(f"timecode format {text.strip()!r} is not a picture rate stage knows")


def _timecode(text: str, rate: Rate) -> Timecode:
    """Timecode with optional subframes (hundredths): the frame it falls in."""
    m = _TC_RE.match(text.strip())
    if m is None:
        raise StageError(f"{text.strip()!r} is not timecode")
    return Timecode.parse(f"{m.group(1)}:{m.group(2)}:{m.group(3)}{m.group(4)}{m.group(5)}", rate)


def _samples_timecode(samples: int, start: Timecode, sample_rate: Fraction) -> Timecode:
    """The frame a sample position (from the session start) falls in.

    A marker on a frame boundary sits on the nearest whole sample, which at
    29.97 can be a fraction of a sample early: one sample of slack keeps it on
    its frame.
    """
    rate = start.rate
    frames = Fraction(samples) / sample_rate * rate.fps
    slack = rate.fps / sample_rate
    return Timecode.from_frames(start.frame_count + math.floor(frames + slack), rate)


def read_pro_tools(text: str, rate: Rate | None = None) -> MarkerList:
    """The markers of a Pro Tools "Session Info as Text" export; ``rate`` overrides ``TIMECODE FORMAT``."""
    lines = text.splitlines()
    header: dict[str, tuple[int, str]] = {}
    problems: list[Problem] = []
    start_index: int | None = None
    for i, line in enumerate(lines):
        if line.strip() == _MARKERS_TITLE:
            start_index = i
            break
        m = _HEADER_RE.match(line)
        if m and start_index is None:
            header[m.group(1).strip()] = (i + 1, m.group(2).strip())
    if start_index is None:
        return MarkerList((), (Problem("file", "markers", f"no {_MARKERS_TITLE!r} section: export with markers"),))
    title = header.get("SESSION NAME", (0, ""))[1]
    if rate is None:
        fmt = header.get("TIMECODE FORMAT") or header.get("TIME CODE FORMAT")
        if fmt is None:
            problems.append(Problem("file", "rate", "no TIMECODE FORMAT line: give the rate"))
            return MarkerList((), tuple(problems), None, title)
        try:
            rate = pro_tools_rate(fmt[1])
        except StageError as exc:
            problems.append(Problem(_line(fmt[0]), "rate", f"{exc}: give the rate"))
            return MarkerList((), tuple(problems), None, title)
    session_start: Timecode | None = None
    if "SESSION START TIMECODE" in header:
        n, value = header["SESSION START TIMECODE"]
        try:
            session_start = _timecode(value, rate)
        except StageError as exc:
            problems.append(Problem(_line(n), "session start", str(exc)))
    sample_rate: Fraction | None = None
    if "SAMPLE RATE" in header:
        try:
            sample_rate = Fraction(header["SAMPLE RATE"][1])
        except ValueError:
            problems.append(Problem(_line(header["SAMPLE RATE"][0]), "sample rate", "not a number"))

    columns: list[str] = []
    markers: list[Marker] = []
    follows = 0  # the last line that belongs to the last marker
    for i in range(start_index + 1, len(lines)):
        n, line = i + 1, lines[i]
        if not columns:
            columns = [c.strip() for c in line.split("\t")]
            if columns[:2] != ["#", "LOCATION"]:
                problems.append(Problem(_line(n), "columns", "not the marker list's column titles"))
                break
            continue
        if _SECTION_RE.match(line.strip()):
            break  # the next section
        if not line.strip():
            continue
        if _MARKER_RE.match(line) is None:
            fields = line.split("\t")
            if markers and len(fields) > 5 and not any(f.strip() for f in fields[:5]) and follows == n - 1:
                # A comment with a line break: the rest comes on a line whose other columns are blank.
                last = markers[-1]
                more = "\t".join(fields[5:]).strip()
                markers[-1] = dataclasses.replace(last, comment=f"{last.comment}\n{more}".strip())
                follows = n
                continue
            # A marker name or comment with a line break goes on over lines without a marker number.
            problems.append(Problem(_line(n), "marker",
                                    f"not a marker (a name or comment broken over lines?): {line.strip()!r}"))
            continue
        marker = _pt_marker(n, line, columns, rate, session_start, sample_rate, problems)
        if marker is not None:
            markers.append(marker)
            follows = n
    return MarkerList(tuple(markers), tuple(problems), rate, title)


def _pt_marker(
    n: int,
    line: str,
    columns: list[str],
    rate: Rate,
    session_start: Timecode | None,
    sample_rate: Fraction | None,
    problems: list[Problem],
) -> Marker | None:
    fields = line.split("\t")
    if len(fields) < 5:
        problems.append(Problem(_line(n), "marker", f"{len(fields)} columns, the list has {len(columns)}"))
        return None
    location, reference, units = fields[1].strip(), fields[2].strip(), fields[3].strip()
    name, comment = _name_and_comment(fields[4:], with_track="TRACK TYPE" in columns)
    name, comment = clean_name(name), clean_comment(comment)  # a tab typed into a name is a space to the reader
    if _TC_RE.match(location):
        try:
            tc = _timecode(location, rate)
        except StageError as exc:
            problems.append(Problem(_line(n), "location", str(exc)))
            return None
    elif units.lower() != "samples" or not reference.isdigit():
        problems.append(Problem(_line(n), "location", f"{location!r} is not timecode and the marker has no "
                                "sample position (export the markers with Time Format: Timecode)"))
        return None
    elif session_start is None or sample_rate is None:
        problems.append(Problem(_line(n), "location", f"{location!r} is not timecode, and without SESSION START "
                                "TIMECODE and SAMPLE RATE its samples cannot be placed"))
        return None
    else:
        tc = _samples_timecode(int(reference), session_start, sample_rate)
    return Marker(n, tc, name, comment)


def _name_and_comment(rest: list[str], *, with_track: bool) -> tuple[str, str]:
    """Split the fields after UNITS into the marker's name and comment.

    Names are padded with spaces to their column's width, so a field with
    trailing blanks closes the name even when the name itself holds a tab;
    the comment is the last column and keeps its tabs.
    """
    if with_track:
        # NAME, TRACK NAME, TRACK TYPE (Ruler or Track), COMMENTS: find the type from the right of the name.
        for k in range(1, len(rest) - 1):
            if rest[k + 1].strip() in {"Ruler", "Track"}:
                return "\t".join(rest[:k]).strip(), "\t".join(rest[k + 2 :]).strip()
        return "\t".join(rest).strip(), ""
    for k, part in enumerate(rest):
        if part != part.rstrip(" ") or k == len(rest) - 1:
            return "\t".join(rest[: k + 1]).strip(), "\t".join(rest[k + 1 :]).strip()
    return "", ""  # pragma: no cover - rest is never empty
