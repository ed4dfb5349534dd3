from __future__ import annotations

from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from stage.core.mtc import (
    BACKWARD_COMPENSATION_QF,
    FORWARD_COMPENSATION_QF,
    LOCK_QUARTER_FRAMES,
    WINDOW_FRAMES,
    Direction,
    Discontinuity,
    FullFrame,
    Invalid,
    Locked,
    MtcDecoder,
    MtcEvent,
    QuarterFrame,
    QuarterFrameTime,
    RateMismatch,
    Unlocked,
    full_frame,
    full_frame_rate_code,
    parse_full_frame,
    quarter_frame_message,
    quarter_frame_position,
    quarter_frames_between,
    quarter_frames_during,
)
from stage.core.timecode import RATES, Rate, Timecode
from stage.core.transport import Anchor
from stage.errors import TimecodeError

MTC_RATES = ["24", "25", "29.97df", "30", "23.976", "29.97"]
R24, R25, R2997DF, R30 = RATES["24"], RATES["25"], RATES["29.97df"], RATES["30"]


def tc(text: str, rate: Rate) -> Timecode:
    return Timecode.parse(text, rate)


def cycle(t: Timecode) -> list[bytes]:
    """The eight quarter frames carrying ``t``, written out from the spec (independently of the codec)."""
    assert t.rate.mtc_code is not None
    h, m, s, f = t.hours, t.minutes, t.seconds, t.frames
    values = [f & 15, f >> 4, s & 15, s >> 4, m & 15, m >> 4, h & 15, h >> 4 | t.rate.mtc_code << 1]
    return [bytes([0xF1, piece << 4 | v]) for piece, v in enumerate(values)]


def feed(decoder: MtcDecoder, messages: list[bytes], t0: float = 0.0, step: float = 0.01) -> list[MtcEvent]:
    events: list[MtcEvent] = []
    for i, message in enumerate(messages):
        events += decoder.receive(message, t0 + i * step)
    return events


def of(kind: type, events: list[MtcEvent]) -> list:  # type: ignore[type-arg]
    return [e for e in events if isinstance(e, kind)]


def stream(q0: int, count: int, rate: Rate, direction: int = 1) -> list[bytes]:
    return [quarter_frame_message(q0 + direction * i, rate) for i in range(count)]


# -- full frame ------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "rate", "expected"),
    [
        ("01:00:00:00", "25", "f0 7f 7f 01 01 21 00 00 00 f7"),
        ("01:02:03:04", "24", "f0 7f 7f 01 01 01 02 03 04 f7"),
        ("01:02:03:04", "23.976", "f0 7f 7f 01 01 01 02 03 04 f7"),
        ("10:01:00;02", "29.97df", "f0 7f 7f 01 01 4a 01 00 02 f7"),
        ("23:59:59:29", "30", "f0 7f 7f 01 01 77 3b 3b 1d f7"),
        ("23:59:59:29", "29.97", "f0 7f 7f 01 01 77 3b 3b 1d f7"),
        ("00:00:00:00", "24", "f0 7f 7f 01 01 00 00 00 00 f7"),
    ],
)
def test_full_frame_bytes(text: str, rate: str, expected: str) -> None:
    t = tc(text, RATES[rate])
    data = full_frame(t)
    assert data.hex(" ") == expected
    assert parse_full_frame(data, RATES[rate]) == t
    assert full_frame_rate_code(data) == RATES[rate].mtc_code


