"""The schedule of a cue, worked out by hand event by event."""

from __future__ import annotations

from fractions import Fraction
from textwrap import dedent

from stage.core.cuesheet import Cue, parse_cue_sheet
from stage.core.schedule import CueEvent, EventKind, cue_schedule, event_timecode

F = Fraction
S, P, FL, W, C = EventKind.STREAMER, EventKind.PUNCH, EventKind.FLUTTER, EventKind.WARNING, EventKind.CLICK

Row = tuple[EventKind, Fraction, int | None, Fraction | None, bool, str]


def cue_of(body: str, rate: str = "24") -> Cue:
    (cue,) = parse_cue_sheet(f'[picture]\nrate = "{rate}"\n{dedent(body)}').cues
    return cue


def rows(events: list[CueEvent]) -> list[Row]:
    return [(e.kind, e.time, e.bar, e.beat, e.accent, e.color) for e in events]


# 24 fps, 12-0 (half a second a click), 2 bars of 3/4 after one bar of count-off, 1 s streamers.
# Count-off clicks at -3/2, -1, -1/2; bar 1 at 0, 1/2, 1; bar 2 at 3/2, 2, 5/2; the end at 3.
SMALL = """
[defaults]
countoff = 1
streamer = "1s"

[[cue]]
id = "1M1"
start = "01:00:00:00"
tempo = "12-0"
meter = "3/4"
bars = 2
"""

HIT = """
[[cue.hit]]
bar = 2
beat = 2
label = "door"
color = "blue"
streamer = "24f"
"""


def test_small_cue_by_hand() -> None:
    cue = cue_of(SMALL + HIT)
    events = cue_schedule(cue)
    assert rows(events) == [
        (S, F(-5, 2), -1, F(2), False, "yellow"),  # ends at the first warning click
        (P, F(-3, 2), 0, F(1), False, "yellow"),
        (W, F(-3, 2), 0, F(1), False, ""),
        (S, F(-1), 0, F(2), False, "green"),  # ends at the downbeat
        (W, F(-1), 0, F(2), False, ""),
        (W, F(-1, 2), 0, F(3), False, ""),
        (P, F(0), 1, F(1), False, "green"),
        (C, F(0), 1, F(1), True, ""),
        (C, F(1, 2), 1, F(2), False, ""),
        (S, F(1), 1, F(3), False, "blue"),  # the hit's streamer
        (C, F(1), 1, F(3), False, ""),
        (C, F(3, 2), 2, F(1), True, ""),
        (S, F(2), 2, F(2), False, "red"),  # ends at the end of the cue
        (P, F(2), 2, F(2), False, "blue"),  # the hit
        (C, F(2), 2, F(2), False, ""),
        (C, F(5, 2), 2, F(3), False, ""),
        (P, F(3), 3, F(1), False, "red"),
    ]
    streamers = [(e.time, e.length, e.end, e.label) for e in events if e.kind is S]
    assert streamers == [
        (F(-5, 2), F(1), F(-3, 2), "count-off"),
        (F(-1), F(1), F(0), "downbeat"),
        (F(1), F(1), F(2), "door"),
        (F(2), F(1), F(3), "end"),
    ]
    punches = [(e.time, e.label) for e in events if e.kind is P]
    assert punches == [(F(-3, 2), "count-off"), (F(0), "downbeat"), (F(2), "door"), (F(3), "end")]


def test_every_click_of_the_map_is_scheduled() -> None:
    cue = cue_of(SMALL)
    assert cue.clicks is not None
    clicks = [e for e in cue_schedule(cue) if e.kind in {W, C}]
    assert [(e.time, e.bar, e.beat) for e in clicks] == [(c.time, c.bar, F(c.beat)) for c in cue.clicks.clicks]
    assert [e.accent for e in clicks] == [False, False, False, True, False, False, True, False, False]


def test_no_count_off_no_yellow_streamer() -> None:
    cue = cue_of(SMALL.replace("countoff = 1", "countoff = 0"))
    events = cue_schedule(cue)
    assert [(e.kind, e.time, e.color) for e in events if e.kind in {S, P}] == [
        (S, F(-1), "green"),
        (P, F(0), "green"),
        (S, F(2), "red"),
        (P, F(3), "red"),
    ]
    assert not any(e.kind is W for e in events)


def test_flutter_3_is_centred_on_the_hit_and_replaces_its_punch() -> None:
    cue = cue_of(SMALL + HIT + "flutter = 3\n")
    events = cue_schedule(cue)
    twelfth = F(1, 12)  # the default spacing: 2 frames at 24 fps
    assert [r for r in rows(events) if r[5] == "blue"] == [
        (S, F(1), 1, F(3), False, "blue"),
        (FL, 2 - twelfth, 2, F(11, 6), False, "blue"),
        (FL, F(2), 2, F(2), False, "blue"),
        (FL, 2 + twelfth, 2, F(13, 6), False, "blue"),
    ]
    at_two = [e.kind for e in events if e.time == 2]
    assert at_two == [S, FL, C]  # the red end streamer, the middle flutter punch, the click


def test_flutter_5_at_a_set_spacing() -> None:
    cue = cue_of(SMALL.replace('streamer = "1s"', 'streamer = "1s"\nflutter_spacing = "3f"') + HIT + "flutter = 5\n")
    flutters = [e.time for e in cue_schedule(cue) if e.kind is FL]
    assert flutters == [F(7, 4), F(15, 8), F(2), F(17, 8), F(9, 4)]
    assert not any(e.kind is P and e.color == "blue" for e in cue_schedule(cue))


