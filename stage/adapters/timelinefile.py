"""Markers from the picture editors' interchange files, read with OpenTimelineIO and its adapters.

This is the only module that imports :mod:`opentimelineio`.  It reads an
EDL (``otio-cmx3600-adapter``), FCP 7 XML (``otio-fcp-adapter``), FCPXML
(``otio-fcpx-xml-adapter``) and AAF (``otio-aaf-adapter`` on ``pyaaf2``) and
turns each marker OpenTimelineIO gives into a :class:`~stage.core.spotting.Marker`
at picture timecode.  What each reader keeps of a marker, and what this module
makes of it (docs/cli.md says the same for the music editor):

- **EDL**: an EDL does not say its rate (give it); its ``FCM:`` line, which
  the reader skips, says whether it counts drop-frame.  DaVinci Resolve's
  *Timeline Markers to EDL* writes each marker as a one-frame event followed
  by ``<note> |C:ResolveColor<colour> |M:<name> |D:<frames>``: the reader
  keeps that line as an unread comment of the event, which is split here; the
  marker is at the event's *source* in (the same as its record in, which the
  reader moves when events are out of time order).  ``* LOC:`` comments (as
  Avid writes locators into an EDL) are the reader's own markers: at the
  timecode they write, with their colour, their text the name.  The reader
  stops at a note that begins with a digit (it takes it for an event).
- **FCP 7 XML**: the sequence's rate, drop-frame display and start timecode
  are kept, and each marker's name, comment, in and out.  FCP 7 markers have
  no colour: the reader gives every one its default (red), which is ignored.
- **FCPXML**: marker names, lengths and to-do state are kept (a standard
  marker comes out purple, a to-do red, a completed one green), a marker's
  ``note`` is not, nor chapter markers, nor markers on a gap.  The reader
  counts time in floating point and truncates it, and counts 23.976 as 23
  frames a second: it is exact only at 24 and 48 fps, and a file at any
  other rate is refused rather than spotted a frame off.
- **AAF**: Avid's locators on the sequence, with their comment, colour (the
  nearest of OpenTimelineIO's named colours) and length, and the sequence's
  rate and start timecode; not whether the timecode counts drop-frame (give
  ``29.97df``).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import opentimelineio as otio

from stage.core.markerformats import Format, decode_text
from stage.core.spotting import Marker, MarkerList, clean_comment, clean_name, colour_name, plain_number
from stage.core.timecode import RATES, Rate, Timecode
from stage.errors import Problem, StageError

__all__ = ["read_interchange"]

_READERS = {Format.EDL: "cmx_3600", Format.FCP7: "fcp_xml", Format.FCPXML: "fcpx_xml", Format.AAF: "AAF"}
_NAMES = {Format.EDL: "an EDL", Format.FCP7: "FCP 7 XML", Format.FCPXML: "FCPXML", Format.AAF: "an AAF"}
_DROP_TWIN = {"29.97": "29.97df", "59.94": "59.94df"}
_FCM_RE = re.compile(r"^\s*FCM:\s*(NON[- ]?DROP|DROP)", re.IGNORECASE | re.MULTILINE)
_RESOLVE_RE = re.compile(r"\|\s*([CMD]):([^|]*)")
_FCPXML_EXACT = (24, 48)  # the rates at which the FCPXML reader's floating-point frame counts come out whole


def read_interchange(fmt: Format, path: Path, data: bytes, rate: Rate | None) -> MarkerList:
    """The markers of an EDL, FCP 7 XML, FCPXML or AAF file; ``rate`` gives (EDL) or refines (drop-frame) its rate."""
    try:
        if fmt is Format.EDL:
            return _edl(decode_text(data), rate)
        if fmt is Format.AAF:
            timeline = otio.adapters.read_from_file(str(path), _READERS[fmt])
        else:
            timeline = otio.adapters.read_from_string(decode_text(data), _READERS[fmt])
        return _placed(fmt, timeline, rate)
    except StageError:
        raise
    except Exception as exc:  # the readers raise what their parsers raise: every one is this file's fault
        reason = " ".join(str(exc).split()) or type(exc).__name__
        raise StageError(f"{_NAMES[fmt]} that OpenTimelineIO's {_READERS[fmt]} reader cannot read: {reason}") from exc


# -- EDL -------------------------------------------------------------------------------------


def _edl_rate(text: str, rate: Rate | None) -> Rate:
    if rate is None:
        raise StageError("an EDL does not say its rate: give --rate")
    fcm = _FCM_RE.search(text)
    if fcm is None:
        return rate
    drop = fcm.group(1).upper() == "DROP"
    if drop and not rate.drop:
        if rate.name not in _DROP_TWIN:
            raise StageError(f"the EDL says FCM: DROP FRAME, but {rate} fps has no drop-frame: give --rate 29.97")
        return RATES[_DROP_TWIN[rate.name]]
    if not drop and rate.drop:
        return next(r for name, r in RATES.items() if _DROP_TWIN.get(name) == rate.name)
    return rate


def _edl(text: str, rate: Rate | None) -> MarkerList:
    rate = _edl_rate(text, rate)
    timeline = otio.adapters.read_from_string(text, "cmx_3600", rate=float(rate.fps), ignore_timecode_mismatch=True)
    markers: list[Marker] = []
    plain: list[int] = []
    seen: set[int] = set()
    for n, clip in _events(timeline):
        if n in seen:
            continue  # an event on more than one track (AA/V): read once
        seen.add(n)
        found = [_loc(n, m, rate) for m in clip.markers]
        resolve = _resolve_marker(n, clip, rate)
        markers.extend([*found, resolve] if resolve is not None else found)
        if not found and resolve is None:
            plain.append(n)
    # A cut list carries its locators on some events; in a list of markers every event should be one.
    locators = any(clip.markers for _, clip in _events(timeline))
    problems = [] if locators else [
        Problem(f"event {n}", "marker", "not a marker: no |C:… |M:… |D:… line follows it") for n in plain
    ]
    return _named(markers, problems, rate, timeline.name or "")


def _named(markers: list[Marker], problems: list[Problem], rate: Rate, title: str) -> MarkerList:
    """The list, a marker without a name (nothing to call a hit) among its problems."""
    problems += [Problem(m.where, "name", "the marker has no name") for m in markers if not m.name]
    return MarkerList(tuple(m for m in markers if m.name), tuple(problems), rate, title)


def _events(timeline: Any) -> Iterator[tuple[int, Any]]:
    """Each event's number (its clip is named by it, or by a ``FROM CLIP NAME`` comment) and its clip."""
    for track in timeline.tracks:
        for k, item in enumerate(track.find_clips(), start=1):
            number = plain_number(item.name)
            yield (k if number is None else number), item