def test_full_frame_needs_an_mtc_rate() -> None:
    with pytest.raises(TimecodeError, match="cannot travel as MTC"):
        full_frame(tc("01:00:00:00", RATES["48"]))


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        ("f0 7f 7f 01 01 21 00 00 00", "not an MTC full frame"),
        ("f0 7f 7f 01 02 21 00 00 00 f7", "not an MTC full frame"),
        ("f0 7e 7f 01 01 21 00 00 00 f7", "not an MTC full frame"),
        ("f0 7f 7f 01 01 21 80 00 00 f7", "top bit"),
        ("f0 7f 7f 01 01 21 00 00 19 f7", "frame 25 does not exist"),
        ("f0 7f 7f 01 01 40 01 00 00 f7", "does not exist in drop-frame"),
        ("f0 7f 7f 01 01 18 00 00 00 f7", "hours must be 00-23"),
    ],
)
def test_parse_full_frame_rejects_bad_data(data: str, reason: str) -> None:
    rate = R2997DF if "drop-frame" in reason else R25
    with pytest.raises(TimecodeError, match=reason):
        parse_full_frame(bytes.fromhex(data), rate)


def test_parse_full_frame_reads_at_the_configured_rate_whatever_the_code() -> None:
    data = full_frame(tc("01:00:00:00", R24))
    assert parse_full_frame(data, R25) == tc("01:00:00:00", R25)
    assert parse_full_frame(data, RATES["23.976"]).picture_seconds == Fraction(3600 * 1001, 1000)


# -- quarter frames --------------------------------------------------------------------------------------------------


def q_of(text: str, rate: Rate) -> int:
    return 4 * tc(text, rate).frame_count


@pytest.mark.parametrize(
    ("text", "rate", "expected"),
    [
        ("01:00:00:00", "25", "f100 f110 f120 f130 f140 f150 f161 f172"),
        ("01:02:03:04", "24", "f104 f110 f123 f130 f142 f150 f161 f170"),
        ("01:30:35:20", "30", "f104 f111 f123 f132 f14e f151 f161 f176"),
        ("01:30:35:20", "29.97", "f104 f111 f123 f132 f14e f151 f161 f176"),
        ("10:01:00;02", "29.97df", "f102 f110 f120 f130 f141 f150 f16a f174"),
        ("23:59:59:22", "24", "f106 f111 f12b f133 f14b f153 f167 f171"),
    ],
)
def test_quarter_frame_bytes(text: str, rate: str, expected: str) -> None:
    r = RATES[rate]
    q0 = q_of(text, r)
    assert q0 % 8 == 0
    assert " ".join(quarter_frame_message(q0 + k, r).hex() for k in range(8)) == expected
    assert [quarter_frame_message(q0 + k, r) for k in range(8)] == cycle(tc(text, r))


@pytest.mark.parametrize("rate", MTC_RATES)
def test_a_cycle_starts_on_an_even_frame_and_all_its_pieces_carry_that_frame(rate: str) -> None:
    r = RATES[rate]
    even = tc("01:00:00:00", r) + 10
    assert even.frame_count % 2 == 0
    expected = cycle(even)
    # the second frame of the cycle (q = 4(F+1) + k) still carries F, piece k + 4
    assert [quarter_frame_message(4 * even.frame_count + k, r) for k in range(8)] == expected
    assert quarter_frame_message(4 * (even.frame_count + 1), r) == expected[4]
    assert quarter_frame_message(4 * (even.frame_count + 2), r) == cycle(even + 2)[0]


@pytest.mark.parametrize("rate", MTC_RATES)
def test_a_day_has_an_even_number_of_frames_so_cycles_wrap_cleanly(rate: str) -> None:
    r = RATES[rate]
    assert r.frames_per_day % 2 == 0
    day = 4 * r.frames_per_day
    assert quarter_frame_message(day, r) == quarter_frame_message(0, r) == cycle(tc("00:00:00:00", r))[0]
    assert quarter_frame_message(-1, r) == cycle(Timecode.from_frames(r.frames_per_day - 2, r))[7]


def test_quarter_frame_position_is_exact() -> None:
    assert quarter_frame_position(0, R24) == 0
    assert quarter_frame_position(1, R24) == Fraction(1, 96)
    assert quarter_frame_position(4, RATES["23.976"]) == Fraction(1001, 24000)
    assert quarter_frame_position(q_of("01:00:00;00", R2997DF), R2997DF) == tc("01:00:00;00", R2997DF).picture_seconds


