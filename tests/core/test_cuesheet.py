"""Cue sheets: DESIGN's example and the demo sheet load with exact times; every problem is reported, at once."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path
from textwrap import dedent

import pytest

from stage.core.cuesheet import CueSheet, load_cue_sheet, parse_cue_sheet
from stage.core.timecode import RATES
from stage.errors import CueSheetError, Problem

F = Fraction
REPO = Path(__file__).resolve().parents[2]

# Frame lengths at 23.976 are 1001/24000 s.
FRAME_23 = F(1001, 24000)

DESIGN_EXAMPLE = """
[picture]
title = "The Lighthouse"
rate = "23.976"              # 23.976 | 24 | 25 | 29.97 | 29.97df | 30

[defaults]
countoff = 2                 # bars of warning clicks before the downbeat
streamer = "3ft"             # streamer length: "3ft" (16 frames a foot), "2s", "48f"

[[cue]]
id = "1M1"                   # reel + M + number
title = "Main Title"
start = "01:00:10:00"        # picture timecode of bar 1 beat 1 (the downbeat)
tempo = "12-0"               # frame click "F-E", or clicks per minute: 120 or 117.55
meter = "4/4"                # clicks fall on the denominator unless click = "8" etc.
bars = 40                    # length in bars (or end = "TC")

[[cue.change]]               # tempo and/or meter change at a bar
bar = 9
tempo = 96
meter = "3/4"

[[cue.change]]
bar = 17
tempo = "14-2"
ramp = 4                     # accel/rit over the 4 clicks before bar 17: with
                             # old length a, new length b and n = 4, the k-th
                             # of those clicks lasts a + (b - a)·k/(n + 1);
                             # the click on bar 17 lasts b

[[cue.hit]]                  # a sync point: streamer into a punch by default
at = "01:00:25:12"           # or bar = 12, beat = 3
label = "door slams"
color = "yellow"
streamer = "2s"              # false: no streamer
punch = true
flutter = 0                  # 1, 3, 5 or 7 punches around the hit

