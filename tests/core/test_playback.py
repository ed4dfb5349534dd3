"""The per-cycle planner, driven by a fake clock: plain numbers, exact expectations."""

from __future__ import annotations

from collections.abc import Callable
from fractions import Fraction

from hypothesis import given, settings
from hypothesis import strategies as st

from stage.core.mtc import full_frame, quarter_frame_message
from stage.core.playback import CLICK_PORT, MTC_PORT, NEVER, ClickNotes, Output, Playback, TimedClick, frame_of
from stage.core.tempo import ClickKind
from stage.core.timecode import RATES, Timecode
from stage.core.transport import Anchor

SR = 48000
BLOCK = 256
R24 = RATES["24"]


def clicks_every(start: float, step: float, count: int) -> list[TimedClick]:
    out = []
    for i in range(count):
        beat = i % 4 + 1
        kind = ClickKind.ACCENT if beat == 1 else ClickKind.NORMAL
        out.append(TimedClick(start + i * step, kind, "1M1", i // 4 + 1, beat))
    return out


def run(
    pb: Playback, anchor_at: Callable[[float], Anchor | None], first_frame: int, cycles: int
) -> list[tuple[int, Output]]:
    """Run ``cycles`` cycles; ``anchor_at(t_a)`` gives the anchor for each. Returns (frame, output)."""
    sent: list[tuple[int, Output]] = []
    for k in range(cycles):
        f0 = first_frame + k * BLOCK
        t_a, t_b = f0 / SR, (f0 + BLOCK) / SR
        res = pb.cycle(anchor_at(t_a), t_a, t_b)
        for o in res.outputs:
            frame = frame_of(o.t, SR)
            assert f0 <= frame < f0 + BLOCK, (o, f0)
            sent.append((frame, o))
    return sent


def note_ons(sent: list[tuple[int, Output]]) -> list[tuple[int, bytes]]:
    return [(f, o.data) for f, o in sent if o.port == CLICK_PORT and o.data[0] & 0xF0 == 0x90]


def test_clicks_land_on_their_exact_frames() -> None:
    pb = Playback(R24)
    pb.load(clicks_every(10.5, 0.5, 4))
    anchor = Anchor(0.0, 10.0, 1.0)  # 10 s of picture at engine time 0
    sent = run(pb, lambda t: anchor, 0, 2 * SR // BLOCK + 10)
    notes = ClickNotes()
    assert note_ons(sent) == [
        (24000, notes.note_on(ClickKind.ACCENT)),
        (48000, notes.note_on(ClickKind.NORMAL)),
        (72000, notes.note_on(ClickKind.NORMAL)),
        (96000, notes.note_on(ClickKind.NORMAL)),
    ]
    offs = [(f, o.data) for f, o in sent if o.data[0] & 0xF0 == 0x80]
    assert [f for f, _ in offs] == [24960, 48960, 72960, 96960]  # 20 ms later
    assert bytes(offs[0][1]) == bytes((0x89, 76, 0))


def test_beats_report_when_each_click_sounds() -> None:
    pb = Playback(R24, click_latency=0.010)
    pb.load(clicks_every(10.5, 0.5, 2))
    anchor = Anchor(0.0, 10.0, 1.0)
    beats = []
    sent: list[tuple[int, Output]] = []
    for k in range(400):
        t_a, t_b = k * BLOCK / SR, (k + 1) * BLOCK / SR
        res = pb.cycle(anchor, t_a, t_b)
        beats += [(b.click.bar, b.click.beat, b.t) for b in res.beats]
        sent += [(frame_of(o.t, SR), o) for o in res.outputs]
    assert beats == [(1, 1, 0.5), (1, 2, 1.0)]
    # sent 10 ms early = 480 frames
    assert [f for f, _ in note_ons(sent)] == [24000 - 480, 48000 - 480]


def test_locate_into_the_middle_resumes_at_the_right_bar_without_catching_up() -> None:
    pb = Playback(R24)
    pb.load(clicks_every(100.0, 0.5, 200))  # bars of 2 s
    stopped = Anchor(0.0, 0.0, 0.0)
    # Locate to bar 33 beat 1 (p = 100 + 32 × 2 = 164.0) minus a quarter click, then roll at frame 4800.
    pb.locate()
    target = 164.0 - 0.125
    rolling = Anchor(4800 / SR, target, 1.0)
    sent = run(pb, lambda t: stopped if t < 0.1 else rolling, 0, 200)
    ons = note_ons(sent)
    # first click: bar 33 beat 1, 0.125 s after the roll
    assert ons[0] == (4800 + 6000, ClickNotes().note_on(ClickKind.ACCENT))
    assert len(ons) == 1 + (200 * BLOCK - 4800 - 6000 - 1) // 24000


def test_nothing_sounds_after_stop_but_the_note_off() -> None:
    pb = Playback(R24)
    pb.load(clicks_every(0.5, 0.5, 100))
    rolling = Anchor(0.0, 0.0, 1.0)
    stop_t = 0.505  # 5 ms after the first click
    stopped = Anchor(stop_t, 0.505, 0.0)
    sent = run(pb, lambda t: rolling if t < stop_t else stopped, 0, 400)
    assert [f for f, _ in note_ons(sent)] == [24000]
    offs = [f for f, o in sent if o.data[0] & 0xF0 == 0x80]
    assert offs == [24960]


def test_reverse_plays_no_clicks() -> None:
    pb = Playback(R24)
    pb.load(clicks_every(0.5, 0.5, 100))
    sent = run(pb, lambda t: Anchor(0.0, 40.0, -1.0), 0, 400)
    assert note_ons(sent) == []


@settings(max_examples=40, deadline=None)
@given(st.lists(st.floats(min_value=-2e-4, max_value=2e-4), min_size=50, max_size=50))
def test_anchor_corrections_never_skip_or_double_a_click(corrections: list[float]) -> None:
    """A chased anchor moves a little every cycle; every click still fires exactly once."""
    pb = Playback(R24)
    clicks = clicks_every(0.1, 0.05, 20)
    pb.load(clicks)
    fired = []
    for k in range(len(corrections) * 10):
        t_a, t_b = k * BLOCK / SR, (k + 1) * BLOCK / SR
        anchor = Anchor(t_a, t_a + corrections[k // 10], 1.0)
        fired += [b.click.p for b in pb.cycle(anchor, t_a, t_b).beats]
    assert fired == [c.p for c in clicks]


def test_mtc_master_sends_a_full_frame_then_quarter_frames_on_their_frames() -> None:
    pb = Playback(R24, mtc_master=True)
    tc = Timecode.parse("01:00:00:00", R24)
    p0 = float(tc.picture_seconds)
    anchor = Anchor(0.0, p0, 1.0)
    sent = run(pb, lambda t: anchor, 0, 40)  # ~213 ms
    mtc = [(f, o.data) for f, o in sent if o.port == MTC_PORT]
    assert mtc[0] == (0, full_frame(tc))
    q0 = 4 * tc.frame_count
    qfs = mtc[1:]
    # one quarter frame every 1/96 s = 500 frames at 48 kHz, starting at 01:00:00:00 exactly
    assert [f for f, _ in qfs] == [500 * i for i in range(len(qfs))]
    assert [d for _, d in qfs] == [quarter_frame_message(q0 + i, R24) for i in range(len(qfs))]
    assert len(qfs) == (40 * BLOCK - 1) // 500 + 1


def test_mtc_quarter_frames_at_29_97_drop_follow_the_real_rate() -> None:
    rate = RATES["29.97df"]
    pb = Playback(rate, mtc_master=True)
    tc = Timecode.parse("00:00:59;28", rate)  # rolls over the dropped frames of minute 1
    anchor = Anchor(0.0, float(tc.picture_seconds), 1.0)
    sent = run(pb, lambda t: anchor, 0, 60)
    qfs = [(f, o.data) for f, o in sent if o.port == MTC_PORT][1:]
    q0 = 4 * tc.frame_count
    for i, (f, data) in enumerate(qfs):
        exact = (Fraction(q0 + i) / (4 * rate.fps) - tc.picture_seconds) * SR
        assert abs(f - exact) <= Fraction(1, 2)
        assert data == quarter_frame_message(q0 + i, rate)


def test_late_messages_are_counted_and_sent_at_the_cycle_start() -> None:
    pb = Playback(R24)
    pb.load([TimedClick(0.001, ClickKind.ACCENT, "1M1", 1, 1)])
    # the roll begins at t = 0 but the engine sees its first cycle only at 0.002
    res = pb.cycle(Anchor(0.0, 0.0, 1.0), 0.002, 0.002 + BLOCK / SR)
    assert res.late == 0  # a click before the roll point (anchor.t0 < t_a) is not replayed
    pb2 = Playback(R24, click_latency=0.005)
    pb2.load([TimedClick(0.003, ClickKind.ACCENT, "1M1", 1, 1)])
    res2 = pb2.cycle(Anchor(0.0, 0.0, 1.0), 0.0, BLOCK / SR)
    assert res2.late == 1
    assert res2.outputs[0].t == 0.0


def test_a_message_on_the_first_sample_of_its_cycle_is_on_time() -> None:
    """Float noise that puts a message a hair before the cycle start is not lateness: it is on that sample."""
    t_a = 100 * BLOCK / SR
    pb = Playback(R24)
    pb.load([TimedClick(t_a - 1e-12, ClickKind.ACCENT, "1M1", 1, 1)])
    pb.cycle(Anchor(0.0, 0.0, 1.0), t_a - BLOCK / SR, t_a)  # the cycle before: not yet
    res = pb.cycle(Anchor(0.0, 0.0, 1.0), t_a, t_a + BLOCK / SR)
    assert res.late == 0
    assert [frame_of(o.t, SR) for o in res.outputs if o.port == CLICK_PORT] == [100 * BLOCK]
    # After a skipped cycle, a message more than half a sample before the cycle is late: sent on its first sample.
    pb2 = Playback(R24)
    pb2.load([TimedClick(t_a - 0.6 / SR, ClickKind.ACCENT, "1M1", 1, 1)])
    pb2.cycle(Anchor(0.0, 0.0, 1.0), t_a - 2 * BLOCK / SR, t_a - BLOCK / SR)
    res2 = pb2.cycle(Anchor(0.0, 0.0, 1.0), t_a, t_a + BLOCK / SR)  # [t_a − BLOCK, t_a) never ran
    assert res2.late == 1
    assert [frame_of(o.t, SR) for o in res2.outputs if o.port == CLICK_PORT] == [100 * BLOCK]


def test_mtc_master_parks_the_slave_with_a_full_frame_at_the_stop_position() -> None:
    pb = Playback(R24, mtc_master=True)
    rolling = Anchor(0.0, 3600.0, 1.0)
    stop_t = 1000 * BLOCK / SR  # 5.333 s: 3605.333 s of picture = frame 86528 + 0.0
    stopped = Anchor(stop_t, rolling.position(stop_t), 0.0)
    sent = run(pb, lambda t: rolling if t < stop_t else stopped, 0, 1010)
    after = [(f, o.data) for f, o in sent if o.port == MTC_PORT and f >= 1000 * BLOCK]
    frame = int(stopped.p0 * 24)
    assert after == [(1000 * BLOCK, full_frame(Timecode.from_frames(frame, R24)))]


def test_a_jump_without_a_locate_never_bursts_old_clicks() -> None:
    """A chased anchor that jumps 20 s ahead: the clicks it jumped over are dropped, not fired late."""
    pb = Playback(R24)
    pb.load(clicks_every(0.5, 0.5, 100))
    before = Anchor(0.0, 0.0, 1.0)
    after = Anchor(1.0, 21.0, 1.0)
    fired: list[float] = []
    dropped = 0
    for k in range(2 * SR // BLOCK):
        t_a, t_b = k * BLOCK / SR, (k + 1) * BLOCK / SR
        res = pb.cycle(before if t_a < 1.0 else after, t_a, t_b)
        fired += [b.click.p for b in res.beats]
        dropped += res.dropped
    # 1.0 falls in the last cycle before the jump (t = 1.0 lies in [0.9973, 1.0027))
    assert fired == [0.5, 1.0, 21.0, 21.5]
    assert dropped == 39  # 1.5 … 20.5


def test_frame_of_an_infinite_or_nan_time_is_never_not_an_overflow() -> None:
    """Crash 1: a deadline divided by a speed of 5e-324 is infinite, and math.floor(inf) killed the clock thread."""
    assert frame_of(float("inf"), 48000) == NEVER
    assert frame_of(float("-inf"), 48000) == -NEVER
    assert frame_of(float("nan"), 48000) == NEVER
    assert frame_of(1e300, 48000) == NEVER
    assert frame_of(10.0, 48000) == 480000


def test_a_cycle_at_a_speed_near_zero_schedules_nothing_and_does_not_raise() -> None:
    pb = Playback(RATES["24"], mtc_master=True)
    pb.load([TimedClick(2.0, ClickKind.ACCENT, "1M1", 1, 1)])
    for speed in (5e-324, -5e-324):
        result = pb.cycle(Anchor(0.0, 1.0, speed), 0.0, 256 / 48000)
        assert [o for o in result.outputs if o.port == CLICK_PORT] == []
        assert result.beats == []