def _resolve_marker(n: int, clip: Any, rate: Rate) -> Marker | None:
    """Resolve's marker: ``<note> |C:… |M:… |D:…`` (the note may begin on earlier comment lines)."""
    comments: list[str] = clip.metadata.get("cmx_3600", {}).get("comments", [])
    last = next((k for k in range(len(comments) - 1, -1, -1) if "|M:" in comments[k]), None)
    if last is None:
        return None
    line = comments[last]
    fields = {key: value.strip() for key, value in _RESOLVE_RE.findall(line)}
    note = "\n".join([*comments[:last], line[: line.index("|")]])
    name, comment = clean_name(fields.get("M", "")), clean_comment(note)
    if not name:
        name, _, comment = comment.partition("\n")
    duration = plain_number(fields.get("D", "")) or 0
    at = _timecode(clip.source_range.start_time, rate)
    return Marker(n, at, clean_name(name), comment.strip(), colour=colour_name(fields.get("C", "")),
                  duration=duration, unit="event")


def _loc(n: int, marker: Any, rate: Rate) -> Marker:
    """A ``* LOC:`` comment: at the timecode it writes, its text the name."""
    colour = marker.metadata.get("cmx_3600", {}).get("color", "") or str(marker.color)
    return Marker(n, _timecode(marker.marked_range.start_time, rate), clean_name(marker.name),
                  colour=colour_name(colour), unit="event")


def _timecode(time: Any, rate: Rate) -> Timecode:
    return Timecode.from_frames(round(time.rescaled_to(float(rate.fps)).value), rate)


# -- FCP 7 XML, FCPXML, AAF ---------------------------------------------------------------


@dataclass(frozen=True)
class _Placed:
    """A marker with its start on the sequence (from its first frame, or from its start timecode)."""

    marker: Any
    start: Any  # RationalTime
    on_sequence: bool


def _timelines(result: Any) -> list[Any]:
    if isinstance(result, otio.schema.Timeline):
        return [result]
    return list(result.find_children(descended_from_type=otio.schema.Timeline))


