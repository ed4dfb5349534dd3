"""JackMidi against a real jackd: exact frames both ways, counters, errors, clock."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Iterator, Mapping, Sequence

import pytest
from hypothesis import given
from hypothesis import strategies as st
from peers.jackd import JackServer, unique_name
from peers.recorder import MidiPeer, audio_samples

from stage.adapters.jack_midi import JackMidi, MidiEvent, unwrap_frame
from stage.adapters.rtmidi_midi import RtMidiOut
from stage.errors import MidiError

pytestmark = pytest.mark.peers

FULL_FRAME = bytes([0xF0, 0x7F, 0x7F, 0x01, 0x01, 0x21, 0x02, 0x03, 0x04, 0xF7])  # 01:02:03:04 at 25 fps
MESSAGES = (
    b"\xf8",  # timing clock: 1 byte
    b"\xfe",  # active sensing: 1 byte
    b"\xf1\x35",  # MTC quarter frame: 2 bytes
    b"\xc3\x07",  # program change: 2 bytes
    b"\x90\x3c\x64",  # note on: 3 bytes
    b"\x80\x3c\x00",  # note off: 3 bytes
    FULL_FRAME,
    bytes([0xF0, 0x7D, *range(100), 0xF7]),  # a longer SysEx
)

Outputs = Mapping[str, Sequence[MidiEvent]]


class Sender:
    """A cycle handler playing a list of events on one port, and recording its inputs."""

    def __init__(self, port: str = "click_out") -> None:
        self.port = port
        self.events: list[MidiEvent] = []
        self.next = 0
        self.first_frame0: int | None = None
        self.nframes = 0
        self.calls = 0
        self.received: dict[str, list[MidiEvent]] = {}
        self.ready = threading.Event()

    def play(self, events: list[MidiEvent]) -> None:
        self.next = 0
        self.events = sorted(events, key=lambda e: e[0])

    def __call__(self, frame0: int, nframes: int, inputs: Mapping[str, Sequence[MidiEvent]]) -> Outputs:
        self.calls += 1
        if self.first_frame0 is None:
            self.first_frame0, self.nframes = frame0, nframes
            self.ready.set()
        for port, events in inputs.items():
            self.received.setdefault(port, []).extend(events)
        end = frame0 + nframes
        start = self.next
        while self.next < len(self.events) and self.events[self.next][0] < end:
            self.next += 1
        return {self.port: self.events[start : self.next]} if self.next > start else {}


@pytest.fixture
def stage(jack_server: JackServer) -> Iterator[JackMidi]:
    with JackMidi(unique_name("stage"), servername=jack_server.name) as midi:
        yield midi


def start(midi: JackMidi, handler: Sender) -> tuple[int, int]:
    """Install the handler; return a cycle start a little ahead, and the cycle length."""
    midi.set_handler(handler)
    assert handler.ready.wait(2)
    assert handler.first_frame0 is not None
    nframes = handler.nframes
    cycles_ahead = (midi.current_frame() - handler.first_frame0) // nframes + 40  # ~0.2 s of margin
    return handler.first_frame0 + cycles_ahead * nframes, nframes


def test_ports_are_named_after_the_client(stage: JackMidi) -> None:
    assert sorted(stage.midi_ports(f"^{stage.name}:")) == sorted(
        f"{stage.name}:{p}" for p in ("mtc_out", "click_out", "mtc_in")
    )
    assert stage.port_name("click_out") == f"{stage.name}:click_out"
    assert stage.port_name("other:port") == "other:port"
    assert (stage.samplerate, stage.blocksize) == (48000, 256)


def test_every_event_arrives_at_exactly_its_frame(stage: JackMidi, recorder: MidiPeer) -> None:
    stage.connect("click_out", recorder.port("in"))
    sender = Sender()
    base, n = start(stage, sender)
    rng = random.Random(20240601)
    frames = [base, base + n - 1, base + n, base + 2 * n - 1]  # both ends of a cycle
    frame = frames[-1]
    while len(frames) < 1000:
        frame += rng.choice((0, 1, rng.randrange(2, 250)))  # same frame, next frame, or further
        frames.append(frame)
    events = [(f, MESSAGES[i % len(MESSAGES)]) for i, f in enumerate(frames)]
    sender.play(events)

    got = recorder.wait_for(len(events), timeout=30)

    assert got == events
    assert {f - base for f in frames} >= {0, n - 1, n, 2 * n - 1}
    assert len({(f - base) // n for f in frames}) > 100  # spans many cycles
    assert (stage.late_events, stage.dropped_events, stage.handler_errors) == (0, 0, 0)


def test_input_events_are_stamped_with_their_frame(jack_server: JackServer, stage: JackMidi) -> None:
    sender = Sender()
    with MidiPeer(unique_name("src"), servername=jack_server.name, inputs=()) as source:
        source_port = source.port("out")
        stage.connect(source_port, "mtc_in")
        base, n = start(stage, sender)
        events = [(base + k * 97 + (n - 1 if k % 5 == 0 else 0), MESSAGES[k % len(MESSAGES)]) for k in range(200)]
        events.append((base + 300 * n, FULL_FRAME))
        events.sort(key=lambda e: e[0])
        source.schedule("out", events)
        source.wait_until_frame(events[-1][0] + n)
        time.sleep(0.05)
    assert source.late == 0
    assert sender.received["mtc_in"] == events


def test_late_event_goes_out_at_offset_zero_and_is_counted(stage: JackMidi, recorder: MidiPeer) -> None:
    stage.connect("click_out", recorder.port("in"))
    sent: list[int] = []

    def late_once(frame0: int, nframes: int, inputs: Mapping[str, Sequence[MidiEvent]]) -> Outputs:
        if sent:
            return {}
        sent.append(frame0)
        return {"click_out": [(frame0 - 100, b"\x90\x01\x01"), (frame0 + 10, b"\x90\x02\x02")]}

    stage.set_handler(late_once)
    got = recorder.wait_for(2)
    assert got == [(sent[0], b"\x90\x01\x01"), (sent[0] + 10, b"\x90\x02\x02")]
    assert stage.late_events == 1
    assert stage.dropped_events == 0


def test_events_outside_the_cycle_or_port_are_dropped_and_counted(stage: JackMidi, recorder: MidiPeer) -> None:
    stage.connect("click_out", recorder.port("in"))
    sent: list[int] = []

    def bad_once(frame0: int, nframes: int, inputs: Mapping[str, Sequence[MidiEvent]]) -> Outputs:
        if sent:
            return {}
        sent.append(frame0)
        return {
            "click_out": [(frame0 + 3, b"\x90\x03\x03"), (frame0 + nframes, b"\x90\x04\x04"), (frame0 + 5, b"")],
            "no_such_port": [(frame0, b"\x90\x05\x05")],
        }

    stage.set_handler(bad_once)
    assert recorder.wait_for(1) == [(sent[0] + 3, b"\x90\x03\x03")]
    recorder.wait_until_frame(sent[0] + 4 * stage.blocksize)
    assert recorder.events() == [(sent[0] + 3, b"\x90\x03\x03")]
    assert stage.dropped_events == 3
    assert stage.late_events == 0


def test_unsorted_events_are_sent_in_frame_order(stage: JackMidi, recorder: MidiPeer) -> None:
    stage.connect("click_out", recorder.port("in"))
    sent: list[int] = []

    def unsorted_once(frame0: int, nframes: int, inputs: Mapping[str, Sequence[MidiEvent]]) -> Outputs:
        if sent:
            return {}
        sent.append(frame0)
        return {"click_out": [(frame0 + 200, b"\x90\x02\x02"), (frame0 + 1, b"\x90\x01\x01")]}

    stage.set_handler(unsorted_once)
    assert recorder.wait_for(2) == [(sent[0] + 1, b"\x90\x01\x01"), (sent[0] + 200, b"\x90\x02\x02")]


def test_a_raising_or_slow_handler_does_not_stop_the_client(stage: JackMidi, recorder: MidiPeer) -> None:
    stage.connect("click_out", recorder.port("in"))
    sender = Sender()
    base, n = start(stage, sender)
    events = [(base + 10 * n + 7, b"\x90\x3c\x64")]
    sender.play(events)
    calls = 0

    def troubled(frame0: int, nframes: int, inputs: Mapping[str, Sequence[MidiEvent]]) -> Outputs:
        nonlocal calls
        calls += 1
        if calls <= 3:
            raise RuntimeError("handler bug")
        if calls == 4:
            time.sleep(0.02)  # four periods
        return sender(frame0, nframes, inputs)

    stage.set_handler(troubled)
    assert recorder.wait_for(1) == events
    assert stage.handler_errors == 3
    assert stage.running
    assert stage.stats().callback_errors == 0


def test_no_server_is_a_prompt_midi_error() -> None:
    started = time.monotonic()
    with pytest.raises(MidiError, match="is not running"):
        JackMidi("stage", servername=unique_name("no-such-server"))
    assert time.monotonic() - started < 2


def test_a_taken_client_name_is_a_midi_error(jack_server: JackServer, stage: JackMidi) -> None:
    with pytest.raises(MidiError, match="already running"):
        JackMidi(stage.name, servername=jack_server.name)


def test_connecting_an_unknown_port_is_a_midi_error(stage: JackMidi) -> None:
    with pytest.raises(MidiError, match="cannot connect"):
        stage.connect("click_out", "nobody:in")


def test_connect_is_idempotent(stage: JackMidi, recorder: MidiPeer) -> None:
    stage.connect("click_out", recorder.port("in"))
    stage.connect("click_out", recorder.port("in"))
    assert stage.connections("click_out") == [recorder.port("in")]
    stage.disconnect("click_out", recorder.port("in"))
    assert stage.connections("click_out") == []


def test_close_is_clean_and_repeatable(jack_server: JackServer) -> None:
    midi = JackMidi(unique_name("stage"), servername=jack_server.name, handler=Sender())
    name = midi.name
    midi.close()
    midi.close()
    assert not midi.running
    with JackMidi(name, servername=jack_server.name) as again:  # the name is free again
        assert again.running


def test_frames_and_monotonic_time_agree(realtime_jack_server: JackServer) -> None:
    with JackMidi(unique_name("stage"), servername=realtime_jack_server.name) as stage:
        check_clock(stage)


def check_clock(stage: JackMidi) -> None:
    sr, n = stage.samplerate, stage.blocksize
    misses = []
    for _ in range(20):
        before = time.monotonic()
        frame = stage.current_frame()
        after = time.monotonic()
        # JACK's own estimate of "now" should fall between the two instants. The
        # two estimates come from different cycles' timing, so on a host that
        # preempts even real-time threads they can differ by a few periods; a
        # wrong clock (CLOCK_MONOTONIC for JACK's CLOCK_MONOTONIC_RAW) would be
        # off by the clocks' offset, a large fraction of a second or more.
        lo, hi = stage.monotonic_to_frames(before), stage.monotonic_to_frames(after)
        misses.append(max(lo - frame, frame - hi, 0))
        # The two conversions invert each other to the frame.
        assert stage.monotonic_to_frames(stage.frames_to_monotonic(frame)) == frame
        assert abs(stage.frames_to_monotonic(stage.monotonic_to_frames(before)) - before) <= 1 / sr
        time.sleep(0.01)
    misses.sort()
    assert misses[len(misses) // 2] <= n, misses
    assert misses[-1] <= sr // 10, misses
    one_second = stage.frames_to_monotonic(frame + sr) - stage.frames_to_monotonic(frame)
    assert one_second == pytest.approx(1.0, rel=1e-2)


WRAP = 1 << 32


@given(st.integers(0, 1 << 50), st.integers(-(1 << 30), 1 << 30))
def test_unwrap_finds_the_frame_nearest_the_reference(near: int, delta: int) -> None:
    actual = max(0, near + delta)
    assert unwrap_frame(actual % WRAP, near) == actual


def test_unwrap_across_the_32_bit_wrap() -> None:
    assert unwrap_frame(0, WRAP - 256) == WRAP
    assert unwrap_frame(100, WRAP - 156) == WRAP + 100
    assert unwrap_frame(WRAP - 1, WRAP + 5) == WRAP - 1
    assert unwrap_frame(256, 3 * WRAP) == 3 * WRAP + 256


# -- the rtmidi fallback, against the same witness -----------------------------------------------


def test_rtmidi_fallback_delivers_every_message_at_a_cycle_start(jack_server: JackServer, recorder: MidiPeer) -> None:
    client = unique_name("fallback")
    with RtMidiOut(client, "click_out", servername=jack_server.name) as out:
        assert out.name == f"{client}:click_out"
        with JackMidi(unique_name("patch"), outputs=(), inputs=(), servername=jack_server.name) as patch:
            patch.connect(out.name, recorder.port("in"))
        # the graph takes a new connection at a cycle start: what is written before then goes nowhere
        recorder.wait_until_frame(recorder.current_frame() + 2 * jack_server.period)
        for message in MESSAGES:
            out.send(message)
            time.sleep(0.003)
        got = recorder.wait_for(len(MESSAGES))
    assert [data for _, data in got] == list(MESSAGES)
    # Whatever the moment of send(), rtmidi writes at offset 0 of a cycle:
    # up to one period late. JackMidi exists for this.
    assert {(frame - recorder.frame0) % jack_server.period for frame, _ in got} == {0}


def test_rtmidi_fallback_without_server_is_a_midi_error() -> None:
    with pytest.raises(MidiError, match="cannot open rtmidi output"):
        RtMidiOut("stage", servername=unique_name("no-such-server"))


def test_rtmidi_fallback_refuses_an_empty_message(jack_server: JackServer) -> None:
    with RtMidiOut(unique_name("fallback"), servername=jack_server.name) as out, pytest.raises(MidiError):
        out.send(b"")


def test_audio_ports_carry_what_the_renderer_writes_on_its_frames_and_silence_otherwise(
    jack_server: JackServer,
) -> None:
    with MidiPeer(unique_name("rec"), servername=jack_server.name, inputs=(), outputs=(),
                  audio_inputs=("a", "b")) as peer:
        target: list[int] = []
        failures = threading.Event()

        def render(port: str, frame0: int, samples: memoryview[float]) -> None:
            if port == "bad":
                failures.set()
                raise RuntimeError("a renderer with a bug")
            if not target:
                target.append(frame0 + 40 * len(samples) + 7)  # a frame inside a later cycle
            for i in range(len(samples)):
                k = frame0 + i - target[0]
                samples[i] = 0.5 - 0.125 * k if 0 <= k < 4 else 0.0

        with JackMidi(unique_name("stage"), servername=jack_server.name, outputs=(), inputs=(),
                      audio_outputs=("tone", "bad"), audio=render) as midi:
            midi.connect("tone", peer.port("a"))
            midi.connect("bad", peer.port("b"))
            assert failures.wait(2)
            while not target:
                time.sleep(0.01)
            peer.wait_until_frame(target[0] + 4 * midi.blocksize)
            errors = midi.handler_errors
    assert audio_samples(peer.audio["a"]) == {target[0] + k: 0.5 - 0.125 * k for k in range(4)}
    assert peer.audio["b"] == []  # a renderer that raises leaves silence, and is counted
    assert errors > 0
