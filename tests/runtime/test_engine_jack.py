"""The engine process against a real jackd: clicks and MTC as another JACK client receives them."""

from __future__ import annotations

import itertools
import statistics
import time
from collections.abc import Iterator
from fractions import Fraction
from typing import Any, TypeVar

import pytest
from enginerig import Engine
from peers.jackd import JackServer, jack_server, unique_name
from peers.recorder import MidiPeer

from stage.core.cuesheet import Cue, parse_cue_sheet
from stage.core.mtc import MtcDecoder, QuarterFrameTime, full_frame, quarter_frame_message
from stage.core.playback import ClickNotes
from stage.core.tempo import ClickKind
from stage.core.timecode import RATES, Timecode
from stage.runtime import messages as m
from stage.runtime.engine import STATS_INTERVAL
from stage.runtime.enginecore import EngineSettings
from stage.runtime.service import cue_clicks

T = TypeVar("T")
SR = 48000
PERIOD = 256

SHEET = """
[picture]
rate = "24"
[[cue]]
id = "1M1"
start = "01:00:10:00"
tempo = "12-0"
meter = "4/4"
bars = 40
[[cue.change]]
bar = 9
tempo = 96
meter = "3/4"
[[cue.change]]
bar = 17
tempo = "14-2"
meter = "4/4"
ramp = 3
"""


@pytest.fixture(scope="module")
def server() -> Iterator[JackServer]:
    with jack_server(synchronous=True, period=PERIOD, samplerate=SR) as s:
        yield s


@pytest.fixture
def cue() -> Cue:
    return parse_cue_sheet(SHEET).cue("1M1")


def start_engine(server: JackServer, peer: MidiPeer, **kw: Any) -> Engine:
    name = unique_name("stage")
    settings = EngineSettings(
        midi=True,
        server=server.name,
        client=name,
        connect=(("click_out", peer.port("click")), ("mtc_out", peer.port("mtc"))),
        **kw,
    )
    engine = Engine(settings)
    assert engine.ready.midi, engine.ready.reason
    assert engine.ready.reason == ""
    return engine


def note_ons(events: list[tuple[T, bytes]]) -> list[tuple[T, bytes]]:
    return [(f, d) for f, d in events if d[0] & 0xF0 == 0x90]


def test_clicks_after_a_locate_into_bar_33_land_on_their_exact_samples(server: JackServer, cue: Cue) -> None:
    with MidiPeer(unique_name("rec"), servername=server.name, inputs=("click", "mtc"), outputs=()) as peer:
        engine = start_engine(server, peer, rate="24")
        try:
            engine.handle.send(m.LoadClicks(tuple(cue_clicks(cue))))
            # half a click before bar 33
            assert cue.clicks is not None
            bar33 = cue.downbeat + cue.clicks.time_of(33)
            start = bar33 - cue.clicks.clicks[cue.clicks._index[(33, 1)]].length / 2
            engine.handle.send(m.Locate(float(start)))
            engine.handle.send(m.Play())
            playing = engine.wait(lambda e: isinstance(e, m.TransportChanged) and e.rolling)
            assert isinstance(playing, m.TransportChanged)
            assert playing.p0 == pytest.approx(float(start))
            peer.wait_for(24, "click", timeout=15)  # 12 note-ons and their note-offs
            time.sleep(0.3)
            engine.handle.send(m.Stop())
            engine.wait(lambda e: isinstance(e, m.TransportChanged) and not e.rolling)
            time.sleep(0.2)
            ons = note_ons(peer.events("click"))
        finally:
            engine.handle.close()
    notes = ClickNotes()
    expected = [c for c in cue.clicks.clicks if c.time >= bar33 - cue.downbeat][: len(ons)]
    assert len(ons) >= 12
    # right bar, beat and accent: bar 33 beat 1 first, then 2, 3, 4, bar 34 …
    assert [(c.bar, c.beat) for c in expected][:5] == [(33, 1), (33, 2), (33, 3), (33, 4), (34, 1)]
    assert [d for _, d in ons] == [notes.note_on(c.kind) for c in expected]
    # exact samples: every onset is where the roll's start frame plus the exact picture offset says
    roll_frames = [f - round((cue.downbeat + c.time - start) * SR) for (f, _), c in zip(ons, expected, strict=True)]
    assert max(roll_frames) - min(roll_frames) <= 1
    assert roll_frames[0] % PERIOD == peer.frame0 % PERIOD  # the roll starts on a cycle boundary


