"""Marker lists as tables of text: a spreadsheet's CSV, Avid Media Composer's and Premiere Pro's marker exports.

- **CSV as spreadsheets write it**: comma, semicolon or tab separated,
  quoted where a field holds the separator, a quote or a line break.  A
  header row, wherever it is before the first marker, names the columns in
  any order (:data:`COLUMNS`); without one the columns are
  ``timecode,name,comment``.
- **Avid Media Composer**'s *Export Markers* as text: no header, one marker a
  line, ``user, timecode, track, colour, comment, duration`` (frames)
  separated by tabs, nothing quoted; older versions leave the duration out.
  A line break typed into a comment is written as a carriage return inside
  the line.  The comment names the marker: its first line is the name, the
  rest the comment.
- **Premiere Pro**'s *File > Export > Markers* as CSV: UTF-16 text, tab
  separated in spite of its name, the header ``Marker Name, Description, In,
  Out, Duration, Marker Type``; a marker without a name is named by its
  description's first line.

None of them says its rate: the caller gives it.  Timecode written with
``;`` (``01:01:00;02``, ``01;01;00;02``) is drop-frame: at 29.97 (59.94) the
list is read as 29.97 (59.94) drop-frame.  Every line that cannot be used is a
:class:`~stage.errors.Problem` naming its line.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Iterator

from stage.core.markerformats import looks_like_timecode
from stage.core.spotting import Marker, MarkerList, clean_comment, clean_name, colour_name, plain_number
from stage.core.timecode import RATES, Rate, Timecode
from stage.errors import Problem, StageError

__all__ = ["COLUMNS", "parse_timecode", "read_avid", "read_csv", "read_premiere"]

# A header's titles (lower case, spaces single) and the column each names.
COLUMNS: dict[str, tuple[str, ...]] = {
    "timecode": ("timecode", "tc", "time", "in", "start"),
    "name": ("name", "marker", "marker name"),
    "comment": ("comment", "comments", "notes", "note", "description"),
    "kind": ("kind",),
    "colour": ("colour", "color"),
    "duration": ("duration",),
    "out": ("out", "end"),
}
_TITLES = {title: key for key, titles in COLUMNS.items() for title in titles}
_DROP_TWIN = {"29.97": "29.97df", "59.94": "59.94df"}
_TC_RE = re.compile(r"^\s*(\d{1,2})[:;.](\d{2})[:;.](\d{2})[:;.,](\d{2,3})\s*$")
_BREAK = "\ue000"  # stands in for a line break inside a line while the csv module splits it
_PREMIERE = ("Marker Name", "Description", "In", "Out", "Duration", "Marker Type")
_KINDS = {"", "start", "end", "hit", "skip"}


def _line(n: int) -> str:
    return f"line {n}"


def parse_timecode(text: str, rate: Rate) -> Timecode:
    """A timecode as exports write it, ``:`` ``;`` or ``.`` between its fields."""
    m = _TC_RE.match(text)
    if m is None:
        raise StageError(f"{text.strip()!r} is not a timecode (expected HH:MM:SS:FF, or HH:MM:SS;FF for drop-frame)")
    h, mi, s, f = (int(g) for g in m.groups())
    return Timecode(h, mi, s, f, rate)  # refuses a frame the rate does not have


def _file_rate(cells: Iterable[str], rate: Rate) -> Rate:
    """The rate a list counts in: a ``;`` in its timecodes says drop-frame, which 29.97 (59.94) then is."""
    if rate.name in _DROP_TWIN and any(";" in cell for cell in cells if looks_like_timecode(cell)):
        return RATES[_DROP_TWIN[rate.name]]
    return rate


def _records(text: str) -> list[tuple[int, str]]:
    """The lines of an export, numbered: a line break of another kind than the file's (a comment's) stays inside."""
    end = "\r\n" if "\r\n" in text else "\n" if "\n" in text else "\r"
    return [(n, record) for n, record in enumerate(text.split(end), start=1) if record.strip()]


def _cells(record: str) -> list[str]:
    """A tab-separated line as the csv module splits it, nothing quoted, line breaks kept in their cell.

    A line the csv module refuses (a cell past its size limit: not an export's line) has no cells.
    """
    protected = record.replace("\r\n", _BREAK).replace("\r", _BREAK).replace("\n", _BREAK)
    try:
        row = next(csv.reader([protected], delimiter="\t", quoting=csv.QUOTE_NONE), [])
    except csv.Error:
        return []
    return [cell.replace(_BREAK, "\n") for cell in row]


def _named(name: str, comment: str) -> tuple[str, str]:
    """A marker's name and comment; without a name, the comment's first line names it."""
    name, comment = clean_name(name), clean_comment(comment)
    if name:
        return name, comment
    first, _, rest = comment.partition("\n")
    return clean_name(first), rest.strip()


# -- Avid Media Composer ------------------------------------------------------------------


def read_avid(text: str, rate: Rate) -> MarkerList:
    """The markers of Media Composer's marker export (text): user, timecode, track, colour, comment, duration."""
    rows = [(n, _cells(record)) for n, record in _records(text)]
    rate = _file_rate((cells[1] for _, cells in rows if len(cells) > 1), rate)
    problems: list[Problem] = []
    markers: list[Marker] = []
    for n, cells in rows:
        if len(cells) < 5:
            problems.append(Problem(_line(n), "marker", f"{len(cells)} columns: a line of Avid's marker export is "
                                    "user, timecode, track, colour, comment and duration, separated by tabs"))
            continue
        try:
            tc = parse_timecode(cells[1], rate)
        except StageError as exc:
            problems.append(Problem(_line(n), "timecode", str(exc)))
            continue
        rest, duration = cells[4:], 1
        if len(rest) > 1 and plain_number(rest[-1]) is not None:
            duration, rest = plain_number(rest[-1]) or 0, rest[:-1]
        # A tab typed into a comment splits it over two columns of the export: it is one comment.
        name, comment = _named("", "\t".join(rest))
        if not name:
            problems.append(Problem(_line(n), "comment", "the marker has no comment: its comment names it"))
            continue
        markers.append(Marker(n, tc, name, comment, colour=colour_name(cells[3]), duration=duration))
    return MarkerList(tuple(markers), tuple(problems), rate)


# -- Premiere Pro --------------------------------------------------------------------------


def read_premiere(text: str, rate: Rate) -> MarkerList:
    """The markers of Premiere Pro's marker export: its header, then name, description, in, out, duration, type."""
    records = _records(text)
    if not records:
        return MarkerList((), (Problem("file", "markers", "the file is empty"),), rate)
    n0, head = records[0]
    if [c.strip().lower() for c in _cells(head)[:4]] != [t.lower() for t in _PREMIERE[:4]]:
        return MarkerList((), (Problem(_line(n0), "columns", "not Premiere Pro's marker header ("
                                       + ", ".join(_PREMIERE) + ")"),), rate)
    rows = [(n, _cells(record)) for n, record in records[1:]]
    rate = _file_rate((cell for _, cells in rows for cell in cells), rate)
    problems: list[Problem] = []
    markers: list[Marker] = []
    for n, cells in rows:
        while len(cells) > len(_PREMIERE) and not cells[-1].strip():
            cells.pop()  # a tab after the last column
        if len(cells) < len(_PREMIERE):
            problems.append(Problem(_line(n), "marker", f"{len(cells)} columns, the header has {len(_PREMIERE)}"))
            continue
        # In, Out, Duration and Type are the last four: a tab in the description adds columns before them.
        tc_in, tc_out = cells[-4], cells[-3]
        try:
            tc = parse_timecode(tc_in, rate)
            out = parse_timecode(tc_out, rate) if tc_out.strip() else tc
        except StageError as exc:
            problems.append(Problem(_line(n), "timecode", str(exc)))
            continue
        name, comment = _named(cells[0], "\t".join(cells[1:-4]))
        if not name:
            problems.append(Problem(_line(n), "name", "the marker has neither a name nor a description"))
            continue
        markers.append(Marker(n, tc, name, comment, duration=max(0, out.frame_count - tc.frame_count)))
    return MarkerList(tuple(markers), tuple(problems), rate)


# -- CSV ---------------------------------------------------------------------------------------


def _rows(text: str, delimiter: str) -> Iterator[tuple[int, list[str] | None, str]]:
    """(line, row, error) for every record: the csv module counts lines, a quoted field may span several."""
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    while True:
        first = reader.line_num + 1
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            yield first, None, str(exc)
            continue
        yield first, row, ""


def _header(row: list[str]) -> dict[str, int] | None:
    """The columns a header row names, or None when the row is not one (it needs a timecode and a name)."""
    index: dict[str, int] = {}
    for i, cell in enumerate(row):
        key = _TITLES.get(" ".join(cell.lower().split()))
        if key is not None:
            index.setdefault(key, i)
    return index if {"timecode", "name"} <= index.keys() and not any(map(looks_like_timecode, row)) else None


def _delimiter(text: str) -> str:
    """The separator: the one a header row is split by, or else the one splitting the first lines into most columns."""
    lines = [line for line in text.splitlines() if line.strip()][:20]
    best, most = ",", 1.0
    for delimiter in (",", ";", "\t"):
        try:
            rows = list(csv.reader(lines, delimiter=delimiter))
        except csv.Error:
            continue  # a line the csv module refuses: the rows tell, line by line
        if any(_header(row) for row in rows):
            return delimiter
        counts = sorted(len(row) for row in rows)
        median = counts[len(counts) // 2] if counts else 0
        if median > most:
            best, most = delimiter, median
    return best


def read_csv(text: str, rate: Rate) -> MarkerList:
    """The markers of a CSV: columns found by a header row (:data:`COLUMNS`), or ``timecode,name,comment``."""
    delimiter = _delimiter(text)
    rows = list(_rows(text, delimiter))
    index = {"timecode": 0, "name": 1, "comment": 2}
    before = 0  # rows before the first marker, the header among them
    for k, (_, row, _) in enumerate(rows):
        found = _header(row) if row is not None else None
        if found is not None:
            index, before = found, k + 1
            break
        if row is not None and any(map(looks_like_timecode, row)):
            break  # markers begin: there is no header
    titles = rows[before - 1][0] if before else 0
    problems: list[Problem] = [
        Problem(_line(n), "header", f"above the column titles (line {titles}): not a marker")
        for n, row, _ in rows[: max(0, before - 1)]
        if row and any(c.strip() for c in row)
    ]
    rate = _file_rate((row[index["timecode"]] for _, row, _ in rows[before:] if row and len(row) > index["timecode"]),
                      rate)
    markers: list[Marker] = []
    for n, row, error in rows[before:]:
        if row is None:
            problems.append(Problem(_line(n), "csv", f"not a row of the table ({error}): is a quote left open?"))
            continue
        if not any(c.strip() for c in row) or row[0].lstrip().startswith("#"):
            continue
        marker = _csv_marker(n, row, index, rate, problems)
        if marker is not None:
            markers.append(marker)
    return MarkerList(tuple(markers), tuple(problems), rate)


def _csv_marker(n: int, row: list[str], index: dict[str, int], rate: Rate, problems: list[Problem]) -> Marker | None:
    def cell(key: str) -> str:
        i = index.get(key)
        return row[i].strip() if i is not None and i < len(row) else ""

    try:
        tc = parse_timecode(cell("timecode"), rate)
        duration = plain_number(cell("duration")) or 0
        if cell("out"):
            duration = max(0, parse_timecode(cell("out"), rate).frame_count - tc.frame_count)
    except StageError as exc:
        problems.append(Problem(_line(n), "timecode", str(exc)))
        return None
    kind = cell("kind").lower()
    if kind not in _KINDS:
        problems.append(Problem(_line(n), "kind", f"{kind!r} is not start, end, hit or skip"))
        return None
    if kind == "skip":
        return None
    name = clean_name(cell("name"))
    if not name:
        problems.append(Problem(_line(n), "name", "a marker needs a name"))
        return None
    return Marker(n, tc, name, clean_comment(cell("comment")), kind, colour_name(cell("colour")), duration)
