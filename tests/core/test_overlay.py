"""What is drawn over the picture at a moment: the page's timing rules, the shapes' geometry, the burnt-in text."""

from __future__ import annotations

import math
import re
from fractions import Fraction
from pathlib import Path
from textwrap import dedent

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stage.core.cuesheet import Cue, parse_cue_sheet
from stage.core.overlay import (
    COLORS,
    PUNCH_TIME,
    SHOW_DEFAULT,
    Direction,
    Overlay,
    clock_text,
    color_rgb,
    head_x,
    marks,
    parse_show,
    punch_age,
    streamer_progress,
)
from stage.core.schedule import EventKind, cue_schedule
from stage.core.timecode import RATES
from stage.errors import RenderError

F = Fraction
FPS = sorted({r.fps for r in RATES.values()})

times = st.fractions(min_value=0, max_value=86_400, max_denominator=48_000)
lengths = st.fractions(min_value=F(1, 10), max_value=10, max_denominator=1000)


def cue_of(body: str, rate: str = "24") -> Cue:
    (cue,) = parse_cue_sheet(f'[picture]\nrate = "{rate}"\n{dedent(body)}').cues
    return cue


# 24 fps, 12-0 (half a second a click), one bar of 3/4 count-off, 2 bars, 1 s streamers, a hit on bar 2 beat 2.
CUE = """
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
"""
SMALL = cue_of(CUE + 'label = "door"\ncolor = "blue"\nstreamer = "24f"\n')
SMALL_FLUTTER = cue_of(CUE + 'label = "lightning"\nflutter = 3\n')
DOWNBEAT = F(3600)  # picture seconds of 01:00:00:00 at 24 fps
DT = F(1, 24)


# -- the timing rules, frame by frame -------------------------------------------------------------------------


@settings(deadline=None)  # exact maths, not speed: a loaded machine must not fail it
@given(start=times, length=lengths, fps=st.sampled_from(FPS), data=st.data())
def test_a_streamer_shows_from_its_start_to_half_a_frame_past_its_hit(start: Fraction, length: Fraction,
                                                                      fps: Fraction, data: st.DataObject) -> None:
    end, dt = start + length, 1 / fps
    t = start + data.draw(st.fractions(min_value=-1, max_value=11, max_denominator=10_000))
    progress = streamer_progress(t, start, end, dt)
    if t < start or t >= end + dt / 2:
        assert progress is None
    else:
        assert progress == min(1, (t - start) / length)
        assert 0 <= progress <= 1


@settings(deadline=None)
@given(start=times, length=lengths, fps=st.sampled_from(FPS))
def test_the_last_frame_of_a_streamer_is_the_first_of_its_punch(start: Fraction, length: Fraction,
                                                                 fps: Fraction) -> None:
    """Exactly one frame shows both: the one nearest the hit, with the head within half a frame of the edge."""
    end, dt = start + length, 1 / fps
    frames = range(math.floor(start * fps) - 2, math.ceil(end * fps) + 4)
    streamer = [f for f in frames if streamer_progress(f * dt, start, end, dt) is not None]
    punch = [f for f in frames if punch_age(f * dt, end, dt) is not None]
    assert streamer[-1] == punch[0]
    nearest = streamer[-1]
    assert abs(nearest * dt - end) <= dt / 2
    progress = streamer_progress(nearest * dt, start, end, dt)
    assert progress is not None
    assert 1 - progress <= dt / 2 / length
    assert streamer == list(range(streamer[0], nearest + 1))  # no frame missed on the way
    heads = [streamer_progress(f * dt, start, end, dt) or F(0) for f in streamer]
    assert heads == sorted(heads)


@settings(deadline=None)
@given(instant=times, fps=st.sampled_from(FPS))
def test_a_punch_shows_for_punch_time(instant: Fraction, fps: Fraction) -> None:
    dt = 1 / fps
    frames = range(math.floor(instant * fps) - 3, math.ceil(instant * fps) + 8)
    shown = [f for f in frames if punch_age(f * dt, instant, dt) is not None]
    assert shown == list(range(shown[0], shown[-1] + 1))
    assert math.floor(PUNCH_TIME * fps) <= len(shown) <= math.ceil(PUNCH_TIME * fps)
    assert abs(shown[0] * dt - instant) <= dt / 2  # the frame nearest the hit is the first


WEB = Path(__file__).resolve().parents[2] / "clients" / "web" / "lib"


def test_punch_time_and_colours_are_the_pages() -> None:
    """The page draws the same overlay: its punch time and colour table, read from its source."""
    found = re.search(r"export const PUNCH_TIME = ([\d.]+);", (WEB / "schedule.js").read_text(encoding="utf-8"))
    assert found is not None
    assert Fraction(found.group(1)) == PUNCH_TIME
    (source,) = [f.read_text(encoding="utf-8") for f in WEB.glob("*.js") if "export const COLORS" in f.read_text()]
    table = source[source.index("export const COLORS") :].split("}))")[0]
    page = {name: tuple(bytes.fromhex(hex_)) for name, hex_ in re.findall(r"(\w+): '#([0-9a-f]{6})'", table)}
    assert page == COLORS