def test_flutter_7_and_flutter_1() -> None:
    seven = [e.time for e in cue_schedule(cue_of(SMALL + HIT + "flutter = 7\n")) if e.kind is FL]
    assert seven == [2 + F(k, 12) for k in range(-3, 4)]
    one = cue_schedule(cue_of(SMALL + HIT + "flutter = 1\n"))
    assert [(e.kind, e.time) for e in one if e.color == "blue"] == [(S, F(1)), (FL, F(2))]


def test_hit_without_streamer_keeps_its_punch() -> None:
    cue = cue_of(SMALL + HIT.replace('streamer = "24f"', "streamer = false"))
    assert [(e.kind, e.time) for e in cue_schedule(cue) if e.color == "blue"] == [(P, F(2))]


def test_hit_without_punch_keeps_its_streamer() -> None:
    cue = cue_of(SMALL + HIT + "punch = false\n")
    assert [(e.kind, e.time, e.end) for e in cue_schedule(cue) if e.color == "blue"] == [(S, F(1), F(2))]


def test_cue_without_streamers_keeps_its_punches() -> None:
    cue = cue_of(SMALL + "streamers = false\n")
    assert [(e.kind, e.time, e.color) for e in cue_schedule(cue) if e.kind in {S, P}] == [
        (P, F(-3, 2), "yellow"),
        (P, F(0), "green"),
        (P, F(3), "red"),
    ]


def test_no_punches_when_the_defaults_say_so() -> None:
    cue = cue_of(SMALL.replace("countoff = 1", "countoff = 1\npunch = false"))
    assert [(e.kind, e.end) for e in cue_schedule(cue) if e.kind in {S, P}] == [(S, F(-3, 2)), (S, F(0)), (S, F(3))]


def test_free_timing_cue() -> None:
    cue = cue_of(
        """
        [[cue]]
        id = "1M2"
        start = "01:00:00:00"
        free = true
        end = "01:00:10:00"

        [[cue.hit]]
        at = "01:00:05:00"
        label = "beam"
        color = "cyan"
        """
    )
    events = cue_schedule(cue)
    assert rows(events) == [
        (S, F(-2), None, None, False, "green"),  # 3 ft = 48 frames = 2 s at 24 fps
        (P, F(0), None, None, False, "green"),
        (S, F(3), None, None, False, "cyan"),
        (P, F(5), None, None, False, "cyan"),
        (S, F(8), None, None, False, "red"),
        (P, F(10), None, None, False, "red"),
    ]
    assert [e.label for e in events] == ["start", "start", "beam", "beam", "end", "end"]


def test_same_instant_order() -> None:
    # A hit on the downbeat with a 1 s streamer and a flutter of 1; the green streamer and punch land there too.
    cue = cue_of(SMALL + '[[cue.hit]]\nbar = 1\ncolor = "blue"\nflutter = 1\n[[cue.hit]]\nat = "01:00:01:00"\n')
    at_zero = [(e.kind, e.color) for e in cue_schedule(cue) if e.time == 0]
    assert at_zero == [(S, "white"), (P, "green"), (FL, "blue"), (C, "")]
    at_minus_one = [(e.kind, e.color) for e in cue_schedule(cue) if e.time == -1]
    assert at_minus_one == [(S, "green"), (S, "blue"), (W, "")]


def test_events_are_in_time_order() -> None:
    cue = cue_of(SMALL + HIT + "flutter = 7\n")
    events = cue_schedule(cue)
    assert [e.time for e in events] == sorted(e.time for e in events)


def test_event_timecode_is_the_frame_the_event_falls_in() -> None:
    cue = cue_of(SMALL + HIT + "flutter = 3\n")
    events = cue_schedule(cue)
    assert str(event_timecode(cue, events[0])) == "00:59:57:12"  # -2.5 s
    flutter = next(e for e in events if e.kind is FL)
    assert str(event_timecode(cue, flutter)) == "01:00:01:22"  # 23/12 s = 46 frames
    # At 23.976 a 120-a-minute click lands between frames: 0.5 s is 11.988 frames, 1.5 s is 35.964.
    slow = cue_of(
        """
        [defaults]
        countoff = 0

        [[cue]]
        id = "1M1"
        start = "01:00:10:00"
        tempo = 120
        bars = 1
        """,
        rate="23.976",
    )
    clicks = [e for e in cue_schedule(slow) if e.kind is C]
    assert [str(event_timecode(slow, e)) for e in clicks] == [
        "01:00:10:00",
        "01:00:10:11",
        "01:00:10:23",
        "01:00:11:11",
    ]
    # A 12-0 frame click at 23.976 lands exactly on frame boundaries.
    frames = cue_of(
        """
        [[cue]]
        id = "1M1"
        start = "01:00:10:00"
        tempo = "12-0"
        bars = 1
        """,
        rate="23.976",
    )
    frame_clicks = [e for e in cue_schedule(frames) if e.kind is C]
    assert [str(event_timecode(frames, e)) for e in frame_clicks] == [
        "01:00:10:00",
        "01:00:10:12",
        "01:00:11:00",
        "01:00:11:12",
    ]


def test_drop_frame_event_timecode() -> None:
    cue = cue_of(
        """
        [defaults]
        countoff = 0

        [[cue]]
        id = "1M1"
        start = "00:00:59;28"
        tempo = 120
        bars = 1
        """,
        rate="29.97df",
    )
    clicks = [e for e in cue_schedule(cue) if e.kind is C]
    # 0.5 s is 14.985 frames: frame 1798 + 14 = 1812 = 00:01:00;14 (labels ;00 and ;01 skipped).
    assert [str(event_timecode(cue, e)) for e in clicks][:2] == ["00:00:59;28", "00:01:00;14"]
