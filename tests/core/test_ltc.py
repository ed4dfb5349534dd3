"""LTC's pure rules: the reader's lock rules, the chase fed with frames, the master's frames on their samples."""

from __future__ import annotations

import itertools
import math
import random
from dataclasses import dataclass
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stage.core.chase import ChaseEstimator, ChaseState
from stage.core.limits import MAX_SPEED, MIN_SPEED
from stage.core.ltc import (
    LOCK_FRAMES,
    DropFlagMismatch,
    FrameRead,
    LtcFrame,
    LtcGenerator,
    LtcOut,
    LtcReader,
    format_user_bits,
    ltc_rate,
    parse_user_bits,
)
from stage.core.mtc import Direction, Discontinuity, Invalid, Locked, Unlocked
from stage.core.timecode import RATES, Rate, Timecode, frames_to_hmsf
from stage.core.transport import Anchor
from stage.errors import TimecodeError

SR = 48000
LTC_RATES = ["24", "25", "29.97df", "30", "23.976", "29.97"]


def frame(count: int, rate: Rate, end: int, *, reverse: bool = False, user_bits: int = 0,
          drop: bool | None = None) -> LtcFrame:
    """What a decoder reads for frame ``count``, its signal ending on sample ``end``."""
    h, m, s, f = frames_to_hmsf(count, rate)
    return LtcFrame(h, m, s, f, drop=rate.drop if drop is None else drop, user_bits=user_bits, start=end - 1999,
                    end=end, reverse=reverse)


@dataclass
class Master:
    """A simulated LTC source: the true transport as segments, and the frames a decoder reads from it."""

    rate: Rate
    segments: list[Anchor]
    until: float
    jitter_samples: int = 0
    seed: int = 0

    def frames(self) -> list[LtcFrame]:
        """Each frame whose signal ends before ``until``, ended on the sample picture crossed its boundary on."""
        rng = random.Random(self.seed)
        out = []
        fps = self.rate.fps
        for i, seg in enumerate(self.segments):
            end = self.segments[i + 1].t0 if i + 1 < len(self.segments) else self.until
            p_a, p_b = Fraction(seg.position(seg.t0)) * fps, Fraction(seg.position(end)) * fps
            forward = seg.speed > 0
            # boundaries crossed after a whole frame of this segment (a decoder needs all 80 bits)
            first = math.ceil(p_a) + 1 if forward else math.floor(p_a) - 1
            last = math.floor(p_b) if forward else math.ceil(p_b)
            for b in range(first, last + (1 if forward else -1), 1 if forward else -1):
                t = seg.time_of(float(b / fps))
                sample = round(t * SR) + rng.randint(-self.jitter_samples, self.jitter_samples)
                out.append(frame(b - 1 if forward else b, self.rate, sample - 1, reverse=not forward))
        return out

    def position(self, t: float) -> float:
        return [s for s in self.segments if s.t0 <= t][-1].position(t)


def play(chase: ChaseEstimator, master: Master, seed: int = 1) -> list[tuple[float, float | None, ChaseState]]:
    """Feed every frame; after each, the estimate's error (ms) at a random instant before the next one."""
    rng = random.Random(seed)
    frames = master.frames()
    out = []
    for i, f in enumerate(frames):
        chase.receive_frame(f, SR)
        if i + 1 == len(frames):
            break
        u = rng.uniform((f.end + 1) / SR, (frames[i + 1].end + 1) / SR)
        chase.poll(u)
        a = chase.anchor
        error = (a.position(u) - master.position(u)) * 1000 if a is not None and a.rolling else None
        out.append((u, error, chase.state))
    return out


def worst(samples: list[tuple[float, float | None, ChaseState]], after: float) -> float:
    errors = [abs(e) for t, e, _ in samples if t >= after and e is not None]
    assert errors
    return max(errors)


def at(text: str, rate: Rate) -> float:
    return float(Timecode.parse(text, rate).picture_seconds)


# -- the reader ------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("rate", LTC_RATES)
def test_two_frames_in_order_lock_forwards_and_each_marks_the_boundary_it_ended_on(rate: str) -> None:
    r = RATES[rate]
    reader = LtcReader(r)
    n = Timecode.parse("01:00:00:00", r).frame_count
    first = reader.receive(frame(n, r, 47_999, user_bits=0x0000_00A5), SR)
    assert [type(e) for e in first] == [FrameRead]
    assert isinstance(first[0], FrameRead)
    assert (first[0].frame, first[0].t, first[0].locked) == (Fraction(n + 1), 1.0, False)  # the sample after its last
    assert first[0].user_bits == 0xA5
    second = reader.receive(frame(n + 1, r, 49_999), SR)
    locked = next(e for e in second if isinstance(e, Locked))
    assert (locked.frame, locked.direction, locked.arrivals) == (Fraction(n + 2), Direction.FORWARD, (1.0, 50_000 / SR))
    assert reader.locked
    assert LOCK_FRAMES == 2


