from __future__ import annotations

import math
import random
from dataclasses import dataclass, field

import pytest

from stage.core.chase import SILENCE_FRAMES, ChaseEstimator, ChaseState, ChaseStats
from stage.core.mtc import LOCK_QUARTER_FRAMES, full_frame, quarter_frames_during
from stage.core.timecode import RATES, Rate, Timecode
from stage.core.transport import Anchor

SAMPLE_RATE = 48000
MTC_RATES = ["24", "25", "29.97df", "30", "23.976", "29.97"]
ONE_HOUR = 3600.0


@dataclass
class Master:
    """A simulated MTC master: the true transport as segments, and its stamped quarter frames."""

    rate: Rate
    segments: list[Anchor]
    until: float
    jitter: float = 0.0
    seed: int = 0
    drop: set[int] = field(default_factory=set)  # indices of quarter frames lost on the way
    corrupt: set[int] = field(default_factory=set)  # indices of quarter frames garbled on the way

    def arrivals(self) -> list[tuple[float, bytes]]:
        """Each quarter frame stamped to the 48 kHz sample after a uniform jitter."""
        rng = random.Random(self.seed)
        out: list[tuple[float, bytes]] = []
        for i, seg in enumerate(self.segments):
            end = self.segments[i + 1].t0 if i + 1 < len(self.segments) else self.until
            for qf in quarter_frames_during(seg, seg.t0, end, self.rate):
                stamped = math.floor((qf.t + rng.uniform(-self.jitter, self.jitter)) * SAMPLE_RATE) / SAMPLE_RATE
                out.append((stamped, qf.message))
        out = [(t, b"\xf1\x80" if i in self.corrupt else m) for i, (t, m) in enumerate(out) if i not in self.drop]
        return sorted(out, key=lambda a: a[0])

    def position(self, t: float) -> float:
        seg = [s for s in self.segments if s.t0 <= t][-1]
        return seg.position(t) % (self.rate.frames_per_day / float(self.rate.fps))

    def speed(self, t: float) -> float:
        return [s for s in self.segments if s.t0 <= t][-1].speed


@dataclass
class Sample:
    t: float
    error_ms: float | None  # None while the chase has no rolling anchor
    state: ChaseState


def play(chase: ChaseEstimator, master: Master, seed: int = 1) -> list[Sample]:
    """Feed every arrival; after each, look at the estimate at a random instant before the next one."""
    rng = random.Random(seed)
    day = master.rate.frames_per_day / float(master.rate.fps)
    arrivals = master.arrivals()
    samples = []
    for i, (t, message) in enumerate(arrivals):
        chase.receive(message, t)
        if i + 1 == len(arrivals):
            break
        u = rng.uniform(t, arrivals[i + 1][0])
        chase.poll(u)
        anchor = chase.anchor
        error = None
        if anchor is not None and anchor.rolling:
            error = ((anchor.position(u) - master.position(u) + day / 2) % day - day / 2) * 1000.0
        samples.append(Sample(u, error, chase.state))
    return samples


def worst(samples: list[Sample], after: float, before: float = math.inf) -> float:
    errors = [abs(s.error_ms) for s in samples if after <= s.t < before and s.error_ms is not None]
    assert errors, "no rolling estimate in that span"
    return max(errors)


def start_of(text: str, rate: Rate) -> float:
    return float(Timecode.parse(text, rate).picture_seconds)


# -- lock ------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("rate", MTC_RATES)
@pytest.mark.parametrize("offset_qf", [0, 3, 5])
def test_locks_within_eight_quarter_frames(rate: str, offset_qf: int) -> None:
    r = RATES[rate]
    p0 = start_of("01:00:10:00", r) + offset_qf / (4 * float(r.fps)) + 1e-6
    master = Master(r, [Anchor(100.0, p0, 1.0)], until=100.5)
    chase = ChaseEstimator(r)
    arrivals = master.arrivals()
    for t, message in arrivals[: LOCK_QUARTER_FRAMES - 1]:
        chase.receive(message, t)
        assert chase.state is ChaseState.LOCATING
        assert chase.anchor is None
    t, message = arrivals[LOCK_QUARTER_FRAMES - 1]
    chase.receive(message, t)
    assert chase.state is ChaseState.LOCKED
    assert chase.locked
    assert chase.anchor is not None
    assert abs(chase.anchor.position(t) - master.position(t)) < 0.0005
    assert chase.speed == pytest.approx(1.0, abs=0.01)
    assert chase.stats.locks == 1