def _placed(fmt: Format, result: Any, given: Rate | None) -> MarkerList:
    timelines = _timelines(result)
    if not timelines:
        raise StageError(f"{_NAMES[fmt]} with no sequence (timeline) in it")
    problems: list[Problem] = []
    timeline = next((t for t in timelines if any(_markers_of(t))), timelines[0])
    if len(timelines) > 1:
        problems.append(Problem("file", "sequences", f"{len(timelines)} sequences: the markers of "
                                f"{timeline.name!r} are read (export one sequence to read another)"))
    placed = list(_markers_of(timeline))
    fps = _fps(timeline, placed)
    if fmt is Format.FCPXML and placed and round(fps) not in _FCPXML_EXACT:
        shown = "23.976" if round(fps) == 23 else f"{fps:g}"
        raise StageError(
            f"this FCPXML is at {shown} fps, where OpenTimelineIO's FCPXML reader (otio-fcpx-xml-adapter 1.0) "
            "puts markers a frame early or worse: it counts time in floating point, truncated, and 23.976 as 23 "
            "(its issues 903 and 1661); it is exact at 24 and 48 fps. Export the markers to an EDL (in Resolve, "
            "Timeline Markers to EDL) instead")
    rate = _rate(fps, _drop(fmt, timeline), given)
    start = timeline.global_start_time
    offset = _frames(start, fps) if start is not None else 0
    markers: list[Marker] = []
    counts = {True: 0, False: 0}
    for p in placed:
        counts[p.on_sequence] += 1
        unit = {Format.AAF: "locator"}.get(fmt, "marker" if p.on_sequence else "clip marker")
        markers.append(_marker(fmt, p, counts[p.on_sequence], unit, offset, fps, rate))
    return _named(markers, problems, rate, timeline.name or "")


def _markers_of(timeline: Any) -> Iterator[_Placed]:
    """Every marker of the sequence and of what is on it, placed on the sequence (the reader's order)."""
    stack = timeline.tracks
    for marker in stack.markers:
        yield _Placed(marker, marker.marked_range.start_time, on_sequence=True)
    for item in stack.find_children():
        for marker in getattr(item, "markers", ()):
            yield _Placed(marker, item.transformed_time(marker.marked_range.start_time, stack), on_sequence=False)


def _frames(time: Any, fps: float) -> int:
    return round(float(time.rescaled_to(fps).value))


def _fps(timeline: Any, placed: list[_Placed]) -> float:
    if timeline.global_start_time is not None:
        return float(timeline.global_start_time.rate)
    if placed:
        return float(placed[0].marker.marked_range.start_time.rate)
    return 24.0


def _drop(fmt: Format, timeline: Any) -> bool:
    if fmt is Format.FCP7:
        timecode = timeline.metadata.get("fcp_xml", {}).get("timecode", {})
        return isinstance(timecode, Mapping) and timecode.get("displayformat") == "DF"
    return False


def _rate(fps: float, drop: bool, given: Rate | None) -> Rate:
    """The file's rate; ``--rate`` may add that it counts drop-frame, or agree, but not name another speed."""
    found = next((r for r in RATES.values() if abs(float(r.fps) - fps) < 0.01 and r.drop == drop), None)
    if given is not None and abs(float(given.fps) - fps) >= 0.01:
        raise StageError(f"the file's markers are at {found or f'{fps:g}'} fps, not {given}: leave --rate out "
                         "or give the file's")
    if given is not None and given.drop:
        return given
    if found is None:
        raise StageError(f"the file is at {fps:g} fps, a rate stage does not know")
    return found


def _marker(fmt: Format, p: _Placed, number: int, unit: str, offset: int, fps: float, rate: Rate) -> Marker:
    marker = p.marker
    at = Timecode.from_frames(offset + _frames(p.start, fps), rate)
    duration = _frames(marker.marked_range.duration, fps)
    name, comment, colour = marker.name, "", colour_name(str(marker.color or ""))
    if fmt is Format.FCP7:  # FCP 7 markers have no colour: the reader's is its default
        name, comment, colour = marker.name, marker.metadata.get("fcp_xml", {}).get("comment") or "", ""
    elif fmt is Format.AAF:  # a locator has one text: its first line names it
        name, _, comment = clean_comment(marker.name).partition("\n")
    name, comment = clean_name(name), clean_comment(comment)
    if not name:  # a marker without a name is named by its comment's first line
        name, _, comment = comment.partition("\n")
    return Marker(number, at, clean_name(name), comment.strip(), colour=colour, duration=duration, unit=unit)