def test_backwards_a_frame_ends_on_its_own_start() -> None:
    r = RATES["25"]
    reader = LtcReader(r)
    n = 90_000
    reader.receive(frame(n, r, 1919, reverse=True), SR)
    events = reader.receive(frame(n - 1, r, 3839, reverse=True), SR)
    locked = next(e for e in events if isinstance(e, Locked))
    assert (locked.frame, locked.direction) == (Fraction(n - 1), Direction.BACKWARD)


def test_a_lost_frame_unlocks_and_two_more_lock_again() -> None:
    r = RATES["24"]
    reader = LtcReader(r)
    for i in range(3):
        reader.receive(frame(1000 + i, r, 2000 * i), SR)
    events = reader.receive(frame(1004, r, 8000), SR)  # 1003 lost in a burst of noise: within the window
    assert any(isinstance(e, Unlocked) for e in events)
    assert not reader.locked
    events = reader.receive(frame(1005, r, 10_000), SR)
    assert any(isinstance(e, Locked) for e in events)


def test_a_jump_is_a_locate_at_once() -> None:
    r = RATES["30"]
    reader = LtcReader(r)
    for i in range(3):
        reader.receive(frame(5000 + i, r, 1600 * i), SR)
    events = reader.receive(frame(9000, r, 4800), SR)
    jump = next(e for e in events if isinstance(e, Discontinuity))
    assert (jump.expected, jump.frame) == (Fraction(5004), Fraction(9001))
    assert not any(isinstance(e, Unlocked) for e in events)


def test_a_change_of_direction_breaks_the_sequence() -> None:
    r = RATES["25"]
    reader = LtcReader(r)
    for i in range(3):
        reader.receive(frame(100 + i, r, 1920 * i), SR)
    # forwards through frame 102 to boundary 103, then backwards: frame 102 again, ending on boundary 102
    events = reader.receive(frame(102, r, 1920 * 4, reverse=True), SR)
    assert any(isinstance(e, Unlocked) for e in events)
    events = reader.receive(frame(101, r, 1920 * 5, reverse=True), SR)
    assert next(e for e in events if isinstance(e, Locked)).direction is Direction.BACKWARD


def test_in_order_through_midnight() -> None:
    r = RATES["29.97df"]
    reader = LtcReader(r)
    last = r.frames_per_day - 1
    reader.receive(frame(last, r, 0), SR)
    events = reader.receive(frame(0, r, 1601), SR)
    assert any(isinstance(e, Locked) for e in events)
    assert str(Timecode.from_frames(last, r)) == "23:59:59;29"


@pytest.mark.parametrize(("rate", "fields"), [("25", (1, 0, 0, 25)), ("29.97df", (1, 1, 0, 0)), ("24", (24, 0, 0, 0))])
def test_a_time_that_cannot_exist_is_invalid_and_unlocks(rate: str, fields: tuple[int, int, int, int]) -> None:
    r = RATES[rate]
    reader = LtcReader(r)
    for i in range(2):
        reader.receive(frame(3000 + i, r, 2000 * i), SR)
    bad = LtcFrame(*fields, drop=r.drop, end=4000)
    events = reader.receive(bad, SR)
    assert [type(e) for e in events] == [Unlocked, Invalid]
    assert "does not exist" in str(events[1]) or "must be" in str(events[1])
    assert not reader.locked


def test_a_drop_frame_flag_unlike_the_rate_is_reported_once_and_read_at_the_rate() -> None:
    r = RATES["29.97"]
    reader = LtcReader(r)
    events = [e for i in range(4) for e in reader.receive(frame(500 + i, r, 1601 * i, drop=True), SR)]
    mismatches = [e for e in events if isinstance(e, DropFlagMismatch)]
    assert len(mismatches) == 1
    assert str(mismatches[0]) == "LTC is flagged drop-frame, the configured rate is non-drop"
    assert reader.locked


def test_rates_ltc_cannot_carry_are_refused() -> None:
    with pytest.raises(TimecodeError, match="cannot travel as LTC"):
        ltc_rate(RATES["48"])
    with pytest.raises(TimecodeError):
        LtcGenerator(RATES["59.94df"], SR)


