"""Every bound on what a client may send, in one place.

REST (:mod:`stage.adapters.web`), the ``/ws`` protocol table
(:mod:`stage.core.protocol`, which OSC and MQTT reuse), the OSC endpoint and
the take store read their limits from here, and ``docs/limits.md`` is the
same table for people.  A value outside them is refused where it enters
(422 or 404 on REST, an ``invalid`` or ``not_found`` error elsewhere), so
nothing further in — the engine's arithmetic, the timecode, the database —
ever sees a value it cannot hold.

Pure: constants and two small checks, no I/O.
"""

from __future__ import annotations

import math
from fractions import Fraction

from stage.core.timecode import Rate

# -- numbers --------------------------------------------------------------------------

MAX_ID = 2**31 - 1
"""Largest take id: PostgreSQL's ``integer`` (and so the take log's id column) holds no more.
An id outside 1…MAX_ID cannot exist: it is an unknown take (404, ``not_found``)."""

MIN_BAR = -64
"""Smallest bar of a locate: count-off bars are numbered down from 0."""
MAX_BAR = 100_000
"""Largest bar of a locate or a pickup (a cue of ten thousand bars is already a very long cue)."""

MIN_BEAT = 1
MAX_BEAT = 64
"""Beats of a bar, counted from 1 (a fractional beat lies between clicks)."""

MAX_COUNTIN = 16
"""Bars of count-in a pickup may ask for (a count-off longer than that is a cue of its own)."""

MIN_SPEED = 1 / 64
"""Smallest magnitude of a varispeed: a slower clock would take days to reach the next click,
and a speed near zero makes every deadline overflow."""
MAX_SPEED = 4.0
"""Largest magnitude of a varispeed (either direction)."""

MIN_PORT = 1
MAX_PORT = 65_535
"""UDP ports an OSC client may ask state to be sent to."""
MAX_OSC_SUBSCRIBERS = 256
"""Addresses OSC state is sent to on request (``/stage/subscribe``), besides the configured destinations."""

DAY_HOURS = 24
"""Timecode runs from 00:00:00:00 up to, not including, 24:00:00:00: picture cannot be located past it."""

MAX_VERSION = MAX_ID
"""Largest ``expected_version`` of a take edit (a version is stored in an ``integer`` column)."""

MAX_REQUEST_INT = 2**53
"""Largest magnitude of an integer request id: what a browser's number holds exactly."""

# -- text -----------------------------------------------------------------------------

MAX_CUE_ID = 32
"""Characters of a cue id (the cue sheet's rule, and the take log's column)."""
MAX_TIMECODE = 16
"""Characters of a timecode as text (``01:00:10:00``, with room for spaces)."""
MAX_STATUS = 32
"""Characters of a take status as sent (``false_start``, ``circled``, ``fs``…)."""
MAX_NOTE = 4000
"""Characters of a note on a take."""
MAX_TOKEN = 256
"""Characters of a role token."""
MAX_NAME = 64
"""Characters of a client's name in the client list."""
MAX_REQUEST_ID = 64
"""Characters of a string request id."""

# -- sizes ----------------------------------------------------------------------------

MAX_TOPICS = 16
"""Items in a list of topics (there are eight topics; a repeat is harmless, a thousand are not)."""
MAX_SHEET = 1024 * 1024
"""Bytes of a cue sheet uploaded to the running service (a feature's sheet is tens of kilobytes)."""
MAX_FRAME = 16 * 1024
"""Bytes of one ``/ws`` frame or one MQTT command payload."""


def valid_id(value: int) -> bool:
    """True when a take with id ``value`` can exist."""
    return 1 <= value <= MAX_ID


def day_seconds(rate: Rate) -> Fraction:
    """Picture seconds from 00:00:00:00 to 24:00:00:00 at ``rate``: no position reaches it."""
    return Fraction(rate.frames_per_day) / rate.fps


def valid_position(position: float, rate: Rate) -> bool:
    """True when picture seconds ``position`` has a timecode of its own (0 up to, not including, 24 h)."""
    return math.isfinite(position) and 0 <= position < day_seconds(rate)


def valid_speed(speed: float) -> bool:
    """True when ``speed`` is a varispeed the clock can run at."""
    return math.isfinite(speed) and MIN_SPEED <= abs(speed) <= MAX_SPEED