@settings(deadline=None)
@given(progress=st.fractions(min_value=0, max_value=1), width=st.integers(64, 4096))
def test_the_head_crosses_into_the_far_edge_or_the_centre(progress: Fraction, width: int) -> None:
    assert head_x(progress, width, Direction.LTR) == pytest.approx(float(width * progress))
    assert head_x(progress, width, Direction.RTL) == pytest.approx(width - float(width * progress))
    assert head_x(progress, width, Direction.CENTRE) == pytest.approx(float(width * progress) / 2)
    assert head_x(F(1), width, Direction.LTR) == width
    assert head_x(F(1), width, Direction.RTL) == 0
    assert head_x(F(1), width, Direction.CENTRE) == width / 2


# -- the shapes of one moment --------------------------------------------------------------------------------


def test_streamers_punches_and_labels_of_a_cue_by_hand() -> None:
    overlay = Overlay(SMALL, cue_schedule(SMALL), 1000, 500)
    # Half a second into the green streamer into the downbeat (from -1 s): its head at the middle.
    shown = overlay.at(DOWNBEAT - F(1, 2), DT)
    assert [(b.left, b.width, b.color) for b in shown.bars] == [(500 - 12, 12, COLORS["green"])]
    assert [(lb.text, lb.x, lb.right) for lb in shown.labels] == [("DOWNBEAT", 500 - 18, True)]
    assert shown.labels[0].y == pytest.approx(110)  # below the cut's code strips (the top fifth)
    assert shown.discs == ()
    # On the downbeat: the green streamer at the far edge, the cue's own punch (35 % of the height, ringed).
    shown = overlay.at(DOWNBEAT, DT)
    assert [(b.left + b.width, b.color) for b in shown.bars] == [(1000, COLORS["green"])]
    (disc,) = shown.discs
    assert (disc.radius, disc.color) == (87.5, COLORS["green"])
    assert disc.ring == pytest.approx(87.5 * 1.3)
    # The hit on bar 2 beat 2 (at 2 s): a 25 % blue disc, no ring.
    (disc,) = overlay.at(DOWNBEAT + 2, DT).discs
    assert (disc.radius, disc.color, disc.ring) == (62.5, COLORS["blue"], 0)
    # Three frames of punch at 24 fps, then nothing.
    assert [len(overlay.at(DOWNBEAT + 2 + k * DT, DT).discs) for k in range(-1, 5)] == [0, 1, 1, 1, 0, 0]


def test_the_other_directions_and_a_narrow_picture() -> None:
    half = DOWNBEAT - F(1, 2)
    rtl = Overlay(SMALL, cue_schedule(SMALL), 1000, 500, direction=Direction.RTL).at(half, DT)
    assert [(b.left, b.width) for b in rtl.bars] == [(500, 12)]
    assert (rtl.labels[0].x, rtl.labels[0].right) == (518, False)
    centre = Overlay(SMALL, cue_schedule(SMALL), 1000, 500, direction=Direction.CENTRE).at(half, DT)
    assert [(b.left, b.width) for b in centre.bars] == [(250 - 12, 12), (750, 12)]
    narrow = Overlay(SMALL, cue_schedule(SMALL), 320, 180).at(half, DT)
    assert narrow.bars[0].width == 6  # 1.2 % of 320 is under the least width


def test_flutters_are_small_and_what_is_shown_can_be_chosen() -> None:
    cue = SMALL_FLUTTER
    sizes = {(m.kind, m.size) for m in marks(cue, cue_schedule(cue))}
    assert (EventKind.FLUTTER, 0) in sizes
    overlay = Overlay(cue, cue_schedule(cue), 1000, 500)
    # Flutter punches 2 frames apart, each on for 3: the one before the hit is still on at the hit.
    assert [d.radius for d in overlay.at(DOWNBEAT + 2, DT).discs] == [37.5, 37.5]  # 15 % of the height
    assert [len(overlay.at(DOWNBEAT + 2 + k * DT, DT).discs) for k in range(-3, 6)] == [0, 1, 1, 2, 1, 2, 1, 1, 0]
    bare = Overlay(cue, cue_schedule(cue), 1000, 500, show=frozenset({"timecode"}))
    quiet = bare.at(DOWNBEAT + 2, DT)
    assert (quiet.bars, quiet.discs, quiet.labels, quiet.centre, quiet.right) == ((), (), (), "", "")
    assert quiet.left == "01:00:02:00"
    only_punches = Overlay(cue, cue_schedule(cue), 1000, 500, show=frozenset({"punches"}))
    assert only_punches.at(DOWNBEAT + 2, DT).discs == ()  # a flutter is not a punch
    assert len(only_punches.at(DOWNBEAT, DT).discs) == 1


