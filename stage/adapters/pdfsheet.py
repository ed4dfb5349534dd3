"""The printed cue breakdown: one PDF, a cue per page (or more), laid out with reportlab.

This is the only module that imports :mod:`reportlab`.  The words and
numbers come from :func:`stage.core.paper.paper_cue`; this module only sets
them: A4 portrait, the cue id large at the top, tables with a header row that
repeats on every page, zebra rows for following a line across, tempo and
meter changes in bold, and a footer with the page number.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle, getSampleStyleSheet
from reportlab.lib.units import mm
from reportlab.platypus import KeepTogether, PageBreak, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from stage.core.paper import PaperCue, PaperTable

__all__ = ["write_breakdown_pdf"]

_MARGIN = 15 * mm
_STYLES = getSampleStyleSheet()
_HEADING = ParagraphStyle("cue", parent=_STYLES["Title"], fontSize=26, leading=30, alignment=0, spaceAfter=2)
_SUBTITLE = ParagraphStyle("sub", parent=_STYLES["Normal"], fontSize=10, textColor=colors.HexColor("#444444"))
_LINE = ParagraphStyle("line", parent=_STYLES["Normal"], fontSize=12, leading=16)
_SECTION = ParagraphStyle("section", parent=_STYLES["Heading2"], fontSize=13, spaceBefore=10, spaceAfter=4)
_CELL = ParagraphStyle("cell", parent=_STYLES["Normal"], fontName="Helvetica", fontSize=10.5, leading=12.5)


def _table(t: PaperTable) -> Any:
    # Helvetica's digits all have one width, so columns of timecode line up without a thin typewriter face.
    data: list[list[Any]] = [list(t.header)]
    data.extend([Paragraph(escape(cell), _CELL) if len(cell) > 28 else cell for cell in row] for row in t.rows)
    table = Table(data, repeatRows=1, hAlign="LEFT")
    style = [
        ("FONT", (0, 0), (-1, 0), "Helvetica-Bold", 9.5),
        ("FONT", (0, 1), (-1, -1), "Helvetica", 10.5),
        ("LINEBELOW", (0, 0), (-1, 0), 0.8, colors.black),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("TOPPADDING", (0, 0), (-1, -1), 1.5),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 1.5),
        ("LEFTPADDING", (0, 0), (-1, -1), 4),
        ("RIGHTPADDING", (0, 0), (-1, -1), 8),
    ]
    style.extend(("BACKGROUND", (0, i), (-1, i), colors.HexColor("#EEEEEE")) for i in range(2, len(data), 2))
    style.extend(("FONT", (0, i + 1), (-1, i + 1), "Helvetica-Bold", 10.5) for i in t.emphasis)
    table.setStyle(TableStyle(style))
    return table


def _story(cues: Sequence[PaperCue]) -> list[Any]:
    story: list[Any] = []
    for k, cue in enumerate(cues):
        if k:
            story.append(PageBreak())
        story.append(Paragraph(escape(cue.heading), _HEADING))
        story.append(Paragraph(escape(cue.subtitle), _SUBTITLE))
        story.append(Spacer(1, 4 * mm))
        story.extend(Paragraph(escape(line), _LINE) for line in cue.lines)
        for t in cue.tables:
            title = Paragraph(escape(t.title), _SECTION)
            # A short table stays on one page with its title; a long one starts under it and runs on.
            if len(t.rows) <= 12:
                story.append(KeepTogether([title, _table(t)]))
            else:
                story.extend([title, _table(t)])
    return story


def write_breakdown_pdf(path: str | Path, cues: Sequence[PaperCue], title: str) -> int:
    """Write the breakdown of ``cues`` to ``path``; returns the number of pages."""
    pages = {"count": 0}

    def footer(canvas: Any, doc: Any) -> None:
        pages["count"] = doc.page
        canvas.saveState()
        canvas.setFont("Helvetica", 8)
        canvas.drawString(_MARGIN, 8 * mm, title)
        canvas.drawRightString(A4[0] - _MARGIN, 8 * mm, f"page {doc.page}")
        canvas.restoreState()

    doc = SimpleDocTemplate(
        str(path),
        pagesize=A4,
        leftMargin=_MARGIN,
        rightMargin=_MARGIN,
        topMargin=_MARGIN,
        bottomMargin=_MARGIN + 4 * mm,
        title=title,
        author="stage",
    )
    doc.build(_story(cues), onFirstPage=footer, onLaterPages=footer)
    return pages["count"]