def test_user_bits_are_eight_hex_digits_group_8_first() -> None:
    assert format_user_bits(0x1234ABCD) == "1234ABCD"
    assert parse_user_bits(" 1234 abcd ") == 0x1234ABCD
    for bad in ("123", "12345678a", "1234567g"):
        with pytest.raises(TimecodeError, match="eight hex digits"):
            parse_user_bits(bad)


# -- the chase fed with frames ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("rate", LTC_RATES)
def test_the_chase_locks_on_the_second_frame_and_follows_within_a_tenth_of_a_millisecond(rate: str) -> None:
    r = RATES[rate]
    master = Master(r, [Anchor(10.0, at("01:00:00:00", r) + 0.0123, 1.0)], until=16.0, jitter_samples=2, seed=3)
    chase = ChaseEstimator(r, source="ltc")
    samples = play(chase, master)
    assert [s[2] for s in samples[:2]] == [ChaseState.LOCATING, ChaseState.LOCKED]  # on the second frame read
    assert worst(samples, after=12.0) < 0.1
    assert chase.speed == pytest.approx(1.0, abs=1e-4)
    assert chase.stats.frames == len(master.frames())
    assert chase.stats.locks == 1


@pytest.mark.parametrize("speed", [1.001, 0.999, -1.0, 1.1])
def test_the_chase_follows_pulls_reverse_and_varispeed(speed: float) -> None:
    r = RATES["25"]
    master = Master(r, [Anchor(10.0, at("01:00:10:00", r), speed)], until=20.0, jitter_samples=2, seed=5)
    chase = ChaseEstimator(r, source="ltc")
    samples = play(chase, master)
    assert worst(samples, after=13.0) < 0.1
    assert chase.speed == pytest.approx(speed, abs=2e-4)


def test_a_jump_moves_the_chase_at_once_and_silence_stops_it_where_the_timecode_ended() -> None:
    r = RATES["24"]
    p0, p1 = at("01:00:00:00", r), at("02:00:00:00", r)
    master = Master(r, [Anchor(10.0, p0, 1.0), Anchor(14.0, p1, 1.0)], until=16.0)
    chase = ChaseEstimator(r, source="ltc")
    samples = play(chase, master)
    after = [s for s in samples if s[0] > 14.0 + 2 / 24]  # the first whole frame after the jump is read
    assert after[0][1] is not None
    assert abs(after[0][1]) < 1.0  # located at once, rolling on at the last speed
    assert chase.stats.locates == 1
    assert worst(samples, after=15.0) < 0.1
    last = master.frames()[-1]
    assert chase.poll((last.end + 1) / SR + 1.9 / 24) is ChaseState.LOCKED
    assert chase.poll((last.end + 1) / SR + 2.1 / 24) is ChaseState.STOPPED
    assert chase.anchor is not None
    assert chase.anchor.position(99.0) == pytest.approx(master.position((last.end + 1) / SR), abs=1e-4)


def test_the_chase_keeps_the_user_bits_and_refuses_the_other_source() -> None:
    r = RATES["25"]
    chase = ChaseEstimator(r, source="ltc")
    assert chase.user_bits is None
    chase.receive_frame(frame(100, r, 1919, user_bits=0xDEADBEEF), SR)
    assert chase.user_bits == "DEADBEEF"
    with pytest.raises(TypeError, match="follows LTC"):
        chase.receive(b"\xf1\x00", 1.0)
    with pytest.raises(TypeError, match="follows MTC"):
        ChaseEstimator(r).receive_frame(frame(100, r, 1919), SR)


# -- the master's frames ---------------------------------------------------------------------------------------------


def run(gen: LtcGenerator, anchor: Anchor, t0: float, cycles: int, block: int = 256) -> list[LtcOut]:
    out: list[LtcOut] = []
    for c in range(cycles):
        plan = gen.cycle(anchor, t0 + c * block / SR, t0 + (c + 1) * block / SR)
        out += plan.frames
    return out


@pytest.mark.parametrize(("rate", "samples"), [("24", 2000), ("25", 1920), ("30", 1600)])
def test_each_frame_starts_on_the_sample_picture_reaches_it_and_lasts_to_the_next(rate: str, samples: int) -> None:
    r = RATES[rate]
    gen = LtcGenerator(r, SR)
    p0 = at("01:00:00:00", r) - 0.01  # a hundredth of a second before the hour: 480 samples
    frames = run(gen, Anchor(1.0, p0, 1.0), 1.0, 100)
    n0 = Timecode.parse("01:00:00:00", r).frame_count
    assert [f.frame for f in frames] == list(range(n0, n0 + len(frames)))
    assert [f.start for f in frames] == [SR + 480 + i * samples for i in range(len(frames))]
    assert {f.samples for f in frames} == {samples}
    assert not any(f.reverse for f in frames)


