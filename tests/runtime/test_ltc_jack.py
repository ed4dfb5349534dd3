"""LTC through a real jackd: the engine chases a reference stream on ``ltc_in`` and writes ``ltc_out`` for a recorder.

The LTC the engine chases is made by the reference encoder of
:mod:`peers.smpte_ltc` (the SMPTE 12M layout, not libltc) and played into
``<client>:ltc_in`` by another JACK client; what the engine writes on
``<client>:ltc_out`` is recorded by a third and read back by the reference
decoder.  Frames are JACK frames on both sides.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import itertools
import math
import time
from collections.abc import Iterator
from fractions import Fraction

import numpy as np
import pytest
from enginerig import Engine
from peers.jackd import JackServer, unique_name
from peers.recorder import MidiPeer
from peers.smpte_ltc import Read, Segment, Tape, decode
from peers.wait import SCALE
from peers.xjadeo import XjadeoFactory

from stage.core.cuesheet import Cue, parse_cue_sheet
from stage.core.timecode import RATES, Rate, Timecode
from stage.runtime import messages as m
from stage.runtime.enginecore import EngineSettings
from stage.runtime.service import cue_clicks

SR = 48000
PERIOD = 256
USER_BITS = 0x2024_0611


RATE_NAMES = ("24", "25", "29.97df", "30")


def start(settings: EngineSettings) -> Engine:
    engine = Engine(settings)
    assert engine.ready.midi, engine.ready.reason
    assert engine.ready.reason == ""
    return engine


@contextlib.contextmanager
def engines(settings: list[EngineSettings]) -> Iterator[list[Engine]]:
    """One engine for each of ``settings``, started at once (each is a process of its own), all closed after."""
    with concurrent.futures.ThreadPoolExecutor(len(settings)) as pool:
        futures = [pool.submit(start, s) for s in settings]
        concurrent.futures.wait(futures)
    started = [f.result() for f in futures if f.exception() is None]
    try:
        for f in futures:
            f.result()  # the first that failed to start fails the test, once the others are closed
        yield started
    finally:
        for engine in started:
            engine.handle.close()


def player(server: JackServer) -> MidiPeer:
    """A JACK client that plays audio on its port ``ltc`` (the deck whose LTC the engine chases)."""
    return MidiPeer(unique_name("deck"), servername=server.name, inputs=(), outputs=(), audio_outputs=("ltc",))


def sheet(rate: Rate) -> Cue:
    """A cue of 240 clicks a minute whose downbeat is two seconds into 01:00:00:00 (whole frames at every rate)."""
    downbeat = Timecode.parse("01:00:00:00", rate) + 2 * rate.nominal
    return parse_cue_sheet(f"""
