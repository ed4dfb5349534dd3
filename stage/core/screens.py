"""How each screen draws: its reports of the frames that showed streamer ends and punches, summed up.

A screen sends, for every streamer end and punch it draws, the server-clock
time of the frame that first showed it (by its own clock) and the time it
was due (:class:`~stage.core.protocol.Drawn`).  :class:`DrawStats` keeps, per
screen, how late or early that was, so "the streamer was late on desk 4" is
something one can look up.  Pure: reports in, figures out.
"""

from __future__ import annotations

import collections
import math
from dataclasses import dataclass, field
from typing import Any

from stage.core.protocol import Drawn

RECENT = 256  # reports kept per screen for the percentiles


def percentile(values: list[float], q: float) -> float:
    """The ``q``-th percentile (0-100) of ``values`` by the nearest rank; NaN when empty."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


@dataclass
class DrawStats:
    """One screen's draw reports: counts and how late (positive) or early each was, in seconds."""

    count: int = 0
    off_frame: int = 0  # shown on another frame than the one nearest its time
    worst: float = 0.0  # the lateness furthest from zero
    last: Drawn | None = None
    recent: collections.deque[float] = field(default_factory=lambda: collections.deque(maxlen=RECENT))

    def add(self, report: Drawn) -> float:
        """Count one report; its lateness in seconds."""
        late = report.late
        self.count += 1
        # The nearest frame is within half a frame of the instant; the clock's own uncertainty is allowed on top.
        if abs(late) > report.frame / 2 + report.delay / 2:
            self.off_frame += 1
        if abs(late) > abs(self.worst):
            self.worst = late
        self.last = report
        self.recent.append(late)
        return late

    def as_dict(self) -> dict[str, Any]:
        """Plain data in milliseconds, as ``/api/clients`` shows it."""
        recent = list(self.recent)
        absolute = [abs(x) for x in recent]
        last = self.last

        def ms(x: float) -> float | None:
            return None if math.isnan(x) else round(x * 1000, 3)

        return {
            "count": self.count,
            "off_frame": self.off_frame,
            "late_p50_ms": ms(percentile(recent, 50)),
            "abs_p99_ms": ms(percentile(absolute, 99)),
            "worst_ms": ms(self.worst) if self.count else None,
            "last": None if last is None else {
                "key": last.key, "kind": last.kind, "late_ms": ms(last.late), "sync_ms": ms(last.delay / 2),
                "frame_ms": ms(last.frame),
            },
        }