def test_a_drop_frame_start_that_fits_two_times_locks_by_the_first_complete_cycle() -> None:
    r = RATES["29.97df"]
    # pieces 4-7 of 01:00:00;00 then 0-3 of 01:00:00;02 also fit 01:01:00;02 (where ;00 and ;01 are dropped)
    p0 = start_of("01:00:00;00", r) + 3 / (4 * float(r.fps)) + 1e-6
    master = Master(r, [Anchor(10.0, p0, 1.0)], until=11.0)
    chase = ChaseEstimator(r)
    arrivals = master.arrivals()
    count = 0
    for t, message in arrivals:
        chase.receive(message, t)
        count += 1
        if chase.locked:
            break
    assert count == LOCK_QUARTER_FRAMES + 2  # two pieces more than usual; the cycle completes with the 12th
    assert chase.anchor is not None
    assert abs(chase.anchor.position(t) - master.position(t)) < 0.0005


@pytest.mark.parametrize("rate", MTC_RATES)
def test_settles_under_half_a_millisecond_with_jitter(rate: str) -> None:
    r = RATES[rate]
    master = Master(r, [Anchor(50.0, start_of("01:00:00:00", r) + 0.0123, 1.0)], until=60.0, jitter=0.0005, seed=7)
    chase = ChaseEstimator(r)
    samples = play(chase, master)
    assert worst(samples, after=50.0) < 1.0  # even while pulling in
    assert worst(samples, after=52.0) < 0.5
    assert chase.speed == pytest.approx(1.0, abs=3e-4)
    assert chase.stats.locates == 0
    assert all(s.state is ChaseState.LOCKED for s in samples[LOCK_QUARTER_FRAMES:])