[picture]
rate = "{rate.name}"
[[cue]]
id = "1M1"
start = "{downbeat}"
tempo = 240
meter = "4/4"
bars = 8
countoff = 0
""").cue("1M1")


def recorded(blocks: list[tuple[int, bytes]]) -> tuple[int, np.ndarray]:
    """A recorder's non-silent blocks as one signal from its first block (silence between them)."""
    first = blocks[0][0]
    end = blocks[-1][0] + len(blocks[-1][1]) // 4
    out = np.zeros(end - first)
    for f, b in blocks:
        out[f - first : f - first + len(b) // 4] = np.frombuffer(b, np.float32)
    return first, out


def note_ons(peer: MidiPeer, port: str = "click") -> list[int]:
    return [f for f, d in peer.events(port) if d[0] & 0xF0 == 0x90]


def at_sample(seg: Segment, tape: Tape, p: float) -> float:
    """The (fractional) sample at which ``seg`` reaches picture second ``p``."""
    return seg.start + (p * tape.fps - seg.p0) * SR / (seg.speed * tape.fps)


# -- chasing ---------------------------------------------------------------------------------------------------------


def test_the_chase_locks_on_the_second_frame_and_clicks_where_the_stream_says_at_every_rate(
    jack_server: JackServer,
) -> None:
    """A deck plays a stream at each rate (pulled down 0.1 %) into an engine of that rate, all at once."""
    with (
        MidiPeer(unique_name("deck"), servername=jack_server.name, inputs=(), outputs=(), audio_outputs=RATE_NAMES)
        as deck,
        MidiPeer(unique_name("rec"), servername=jack_server.name, inputs=RATE_NAMES, outputs=()) as rec,
        engines([EngineSettings(midi=True, server=jack_server.name, client=unique_name("stage"), source="ltc",
                                rate=name, mtc_out=False, click_audio=False,
                                connect=(("ltc_in", deck.port(name)), ("click_out", rec.port(name))))
                 for name in RATE_NAMES]) as chasing,
    ):
        f0 = deck.current_frame() + SR // 2
        streams = {}
        for name, engine in zip(RATE_NAMES, chasing, strict=True):
            r = RATES[name]
            cue, tape = sheet(r), Tape(float(r.fps), r.nominal, r.drop, user_bits=USER_BITS)
            engine.handle.send(m.LoadClicks(tuple(cue_clicks(cue))))
            # from a third of a frame past 0.6 s before the downbeat: clicks 0.6, 0.85, 1.1 and 1.35 s in
            seg = Segment(f0, int(1.5 * SR), p0=(float(cue.downbeat) - 0.6) * tape.fps + 0.37, speed=0.999, level=0.3)
            first, signal = tape.render([seg], SR)
            deck.play_audio(name, first, signal.astype(np.float32).tobytes())
            streams[name] = (cue, tape, seg)
        rec.wait_until_frame(f0 + int(1.5 * SR) + SR // 4, timeout=15 * SCALE)
        for engine in chasing:
            engine.wait(lambda e: isinstance(e, m.SyncStatus) and e.state == "stopped" and e.frames > 0)
    for name, engine in zip(RATE_NAMES, chasing, strict=True):
        cue, tape, seg = streams[name]
        syncs = engine.of(m.SyncStatus)
        lock = next(s for s in syncs if s.locked)
        assert (name, lock.frames) == (name, 2)  # the first whole frame read, then the next one in order
        assert (lock.source, lock.user_bits) == ("ltc", f"{USER_BITS:08X}")
        assert syncs[-1].state == "stopped"
        assert {a.source for a in engine.of(m.TransportChanged) if a.rolling} == {"ltc"}
        # every click from half a second after the stream began to its end, on the sample the stream puts it on
        clicks = [float(cue.downbeat + c.time) for c in cue.clicks.clicks] if cue.clicks else []
        due = [at_sample(seg, tape, p) for p in clicks]
        due = [d for d in due if seg.start + SR // 2 <= d < seg.start + seg.length]
        ons = note_ons(rec, name)
        assert len(due) >= 3, name
        assert len(ons) == len(due), name  # none before lock, none after the stream stopped
        errors = [on - d for on, d in zip(ons, due, strict=True)]
        assert max(abs(e) for e in errors) <= 0.00025 * SR, (name, errors)  # a quarter of a millisecond


def test_silence_half_level_noise_and_reverse_lose_lock_cleanly_and_lock_again(jack_server: JackServer) -> None:
    r = RATES["25"]
    cue = sheet(r)
    tape = Tape(25.0, 25)
    with (
        player(jack_server) as deck,
        MidiPeer(unique_name("rec"), servername=jack_server.name, inputs=("click",), outputs=()) as rec,
    ):
        engine = start(EngineSettings(midi=True, server=jack_server.name, client=unique_name("stage"), source="ltc",
                                       rate="25", mtc_out=False, click_audio=False,
                                       connect=(("ltc_in", deck.port("ltc")), ("click_out", rec.port("click")))))
        try:
            engine.handle.send(m.LoadClicks(tuple(cue_clicks(cue))))
            f = deck.current_frame() + SR // 2
            d = float(cue.downbeat) * 25
            segments = [
                Segment(f, SR, p0=d - 60.2, level=0.5),  # locks
                # silence for 0.3 s: stops
                Segment(f + int(1.3 * SR), int(1.4 * SR), p0=d - 20.5, level=0.25),  # half the level: locks again
                Segment(f + int(2.7 * SR), int(0.5 * SR), level=0.0, noise=0.3, seed=2),  # noise: loses it
                Segment(f + int(3.2 * SR), SR, p0=d + 100.5, speed=-1.0, level=0.5),  # backwards: locks
                Segment(f + int(4.2 * SR), int(0.8 * SR), p0=d + 300.5, level=0.5),  # a jump, forwards: locks
            ]
            first, signal = tape.render(segments, SR)
            deck.play_audio("ltc", first, signal.astype(np.float32).tobytes())
            rec.wait_until_frame(f + 5 * SR + SR // 4, timeout=20 * SCALE)  # the counters come every second
            engine.until(lambda: engine.of(m.SyncStatus)[-1].state == "stopped", "the chase to stop")
        finally:
            engine.handle.close()
    states = [s.state for s in engine.of(m.SyncStatus)]
    runs = [s for i, s in enumerate(states) if i == 0 or s != states[i - 1]]
    # locked on the first segment, stopped in the silence, locked at half level, lost in the noise,
    # locked backwards, and (a jump) again forwards, stopped at the end
    locked = [i for i, s in enumerate(runs) if s == "locked"]
    assert len(locked) == 4, runs
    assert all("stopped" in runs[a:b] for a, b in itertools.pairwise(locked[:3])), runs
    assert runs[-1] == "stopped"
    speeds = [a.speed for a in engine.of(m.TransportChanged) if a.rolling]
    assert any(abs(s + 1.0) < 0.002 for s in speeds)  # it followed the reverse
    assert abs(speeds[-1] - 1.0) < 0.002
    stats = engine.of(m.EngineStats)[-1]
    assert stats.handler_errors == 0
    assert engine.of(m.Heartbeat)[-1].faults == 0
    # the clicks at half level land where that stream says
    half = segments[1]
    due = [at_sample(half, tape, float(cue.downbeat + c.time)) for c in (cue.clicks.clicks if cue.clicks else [])]
    due = [x for x in due if half.start + SR // 2 <= x < half.start + half.length]
    assert due
    for x in due:
        near = [on for on in note_ons(rec) if abs(on - x) < 0.05 * SR]
        assert near, f"no click near {x}"
        assert abs(near[0] - x) <= 0.00025 * SR


# -- writing ---------------------------------------------------------------------------------------------------------


def master_settings(jack_server: JackServer, port: str, rate: str, **kw: object) -> EngineSettings:
    """An engine writing LTC at ``rate`` to ``port`` (no MTC, no audio click)."""
    return EngineSettings(midi=True, server=jack_server.name, client=unique_name("stage"), rate=rate, mtc_out=False,
                          click_audio=False, ltc_out=True, ltc_user_bits=USER_BITS, connect=(("ltc_out", port),),
                          **kw)  # type: ignore[arg-type]


def frames_read(rec: MidiPeer, r: Rate, port: str = "ltc", speed: float = 1.0) -> tuple[int, np.ndarray, list[Read]]:
    first, signal = recorded(rec.audio[port])
    return first, signal, decode(signal, SR / float(r.fps) / 80 / abs(speed), r.nominal, first)


def test_every_frame_written_in_order_each_starting_on_its_sample_at_every_rate(jack_server: JackServer) -> None:
    """An engine at each rate writes LTC from 01:00:00:00-ish for 0.6 s, all at once; a recorder hears them all."""
    p = 3600.0  # picture from here: each boundary's sample is an exact count of samples after the roll's
    with (
        MidiPeer(unique_name("rec"), servername=jack_server.name, inputs=(), outputs=(), audio_inputs=RATE_NAMES)
        as rec,
        engines([master_settings(jack_server, rec.port(name), name) for name in RATE_NAMES]) as writing,
    ):
        for engine in writing:
            engine.handle.send(m.Locate(p))
            engine.handle.send(m.Play())
        time.sleep(0.6)
        for engine in writing:
            engine.handle.send(m.Stop())
        for engine in writing:
            engine.wait(lambda e: isinstance(e, m.TransportChanged) and not e.rolling and e.p0 > p)
        time.sleep(0.1)
    for name in RATE_NAMES:
        r = RATES[name]
        first, signal, reads = frames_read(rec, r, name)
        assert len(reads) >= 0.5 * float(r.fps), name
        counts = [x.frame.count(r.nominal) for x in reads]
        k0 = math.ceil(Fraction(p) * r.fps)
        assert counts == list(range(k0, k0 + len(reads))), name  # the first boundary after the locate, then all
        # the roll started on a cycle's first sample; each frame's first edge is where picture reaches it from there
        roll = reads[0].start - _offset(k0, p, r)
        assert roll % PERIOD == rec.frame0 % PERIOD, name
        assert [x.start for x in reads] == [roll + _offset(k, p, r) for k in counts], name
        assert {x.frame.user_bits for x in reads} == {USER_BITS}
        assert {(x.frame.drop, x.reverse) for x in reads} == {(r.drop, False)}, name
        assert float(np.abs(signal).max()) == pytest.approx(10 ** (-18 / 20), rel=0.01)
        # the stop silences it from a cycle's first sample, cutting the frame being written
        last_sound = int(np.flatnonzero(signal)[-1]) + first
        assert (last_sound + 1) % PERIOD == rec.frame0 % PERIOD, name
        assert reads[-1].end < last_sound < reads[-1].end + SR / float(r.fps) + 1, name


def _offset(boundary: int, p: float, r: Rate) -> int:
    """Samples from the roll's start (picture at ``p``) to ``boundary``, rounded as the engine rounds."""
    exact = (Fraction(boundary) / r.fps - Fraction(p)) * SR
    return math.floor(exact + Fraction(1, 2))


def test_a_locate_varispeed_and_reverse_while_writing(jack_server: JackServer) -> None:
    r = RATES["25"]
    early = 96  # samples: [ltc] latency_ms = 2
    with MidiPeer(unique_name("rec"), servername=jack_server.name, inputs=(), outputs=(), audio_inputs=("ltc",)) as rec:
        engine = start(master_settings(jack_server, rec.port("ltc"), "25", ltc_latency=early / SR))
        try:
            engine.handle.send(m.Locate(100.0))
            engine.handle.send(m.Play())
            time.sleep(0.5)
            engine.handle.send(m.Locate(500.0))
            time.sleep(0.5)
            engine.handle.send(m.Varispeed(1.5))
            time.sleep(0.5)
            engine.handle.send(m.Varispeed(-1.0))
            time.sleep(0.5)
            engine.handle.send(m.Stop())
            time.sleep(0.2)
        finally:
            engine.handle.close()
    first, signal, reads = frames_read(rec, r)
    counts = [x.frame.count(25) for x in reads]
    before = [x for x, c in zip(reads, counts, strict=True) if c < 12500]
    after = [x for x, c in zip(reads, counts, strict=True) if c >= 12500 and not x.reverse]
    back = [x for x in reads if x.reverse]
    # rolling from 100 s, written 2 ms early: boundary 2500 was due before the roll, so 2501 is the first,
    # 40 ms of picture (1920 samples) less 96 after the roll's first sample
    assert [x.frame.count(25) for x in before] == list(range(2501, 2501 + len(before)))
    assert (before[0].start - (1920 - early)) % PERIOD == rec.frame0 % PERIOD
    # the locate silenced the frame in progress from the first sample of its cycle; frame 12501 starts as 2501 did
    gap = before[-1].start + int(np.flatnonzero(signal[before[-1].start - first :] == 0.0)[0])
    assert gap % PERIOD == rec.frame0 % PERIOD
    assert (after[0].frame.count(25), after[0].start) == (12501, gap + 1920 - early)
    # the varispeed, applied on a cycle's first sample, cuts the frame being written where the next one now
    # starts; a reader may lose the one after it too, finding its step again (no more); from there every frame
    # lasts two thirds as long (the bit rate follows the speed), each on the sample the new anchor gives it
    slow = [x for x in after if x.end + 1 - x.start == 1920]
    fast = [x for x in after if x.end + 1 - x.start == 1280]
    assert [x.frame.count(25) for x in slow] == list(range(12501, 12501 + len(slow)))
    k1 = fast[0].frame.count(25)
    assert 2 <= k1 - slow[-1].frame.count(25) <= 3, (slow[-1].frame, fast[0].frame)
    assert [x.frame.count(25) for x in fast] == list(range(k1, k1 + len(fast)))
    assert len(fast) >= 10
    assert slow + fast == after

    def start_at(v: int, k: int) -> int:
        """Frame ``k``'s first sample at 1.5 times the speed from cycle ``v`` on (picture at 500 s on ``gap``)."""
        exact = v + ((Fraction(k, 25) - 500) * SR - (v - gap)) * Fraction(2, 3) - early
        return math.floor(exact + Fraction(1, 2))

    cycles = [v for v in range(gap, fast[0].start + 1, PERIOD) if start_at(v, k1) == fast[0].start]
    assert len(cycles) == 1, cycles
    assert [x.start for x in fast] == [start_at(cycles[0], x.frame.count(25)) for x in fast]
    # and backwards each frame is written last bit first, one before the other
    backwards = [x.frame.count(25) for x in back]
    assert len(back) >= 8
    assert backwards == list(range(backwards[0], backwards[0] - len(backwards), -1))
    assert {x.end + 1 - x.start for x in back[1:]} == {1920}


def test_xjadeo_chases_the_ltc_written_and_rests_where_it_stopped(
    jack_server: JackServer, xjadeo: XjadeoFactory
) -> None:
    """A real video player reading LTC (xjadeo, libltc inside) follows our frames and rests on the last one."""
    r = RATES["25"]
    slave = xjadeo("25", ltc=True)
    with engines([master_settings(jack_server, slave.port, "25")]) as (engine,):
        here = Timecode.parse("00:01:00:04", r)
        engine.handle.send(m.Locate(float(here.picture_seconds)))
        engine.handle.send(m.Play())
        roll = engine.wait(lambda e: isinstance(e, m.TransportChanged) and e.rolling)
        assert isinstance(roll, m.TransportChanged)
        time.sleep(1.0)
        offsets = []
        for _ in range(5):
            shown = slave.frame()
            offsets.append(shown - int((roll.p0 + (time.monotonic() - roll.t0)) * 25))
            time.sleep(0.1)
        # xjadeo reads a frame once its signal has ended and shows it at its next refresh: a frame or two behind;
        # a host stall can hold its display longer, so three of the five must be within 3 frames
        assert sorted(abs(o) for o in offsets)[2] <= 3, offsets
        engine.handle.send(m.Stop())
        stop = engine.wait(lambda e: isinstance(e, m.TransportChanged) and not e.rolling and e.p0 > 60.2)
        assert isinstance(stop, m.TransportChanged)
        # the stop silenced the frame it fell in: the player rests on the last frame it could read, the last one
        # whose end was written (a frame's last bit ends on the next frame's first edge): the frame before the
        # one the stop fell in, or the one before that when the stop fell on a frame's first sample
        last = math.ceil(stop.p0 * 25 - 1e-6) - 2
        assert slave.wait_for_frame(last, timeout=3 * SCALE) == last, stop.p0 * 25