# -- the burnt-in text ---------------------------------------------------------------------------------------


def test_bar_beat_and_the_count_off_by_hand() -> None:
    overlay = Overlay(SMALL, cue_schedule(SMALL), 1000, 500)
    texts = {s: overlay.count_text(DOWNBEAT + s) for s in (F(-2), F(-3, 2), F(-1), F(-1, 2) - DT, F(-1, 2), F(0),
                                                           F(1, 2), F(3, 2) + DT, F(3) - DT, F(3))}
    assert texts == {
        F(-2): "",  # the pre-roll: nothing yet
        F(-3, 2): "COUNT-OFF 3",  # three warning clicks left, this one included
        F(-1): "COUNT-OFF 2",
        F(-1, 2) - DT: "COUNT-OFF 2",
        F(-1, 2): "COUNT-OFF 1",
        F(0): "1 | 1",
        F(1, 2): "1 | 2",
        F(3, 2) + DT: "2 | 1",
        F(3) - DT: "2 | 3",
        F(3): "",  # the end
    }
    shown = overlay.at(DOWNBEAT + F(1, 2), DT)
    assert (shown.left, shown.centre, shown.right) == ("01:00:00:12", "1M1", "1 | 2")
    counting = Overlay(SMALL, cue_schedule(SMALL), 1000, 500, show=frozenset({"countoff"}))
    assert (counting.count_text(DOWNBEAT - 1), counting.count_text(DOWNBEAT)) == ("COUNT-OFF 2", "")


def test_a_free_timing_cue_counts_seconds() -> None:
    cue = cue_of("""
    [[cue]]
    id = "1M2"
    start = "01:00:00:00"
    free = true
    end = "01:01:10:00"
    streamer = "1s"
    """)
    overlay = Overlay(cue, cue_schedule(cue), 1000, 500)
    assert [overlay.count_text(DOWNBEAT + s) for s in (F(-1), F(0), F(123, 10), F(65), F(70))] == [
        "", "0.0", "12.3", "1:05.0", ""]


def test_clock_text() -> None:
    assert [clock_text(s) for s in (F(0), F(-1, 2), F(99, 10), F(3601, 10))] == ["0.0", "−0.5", "9.9", "6:00.1"]


def test_frames_outside_the_cut_say_so() -> None:
    cut = (86_400, 48)  # 01:00:00:00 at 24 fps, two seconds
    overlay = Overlay(SMALL, cue_schedule(SMALL), 1000, 500, cut=cut)
    before = overlay.at(DOWNBEAT - DT, DT)
    assert (before.notice, before.detail) == ("BEFORE THE CUT", "picture starts at 01:00:00:00")
    assert overlay.at(DOWNBEAT, DT).notice == ""
    assert overlay.at(DOWNBEAT + 2 - DT, DT).notice == ""
    after = overlay.at(DOWNBEAT + 2, DT)
    assert (after.notice, after.detail) == ("END OF THE CUT", "picture ends at 01:00:01:23")
    assert Overlay(SMALL, cue_schedule(SMALL), 1000, 500).at(DOWNBEAT - 1, DT).notice == ""


def test_overlay_words_and_colours() -> None:
    assert parse_show("streamers, Punches,timecode") == {"streamers", "punches", "timecode"}
    assert parse_show("all") == SHOW_DEFAULT
    assert parse_show("none") == frozenset()
    with pytest.raises(RenderError, match="'take' is not something the movie draws"):
        parse_show("streamers,take")
    assert color_rgb("yellow") == (0xFF, 0xD4, 0x00)
    assert color_rgb("#102030") == (0x10, 0x20, 0x30)
    assert color_rgb("#10203g") == color_rgb("nonsense") == (255, 255, 255)


@settings(deadline=None)
@given(at=st.fractions(min_value=-10, max_value=10, max_denominator=240))
def test_what_shows_is_what_the_rules_say_at_any_time(at: Fraction) -> None:
    """Overlay.at, searching only near t, finds every mark the rules show, and no other."""
    overlay = Overlay(SMALL, cue_schedule(SMALL), 1000, 500)
    t = DOWNBEAT + at
    shown = overlay.at(t, DT)
    streamers = [m for m in overlay.marks if m.kind is EventKind.STREAMER
                 and streamer_progress(t, m.start, m.end, DT) is not None]
    punches = [m for m in overlay.marks if m.kind is not EventKind.STREAMER and punch_age(t, m.start, DT) is not None]
    assert len(shown.bars) == len(streamers)
    assert [d.color for d in shown.discs] == [color_rgb(m.color) for m in punches]
