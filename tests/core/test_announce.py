"""The schedule ahead: what is announced, when, and with which server-clock times."""

from __future__ import annotations

from textwrap import dedent

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stage.core.announce import HORIZON, MIN_LEAD, Announcer, Visual, visuals
from stage.core.cuesheet import Cue, parse_cue_sheet
from stage.core.schedule import EventKind
from stage.core.transport import Anchor

# 24 fps, half a second a click, 1 bar of 3/4 count-off, 2 bars, 1 s streamers, one hit with a flutter of 3.
# Downbeat at 01:00:00:00 = 3600 s.  Count-off from -1.5 s, end at 3 s.
SHEET = """
[picture]
rate = "24"
[defaults]
countoff = 1
streamer = "1s"
[[cue]]
id = "1M1"
start = "01:00:00:00"
tempo = "12-0"
meter = "3/4"
bars = 2
[[cue.hit]]
bar = 2
beat = 2
label = "door"
color = "blue"
streamer = "2s"
flutter = 3
"""

S, P, FL = EventKind.STREAMER, EventKind.PUNCH, EventKind.FLUTTER


def cue() -> Cue:
    (c,) = parse_cue_sheet(dedent(SHEET)).cues
    return c


def test_visual_positions_in_order() -> None:
    vs = visuals([cue()])
    got = [(v.kind, v.position, v.length, v.color, v.label, v.timecode) for v in vs]
    assert got == [
        (S, 3597.5, 1.0, "yellow", "count-off", "00:59:57:12"),
        (P, 3598.5, 0.0, "yellow", "count-off", "00:59:58:12"),
        (S, 3599.0, 1.0, "green", "downbeat", "00:59:59:00"),
        (S, 3600.0, 2.0, "blue", "door", "01:00:00:00"),  # same instant: the schedule's order, streamer first
        (P, 3600.0, 0.0, "green", "downbeat", "01:00:00:00"),
        (FL, 3600 + 23 / 12, 0.0, "blue", "door", "01:00:01:22"),  # flutter punches two frames apart
        (S, 3602.0, 1.0, "red", "end", "01:00:02:00"),
        (FL, 3602.0, 0.0, "blue", "door", "01:00:02:00"),
        (FL, 3600 + 25 / 12, 0.0, "blue", "door", "01:00:02:02"),
        (P, 3603.0, 0.0, "red", "end", "01:00:03:00"),
    ]
    assert len({v.key for v in vs}) == len(vs)
    assert all(v.key.startswith("1M1#") for v in vs)


def test_announces_three_seconds_ahead_with_server_times() -> None:
    # Rolling at normal speed, picture at 3590 s when the clock reads 100 s.
    a = Announcer(visuals([cue()]))
    anchor = Anchor(100.0, 3590.0, 1.0)
    assert a.due(anchor, 100.0) == []
    # The count-off streamer starts at 3597.5 s = clock 107.5: it is due at 104.5.
    t = a.next_due(anchor, 100.0)
    assert t == pytest.approx(104.5, abs=1e-5)
    assert t is not None
    assert t > 104.5
    (first,) = a.due(anchor, t)
    assert first.visual.label == "count-off"
    assert first.visual.kind is S
    assert (first.start, first.end, first.late) == (107.5, 108.5, False)
    assert first.as_dict() == {
        "key": first.visual.key, "cue": "1M1", "kind": "streamer", "start": 107.5, "end": 108.5,
        "position": 3597.5, "length": 1.0, "timecode": "00:59:57:12", "bar": -1, "beat": first.visual.beat,
        "color": "yellow", "label": "count-off", "late": False,
    }
    # Nothing is announced twice under one anchor.
    assert a.due(anchor, t) == []
    # At 107 s, everything starting up to 110 s: count-off punch (108.5), downbeat streamer (109), punch and
    # door streamer (110).
    got = [(x.visual.kind, x.start) for x in a.due(anchor, 107.0)]
    assert got == [(P, 108.5), (S, 109.0), (S, 110.0), (P, 110.0)]


def test_varispeed_scales_times_and_lengths() -> None:
    a = Announcer(visuals([cue()]))
    anchor = Anchor(0.0, 3596.0, 2.0)  # double speed: 3597.5 is reached at 0.75 s
    got = [(x.visual.label, x.visual.kind, x.start, x.end) for x in a.due(anchor, 0.0)[:3]]
    assert got == [("count-off", S, 0.75, 1.25), ("count-off", P, 1.25, 1.25), ("downbeat", S, 1.5, 2.0)]


def test_a_streamer_under_way_is_announced_late_and_ended_ones_are_not() -> None:
    a = Announcer(visuals([cue()]))
    anchor = Anchor(10.0, 3598.0, 1.0)  # half-way through the count-off streamer; nothing has ended
    got = a.due(anchor, 10.0)
    first = got[0]
    assert (first.visual.label, first.start, first.end, first.late) == ("count-off", 9.5, 10.5, True)
    a2 = Announcer(visuals([cue()]))
    got2 = a2.due(Anchor(10.0, 3598.6, 1.0), 10.0)  # count-off streamer and punch are over
    assert [x.visual.label for x in got2][:1] == ["downbeat"]


