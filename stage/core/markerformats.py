"""What a marker list is: its text from its bytes, and its format from its content.

A cutting room hands over markers in many shapes; ``stage spot --format
auto`` tells them apart by what the file holds, never by its name alone:

- an AAF is a compound file: it starts with the structured-storage signature;
- FCPXML and FCP 7 XML are XML whose root is ``<fcpxml>`` or ``<xmeml>``;
- a Pro Tools session text has its ``M A R K E R S  L I S T I N G`` or starts
  with ``SESSION NAME:``;
- an EDL has a ``TITLE:`` or ``FCM:`` line, or numbered events with four
  timecodes;
- Premiere Pro's marker export starts with its own header,
  ``Marker Name<tab>Description<tab>In<tab>Out…``;
- Avid Media Composer's marker export has no header: most of its lines are
  ``user<tab>timecode<tab>track<tab>colour<tab>comment[<tab>duration]``;
- anything else is read as a CSV.

Text is UTF-8 (with or without its byte-order mark), UTF-16 (with a mark, or
recognised by its zero bytes, as Premiere Pro writes it), or else Mac Roman
(Pro Tools' "TextEdit" export on a Mac).
"""

from __future__ import annotations

import codecs
import enum
import re

from stage.errors import StageError

__all__ = ["AVID_COLOURS", "Format", "decode_text", "looks_like_timecode", "sniff"]


class Format(enum.Enum):
    """A kind of marker list ``stage spot`` reads."""

    PROTOOLS = "protools"
    CSV = "csv"
    AVID = "avid"
    PREMIERE = "premiere"
    EDL = "edl"
    FCP7 = "fcp7"
    FCPXML = "fcpxml"
    AAF = "aaf"


# The colours of Media Composer's markers, as its export names them.
AVID_COLOURS = frozenset({"red", "green", "blue", "cyan", "magenta", "yellow", "black", "white"})

_COMPOUND_FILE = bytes.fromhex("d0cf11e0a1b11ae1")  # structured storage: an AAF (or another compound file)
_TIMECODE_RE = re.compile(r"^\s*\d{1,2}[:;.]\d{2}[:;.]\d{2}[:;.,]\d{2,3}\s*$")
_EDL_EVENT_RE = re.compile(r"^\s*\d{1,6}\s+\S+\s+\S+\s+\S+(?:\s+\d+)?(?:\s+\d\d[:;.]\d\d[:;.]\d\d[:;.]\d\d){4}\s*$")
_PREMIERE_HEAD = ["marker name", "description", "in", "out"]


def looks_like_timecode(text: str) -> bool:
    """``01:00:10:00``, ``01:00:10;00``, ``01;00;10;00``: the shape of a timecode, valid or not."""
    return _TIMECODE_RE.match(text) is not None


def decode_text(data: bytes) -> str:
    """The text of a marker list, whatever of UTF-8, UTF-16 or Mac Roman it is written in; never fails."""
    if data.startswith(codecs.BOM_UTF8):
        return data[len(codecs.BOM_UTF8) :].decode("utf-8", errors="replace")
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return data.decode("utf-16", errors="replace")
    sample = data[:512]
    if len(sample) >= 4:
        # Text that is mostly ASCII, written as UTF-16 without a mark: every other byte is zero.
        even, odd = sample[0::2].count(0), sample[1::2].count(0)
        if odd > len(sample) // 4 and even == 0:
            return data.decode("utf-16-le", errors="replace")
        if even > len(sample) // 4 and odd == 0:
            return data.decode("utf-16-be", errors="replace")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        # Pro Tools' "TextEdit" export on a Mac is Mac Roman, and so is anything else that is not UTF-8.
        return data.decode("mac_roman")


def sniff(data: bytes) -> Format:
    """The format of a marker list, told by its content (see the module's notes)."""
    if data.startswith(_COMPOUND_FILE):
        return Format.AAF
    text = decode_text(data[: 1 << 16])
    head = text.lstrip("\ufeff \t\r\n")
    if "M A R K E R S  L I S T I N G" in text or head.startswith("SESSION NAME:"):
        return Format.PROTOOLS
    if head.startswith("<"):
        return _markup(head[:4096])
    return _table([line for line in head.splitlines()[:200] if line.strip()])


def _markup(head: str) -> Format:
    if "<fcpxml" in head:
        return Format.FCPXML
    if "<xmeml" in head:
        return Format.FCP7
    raise StageError("an XML file that is neither FCPXML (<fcpxml>) nor FCP 7 XML (<xmeml>)")


def _table(lines: list[str]) -> Format:
    """An EDL, Premiere's or Avid's export, or a CSV, by the shape of its first lines."""
    if lines and (lines[0].startswith(("TITLE:", "FCM:")) or any(_EDL_EVENT_RE.match(line) for line in lines[:50])):
        return Format.EDL
    if lines and [cell.strip().lower() for cell in lines[0].split("\t")[:4]] == _PREMIERE_HEAD:
        return Format.PREMIERE
    if sum(1 for line in lines if _avid_shaped(line.split("\t"))) * 2 > len(lines):
        return Format.AVID
    return Format.CSV


def _avid_shaped(fields: list[str]) -> bool:
    return len(fields) >= 5 and looks_like_timecode(fields[1]) and fields[3].strip().lower() in AVID_COLOURS