def test_quarter_frames_between_is_half_open_and_exact() -> None:
    marks = quarter_frames_between(0, Fraction(1, 24), R24)
    assert marks == [(0, Fraction(0)), (1, Fraction(1, 96)), (2, Fraction(2, 96)), (3, Fraction(3, 96))]
    assert quarter_frames_between(Fraction(1, 96), Fraction(2, 96), R24) == [(1, Fraction(1, 96))]
    assert quarter_frames_between(0.5, 0.5, R24) == []
    # float bounds are taken exactly: 0.01 is a hair above 1/100 and 0.03 a hair below 3/100
    assert [q for q, _ in quarter_frames_between(0.0, 0.01, R25)] == [0, 1]
    assert [q for q, _ in quarter_frames_between(0.01, 0.03, R25)] == [2]
    assert [q for q, _ in quarter_frames_between(Fraction(1, 100), Fraction(3, 100), R25)] == [1, 2]


def test_quarter_frames_between_across_a_drop_frame_minute() -> None:
    r = R2997DF
    start = tc("00:00:59;28", r)
    marks = quarter_frames_between(start.picture_seconds, (start + 2).picture_seconds, r)
    assert [q for q, _ in marks] == list(range(4 * start.frame_count, 4 * start.frame_count + 8))
    assert all(p == quarter_frame_position(q, r) for q, p in marks)
    first_of_minute = tc("00:01:00;02", r)
    assert first_of_minute.frame_count == start.frame_count + 2
    assert quarter_frame_message(4 * first_of_minute.frame_count, r) == cycle(first_of_minute)[0]
    assert [quarter_frame_message(q, r) for q, _ in marks] == cycle(tc("00:00:59;28", r))


def test_quarter_frames_between_across_midnight() -> None:
    r = R30
    day = r.frames_per_day
    last = Timecode.from_frames(day - 2, r)
    marks = quarter_frames_between(last.picture_seconds, Fraction(day + 2, r.fps), r)
    assert [q for q, _ in marks] == list(range(4 * (day - 2), 4 * (day + 2)))
    messages = [quarter_frame_message(q, r) for q, _ in marks]
    assert messages == cycle(last) + cycle(tc("00:00:00:00", r))


def test_quarter_frames_during_forward_backward_and_stopped() -> None:
    forward = Anchor(10.0, 1.0, 1.0)
    sent = quarter_frames_during(forward, 10.0, 10.045, R25)
    assert [s.q for s in sent] == [100, 101, 102, 103, 104]
    assert [s.t for s in sent] == pytest.approx([10.0, 10.01, 10.02, 10.03, 10.04])
    assert sent[0].message == quarter_frame_message(100, R25)
    backward = Anchor(10.0, 1.0, -1.0)
    sent = quarter_frames_during(backward, 10.0, 10.045, R25)
    assert [s.q for s in sent] == [100, 99, 98, 97, 96]
    assert [s.t for s in sent] == pytest.approx([10.0, 10.01, 10.02, 10.03, 10.04])
    assert [s.q for s in quarter_frames_during(backward, 10.045, 10.055, R25)] == [95]
    assert quarter_frames_during(Anchor(10.0, 1.0, 0.0), 10.0, 11.0, R25) == []
    assert quarter_frames_during(forward, 11.0, 10.0, R25) == []


# -- decoder: round trips ----------------------------------------------------------------------------------------------


def assert_tracks(events: list[MtcEvent], q_first: int, rate: Rate, direction: int) -> None:
    """Every locked quarter frame reports the position of its own q; nothing jumps."""
    day = 4 * rate.frames_per_day
    quarter_frames = of(QuarterFrame, events)
    locked = [(i, e) for i, e in enumerate(quarter_frames) if e.locked]
    assert locked, "never locked"
    assert locked[0][0] <= LOCK_QUARTER_FRAMES - 1 or rate.drop
    for i, e in locked:
        assert e.frame == Fraction((q_first + direction * i) % day, 4)
        assert e.direction == direction
    assert not of(Discontinuity, events)
    assert not of(Unlocked, events)
    assert not of(Invalid, events)


