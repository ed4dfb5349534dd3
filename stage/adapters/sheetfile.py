"""Cue-sheet TOML written and edited with tomlkit, so a music editor's comments and layout survive.

This is the only module that imports :mod:`tomlkit`.  Reading and validating
a sheet stays with :mod:`stage.core.cuesheet` (the standard library's
``tomllib``); this module makes the text: the sheet ``stage spot`` writes
from spotting notes, and the edit ``stage tempo --write`` makes to one cue.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import tomlkit
from tomlkit.items import AoT, Table

from stage.core.spotting import SpottedCue
from stage.core.timecode import Rate, Timecode
from stage.errors import StageError

__all__ = ["TempoEdit", "add_cues", "apply_tempo_edit", "spotted_sheet"]


def spotted_sheet(
    cues: Sequence[SpottedCue],
    rate: Rate,
    *,
    title: str = "",
    tempo: str | float | None = None,
    meter: str = "4/4",
    source: str = "",
    cues_only: bool = False,
) -> str:
    """A cue sheet (or, with ``cues_only``, its ``[[cue]]`` blocks) of spotted cues.

    Without ``tempo`` the cues are written in free timing with their end
    timecode, waiting for a tempo (``stage tempo … --write`` gives them one).
    """
    doc = tomlkit.document()
    if source:
        doc.add(tomlkit.comment(f"spotted from {source}"))
    if not cues_only:
        picture = tomlkit.table()
        if title:
            picture.add("title", title)
        picture.add("rate", rate.name)
        doc.add("picture", picture)
    aot = tomlkit.aot()
    for cue in cues:
        aot.append(_cue_table(cue, tempo, meter))
    if cues:
        doc.add("cue", aot)
    return tomlkit.dumps(doc)


def _cue_table(cue: SpottedCue, tempo: str | float | None, meter: str) -> Table:
    t = tomlkit.table()
    t.add("id", cue.id)
    if cue.title:
        t.add("title", cue.title)
    t.add("start", str(cue.start))
    if tempo is None:
        free = tomlkit.item(True)  # noqa: FBT003 - a TOML value, not a flag
        free.comment(f"no tempo yet: stage tempo CUES --cue {cue.id}")
        t.add("free", free)
    else:
        t.add("tempo", tempo)
        t.add("meter", meter)
    t.add("end", str(cue.end))
    if cue.notes:
        t.add("notes", cue.notes)
    if cue.hits:
        hits = tomlkit.aot()
        for hit in cue.hits:
            h = tomlkit.table()
            if hit.comment:
                h.add(tomlkit.comment(hit.comment.replace("\n", " ").replace("\t", " ")))
            h.add("at", str(hit.at))
            h.add("label", hit.label)
            hits.append(h)
        t.add("hit", hits)
    return t


def add_cues(text: str, blocks: str) -> str:
    """The sheet ``text`` with the ``[[cue]]`` tables of ``blocks`` added after its own, its comments kept."""
    doc = tomlkit.parse(text)
    new = tomlkit.parse(blocks).get("cue")
    if not isinstance(new, AoT):
        return text
    cues = doc.get("cue")
    if cues is None:
        doc.add("cue", new)
    elif isinstance(cues, AoT):
        for table in new:
            cues.append(table)
    else:
        raise StageError("the sheet's cue key is not an array of [[cue]] tables")
    return tomlkit.dumps(doc)


# -- the tempo finder's edit ----------------------------------------------------------------


@dataclass(frozen=True)
class TempoEdit:
    """What ``stage tempo --write`` sets on a cue: its downbeat, first tempo and meter, and its changes.

    ``changes`` are ``(bar, tempo, ramp)``: tempos are TOML values as the
    sheet writes them (``"12-0"`` or ``117.55``), ramp 0 for a step.
    """

    start: Timecode
    tempo: str | float
    meter: str
    changes: tuple[tuple[int, str | float, int], ...] = ()
    note: str = ""


def apply_tempo_edit(text: str, cue_id: str, edit: TempoEdit) -> str:
    """The sheet ``text`` with cue ``cue_id`` given ``edit``; everything else, comments included, as it was.

    A free-timing cue becomes a cue with a click that ends at its ``end``.
    The cue's old ``[[cue.change]]`` blocks are replaced by the edit's.
    """
    doc = tomlkit.parse(text)
    cues = doc.get("cue")
    if not isinstance(cues, AoT):
        raise StageError("the sheet has no [[cue]] tables")
    index = next((i for i, c in enumerate(cues) if c.get("id") == cue_id), None)
    if index is None:
        raise StageError(f"no cue {cue_id!r} on the cue sheet")
    old = cues[index]
    new = tomlkit.table()

    def place_tempo() -> None:
        tempo = tomlkit.item(edit.tempo)
        if edit.note:
            tempo.comment(edit.note)
        new.add("tempo", tempo)
        new.add("meter", edit.meter)

    for key, item in old.value.body:
        name = key.key if key is not None else None
        if name in {"free", "tempo", "end", "bars", "hit"} and "tempo" not in new:
            place_tempo()
        if name in {"free", "tempo", "meter", "change"}:
            continue
        if name == "hit":
            _add_changes(new, edit)
        if key is None:
            new.add(item)  # type: ignore[call-overload]  # a comment or blank line of the old table
        elif name == "start":
            new.add("start", str(edit.start))
        else:
            new.append(key, item)
    if "tempo" not in new:
        place_tempo()
    if "hit" not in old:
        _add_changes(new, edit)
    cues[index] = new
    return tomlkit.dumps(doc)


def _add_changes(table: Table, edit: TempoEdit) -> None:
    if not edit.changes:
        return
    changes = tomlkit.aot()
    for bar, tempo, ramp in edit.changes:
        c = tomlkit.table()
        c.add("bar", bar)
        c.add("tempo", tempo)
        if ramp:
            c.add("ramp", ramp)
        changes.append(c)
    table.add("change", changes)