def test_29_97_frames_last_1601_or_1602_samples_and_never_drift() -> None:
    r = RATES["29.97df"]
    gen = LtcGenerator(r, SR)
    frames = run(gen, Anchor(0.0, 3600.0, 1.0), 0.0, 2000)
    assert {f.samples for f in frames} == {1601, 1602}
    for f in frames:  # picture reaches boundary n at n / fps seconds after 3600 s of picture
        assert f.start == math.floor((Fraction(f.frame) / r.fps - 3600) * SR + Fraction(1, 2))


def test_at_varispeed_the_bit_rate_follows_and_backwards_frames_run_last_bit_first() -> None:
    r = RATES["25"]
    slow = run(LtcGenerator(r, SR), Anchor(0.0, 100.0, 0.5), 0.0, 50)
    assert {f.samples for f in slow} == {3840}
    back = run(LtcGenerator(r, SR), Anchor(0.0, 100.0, -1.0), 0.0, 50)
    assert [f.frame for f in back[:3]] == [2499, 2498, 2497]  # 100 s is boundary 2500: frame 2499 ends there
    assert back[0].start == 0
    assert all(f.reverse and f.samples == 1920 for f in back)


def test_a_stop_a_locate_and_a_reversal_each_silence_the_frame_in_progress() -> None:
    r = RATES["25"]
    gen = LtcGenerator(r, SR)
    rolling = Anchor(0.0, 10.0, 1.0)
    assert gen.cycle(rolling, 0.0, 0.01).frames[0].start == 0
    assert gen.cycle(rolling, 0.01, 0.02).silence_from is None
    assert gen.cycle(Anchor(0.02, rolling.position(0.02), 0.0), 0.02, 0.03).silence_from == 960
    assert gen.cycle(Anchor(0.02, 10.02, 0.0), 0.03, 0.04) == gen.cycle(None, 0.04, 0.05)  # silent: nothing
    assert gen.cycle(rolling, 0.05, 0.06).silence_from is None  # starting again: no frame was in progress
    gen.locate()
    plan = gen.cycle(Anchor(0.06, 20.0, 1.0), 0.06, 0.07)
    assert (plan.silence_from, [f.frame for f in plan.frames]) == (2880, [500])  # 20 s is boundary 500: at once
    plan = gen.cycle(Anchor(0.07, 20.01, -1.0), 0.07, 0.08)
    assert plan.silence_from == 3360


def test_latency_writes_each_frame_that_much_early() -> None:
    r = RATES["24"]
    early = run(LtcGenerator(r, SR, latency=0.005), Anchor(1.0, 10.0, 1.0), 1.0, 40)
    on_time = run(LtcGenerator(r, SR), Anchor(1.0, 10.0, 1.0), 1.0, 40)
    by_frame = {f.frame: f.start for f in on_time}
    assert all(by_frame[f.frame] - f.start == 240 for f in early if f.frame in by_frame)


@settings(max_examples=60, deadline=None)
@given(
    speed=st.floats(MIN_SPEED, MAX_SPEED).flatmap(lambda v: st.sampled_from([v, -v])),
    p0=st.floats(0.0, 86_000.0),
    blocks=st.lists(st.integers(1, 2048), min_size=20, max_size=60),
    rate=st.sampled_from(["24", "25", "29.97df", "30", "23.976"]),
)
def test_frames_follow_each_other_sample_for_sample_whatever_the_cycles(
    speed: float, p0: float, blocks: list[int], rate: str
) -> None:
    r = RATES[rate]
    gen = LtcGenerator(r, SR)
    anchor = Anchor(2.0, p0, speed)
    frames: list[LtcOut] = []
    f = 2 * SR
    for n in blocks:
        plan = gen.cycle(anchor, f / SR, (f + n) / SR)
        assert all(f <= x.start < f + n for x in plan.frames)
        frames += plan.frames
        f += n
    step = 1 if speed > 0 else -1
    for a, b in itertools.pairwise(frames):
        assert b.start == a.start + a.samples  # every frame until the next one starts, no gap, no overlap
        assert b.frame == (a.frame + step) % r.frames_per_day  # every frame once, in order
    nominal = SR / float(r.fps) / abs(speed)
    assert all(abs(x.samples - nominal) <= 1 for x in frames)