def test_a_new_anchor_voids_earlier_announcements() -> None:
    a = Announcer(visuals([cue()]))
    rolling = Anchor(0.0, 3597.0, 1.0)
    n = len(a.due(rolling, 0.0))
    assert n > 0
    located = Anchor(1.0, 3597.0, 1.0)  # located back to the same place a second later
    again = a.due(located, 1.0)
    assert len(again) == n
    assert again[0].start == 1.5


def test_stopped_or_reverse_announces_nothing() -> None:
    a = Announcer(visuals([cue()]))
    assert a.due(Anchor(0.0, 3599.0, 0.0), 0.0) == []
    assert a.next_due(Anchor(0.0, 3599.0, 0.0), 0.0) is None
    assert a.due(Anchor(0.0, 3601.0, -1.0), 0.0) == []
    assert a.next_due(Anchor(0.0, 3601.0, -1.0), 0.0) is None


def test_ahead_is_what_a_joining_screen_needs() -> None:
    a = Announcer(visuals([cue()]))
    anchor = Anchor(0.0, 3597.0, 1.0)
    due = a.due(anchor, 0.0)
    assert [x.visual.key for x in a.ahead(anchor, 0.0)] == [x.visual.key for x in due]
    # Two seconds on, the count-off streamer and punch (ended at 1.5) are gone from the snapshot.
    later = a.ahead(anchor, 2.0)
    assert [(x.visual.label, x.visual.kind, x.start, x.late) for x in later] == [
        ("downbeat", S, 2.0, True), ("door", S, 3.0, False), ("downbeat", P, 3.0, False)
    ]
    assert a.ahead(Anchor(5.0, 3597.0, 1.0), 5.0) == []


def test_screen_latency_moves_times_earlier() -> None:
    a = Announcer(visuals([cue()]), offset=0.1)
    first = a.due(Anchor(100.0, 3597.0, 1.0), 100.0)[0]
    assert (first.start, first.end) == pytest.approx((100.4, 101.4))


def test_horizon_must_exceed_lead() -> None:
    with pytest.raises(ValueError, match="must exceed"):
        Announcer((), horizon=1.0, lead=1.0)


def simple_visuals(positions: list[float]) -> tuple[Visual, ...]:
    return tuple(
        Visual(f"c#{i}", "c", S, p, 0.5, "", None, None, "white", "") for i, p in enumerate(sorted(positions))
    )


@settings(max_examples=200, deadline=None)
@given(
    positions=st.lists(st.floats(0, 120, allow_nan=False), min_size=1, max_size=40),
    speed=st.floats(0.25, 4.0),
    lateness=st.lists(st.floats(0, HORIZON - MIN_LEAD - 1e-3), min_size=1, max_size=50),
)
def test_every_event_ahead_is_announced_once_at_least_the_lead_before_it_starts(
    positions: list[float], speed: float, lateness: list[float]
) -> None:
    """A loop that calls back when asked, up to 2 s late, still gives every event a second's notice."""
    vs = simple_visuals(positions)
    a = Announcer(vs)
    anchor = Anchor(1000.0, -10.0, speed)  # picture reaches 0 at 1000 + 10 / speed
    now = 1000.0
    seen: dict[str, float] = {}
    i = 0
    while True:
        for x in a.due(anchor, now):
            assert x.visual.key not in seen
            seen[x.visual.key] = x.start - now
        t = a.next_due(anchor, now)
        if t is None:
            break
        assert t >= now
        now = t + lateness[i % len(lateness)]
        i += 1
    assert set(seen) == {v.key for v in vs}
    assert min(seen.values()) >= MIN_LEAD


def test_a_chase_correction_within_tolerance_voids_nothing() -> None:
    a = Announcer(visuals([cue()]))
    first = Anchor(0.0, 3597.0, 1.0)
    n = len(a.due(first, 0.0))
    # Half a millisecond off and a hair faster: the same anchor for the schedule; times stay the first's.
    nudged = Anchor(0.5, 3597.5005, 1.0001)
    assert a.due(nudged, 0.5) == []
    assert a.anchor == first
    assert len(a.ahead(nudged, 0.5)) == n
    assert a.next_due(nudged, 0.5) is not None
    # Five milliseconds off: a new anchor, everything ahead is announced again.
    moved = Anchor(0.5, 3597.505, 1.0)
    again = a.due(moved, 0.5)
    assert a.anchor == moved
    assert [x.start for x in again][:2] == pytest.approx([0.495, 1.495])


def test_next_due_after_a_new_anchor_is_now() -> None:
    a = Announcer(visuals([cue()]))
    a.due(Anchor(0.0, 3500.0, 1.0), 0.0)
    assert a.next_due(Anchor(1.0, 3598.0, 1.0), 1.0) == 1.0
