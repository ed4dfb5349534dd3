"""The takes as markers and as an EDL: names, reel names, selections and the EDL's exact lines."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from stage.core.session import Note, Role, Take, TakeStatus
from stage.core.takemarks import REEL_LENGTH, Selection, edl_text, marker_name, reel_name, select, take_markers
from stage.core.timecode import RATES, Timecode, parse_rate
from stage.errors import SessionError

T0 = datetime(2026, 12, 7, 10, 0, tzinfo=UTC)


def take(cue: str, number: int, tc_in: str, tc_out: str | None = None, **kw: object) -> Take:
    ended = {"tc_out": tc_out, "ended_at": T0 + timedelta(minutes=1)} if tc_out else {}
    return Take(cue, number, tc_in, T0, **ended, **kw)  # type: ignore[arg-type]


def test_a_marker_says_the_take_and_what_it_is() -> None:
    assert marker_name(take("1M1", 3, "01:00:10:00", status=TakeStatus.PRINT)) == "1M1-3 circled"
    assert marker_name(take("1M1", 4, "01:00:10:00", pickup_bar=17, status=TakeStatus.HOLD)) == \
        "1M1-4 pickup b17 hold"
    assert marker_name(take("2M5", 1, "01:00:10:00", wild=True, status=TakeStatus.FALSE_START)) == \
        "2M5-1 wild false start"
    assert marker_name(take("2M5", 2, "01:00:10:00")) == "2M5-2"


def test_markers_are_in_picture_order_on_their_frame() -> None:
    rate = parse_rate("23.976")
    takes = [take("1M2", 1, "01:02:03:04"), take("1M1", 2, "01:00:10:00"), take("1M1", 1, "01:00:10:00")]
    marks = take_markers(takes, rate)
    assert [(m.frame, m.name) for m in marks] == [(86640, "1M1-1"), (86640, "1M1-2"), (89356, "1M2-1")]


def test_a_timecode_that_cannot_exist_at_the_rate_names_the_take() -> None:
    with pytest.raises(SessionError, match=r"take 1M1-1: .*01:00:10:27.*is the picture rate 25 right\?"):
        take_markers([take("1M1", 1, "01:00:10:27")], parse_rate("25"))


def test_selections() -> None:
    takes = [take("1M1", n, "01:00:10:00", status=s) for n, s in
             enumerate([TakeStatus.PRINT, TakeStatus.HOLD, TakeStatus.BREAKDOWN, None], 1)]
    assert [t.number for t in select(takes, Selection.CIRCLED)] == [1]
    assert [t.number for t in select(takes, Selection.KEPT)] == [1, 2]
    assert [t.number for t in select(takes, Selection.ALL)] == [1, 2, 3, 4]


def test_reel_names_fit_eight_characters_and_tell_the_take() -> None:
    assert reel_name(take("1M1", 3, "01:00:00:00")) == "1M1_T03"
    assert reel_name(take("12M10", 3, "01:00:00:00")) == "12M10T03"
    assert reel_name(take("4m12a", 3, "01:00:00:00")) == "4M12AT03"
    assert reel_name(take("4M12AB", 12, "01:00:00:00")) == "4M12AB12"
    assert reel_name(take("4M12A", 123, "01:00:00:00")) == "4M12A123"
    assert reel_name(take("104M12AB", 12, "01:00:00:00", id=42)) == "T0000042"


@given(st.text(min_size=1, max_size=32).filter(lambda s: s.strip()), st.integers(1, 999), st.integers(1, 2**31 - 1))
def test_every_reel_name_is_ascii_and_short(cue: str, number: int, take_id: int) -> None:
    name = reel_name(take(cue, number, "01:00:00:00", id=take_id))
    assert len(name) <= REEL_LENGTH
    assert name.isascii()
    assert " " not in name


def test_the_edl_line_by_line() -> None:
    rate = parse_rate("29.97df")
    notes = (Note(Role.CONDUCTOR, "lovely, horns — très bien", T0), Note(Role.ENGINEER, "bar 12\nclam", T0))
    takes = [
        take("1M2", 1, "01:02:03;04", "01:02:40;00", status=TakeStatus.PRINT),
        take("1M1", 3, "01:00:10;00", "01:00:45;12", status=TakeStatus.PRINT, notes=notes, pickup_bar=9),
        take("1M1", 4, "01:00:50;00"),  # still rolling: no event
        take("1M1", 5, "01:00:50;00", "01:00:50;00"),  # located back at once: nothing recorded to lay down
    ]
    assert edl_text(takes, rate, "The Lighthouse: circled takes").splitlines() == [
        "TITLE: The Lighthouse: circled takes",
        "FCM: DROP FRAME",
        "",
        "001  1M1_T03  A     C        01:00:10;00 01:00:45;12 01:00:10;00 01:00:45;12",
        "* FROM CLIP NAME: 1M1-3 pickup b9 circled",
        "* COMMENT: conductor: lovely, horns ? tres bien",
        "* COMMENT: engineer: bar 12 clam",
        "002  1M2_T01  A     C        01:02:03;04 01:02:40;00 01:02:03;04 01:02:40;00",
        "* FROM CLIP NAME: 1M2-1 circled",
    ]
    assert edl_text([], parse_rate("24")).splitlines() == ["TITLE: takes", "FCM: NON-DROP FRAME", ""]


@given(st.sampled_from(["23.976", "24", "25", "29.97", "29.97df", "30"]),
       st.lists(st.tuples(st.integers(0, RATES["24"].frames_per_day), st.integers(1, 5000)), max_size=12))
def test_every_ended_take_is_one_event_on_its_frames(name: str, spans: list[tuple[int, int]]) -> None:
    rate = parse_rate(name)
    day = rate.frames_per_day
    def tc(frame: int) -> str:
        return str(Timecode.from_frames(frame % day, rate))

    takes = [take("1M1", i + 1, tc(a), tc(a + n)) for i, (a, n) in enumerate(spans)]
    lines = [line for line in edl_text(takes, rate).splitlines() if line[:3].isdigit()]
    expected = sorted((a % day, (a % day + n) % day) for a, n in spans if (a % day + n) % day > a % day)
    got = []
    for line in lines:
        fields = line.split()
        src_in, src_out, rec_in, rec_out = fields[-4:]
        assert (src_in, src_out) == (rec_in, rec_out)
        assert (";" in src_in) == rate.drop
        got.append((Timecode.parse(src_in, rate).frame_count, Timecode.parse(src_out, rate).frame_count))
    assert sorted(got) == expected
    assert [int(line[:3]) for line in lines] == list(range(1, len(lines) + 1))