@pytest.mark.parametrize("rate", MTC_RATES)
@pytest.mark.parametrize("direction", [1, -1])
@pytest.mark.parametrize("where", ["00:09:59:20", "00:00:59:20", "23:59:59:20", "00:00:00:00"])
def test_round_trip_across_minutes_and_midnight(rate: str, direction: int, where: str) -> None:
    r = RATES[rate]
    q0 = q_of(where.replace(":20", f":{r.nominal - 4}"), r) + 3
    if direction < 0:
        q0 += 8 * 8
    decoder = MtcDecoder(r)
    events = feed(decoder, stream(q0, 200, r, direction))
    assert_tracks(events, q0, r, direction)
    times = of(QuarterFrameTime, events)
    assert len(times) >= 200 // 8 - 1
    compensation = FORWARD_COMPENSATION_QF if direction > 0 else BACKWARD_COMPENSATION_QF
    for e in times:
        assert (e.frame * 4 - compensation) % 8 == 0
        assert e.direction == direction
    assert not of(RateMismatch, events)


@pytest.mark.parametrize("rate", MTC_RATES)
def test_forward_compensation_is_seven_quarter_frames(rate: str) -> None:
    r = RATES[rate]
    t = tc("01:00:00:00", r) + 20
    events = feed(MtcDecoder(r), cycle(t), t0=5.0)
    (complete,) = of(QuarterFrameTime, events)
    assert complete == QuarterFrameTime(t.frame_count + Fraction(7, 4), Direction.FORWARD, 5.0 + 7 * 0.01)
    assert FORWARD_COMPENSATION_QF == 7


@pytest.mark.parametrize("rate", MTC_RATES)
def test_backward_completes_on_piece_zero_which_marks_the_carried_frame(rate: str) -> None:
    r = RATES[rate]
    t = tc("01:00:00:00", r) + 20
    events = feed(MtcDecoder(r), list(reversed(cycle(t))), t0=5.0)
    (complete,) = of(QuarterFrameTime, events)
    assert complete == QuarterFrameTime(Fraction(t.frame_count), Direction.BACKWARD, 5.0 + 7 * 0.01)
    assert BACKWARD_COMPENSATION_QF == 0


@given(
    rate=st.sampled_from(MTC_RATES),
    day_fraction=st.floats(min_value=0, max_value=1, exclude_max=True),
    direction=st.sampled_from([1, -1]),
)
def test_any_aligned_cycle_decodes_to_its_frame_plus_compensation(
    rate: str, day_fraction: float, direction: int
) -> None:
    r = RATES[rate]
    frame = int(day_fraction * r.frames_per_day) // 2 * 2
    pieces = [quarter_frame_message(4 * frame + k, r) for k in range(8)]
    if direction < 0:
        pieces.reverse()
    decoder = MtcDecoder(r)
    events = feed(decoder, pieces)
    (complete,) = of(QuarterFrameTime, events)
    compensation = FORWARD_COMPENSATION_QF if direction > 0 else BACKWARD_COMPENSATION_QF
    assert complete.frame == frame + Fraction(compensation, 4)
    (locked,) = of(Locked, events)
    assert locked.frame == complete.frame
    assert locked.direction == direction
    assert decoder.locked


