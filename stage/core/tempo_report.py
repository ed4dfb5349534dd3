"""What ``stage tempo`` prints: the finder's candidates and change plan as text, TOML blocks and JSON."""

from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction
from typing import Any

from stage.core.breakdown import decimal_text, format_position, plural, text_table
from stage.core.cuesheet import Cue
from stage.core.tempo import frame_click
from stage.core.tempochanges import ChangePlan
from stage.core.tempofind import Candidate, FindSpec, HitFit, Rank, Tempo
from stage.core.timecode import Timecode

__all__ = ["change_blocks", "format_tempo_report", "tempo_report"]


def _frames(value: Fraction) -> str:
    return f"{decimal_text(value, 3, trim=True)} f"


def _fit_rows(cue: Cue, fits: Sequence[HitFit], spec: FindSpec) -> list[str]:
    rows = [["hit", "timecode", "bar|beat", "error", "ms", ""]]
    for f in fits:
        tc = Timecode.at(cue.downbeat + f.frames / spec.rate.fps, spec.rate)
        sign = "+" if f.error > 0 else ""
        rows.append([f.label, str(tc), format_position(f.bar, f.beat), f"{sign}{_frames(f.error)}",
                     f"{sign}{decimal_text(f.error_ms(spec.rate), 1)}", "" if f.caught else "MISSED"])
    return text_table(rows, "      ")


def _toml_value(tempo: Tempo) -> str:
    value = tempo.toml
    return f'"{value}"' if isinstance(value, str) else str(value)


def change_blocks(cue: Cue, plan: ChangePlan, spec: FindSpec) -> str:
    """The plan as TOML to paste: the cue's own tempo and meter, then one ``[[cue.change]]`` per change."""
    first, *rest = plan.segments
    lines = [f"# cue {cue.id}: on the [[cue]] itself", f"tempo = {_toml_value(first.tempo)}",
             f'meter = "{spec.meter}"']
    for seg in rest:
        lines += ["", "[[cue.change]]", f"bar = {seg.bar}", f"tempo = {_toml_value(seg.tempo)}"]
        if seg.ramp:
            lines.append(f"ramp = {seg.ramp}")
    return "\n".join(lines) + "\n"


def _on_frame_note(steady: Sequence[Candidate], rank: Rank) -> list[str]:
    """Under the editor's ranking, which leading candidates the hits cannot tell apart, and why the first is first."""
    if rank is not Rank.EDITOR or not steady or not steady[0].on_frame:
        return []
    alike = [(k, c) for k, c in enumerate(steady, start=1) if c.caught == steady[0].caught and c.on_frame]
    if len(alike) < 2:
        return []
    names = ", ".join(f"{k}. {c.tempo.text} (worst {_frames(c.worst)})" for k, c in alike)
    closest = min(alike, key=lambda kc: (sum(f.error**2 for f in kc[1].fits if f.caught), kc[0]))
    return [
        f"on the frame, as close as spotting to whole frames can tell: {names}",
        (f"  frame clicks and round tempos first; the closest is {closest[0]}. {closest[1].tempo.text} "
         "(--rank error ranks by closeness alone)"),
    ]


def format_tempo_report(
    cue: Cue, spec: FindSpec, steady: Sequence[Candidate], plan: ChangePlan | None, rank: Rank = Rank.EDITOR
) -> str:
    """The finder's answer as text: ranked steady tempos with every hit, then the change plan if any."""
    n = len(cue.hits)
    on = "the click" if spec.subdivision == 1 else f"1/{spec.subdivision} of a click"
    lines = [
        (f"{cue.id}{'  ' + cue.title if cue.title else ''}: {plural(n, 'hit')}, "
        f"within {_frames(spec.tolerance)} of {on}, {decimal_text(spec.lowest, 2, trim=True)}-"
        f"{decimal_text(spec.highest, 2, trim=True)} clicks/min, {spec.meter}"),
        "",
    ]
    rows = [["#", "tempo", "clicks/min", "frame click", "downbeat", "caught", "worst"]]
    for k, c in enumerate(steady, start=1):
        cpm = decimal_text(c.tempo.clicks_per_minute(spec.rate), 3)
        fc = frame_click(c.tempo.seconds(spec.rate), spec.rate)
        moved = f" ({'+' if c.move > 0 else ''}{c.move} f)" if c.move else ""
        rows.append([str(k), c.tempo.text, cpm, fc, f"{cue.start + c.move}{moved}", f"{c.caught}/{n}",
                     _frames(c.worst)])
    lines.append("steady tempos")
    lines.extend(text_table(rows, "  "))
    lines.extend(_on_frame_note(steady, rank))
    for k, c in enumerate(steady, start=1):
        lines += ["", f"  {k}. {c.tempo.text}, downbeat {cue.start + c.move}"]
        lines.extend(_fit_rows(cue, c.fits, spec))
    if plan is not None:
        lines.append("")
        caught = sum(1 for f in plan.fits if f.caught)
        verb = "catches" if plan.changes == 1 else "catch"
        lines.append(f"changes: {plural(plan.changes, 'tempo change')} at bar lines {verb} "
                     f"{caught}/{n} hits")
        lines.extend(_fit_rows(cue, plan.fits, spec))
        lines.append("")
        lines.extend(change_blocks(cue, plan, spec).rstrip("\n").split("\n"))
    elif steady and steady[0].caught < n:
        lines += ["", "changes: none found within the search's limits"]
    return "\n".join(lines) + "\n"


def _fits_json(cue: Cue, fits: Sequence[HitFit], spec: FindSpec) -> list[dict[str, Any]]:
    return [
        {
            "label": f.label,
            "timecode": str(Timecode.at(cue.downbeat + f.frames / spec.rate.fps, spec.rate)),
            "bar": f.bar,
            "beat": float(f.beat),
            "error_frames": float(f.error),
            "error_ms": float(f.error_ms(spec.rate)),
            "caught": f.caught,
        }
        for f in fits
    ]


def _tempo_json(tempo: Tempo, spec: FindSpec) -> dict[str, Any]:
    return {
        "tempo": tempo.toml,
        "family": tempo.family.value,
        "clicks_per_minute": float(tempo.clicks_per_minute(spec.rate)),
        "frame_click": frame_click(tempo.seconds(spec.rate), spec.rate),
        "click_length": float(tempo.seconds(spec.rate)),
    }


def tempo_report(
    cue: Cue, spec: FindSpec, steady: Sequence[Candidate], plan: ChangePlan | None, rank: Rank = Rank.EDITOR
) -> dict[str, Any]:
    """The finder's answer, JSON-ready."""
    return {
        "cue": cue.id,
        "hits": len(cue.hits),
        "tolerance_frames": float(spec.tolerance),
        "subdivision": spec.subdivision,
        "meter": str(spec.meter),
        "rank": rank.value,
        "steady": [
            {
                **_tempo_json(c.tempo, spec),
                "move_frames": c.move,
                "start": str(cue.start + c.move),
                "caught": c.caught,
                "worst_frames": float(c.worst),
                "on_frame": c.on_frame,
                "hits": _fits_json(cue, c.fits, spec),
            }
            for c in steady
        ],
        "changes": None
        if plan is None
        else {
            "count": plan.changes,
            "segments": [{"bar": s.bar, "ramp": s.ramp, **_tempo_json(s.tempo, spec)} for s in plan.segments],
            "hits": _fits_json(cue, plan.fits, spec),
            "toml": change_blocks(cue, plan, spec),
        },
    }