def test_mtc_master_full_frame_then_quarter_frames_on_their_samples(server: JackServer, cue: Cue) -> None:
    rate = RATES["25"]
    with MidiPeer(unique_name("rec"), servername=server.name, inputs=("click", "mtc"), outputs=()) as peer:
        engine = start_engine(server, peer, rate="25", mtc_master=True)
        try:
            tc = Timecode.parse("01:00:00:00", rate)
            engine.handle.send(m.Locate(float(tc.picture_seconds)))
            time.sleep(0.1)
            engine.handle.send(m.Play())
            peer.wait_for(1 + 200, "mtc", timeout=15)
            engine.handle.send(m.Stop())
            time.sleep(0.2)
            got = peer.events("mtc")
        finally:
            engine.handle.close()
    # At start the master announces 00:00:00:00 (whether the recorder hears it depends on when it was
    # connected); the locate while stopped sends a full frame; the roll sends another, then quarter frames.
    startup = full_frame(Timecode.from_frames(0, rate))
    got = got[1:] if got and got[0][1] == startup else got
    assert got[0][1] == full_frame(tc)
    assert got[1][1] == full_frame(tc)
    qfs = [(f, d) for f, d in got[2:] if d[0] == 0xF1]
    q0 = 4 * tc.frame_count
    assert [d for _, d in qfs] == [quarter_frame_message(q0 + i, rate) for i in range(len(qfs))]
    step = Fraction(SR, 4 * 25)  # 480 samples
    first = qfs[0][0]
    for i, (f, _) in enumerate(qfs):
        assert abs(f - (first + i * step)) <= Fraction(1, 2)
    # and the quarter frames decode back to the timecode we sent
    dec = MtcDecoder(rate)
    decoded = [e for f, d in qfs for e in dec.receive(d, f / SR) if isinstance(e, QuarterFrameTime)]
    assert len(decoded) >= 20
    carried = [e.frame - Fraction(7, 4) for e in decoded]  # the decoder adds 7 quarter frames
    assert carried[0] >= tc.frame_count
    assert carried[0] % 2 == 0  # 8-piece cycles start on even frames
    assert all(b - a == 2 for a, b in itertools.pairwise(carried))


def test_chase_follows_a_quarter_frame_stream_and_clicks_in_lockstep(server: JackServer, cue: Cue) -> None:
    """A peer plays an MTC stream at +0.1 %; our engine chases it and clicks where the stream says."""
    rate = RATES["24"]
    speed = 1.001
    # Two clients, as on a stage: the picture player sends MTC, the click sampler receives
    # (one client doing both would make a feedback loop, which JACK delays by a period).
    with (
        MidiPeer(unique_name("src"), servername=server.name, inputs=(), outputs=("mtc",)) as source,
        MidiPeer(unique_name("rec"), servername=server.name, inputs=("click",), outputs=()) as peer,
    ):
        name = unique_name("stage")
        settings = EngineSettings(
            midi=True, server=server.name, client=name, source="mtc", rate="24",
            connect=(("click_out", peer.port("click")), ("mtc_in", source.port("mtc"))),
        )
        engine = Engine(settings)
        try:
            assert engine.ready.midi
            engine.handle.send(m.LoadClicks(tuple(cue_clicks(cue))))
            time.sleep(0.2)
            # the true stream: start 3 s before the downbeat of 1M1, at +0.1 %
            p_start = float(cue.downbeat) - 3.0
            q_first = int(p_start * 4 * 24) + 1
            f_start = peer.current_frame() + SR // 2
            n_qf = 4 * 24 * 8  # 8 s of picture

            def frame_of_position(p: float) -> float:
                return f_start + (p - p_start) / speed * SR

            stream = [(round(frame_of_position(q / 96)), quarter_frame_message(q, rate))
                      for q in range(q_first, q_first + n_qf)]
            source.schedule("mtc", stream)
            last_frame = stream[-1][0]
            peer.wait_until_frame(last_frame + SR, timeout=30)
            time.sleep(0.3)
            ons = note_ons(peer.events("click"))
            syncs = engine.of(m.SyncStatus)
            stopped = engine.of(m.TransportChanged)
        finally:
            engine.handle.close()
    assert any(s.locked for s in syncs)
    assert cue.clicks is not None
    # every click between lock (+ a settling second) and the end of the stream, where the stream says it is
    p_lock = p_start + 8 / 96 + 1.0
    p_end = (q_first + n_qf - 1) / 96
    expected = [c for c in cue.clicks.clicks if p_lock <= float(cue.downbeat + c.time) < p_end]
    by_frame = {round(frame_of_position(float(cue.downbeat + c.time))): c for c in expected}
    errors = []
    for f_true, c in by_frame.items():
        near = [f for f, _ in ons if abs(f - f_true) < SR * 0.05]
        assert near, f"click {c.bar}|{c.beat} missing"
        errors.append(abs(near[0] - f_true))
    assert len(errors) >= 8
    assert max(errors) <= SR * 0.0005  # within half a millisecond of the true stream
    # stop: no click after the stream ended (plus ~2 frames of silence)
    after = [f for f, _ in ons if f > last_frame + SR * 3 / 24 + PERIOD]
    assert after == []
    assert not stopped[-1].rolling