@given(
    rate=st.sampled_from(MTC_RATES),
    q=st.integers(min_value=0, max_value=4 * R30.frames_per_day),
    direction=st.sampled_from([1, -1]),
)
def test_any_eight_in_order_quarter_frames_lock_on_their_position(rate: str, q: int, direction: int) -> None:
    r = RATES[rate]
    day = 4 * r.frames_per_day
    q %= day
    events = feed(MtcDecoder(r), stream(q, 16, r, direction))
    (locked,) = of(Locked, events)
    index = [e.locked for e in of(QuarterFrame, events)].index(True)
    assert locked.frame == Fraction((q + direction * index) % day, 4)
    if index != LOCK_QUARTER_FRAMES - 1:
        # the only exception: at a drop-frame minute both halves can fit two times (frame 18 of :59 and
        # frame 02 of the next minute share their low nibble); a few more pieces tell them apart, and
        # the first complete cycle always does
        assert r.drop
        completing = 7 if direction > 0 else 0
        first_complete = next(i for i in range(1, 16) if (q + direction * i) % 8 == completing and i >= 7)
        assert index <= first_complete
    assert len(locked.arrivals) == LOCK_QUARTER_FRAMES
    assert locked.arrivals[-1] == locked.t


def test_drop_frame_ambiguity_waits_for_one_more_piece() -> None:
    r = R2997DF
    q = q_of("15:23:59;16", r) + 1  # pieces 1-7 of ;16, then piece 0 of ;18 (or of 15:24:00;02?)
    events = feed(MtcDecoder(r), stream(q, 9, r))
    (locked,) = of(Locked, events)
    assert locked.frame == tc("15:23:59;18", r).frame_count + Fraction(1, 4)
    assert [e.locked for e in of(QuarterFrame, events)] == [False] * 8 + [True]


def test_odd_frame_cycles_at_25_fps_are_followed() -> None:
    r = R25
    start = tc("01:00:00:01", r)
    messages = [m for k in range(0, 20, 2) for m in cycle(start + k)]
    events = feed(MtcDecoder(r), messages)
    locked = [e for e in of(QuarterFrame, events) if e.locked]
    assert len(locked) == len(messages) - 7
    assert locked[0].frame == start.frame_count + Fraction(7, 4)
    assert locked[-1].frame == (start + 18).frame_count + Fraction(7, 4)
    assert not of(Discontinuity, events)


# -- decoder: the rules one by one ------------------------------------------------------------------------------------


def test_rule_lock_after_eight_in_order_quarter_frames() -> None:
    assert LOCK_QUARTER_FRAMES == 8
    r = R25
    q = q_of("01:00:00:00", r) + 3
    decoder = MtcDecoder(r)
    events = feed(decoder, stream(q, 7, r))
    assert not decoder.locked
    assert not of(Locked, events)
    assert all(e.frame is None for e in of(QuarterFrame, events))
    events = decoder.receive(quarter_frame_message(q + 7, r), 1.0)
    (locked,) = of(Locked, events)
    assert locked.frame == Fraction(q + 7, 4)
    assert locked.arrivals == (*(i * 0.01 for i in range(7)), 1.0)
    assert decoder.locked
    assert events[-1] == QuarterFrame(2, 1.0, Direction.FORWARD, Fraction(q + 7, 4), locked=True)


@pytest.mark.parametrize(
    ("pieces", "direction"),
    [
        ([3, 4], Direction.FORWARD),
        ([7, 0], Direction.FORWARD),
        ([4, 3], Direction.BACKWARD),
        ([0, 7], Direction.BACKWARD),
    ],
)
def test_rule_direction_from_piece_order(pieces: list[int], direction: Direction) -> None:
    decoder = MtcDecoder(R25)
    first = decoder.receive(bytes([0xF1, pieces[0] << 4]), 0.0)[-1]
    assert first == QuarterFrame(pieces[0], 0.0, None, None, locked=False)
    last = decoder.receive(bytes([0xF1, pieces[1] << 4]), 0.01)[-1]
    assert isinstance(last, QuarterFrame)
    assert last.direction is direction
    assert decoder.direction is direction