[[cue]]
id = "1M2"
title = "Free-timing transition"
start = "01:02:03:04"
free = true                  # no click: streamers and punches only
end = "01:02:40:00"
"""


def sheet(body: str, picture: str = 'rate = "24"') -> str:
    """A sheet at 24 fps (unless ``picture`` says otherwise) with ``body`` after the picture table."""
    return f"[picture]\n{picture}\n\n{dedent(body)}"


# One cue at 24 fps, 12-0 (half a second a click), 4 bars of 4/4: bar 1 at 01:00:00:00, end at 8 s,
# and by default two bars of count-off from 4 s before the downbeat.
CUE = """
[[cue]]
id = "1M1"
start = "01:00:00:00"
tempo = "12-0"
meter = "4/4"
bars = 4
"""


def problems(text: str) -> list[Problem]:
    with pytest.raises(CueSheetError) as info:
        parse_cue_sheet(text)
    return info.value.problems


def places(text: str) -> list[tuple[str, str]]:
    return sorted((p.where, p.field) for p in problems(text))


# -- sheets that load --------------------------------------------------------------------------------------------------


def test_design_example_loads_with_exact_times() -> None:
    cs = parse_cue_sheet(DESIGN_EXAMPLE)
    assert cs.title == "The Lighthouse"
    assert cs.rate is RATES["23.976"]
    assert [c.id for c in cs.cues] == ["1M1", "1M2"]

    m1 = cs.cue("1M1")
    assert m1.title == "Main Title"
    assert str(m1.start) == "01:00:10:00"
    assert m1.downbeat == (3610 * 24) * FRAME_23
    assert m1.streamer == 48 * FRAME_23
    assert m1.punch is True
    assert m1.flutter_spacing == 2 * FRAME_23
    assert not m1.free
    clicks = m1.clicks
    assert clicks is not None
    a = 12 * FRAME_23  # 12-0
    q = F(60, 96)  # 96 clicks a minute
    b = F(57, 4) * FRAME_23  # 14-2
    assert clicks.countoff == 2
    assert m1.first_time == -8 * a
    assert clicks.time_of(9) == 32 * a
    assert clicks.time_of(15, 2) == 32 * a + 19 * q
    ramp = [q + (b - q) * F(k, 5) for k in range(1, 5)]  # bar 15 beat 3 and bar 16 beats 1-3
    assert [c.length for c in clicks.clicks[8 + 32 + 20 : 8 + 32 + 24]] == ramp
    t17 = 32 * a + 20 * q + sum(ramp, F(0))
    assert t17 == 32 * a + 20 * q + 2 * q + 2 * b
    assert clicks.time_of(17) == t17
    assert clicks.time_of(40, 3) == t17 + 71 * b  # bars 17-40 stay in 3/4
    assert m1.end_time == t17 + 72 * b
    assert clicks.bars == 40

    (hit,) = m1.hits
    assert hit.label == "door slams"
    assert hit.time == 372 * FRAME_23  # 15 s 12 frames of timecode after the downbeat
    assert (hit.color, hit.streamer, hit.punch, hit.flutter) == ("yellow", F(2), True, 0)
    assert (hit.bar, hit.beat) == (None, None)

    m2 = cs.cue("1M2")
    assert m2.free
    assert m2.clicks is None
    assert m2.first_time == 0
    assert m2.end_time == (37 * 24 - 4) * FRAME_23
    assert str(m2.end) == "01:02:40:00"
    assert m2.hits == ()


def test_demo_sheet_loads() -> None:
    cs = load_cue_sheet(REPO / "config" / "demo-cues.toml")
    assert cs.title == "The Lighthouse"
    assert [c.id for c in cs.cues] == ["1M1", "1M2", "1M3"]

    m1 = cs.cue("1M1")
    assert m1.clicks is not None
    a, q, b, e = 12 * FRAME_23, F(60, 96), F(57, 4) * FRAME_23, 6 * FRAME_23
    t17 = 32 * a + 21 * q + sum((q + (b - q) * F(k, 4) for k in range(1, 4)), F(0))
    assert m1.clicks.time_of(17) == t17
    assert m1.clicks.time_of(25) == t17 + 32 * b
    assert m1.clicks.time_of(25, 7) == t17 + 32 * b + 6 * e
    assert m1.end_time == t17 + 32 * b + 7 * e + 60 * a
    assert m1.notes == "Full orchestra; brass enter at bar 9."
    door, lightning, keeper = m1.hits
    assert door.time == 372 * FRAME_23
    assert (lightning.time, lightning.flutter, lightning.color) == (32 * a + 11 * q, 5, "blue")
    assert (lightning.bar, lightning.beat) == (12, F(3))
    assert (keeper.time, keeper.streamer, keeper.color) == (t17 + 32 * b + 7 * e + 7 * 4 * a, 48 * FRAME_23, "white")

    m3 = cs.cue("1M3")
    assert m3.clicks is not None
    a3, b3 = F(60) / F("150.5"), F(60, 138)
    assert m3.clicks.countoff == 1
    assert m3.first_time == -2 * a3  # one bar of 6/8 on the dotted quarter: two clicks
    t17 = 28 * a3 + sum((a3 + (b3 - a3) * F(k, 5) for k in range(1, 5)), F(0))
    assert m3.clicks.time_of(17) == t17
    (waves,) = m3.hits
    assert waves.time == t17 + 15 * b3
    assert m3.end_time == t17 + 32 * b3


def test_defaults_and_their_overrides() -> None:
    cs = parse_cue_sheet(
        sheet(
            """
            [defaults]
            countoff = 1
            streamer = "2s"
            color = "#FF8800"
            punch = false
            flutter_spacing = "3f"

            [[cue]]
            id = "1M1"
            start = "01:00:00:00"
            tempo = 120
            meter = "3/4"
            end = "01:00:05:00"
            countoff = 0
            streamer = "1+08"

            [[cue.hit]]
            bar = 2
            beat = 2.5

            [[cue.hit]]
            at = "01:00:04:12"
            streamer = false
            punch = true
            color = "Red"
            """
        )
    )
    (cue,) = cs.cues
    assert cue.clicks is not None
    assert cue.clicks.countoff == 0
    assert cue.end_time == 5
    assert [c.time for c in cue.clicks.clicks][-1] == F(9, 2)  # clicks strictly before the end
    assert cue.streamer == F(24, 24)
    assert cue.punch is False
    assert cue.flutter_spacing == F(3, 24)
    by_bar, by_tc = cue.hits
    assert (by_bar.time, by_bar.bar, by_bar.beat) == (F(3, 2) + F(3, 4), 2, F(5, 2))
    assert (by_bar.label, by_bar.color, by_bar.streamer, by_bar.punch, by_bar.flutter) == (
        "hit 1",
        "#ff8800",
        F(2),
        False,
        0,
    )
    assert (by_tc.time, by_tc.label, by_tc.color, by_tc.streamer, by_tc.punch) == (F(9, 2), "hit 2", "red", None, True)


def test_default_streamer_is_three_feet_and_cue_streamers_can_be_turned_off() -> None:
    cs = parse_cue_sheet(sheet(CUE + "streamers = false\n"))
    assert cs.cues[0].streamer is None
    cs = parse_cue_sheet(sheet(CUE, picture='rate = "25"'))
    assert cs.cues[0].streamer == F(48, 25)
    assert cs.cues[0].clicks is not None
    assert cs.cues[0].clicks.countoff == 2


def test_cues_come_in_time_order_and_can_be_looked_up() -> None:
    later = CUE.replace('"1M1"', '"1M2"').replace("01:00:00:00", "01:01:00:00")
    cs = parse_cue_sheet(sheet(later + CUE))
    assert [c.id for c in cs.cues] == ["1M1", "1M2"]
    assert cs.cue("1M2").start.frame_count == 86400 + 1440
    with pytest.raises(KeyError, match=r"no cue '1M9' on the cue sheet \(cues: 1M1, 1M2\)"):
        cs.cue("1M9")
    with pytest.raises(KeyError, match=r"cues: none"):
        CueSheet("empty", RATES["24"]).cue("1M1")


def test_hits_in_the_count_off_and_at_the_end_are_inside_the_cue() -> None:
    text = sheet(CUE + '[[cue.hit]]\nat = "00:59:56:00"\n[[cue.hit]]\nat = "01:00:08:00"\n')
    (cue,) = parse_cue_sheet(text).cues
    assert [h.time for h in cue.hits] == [-4, 8]


def test_drop_frame_sheet() -> None:
    text = sheet(CUE.replace("01:00:00:00", "01:00:00;02"), picture='rate = "29.97df"')
    (cue,) = parse_cue_sheet(text).cues
    assert cue.start.frame_count == 107892 + 2
    assert str(cue.start) == "01:00:00;02"


# -- every problem, at once --------------------------------------------------------------------------------------------


def test_six_problems_are_reported_together() -> None:
    text = sheet(
        """
        [defaults]
        color = "chartreuse"

        [[cue]]
        id = "1M1"
        start = "01:00:00:00"
        tempo = "12-0"
        bars = 8
        composer = "anon"

        [[cue.change]]
        bar = 5
        tempo = 96

        [[cue.change]]
        bar = 3
        tempo = 120

        [[cue.hit]]
        bar = 2
        flutter = 2

        [[cue]]
        id = "1M2"
        start = "01:01:00:00"
        tempo = 120
        """,
        picture='rate = "24"\ndirector = "someone"',
    )
    found = problems(text)
    assert sorted((p.where, p.field) for p in found) == [
        ("cue 1M1", "composer"),
        ("cue 1M1, change 2", "bar"),
        ("cue 1M1, hit 1", "flutter"),
        ("cue 1M2", "bars"),
        ("defaults", "color"),
        ("picture", "director"),
    ]
    messages = {(p.where, p.field): p.message for p in found}
    assert messages[("cue 1M1, change 2", "bar")] == ("bar 3 beat 1 comes after bar 5 beat 1: changes must be in order")
    assert messages[("cue 1M1, hit 1", "flutter")] == "flutter 2: must be 0, 1, 3, 5 or 7 punches"
    assert messages[("defaults", "color")].startswith("unknown color 'chartreuse'")


def test_the_error_lists_every_problem_one_a_line() -> None:
    with pytest.raises(CueSheetError) as info:
        parse_cue_sheet(sheet(CUE + "composer = 1\nlyricist = 2\n"), source="reel1.toml")
    lines = str(info.value).splitlines()
    assert lines[0] == "reel1.toml: 2 problem(s)"
    assert lines[1].startswith("cue 1M1: composer: unknown key (allowed: ")
    assert lines[2].startswith("cue 1M1: lyricist: unknown key")
    assert info.value.source == "reel1.toml"


@pytest.mark.parametrize(
    ("text", "where", "field"),
    [
        ("version = 2\n" + sheet(CUE), "cue sheet", "version"),
        (sheet(CUE, picture='rate = "24"\nfps = 24'), "picture", "fps"),
        (sheet("[defaults]\ncount_off = 2\n" + CUE), "defaults", "count_off"),
        (sheet(CUE + "composer = 1\n"), "cue 1M1", "composer"),
        (sheet(CUE + "[[cue.change]]\nbar = 2\ntempo = 96\nrmp = 2\n"), "cue 1M1, change 1", "rmp"),
        (sheet(CUE + '[[cue.hit]]\nbar = 2\ncolour = "red"\n'), "cue 1M1, hit 1", "colour"),
    ],
)
def test_unknown_keys_at_every_level(text: str, where: str, field: str) -> None:
    (p,) = problems(text)
    assert (p.where, p.field) == (where, field)
    assert p.message.startswith("unknown key (allowed: ")


def _one(text: str, where: str, field: str, message: str) -> None:
    found = problems(text)
    assert [(p.where, p.field) for p in found] == [(where, field)], found
    assert message in found[0].message


def test_impossible_start_timecode_is_one_problem() -> None:
    text = sheet(CUE.replace("01:00:00:00", "01:01:00;00"), picture='rate = "29.97df"')
    _one(text, "cue 1M1", "start", "01:01:00;00: does not exist in drop-frame")


def test_impossible_hit_and_end_timecodes() -> None:
    _one(sheet(CUE + '[[cue.hit]]\nat = "01:00:02:24"\n'), "cue 1M1, hit 1", "at", "frame 24 does not exist at 24 fps")
    text = sheet(CUE.replace("bars = 4", 'end = "01:60:00:00"'))
    found = places(text)
    assert ("cue 1M1", "end") in found


def test_unparsable_timecode() -> None:
    _one(sheet(CUE.replace("01:00:00:00", "1 hour")), "cue 1M1", "start", "is not a timecode")


def test_overlapping_cues() -> None:
    second = CUE.replace('"1M1"', '"1M2"').replace("01:00:00:00", "01:00:07:00")
    msg = "01:00:07:00 overlaps cue 1M1 (01:00:00:00 to 01:00:08:00)"
    _one(sheet(CUE + second), "cue 1M2", "start", msg)
    _one(sheet(second + CUE), "cue 1M2", "start", msg)  # order in the file does not matter


def test_cues_that_touch_do_not_overlap() -> None:
    second = CUE.replace('"1M1"', '"1M2"').replace("01:00:00:00", "01:00:08:00")
    assert len(parse_cue_sheet(sheet(CUE + second)).cues) == 2


@pytest.mark.parametrize(
    ("hit", "field", "at"),
    [
        ('at = "01:00:09:00"', "at", "01:00:09:00"),
        ('at = "00:59:55:00"', "at", "00:59:55:00"),  # before the first warning click
        ("bar = 9", "bar", "01:00:16:00"),
        ("bar = -2", "bar", "00:59:54:00"),
    ],
)
def test_hit_outside_its_cue(hit: str, field: str, at: str) -> None:
    _one(
        sheet(CUE + f"[[cue.hit]]\n{hit}\n"),
        "cue 1M1, hit 1",
        field,
        f"{at} lies outside the cue (00:59:56:00 to 01:00:08:00)",
    )


def test_hit_in_a_free_cue_at_a_bar() -> None:
    free = '[[cue]]\nid = "1M1"\nstart = "01:00:00:00"\nfree = true\nend = "01:00:10:00"\n[[cue.hit]]\nbar = 2\n'
    _one(sheet(free), "cue 1M1, hit 1", "bar", "a free-timing cue has no bars")


@pytest.mark.parametrize(
    ("hit", "field", "message"),
    [
        ('label = "nowhere"', "at", "place a hit with at"),
        ('at = "01:00:01:00"\nbar = 2', "at", "place a hit with at"),
        ('beat = 2\nlabel = "x"', "at", "place a hit with at"),
        ('at = "01:00:01:00"\nbeat = 2', "beat", "beat needs a bar"),
        ("bar = 2\nbeat = 5", "bar", "bar 2 has no beat 5"),
        ("bar = 2\nbeat = 0", "beat", "beat 0 does not exist"),
        ('bar = 2\nstreamer = "far"', "streamer", "is not a length"),
        ("bar = 2\nstreamer = true", "streamer", "give the streamer a length"),
        ('bar = 2\npunch = "yes"', "punch", "must be true or false"),
    ],
)
def test_hit_problems(hit: str, field: str, message: str) -> None:
    _one(sheet(CUE + f"[[cue.hit]]\n{hit}\n"), "cue 1M1, hit 1", field, message)


def test_changes_out_of_order_and_at_bar_1() -> None:
    changes = "[[cue.change]]\nbar = 3\ntempo = 96\n[[cue.change]]\nbar = 2\ntempo = 100\n"
    _one(sheet(CUE + changes), "cue 1M1, change 2", "bar", "bar 2 beat 1 comes after bar 3 beat 1")
    _one(sheet(CUE + "[[cue.change]]\nbar = 1\ntempo = 96\n"), "cue 1M1, change 1", "bar", "set them on the cue")


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ("tempo = 96", "bar", "missing: the bar"),
        ("bar = 2", "tempo", "a change needs a tempo, a meter or both"),
        ("bar = 2\nramp = 2\nmeter = '3/4'", "ramp", "a ramp needs the tempo it ramps to"),
        ("bar = 2\nbeat = 2\nmeter = '3/4'", "beat", "a meter changes only on beat 1"),
        ("bar = 2\ntempo = 'fast'", "tempo", "is not a tempo"),
        ("bar = 2\nmeter = 'x'", "meter", "is not a meter"),
        ("bar = 2\nmeter = '7/8'\nclick = '4'", "meter", "a bar does not hold a whole number of 4 clicks"),
        ("bar = 0\ntempo = 96", "bar", "must be 1 or more"),
    ],
)
def test_change_problems(change: str, field: str, message: str) -> None:
    _one(sheet(CUE + f"[[cue.change]]\n{change}\n"), "cue 1M1, change 1", field, message)


def test_ramp_longer_than_the_clicks_available() -> None:
    # Bar 2 has only the 4 clicks of bar 1 before it.
    change = "[[cue.change]]\nbar = 2\ntempo = 96\nramp = 5\n"
    _one(sheet(CUE + change), "cue 1M1, change 1", "ramp", "a ramp over 5 clicks needs 5 clicks before it, only 4")


def test_design_ramp_fits_exactly_what_it_needs() -> None:
    # 8 bars of 3/4 = 24 clicks since bar 9: a ramp of 24 fits, 25 does not.
    assert parse_cue_sheet(DESIGN_EXAMPLE.replace("ramp = 4", "ramp = 24")).cue("1M1").clicks is not None
    found = problems(DESIGN_EXAMPLE.replace("ramp = 4", "ramp = 25"))
    assert len(found) == 1
    assert "only 24 since the previous change" in found[0].message


def test_change_beyond_the_end_of_the_cue() -> None:
    found = problems(sheet(CUE + "[[cue.change]]\nbar = 5\ntempo = 96\n"))
    assert len(found) == 1
    assert found[0].where.startswith("cue 1M1")
    assert "a change at bar 5 beat 1 lies beyond the end of the cue" in found[0].message


@pytest.mark.parametrize(
    ("picture", "message"),
    [
        ('rate = "31"', "unknown rate '31'"),
        ("rate = 31", "unknown rate 31"),
        ('rate = "fast"', "unknown rate 'fast'"),
    ],
)
def test_unknown_rate(picture: str, message: str) -> None:
    _one(sheet(CUE, picture=picture), "picture", "rate", message)


def test_an_unknown_rate_does_not_hide_the_cues_problems() -> None:
    assert places(sheet(CUE + "composer = 1\n", picture='rate = "31"')) == [
        ("cue 1M1", "composer"),
        ("picture", "rate"),
    ]


@pytest.mark.parametrize(
    ("line", "replacement", "message"),
    [
        ('meter = "4/4"', 'meter = "4/3"', "the denominator must be 1, 2, 4, 8, 16 or 32"),
        ('meter = "4/4"', 'meter = "0/4"', "the numerator must be 1-32"),
        ('meter = "4/4"', 'meter = "waltz"', "is not a meter"),
        ('meter = "4/4"', 'meter = "5/4"\nclick = "4."', "a bar does not hold a whole number of 4. clicks"),
        ('meter = "4/4"', "meter = 4", "must be a string"),
    ],
)
def test_nonsense_meter(line: str, replacement: str, message: str) -> None:
    _one(sheet(CUE.replace(line, replacement)), "cue 1M1", "meter", message)


def test_meter_defaults_to_4_4() -> None:
    (cue,) = parse_cue_sheet(sheet(CUE.replace('meter = "4/4"\n', ""))).cues
    assert cue.clicks is not None
    assert cue.clicks.clicks[0].meter.clicks_per_bar == 4


@pytest.mark.parametrize(
    ("remove", "field", "message"),
    [
        ('start = "01:00:00:00"\n', "start", "missing: the timecode of the downbeat"),
        ('tempo = "12-0"\n', "tempo", "missing: a frame click"),
        ('id = "1M1"\n', "id", "missing or not a short name"),
    ],
)
def test_missing_cue_fields(remove: str, field: str, message: str) -> None:
    where = "cue #1" if field == "id" else "cue 1M1"
    _one(sheet(CUE.replace(remove, "")), where, field, message)


def test_missing_rate() -> None:
    _one(sheet(CUE, picture='title = "x"'), "picture", "rate", "missing: the picture rate")


BARS_OR_END = 'give the length as bars = N or as end = "TC" (one of them)'


def test_bars_and_end_both() -> None:
    _one(sheet(CUE + 'end = "01:00:08:00"\n'), "cue 1M1", "bars", BARS_OR_END)


def test_bars_and_end_neither() -> None:
    _one(sheet(CUE.replace("bars = 4\n", "")), "cue 1M1", "bars", BARS_OR_END)


def test_end_before_start() -> None:
    found = places(sheet(CUE.replace("bars = 4", 'end = "00:59:00:00"')))
    assert ("cue 1M1", "end") in found


@pytest.mark.parametrize("key", ["tempo = 120", 'meter = "3/4"', "bars = 4", "countoff = 1", 'click = "8"'])
def test_free_cue_with_click_settings(key: str) -> None:
    free = f'[[cue]]\nid = "1M2"\nstart = "01:00:00:00"\nfree = true\nend = "01:00:10:00"\n{key}\n'
    field = key.split(" ", maxsplit=1)[0]
    _one(sheet(free), "cue 1M2", field, "a free-timing cue has no click")


def test_free_cue_needs_an_end() -> None:
    free = '[[cue]]\nid = "1M2"\nstart = "01:00:00:00"\nfree = true\n'
    _one(sheet(free), "cue 1M2", "end", "a free-timing cue needs its end timecode")


def test_duplicate_ids() -> None:
    second = CUE.replace("01:00:00:00", "01:01:00:00")
    _one(sheet(CUE + second), "cue 1M1", "id", "used by another cue")


@pytest.mark.parametrize("color", ["chartreuse", "#fff", "#12345g", "rgb(1,2,3)"])
def test_bad_colors(color: str) -> None:
    _one(sheet(CUE + f'[[cue.hit]]\nbar = 2\ncolor = "{color}"\n'), "cue 1M1, hit 1", "color", "unknown color")
    _one(sheet(f'[defaults]\ncolor = "{color}"\n' + CUE), "defaults", "color", "unknown color")


@pytest.mark.parametrize("flutter", [2, 4, 9, -1])
def test_bad_flutter(flutter: int) -> None:
    _one(
        sheet(CUE + f"[[cue.hit]]\nbar = 2\nflutter = {flutter}\n"),
        "cue 1M1, hit 1",
        "flutter",
        f"flutter {flutter}: must be 0, 1, 3, 5 or 7 punches",
    )


@pytest.mark.parametrize(
    ("defaults", "field"),
    [
        ("countoff = -1", "countoff"),
        ('countoff = "two"', "countoff"),
        ('streamer = "3 feet"', "streamer"),
        ("punch = 1", "punch"),
        ('flutter_spacing = "0f"', "flutter_spacing"),
    ],
)
def test_bad_defaults(defaults: str, field: str) -> None:
    _one(sheet(f"[defaults]\n{defaults}\n" + CUE), "defaults", field, "")


def test_invalid_toml() -> None:
    _one("[picture\nrate = 24\n", "cue sheet", "syntax", "not valid TOML")


@pytest.mark.parametrize(
    ("text", "field", "message"),
    [
        ('picture = "24"\n[[cue]]\nid = "1M1"\n', "picture", "must be a table"),
        ('defaults = 1\n[picture]\nrate = "24"\n', "defaults", "must be a table"),
        ('cue = "1M1"\n[picture]\nrate = "24"\n', "cue", "must be an array of tables"),
    ],
)
def test_malformed_tables(text: str, field: str, message: str) -> None:
    found = problems(text)
    assert ("cue sheet", field) in [(p.where, p.field) for p in found]
    assert any(message in p.message for p in found)


def test_unreadable_file(tmp_path: Path) -> None:
    missing = tmp_path / "nope.toml"
    with pytest.raises(CueSheetError) as info:
        load_cue_sheet(missing)
    (p,) = info.value.problems
    assert (p.where, p.field) == ("cue sheet", "file")
    assert str(missing) in p.message
    binary = tmp_path / "binary.toml"
    binary.write_bytes(b"\xff\xfe\x00")
    with pytest.raises(CueSheetError) as info:
        load_cue_sheet(binary)
    assert info.value.problems[0].message.endswith("is not UTF-8 text")


def test_a_dotted_default_click_serves_a_sheet_in_compound_time() -> None:
    sheet = parse_cue_sheet(
        """
[picture]
rate = "24"
[defaults]
click = "4."
countoff = 0
[[cue]]
id = "1M1"
start = "01:00:00:00"
tempo = 60
meter = "6/8"
bars = 2
"""
    )
    clicks = sheet.cue("1M1").clicks
    assert clicks is not None
    assert [(c.bar, c.beat, c.time) for c in clicks.clicks] == [
        (1, 1, Fraction(0)), (1, 2, Fraction(1)), (2, 1, Fraction(2)), (2, 2, Fraction(3))
    ]