def test_the_loop_error_is_what_the_last_mark_said_less_the_estimate() -> None:
    """The figure a stage's monitoring shows: None before a lock, then the last mark's miss, within the jitter."""
    r = RATES["25"]
    chase = ChaseEstimator(r)
    assert chase.error is None
    master = Master(r, [Anchor(50.0, start_of("01:00:00:00", r), 1.0)], until=54.0, jitter=0.0005, seed=3)
    errors: list[float] = []
    for t, message in master.arrivals():
        before = chase.anchor
        chase.receive(message, t)
        if chase.error is not None and before is not None and chase.state is ChaseState.LOCKED:
            errors.append(chase.error)
    assert errors
    settled = [abs(e) for e in errors[len(errors) // 2:]]
    assert max(settled) < 0.0012  # half a millisecond of jitter each side, and the decode's own quarter frame
    assert sum(settled) / len(settled) < 0.0005


@pytest.mark.parametrize("rate", ["24", "29.97df"])
def test_a_millisecond_of_jitter_stays_sub_millisecond(rate: str) -> None:
    r = RATES[rate]
    master = Master(r, [Anchor(50.0, start_of("01:00:00:00", r), 1.0)], until=60.0, jitter=0.001, seed=8)
    samples = play(ChaseEstimator(r), master)
    settled = sorted(abs(s.error_ms) for s in samples if s.t >= 52.0 and s.error_ms is not None)
    assert settled[len(settled) * 99 // 100] < 0.5
    assert settled[-1] < 1.0


# -- speed ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("pull", [1.001, 0.999])
@pytest.mark.parametrize("rate", ["24", "29.97df"])
def test_follows_a_pull(pull: float, rate: str) -> None:
    r = RATES[rate]
    p0 = start_of("01:00:00:00", r)
    master = Master(r, [Anchor(10.0, p0, 1.0), Anchor(15.0, p0 + 5.0, pull)], until=30.0, jitter=0.0005, seed=3)
    chase = ChaseEstimator(r)
    samples = play(chase, master)
    assert worst(samples, after=12.0) < 0.5  # the change of speed included
    assert chase.speed == pytest.approx(pull, abs=3e-4)


@pytest.mark.parametrize("speed", [1.1, 0.9, -1.1])
def test_follows_ten_percent_varispeed(speed: float) -> None:
    r = RATES["25"]
    master = Master(r, [Anchor(10.0, start_of("01:00:00:00", r), speed)], until=20.0, jitter=0.0005, seed=4)
    chase = ChaseEstimator(r)
    samples = play(chase, master)
    locked_at = next(s.t for s in samples if s.state is ChaseState.LOCKED)
    assert locked_at < 10.0 + LOCK_QUARTER_FRAMES / (4 * 25 * abs(speed)) + 0.002
    assert worst(samples, after=12.0) < 0.5
    assert chase.speed == pytest.approx(speed, abs=5e-4)


def test_a_speed_change_while_locked_is_pulled_in() -> None:
    r = RATES["30"]
    p0 = start_of("01:00:00:00", r)
    master = Master(r, [Anchor(10.0, p0, 1.0), Anchor(13.0, p0 + 3.0, 1.1)], until=20.0, jitter=0.0005)
    chase = ChaseEstimator(r)
    samples = play(chase, master)
    assert worst(samples, after=16.0) < 0.5
    assert chase.speed == pytest.approx(1.1, abs=3e-4)
    assert chase.stats.locates == 0


@pytest.mark.parametrize("rate", ["24", "30"])
def test_reverse(rate: str) -> None:
    r = RATES[rate]
    master = Master(r, [Anchor(10.0, start_of("01:00:10:00", r), -1.0)], until=16.0, jitter=0.0005, seed=5)
    chase = ChaseEstimator(r)
    samples = play(chase, master)
    assert chase.state is ChaseState.LOCKED
    assert chase.speed == pytest.approx(-1.0, abs=3e-4)
    assert worst(samples, after=12.0) < 0.5


def test_forward_then_reverse_relocks() -> None:
    r = RATES["25"]
    p0 = start_of("01:00:00:00", r)
    master = Master(r, [Anchor(10.0, p0, 1.0), Anchor(14.0, p0 + 4.0, -1.0)], until=20.0, jitter=0.0005)
    chase = ChaseEstimator(r)
    samples = play(chase, master)
    assert chase.speed == pytest.approx(-1.0, abs=3e-4)
    assert worst(samples, after=16.0) < 0.5
    assert chase.stats.dropouts == 1  # the reversal breaks the piece order once
    lost = next(s.t for s in samples if s.t > 14.0 and s.state is ChaseState.LOCATING)
    relocked = next(s.t for s in samples if s.t > lost and s.state is ChaseState.LOCKED)
    assert relocked < 14.0 + (LOCK_QUARTER_FRAMES + 2) / 100


# -- 23.976 / 24 and 29.97 / 30: the configured rate decides -----------------------------------------------------


@pytest.mark.parametrize(("sent", "configured"), [("23.976", "24"), ("29.97", "30"), ("24", "23.976")])
def test_shared_codes_are_told_apart_only_by_the_configured_rate(sent: str, configured: str) -> None:
    r_sent, r_conf = RATES[sent], RATES[configured]
    master = Master(r_sent, [Anchor(10.0, start_of("01:00:00:00", r_sent), 1.0)], until=20.0)
    chase = ChaseEstimator(r_conf)
    play(chase, master)
    assert chase.rate_mismatch is None
    # the same frames, read at the other rate, seem to run at the ratio of the rates
    assert chase.speed == pytest.approx(float(r_sent.fps / r_conf.fps), abs=1e-4)
    right = ChaseEstimator(r_sent)
    samples = play(right, master)
    assert right.speed == pytest.approx(1.0, abs=1e-4)
    assert worst(samples, after=12.0) < 0.1


def test_a_different_rate_code_is_reported() -> None:
    master = Master(RATES["30"], [Anchor(10.0, ONE_HOUR, 1.0)], until=11.0)
    chase = ChaseEstimator(RATES["29.97df"])
    play(chase, master)
    assert chase.rate_mismatch is not None
    assert (chase.rate_mismatch.received, chase.rate_mismatch.expected) == (3, 2)
    assert chase.stats.rate_mismatches == 1
    assert chase.locked  # reported, not fatal


# -- locate ----------------------------------------------------------------------------------------------------------


def test_a_jump_while_rolling_moves_the_position_at_once_and_relocks() -> None:
    r = RATES["25"]
    p0 = start_of("01:00:00:00", r)
    jump_to = start_of("01:10:00:00", r)
    master = Master(r, [Anchor(10.0, p0, 1.0), Anchor(14.0, jump_to, 1.0)], until=20.0, jitter=0.0005)
    chase = ChaseEstimator(r)
    samples = play(chase, master)
    frame = 1 / 25
    # the jump shows at the first complete time after it: within two frames, then the position is right
    after_jump = [s for s in samples if s.t >= 14.0 + 2 * frame + 0.002]
    assert after_jump[0].error_ms is not None
    assert abs(after_jump[0].error_ms) < 1.5
    assert after_jump[0].state is ChaseState.LOCATING
    relocked = next(s.t for s in after_jump if s.state is ChaseState.LOCKED)
    assert relocked < 14.0 + (2 * 4 + LOCK_QUARTER_FRAMES + 1) / 100
    assert worst(samples, after=relocked) < 1.5
    assert worst(samples, after=15.0) < 0.5
    assert chase.stats.locates == 1
    assert chase.stats.locks == 2


def test_a_full_frame_locates_and_stands_still() -> None:
    r = RATES["24"]
    chase = ChaseEstimator(r)
    target = Timecode.parse("01:02:03:04", r)
    chase.receive(full_frame(target), 5.0)
    assert chase.state is ChaseState.LOCATING
    assert chase.anchor == Anchor(5.0, float(target.picture_seconds), 0.0)
    assert chase.poll(5.0 + 1.9 / 24) is ChaseState.LOCATING
    assert chase.poll(5.0 + 2.1 / 24) is ChaseState.STOPPED
    assert chase.anchor is not None
    assert chase.anchor.position(9.0) == pytest.approx(float(target.picture_seconds))
    assert chase.stats.full_frames == 1
    assert chase.stats.locates == 1
    # then the master rolls from there
    master = Master(r, [Anchor(6.0, float(target.picture_seconds), 1.0)], until=10.0, jitter=0.0005)
    samples = play(chase, master)
    assert chase.locked
    assert worst(samples, after=8.0) < 0.5


def test_a_full_frame_while_rolling_locates() -> None:
    r = RATES["30"]
    master = Master(r, [Anchor(10.0, ONE_HOUR, 1.0)], until=12.0)
    chase = ChaseEstimator(r)
    play(chase, master)
    assert chase.locked
    chase.receive(full_frame(Timecode.parse("02:00:00:00", r)), 12.0)
    assert chase.state is ChaseState.LOCATING
    assert chase.anchor == Anchor(12.0, 7200.0, 0.0)


# -- stop and freewheel ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("rate", ["24", "29.97df"])
def test_stops_after_about_two_frames_of_silence(rate: str) -> None:
    assert SILENCE_FRAMES == 2
    r = RATES[rate]
    frame = 1 / float(r.fps)
    master = Master(r, [Anchor(10.0, ONE_HOUR, 1.0)], until=13.0, jitter=0.0005)
    chase = ChaseEstimator(r)
    play(chase, master)
    last = master.arrivals()[-1][0]
    assert chase.poll(last + 1.9 * frame) is ChaseState.LOCKED
    assert chase.anchor is not None
    assert chase.anchor.rolling
    assert chase.poll(last + 2.1 * frame) is ChaseState.STOPPED
    assert not chase.locked
    stopped = chase.anchor
    assert stopped.speed == 0.0
    assert stopped.position(last + 100.0) == pytest.approx(master.position(last), abs=0.0005)
    assert chase.speed == 0.0


def test_freewheel_rolls_on_then_stops() -> None:
    r = RATES["25"]
    frame = 1 / 25
    master = Master(r, [Anchor(10.0, ONE_HOUR, 1.001)], until=13.0, jitter=0.0005)
    chase = ChaseEstimator(r, freewheel_frames=10)
    play(chase, master)
    last = master.arrivals()[-1][0]
    assert chase.poll(last + 1.9 * frame) is ChaseState.LOCKED
    assert chase.poll(last + 2.1 * frame) is ChaseState.FREEWHEEL
    assert not chase.locked
    assert chase.poll(last + 9.9 * frame) is ChaseState.FREEWHEEL
    assert chase.anchor is not None
    # rolling on at the last speed: where the master would be had it kept going
    assert chase.anchor.position(last + 9.9 * frame) == pytest.approx(master.position(last + 9.9 * frame), abs=0.0005)
    assert chase.speed == pytest.approx(1.001, abs=3e-4)
    assert chase.poll(last + 10.1 * frame) is ChaseState.STOPPED
    assert chase.anchor.speed == 0.0


def test_a_freewheel_shorter_than_the_silence_rule_changes_nothing() -> None:
    r = RATES["24"]
    master = Master(r, [Anchor(10.0, ONE_HOUR, 1.0)], until=12.0)
    chase = ChaseEstimator(r, freewheel_frames=1)
    play(chase, master)
    last = master.arrivals()[-1][0]
    assert chase.poll(last + 1.9 / 24) is ChaseState.LOCKED
    assert chase.poll(last + 2.1 / 24) is ChaseState.STOPPED


def test_freewheel_bridges_a_dropout_without_a_locate() -> None:
    r = RATES["25"]
    master = Master(
        r, [Anchor(10.0, ONE_HOUR, 1.0)], until=16.0, jitter=0.0005, drop=set(range(300, 320))
    )  # 20 quarter frames (5 frames) lost at 13 s
    chase = ChaseEstimator(r, freewheel_frames=10)
    samples = play(chase, master)
    states = {s.state for s in samples if 13.0 <= s.t < 13.3}
    assert ChaseState.FREEWHEEL in states
    assert ChaseState.STOPPED not in states
    assert worst(samples, after=11.0) < 0.5
    assert chase.locked
    assert chase.stats.locates == 0


def test_without_freewheel_a_dropout_stops_and_relocks() -> None:
    r = RATES["25"]
    master = Master(r, [Anchor(10.0, ONE_HOUR, 1.0)], until=16.0, jitter=0.0005, drop=set(range(300, 320)))
    chase = ChaseEstimator(r)
    samples = play(chase, master)
    assert ChaseState.STOPPED in {s.state for s in samples if 13.0 <= s.t < 13.3}
    assert chase.locked
    assert worst(samples, after=14.5) < 0.5
    assert chase.stats.locks == 2


@pytest.mark.parametrize("fault", ["drop", "corrupt"])
def test_a_lost_quarter_frame_is_bridged_without_stopping(fault: str) -> None:
    r = RATES["30"]
    hit = {300}
    master = Master(r, [Anchor(10.0, ONE_HOUR, 1.0)], until=14.0, jitter=0.0005)
    if fault == "drop":
        master.drop = hit
    else:
        master.corrupt = hit
    chase = ChaseEstimator(r)
    samples = play(chase, master)
    assert {s.state for s in samples[LOCK_QUARTER_FRAMES:]} == {ChaseState.LOCKED, ChaseState.LOCATING}
    assert worst(samples, after=11.0) < 0.5
    assert chase.stats.dropouts == 1
    assert chase.stats.locates == 0
    assert chase.locked


# -- odds and ends ---------------------------------------------------------------------------------------------------


def test_runs_across_midnight() -> None:
    r = RATES["29.97df"]
    day = r.frames_per_day / float(r.fps)
    master = Master(r, [Anchor(10.0, day - 3.0, 1.0)], until=16.0, jitter=0.0005)
    chase = ChaseEstimator(r)
    samples = play(chase, master)
    assert worst(samples, after=12.0) < 0.5
    assert chase.stats.locates == 0
    assert chase.anchor is not None
    assert 2.9 < chase.anchor.p0 < 3.0


def test_garbage_never_locks_and_never_raises() -> None:
    rng = random.Random(9)
    chase = ChaseEstimator(RATES["25"])
    t = 0.0
    for _ in range(2000):
        t += 0.01
        chase.receive(bytes([0xF1, rng.randrange(0x80)]), t)
    chase.receive(b"\xf1\x99", t)
    chase.receive(b"\xf0\x7f\x7f\x01\x01\x21\x00\x00\x7f\xf7", t)
    assert not chase.locked
    assert chase.stats.invalid >= 2
    assert chase.poll(t + 1.0) is ChaseState.STOPPED


def test_stats_and_initial_state() -> None:
    chase = ChaseEstimator(RATES["24"])
    assert chase.state is ChaseState.STOPPED
    assert chase.anchor is None
    assert chase.speed == 0.0
    assert chase.poll(123.0) is ChaseState.STOPPED
    assert chase.stats == ChaseStats()
    master = Master(RATES["24"], [Anchor(10.0, ONE_HOUR, 1.0)], until=11.0)
    play(chase, master)
    assert chase.stats.quarter_frames == len(master.arrivals())
    assert chase.stats.locks == 1


def test_freewheel_must_not_be_negative() -> None:
    with pytest.raises(ValueError, match="freewheel_frames"):
        ChaseEstimator(RATES["24"], freewheel_frames=-1)