@pytest.mark.parametrize("skip", [2, 0])
def test_rule_an_out_of_order_piece_resets(skip: int) -> None:
    r = R25
    q = q_of("01:00:00:00", r)
    decoder = MtcDecoder(r)
    feed(decoder, stream(q, 12, r))
    assert decoder.locked
    # a lost piece (skip 2) or a repeated one (skip 0)
    events = decoder.receive(quarter_frame_message(q + 11 + skip, r), 1.0)
    assert events[0] == Unlocked(f"piece {(q + 11 + skip) % 8} after piece 3 (expected 4)", 1.0)
    assert not decoder.locked
    assert events[-1] == QuarterFrame((q + 11 + skip) % 8, 1.0, None, None, locked=False)
    # the piece that broke the sequence starts the next one: seven more to lock
    events = feed(decoder, stream(q + 12 + skip, 6, r), t0=2.0)
    assert not of(Locked, events)
    events = decoder.receive(quarter_frame_message(q + 18 + skip, r), 3.0)
    assert of(Locked, events)[0].frame == Fraction(q + 18 + skip, 4)


def test_rule_a_reversal_is_out_of_order_and_relocks_backward() -> None:
    r = R24
    q = q_of("01:00:00:00", r)
    decoder = MtcDecoder(r)
    forward = stream(q, 20, r)
    backward = stream(q + 18, 12, r, direction=-1)
    events = feed(decoder, forward + backward)
    assert len(of(Unlocked, events)) == 1
    relock = of(Locked, events)[-1]
    assert relock.direction is Direction.BACKWARD
    assert relock.frame == Fraction(q + 18 - 7, 4)
    assert decoder.frame == Fraction(q + 18 - 11, 4)


@pytest.mark.parametrize("jump", [-WINDOW_FRAMES, WINDOW_FRAMES, 1])
def test_rule_a_time_within_the_window_is_followed(jump: int) -> None:
    r = R30
    start = tc("01:00:00:00", r)
    messages = cycle(start) + cycle(start + 2) + cycle(start + 4 + jump) + cycle(start + 6 + jump)
    decoder = MtcDecoder(r)
    events = feed(decoder, messages)
    assert not of(Discontinuity, events)
    assert not of(Unlocked, events)
    assert decoder.locked
    assert decoder.frame == (start + 6 + jump).frame_count + Fraction(7, 4)


@pytest.mark.parametrize("jump", [-WINDOW_FRAMES - 1, WINDOW_FRAMES + 1, 3600 * 30])
def test_rule_a_time_outside_the_window_is_a_locate(jump: int) -> None:
    assert WINDOW_FRAMES == 2
    r = R30
    start = tc("01:00:00:00", r)
    decoder = MtcDecoder(r)
    feed(decoder, cycle(start) + cycle(start + 2))
    assert decoder.locked
    events = feed(decoder, cycle(start + 4 + jump), t0=1.0)
    (jumped,) = of(Discontinuity, events)
    landed = (start + 4 + jump).frame_count + Fraction(7, 4)
    assert jumped == Discontinuity((start + 4).frame_count + Fraction(7, 4), landed, Direction.FORWARD, 1.0 + 7 * 0.01)
    assert not decoder.locked
    assert decoder.frame == landed  # the position moves at once
    # relock after eight more in-order quarter frames, from the new time
    events = feed(decoder, cycle(start + 6 + jump), t0=2.0)
    (locked,) = of(Locked, events)
    assert locked.frame == (start + 6 + jump).frame_count + Fraction(7, 4)
    assert [e.locked for e in of(QuarterFrame, events)] == [False] * 7 + [True]


def test_rule_a_full_frame_resets_the_lock() -> None:
    r = R25
    decoder = MtcDecoder(r)
    feed(decoder, stream(q_of("01:00:00:00", r), 12, r))
    assert decoder.locked
    events = decoder.receive(full_frame(tc("02:00:00:00", r)), 5.0)
    assert events == [FullFrame(tc("02:00:00:00", r), 5.0)]
    assert not decoder.locked
    assert decoder.frame is None
    events = feed(decoder, stream(q_of("02:00:00:00", r), 8, r), t0=6.0)
    assert of(Locked, events)[0].frame == tc("02:00:00:00", r).frame_count + Fraction(7, 4)


