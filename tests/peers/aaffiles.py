"""Avid sequences with locators, written as an AAF with pyaaf2 (no Media Composer runs here).

The shape is the one Media Composer exports: a top-level composition with a
picture slot (its sequence of filler stands for the cut), a timecode slot
that gives the sequence's start timecode, and an event slot whose sequence
holds one ``DescriptiveMarker`` per locator: its ``Position`` and ``Length``
in frames of the sequence, its ``Comment`` (the locator's text), the
``CommentMarkerUser`` and ``CommentMarkerColor`` (16-bit RGB) Avid adds, and
``DescribedSlots`` naming the picture slot it sits on.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import aaf2

# Media Composer's locator colours as 16-bit RGB.
COLOURS: dict[str, tuple[int, int, int]] = {
    "red": (65535, 0, 0),
    "green": (0, 65535, 0),
    "blue": (0, 0, 65535),
    "cyan": (0, 65535, 65535),
    "magenta": (65535, 0, 65535),
    "yellow": (65535, 65535, 0),
    "black": (0, 0, 0),
    "white": (65535, 65535, 65535),
}


@dataclass(frozen=True)
class Locator:
    """A locator: frames from the sequence's first frame, its text, colour and length in frames."""

    position: int
    comment: str
    colour: str = "red"
    length: int = 1


def write_locators(path: Path, name: str, rate: Fraction, start: int, locators: list[Locator], *,
                   drop: bool = False, length: int = 0) -> Path:
    """An AAF of a sequence ``length`` frames long (enough for its locators by default) starting at frame ``start``
    of the day (its start timecode), with ``locators`` on its picture track."""
    length = length or max((loc.position + loc.length for loc in locators), default=0) + 48
    with aaf2.open(str(path), "w") as f:
        comp = f.create.CompositionMob(name)
        comp.usage = "Usage_TopLevel"
        f.content.mobs.append(comp)
        picture = comp.create_timeline_slot(rate)
        picture.name = "V1"
        picture["PhysicalTrackNumber"].value = 1
        cut = f.create.Sequence(media_kind="picture")
        cut.components.append(f.create.Filler("picture", length))
        picture.segment = cut
        timecode = comp.create_timeline_slot(rate)
        timecode.name = "TC1"
        timecode["PhysicalTrackNumber"].value = 1
        tc = f.create.Timecode(round(rate), drop)
        tc.start = start
        tc.length = length
        timecode.segment = tc
        events = f.create.EventMobSlot()
        events["EditRate"].value = rate
        events["SlotID"].value = 1000
        events["PhysicalTrackNumber"].value = 1
        comp.slots.append(events)
        markers = f.create.Sequence(media_kind="DescriptiveMetadata")
        events.segment = markers
        for loc in locators:
            marker = f.create.DescriptiveMarker()
            marker["Position"].value = loc.position
            marker["Length"].value = loc.length
            marker["Comment"].value = loc.comment
            marker["CommentMarkerUser"].value = "assistant editor"
            red, green, blue = COLOURS[loc.colour]
            marker["CommentMarkerColor"].value = {"red": red, "green": green, "blue": blue}
            marker["DescribedSlots"].value = {picture.slot_id}
            markers.components.append(marker)
    return path