def test_chase_locks_in_8_quarter_frames_follows_a_locate_and_reverse_then_stops(server: JackServer, cue: Cue) -> None:
    """One stream through JACK: −0.1 % from before the downbeat, a jump to bar 20, then backwards, then silence."""
    rate = RATES["24"]
    assert cue.clicks is not None
    with (
        MidiPeer(unique_name("src"), servername=server.name, inputs=(), outputs=("mtc",)) as source,
        MidiPeer(unique_name("rec"), servername=server.name, inputs=("click",), outputs=()) as peer,
    ):
        settings = EngineSettings(
            midi=True, server=server.name, client=unique_name("stage"), source="mtc", rate="24",
            connect=(("click_out", peer.port("click")), ("mtc_in", source.port("mtc"))),
        )
        engine = Engine(settings)
        try:
            engine.handle.send(m.LoadClicks(tuple(cue_clicks(cue))))
            time.sleep(0.2)
            f = float(source.current_frame() + SR // 2)
            stream: list[tuple[int, bytes]] = []
            # (frame at start, position at start, speed, end frame)
            segments: list[tuple[float, float, float, float]] = []

            def play(q_first: int, count: int, speed: float, step: int = 1) -> None:
                nonlocal f
                f0 = f
                for i in range(count):
                    q = q_first + step * i
                    stream.append((round(f), quarter_frame_message(q, rate)))
                    f += SR / (96 * speed)
                segments.append((f0, q_first / 96, speed * step, f))

            downbeat_q = int(float(cue.downbeat) * 96)
            play(downbeat_q - 96 * 2 + 1, 96 * 4, 0.999)  # 2 s before the downbeat to 2 s after, 0.1 % slow
            bar20_q = int(float(cue.downbeat + cue.clicks.time_of(20)) * 96)
            play(bar20_q - 96 + 1, 96 * 3, 1.0)  # a locate: picture jumps to a second before bar 20
            play(bar20_q + 96 * 2, 96 * 2, 1.0, step=-1)  # then runs backwards for 2 s
            source.schedule("mtc", stream)
            peer.wait_until_frame(stream[-1][0] + SR, timeout=30)
            time.sleep(0.3)
            ons = [fr for fr, _ in note_ons(peer.events("click"))]
            syncs = engine.of(m.SyncStatus)
            anchors = engine.of(m.TransportChanged)
        finally:
            engine.handle.close()
    first_lock = next(s for s in syncs if s.locked)
    assert first_lock.quarter_frames <= 8
    # the jump breaks the piece order: the chase drops out and locks again at the new place
    relocks = [s for s in syncs if s.locked]
    assert len(relocks) >= 2
    assert any(a.rolling and a.speed < -0.99 for a in anchors)  # it saw the reverse
    assert not anchors[-1].rolling  # and stopped when the stream did

    def true_frame(p: float) -> float | None:
        for f0, p0, speed, f_end in segments[:2]:
            fr = f0 + (p - p0) / speed * SR
            if f0 + 0.5 * SR <= fr < f_end:  # half a second to settle after a lock or locate
                return fr
        return None

    checked = 0
    for c in cue.clicks.clicks:
        fr = true_frame(float(cue.downbeat + c.time))
        if fr is None:
            continue
        near = [x for x in ons if abs(x - fr) < SR * 0.05]
        assert near, f"click {c.bar}|{c.beat} missing"
        assert abs(near[0] - fr) <= SR * 0.0005, f"click {c.bar}|{c.beat} off by {(near[0] - fr) / SR * 1000:.3f} ms"
        checked += 1
    assert checked >= 6
    reverse_start, reverse_end = segments[2][0], segments[2][3]
    assert [x for x in ons if reverse_start + PERIOD < x < reverse_end + SR] == []  # nothing sounds backwards


def test_the_rtmidi_fallback_sends_the_clicks_in_order_within_a_period_or_two(
    realtime_jack_server: JackServer, cue: Cue
) -> None:
    """backend = "rtmidi" (here through rtmidi's JACK API): right notes, in order, each when the engine said.

    rtmidi sends by the wall clock, so this runs on the asynchronous server, whose frame clock keeps real time
    (a synchronous server's clock stalls whenever a client is late), and the notes heard are timed on the
    monotonic clock, as the engine times them.  Two things a stalled host does are allowed for, and each must
    be accounted for:
    - a click overdue past the catch-up limit (the sending thread was stopped for over 50 ms) is dropped by
      design, and counted in the engine's stats: the clicks sounded are the cue's, in order, but for those;
    - a cycle in which a JACK client ran late (an xrun) can lose what rtmidi's client wrote in it before the
      recorder reads it: a click sounded may go unheard, but only as many as the server reported xruns.
    """
    server = realtime_jack_server
    assert cue.clicks is not None
    with MidiPeer(unique_name("rec"), servername=server.name, inputs=("click",), outputs=()) as peer:
        name = unique_name("stage")
        engine = Engine(EngineSettings(midi=True, backend="rtmidi", rtmidi_api="jack", server=server.name,
                                       client=name, rate="24", mtc_out=False))
        try:
            assert engine.ready.midi, engine.ready.reason
            assert engine.ready.ports == (f"{name}:click_out",)
            (port,) = peer.client.get_ports(f"{name}:.*", is_midi=True, is_output=True)
            peer.client.connect(port, peer.port("click"))
            engine.handle.send(m.LoadClicks(tuple(cue_clicks(cue))))
            engine.handle.send(m.Locate(float(cue.downbeat) - 0.1))
            xruns = peer.xruns
            engine.handle.send(m.Play())
            peer.wait_for(16, "click", timeout=15)
            engine.handle.send(m.Stop())
            ons = note_ons(peer.events_at("click"))[:8]
            time.sleep(STATS_INTERVAL + 0.5)  # the engine's counters, sent once a second, now include the run
            xruns = peer.xruns - xruns
            sounded = engine.of(m.BeatSounded)
            dropped = engine.of(m.EngineStats)[-1].dropped
        finally:
            engine.handle.close()
    clicks = [c for c in cue.clicks.clicks if c.time >= 0]
    positions = [[(c.bar, c.beat) for c in clicks].index((b.bar, b.beat)) for b in sounded]
    assert positions == sorted(set(positions))  # in the cue's order, none twice
    assert [ClickKind(b.kind) for b in sounded] == [clicks[i].kind for i in positions]
    assert positions[-1] + 1 - len(positions) <= dropped  # any click skipped was counted as dropped
    # "12-0" at 24 fps: half a second a beat, and the engine's times keep the cue's spacing
    for b1, b2 in itertools.pairwise(sounded):
        assert abs((b2.t - b1.t) - (b2.p - b1.p)) < 1e-3
    # Each note heard is the click sounded nearest it, of the same kind, within a quarter of a beat: rtmidi
    # writes at the next cycle's start, from a thread a busy VM can wake 50 ms late and more; a tempo off by
    # a fifth is a beat off by the eighth note.
    notes = ClickNotes()
    heard, late = [], []
    for at, data in ons:
        i = min(range(len(sounded)), key=lambda k: abs(sounded[k].t - at))
        late.append(at - sounded[i].t)
        heard.append(i if abs(late[-1]) <= 0.125 and notes.note_on(ClickKind(sounded[i].kind)) == data else -1)
    context = f"heard as sounded {heard}, {xruns} xruns, late by {[round(x, 4) for x in late]} s"
    assert len(ons) == 8, context
    assert -1 not in heard, context
    assert heard == sorted(set(heard)), context  # in the order sounded, none twice
    assert heard[-1] + 1 - len(heard) <= xruns, context  # a click not heard is one an xrun took
    # and as a rule a click is heard at the start of the cycle after it was due, not before, not later
    assert -0.002 <= statistics.median(late) <= 2 * server.period / SR, context