def test_rule_rate_code_mismatch_is_reported_once_and_not_fatal() -> None:
    decoder = MtcDecoder(R25)
    events = feed(decoder, stream(q_of("01:00:00:00", R24), 24, R24))
    assert of(RateMismatch, events) == [RateMismatch(0, 1, 7 * 0.01)]
    assert str(of(RateMismatch, events)[0]) == (
        "MTC rate code 0 (24 fps) received, configured rate travels as 1 (25 fps)"
    )
    assert decoder.locked
    # back to the right code, then wrong again: reported again
    events = feed(decoder, stream(q_of("01:00:00:00", R25), 8, R25) + stream(q_of("01:00:00:00", R30), 8, R30))
    assert [e.received for e in of(RateMismatch, events)] == [3]
    events = decoder.receive(full_frame(tc("01:00:00:00", R24)), 9.0)
    assert of(RateMismatch, events) == [RateMismatch(0, 1, 9.0)]
    assert of(FullFrame, events)[0].timecode == tc("01:00:00:00", R25)


@pytest.mark.parametrize(("configured", "sent"), [("23.976", "24"), ("24", "23.976"), ("29.97", "30"), ("30", "29.97")])
def test_shared_rate_codes_are_not_mismatches(configured: str, sent: str) -> None:
    events = feed(MtcDecoder(RATES[configured]), stream(q_of("01:00:00:00", RATES[sent]), 16, RATES[sent]))
    assert not of(RateMismatch, events)
    assert of(Locked, events)


def test_29_97_drop_and_30_are_told_apart_by_the_code() -> None:
    events = feed(MtcDecoder(R2997DF), stream(q_of("01:00:00:00", R30), 8, R30))
    assert of(RateMismatch, events) == [RateMismatch(3, 2, 7 * 0.01)]


def test_the_decoder_needs_an_mtc_rate() -> None:
    with pytest.raises(TimecodeError):
        MtcDecoder(RATES["59.94df"])


@pytest.mark.parametrize(
    ("message", "reason"),
    [
        (b"\xf1\x80", "malformed quarter frame f1 80"),
        (b"\xf1\x10\x10", "malformed quarter frame f1 10 10"),
        (b"\xf1", "malformed quarter frame f1"),
        (bytes.fromhex("f07f7f0101210000"), "not an MTC full frame"),
        (bytes.fromhex("f07f7f0101210000 1af7".replace(" ", "")), "frame 26 does not exist"),
    ],
)
def test_malformed_messages_are_reported_not_raised(message: bytes, reason: str) -> None:
    decoder = MtcDecoder(R25)
    feed(decoder, stream(q_of("01:00:00:00", R25), 12, R25))
    events = decoder.receive(message, 1.0)
    (invalid,) = of(Invalid, events)
    assert reason in invalid.reason
    if message[0] == 0xF1:  # a broken quarter frame breaks the sequence
        assert of(Unlocked, events)
        assert not decoder.locked


@pytest.mark.parametrize(
    "message",
    [b"", b"\x90\x40\x7f", bytes.fromhex("f07e7f0901f7"), bytes.fromhex("f07f7f0102000000000000f7"), b"\xf8"],
)
def test_other_messages_are_ignored(message: bytes) -> None:
    decoder = MtcDecoder(R25)
    feed(decoder, stream(q_of("01:00:00:00", R25), 12, R25))
    assert decoder.receive(message, 1.0) == []
    assert decoder.locked


def test_a_cycle_that_is_not_a_time_is_invalid() -> None:
    r = R25
    start = tc("01:00:00:00", r)
    bad = cycle(start + 4)
    bad[0], bad[1] = b"\xf1\x0f", b"\xf1\x11"  # frame 31
    decoder = MtcDecoder(r)
    feed(decoder, cycle(start) + cycle(start + 2))
    assert decoder.locked
    events = feed(decoder, bad, t0=1.0)
    assert [type(e) for e in events[-3:]] == [Unlocked, Invalid, QuarterFrame]
    assert "frame 31 does not exist" in of(Invalid, events)[0].reason
    assert not decoder.locked
