"""Our MTC through JackMidi drives a real MTC slave (xjadeo) to exact frames."""

from __future__ import annotations

import math
import time
from collections.abc import Iterator, Mapping, Sequence

import pytest
from peers.jackd import JackServer, unique_name
from peers.xjadeo import Xjadeo, XjadeoFactory

from stage.adapters.jack_midi import JackMidi, MidiEvent
from stage.core.mtc import full_frame, quarter_frame_message, quarter_frame_position
from stage.core.timecode import RATES, Rate, Timecode

pytestmark = pytest.mark.peers


class Player:
    """A cycle handler sending a list of events on ``mtc_out``.

    `play` swaps in a fresh list and cursor as one object, so the callback
    never sees one without the other.
    """

    def __init__(self) -> None:
        self.queue: tuple[list[MidiEvent], list[int]] = ([], [0])

    def play(self, events: list[MidiEvent]) -> None:
        self.queue = (sorted(events, key=lambda e: e[0]), [0])

    def __call__(
        self, frame0: int, nframes: int, inputs: Mapping[str, Sequence[MidiEvent]]
    ) -> Mapping[str, Sequence[MidiEvent]]:
        events, cursor = self.queue
        start = end = cursor[0]
        while end < len(events) and events[end][0] < frame0 + nframes:
            end += 1
        cursor[0] = end
        return {"mtc_out": events[start:end]} if end > start else {}


@pytest.fixture
def midi(jack_server: JackServer) -> Iterator[tuple[JackMidi, Player]]:
    player = Player()
    with JackMidi(unique_name("stage"), servername=jack_server.name, handler=player) as m:
        yield m, player


def start_xjadeo(xjadeo: XjadeoFactory, rate: Rate, midi: JackMidi, server: JackServer | None = None) -> Xjadeo:
    peer = xjadeo(rate.fps, server)
    assert float(peer.get("framerate")) == pytest.approx(float(rate.fps), abs=0.01)  # "29.97" for 30000/1001
    midi.connect("mtc_out", peer.port)
    return peer


@pytest.mark.parametrize(
    ("rate_name", "text"),
    [("24", "00:00:10:05"), ("25", "00:01:02:13"), ("29.97df", "00:01:00;02"), ("29.97df", "00:02:17;29")],
)
def test_a_full_frame_locates_xjadeo_to_that_frame(
    midi: tuple[JackMidi, Player], xjadeo: XjadeoFactory, rate_name: str, text: str
) -> None:
    stage, player = midi
    rate = RATES[rate_name]
    peer = start_xjadeo(xjadeo, rate, stage)
    tc = Timecode.parse(text, rate)

    player.play([(stage.current_frame() + stage.blocksize, full_frame(tc))])

    assert peer.wait_for_frame(tc.frame_count) == tc.frame_count
    assert peer.smpte() == str(tc)


@pytest.fixture
def realtime_midi(realtime_jack_server: JackServer) -> Iterator[tuple[JackMidi, Player]]:
    player = Player()
    with JackMidi(unique_name("stage"), servername=realtime_jack_server.name, handler=player) as m:
        yield m, player


@pytest.mark.parametrize(("rate_name", "text"), [("25", "00:02:00:00"), ("29.97df", "00:02:00;02")])
def test_xjadeo_follows_quarter_frames(
    realtime_midi: tuple[JackMidi, Player],
    realtime_jack_server: JackServer,
    xjadeo: XjadeoFactory,
    rate_name: str,
    text: str,
) -> None:
    # xjadeo runs on its own clock between quarter frames, so this runs on a
    # server whose frame clock keeps real time (asynchronous, as in production).
    stage, player = realtime_midi
    rate = RATES[rate_name]
    peer = start_xjadeo(xjadeo, rate, stage, realtime_jack_server)
    sr = stage.samplerate
    fps = float(rate.fps)

    start = Timecode.parse(text, rate).frame_count
    q0 = start * 4 - (start * 4) % 8  # a cycle starts on an even frame
    quarter_frames = round(3 * 4 * rate.fps)  # three seconds
    f0 = stage.current_frame() + sr // 10
    p0 = quarter_frame_position(q0, rate)
    events = [
        (f0 + round((quarter_frame_position(q, rate) - p0) * sr), quarter_frame_message(q, rate))
        for q in range(q0, q0 + quarter_frames)
    ]
    player.play(events)

    def expected_frame(jack_frame: int) -> float:
        return q0 / 4 + (jack_frame - f0) / sr * fps

    samples = []
    settle = f0 + sr // 2  # xjadeo needs a few cycles of 8 quarter frames to lock
    while stage.current_frame() < events[-1][0]:
        before = stage.current_frame()
        shown = peer.frame()
        after = stage.current_frame()
        if before > settle:
            samples.append((expected_frame(before), shown, expected_frame(after)))
        time.sleep(0.05)

    assert len(samples) > 20
    # What xjadeo shows lies within the frames that were current while we asked,
    # give or take one. xjadeo draws on its own clock and a loaded host can stall
    # its display loop for a few frames now and then: on a VM whose host takes
    # its time away (30-50 xruns in these three seconds) runs of 1-9 frames
    # showed in a third of the samples, so half may miss.  A slave that does
    # not follow, or runs at another rate, drifts further every second: most
    # samples miss, and by more than 12 frames by the end.
    misses = [max(math.floor(lo) - 1 - shown, shown - math.ceil(hi) - 1, 0) for lo, shown, hi in samples]
    context = f"misses {misses}, {stage.stats()}"
    assert sum(1 for m in misses if m == 0) >= 0.5 * len(samples), context
    assert max(misses) <= 12, context
    # Where the stream ended, give or take two cycles of 8 quarter frames: xjadeo shows the last cycle it
    # decoded whole, and on a host that stalls it the last one or two may come too late to count (seen: 2.75
    # and 3.75 frames short); a slave at another rate is 15 frames off and more after three seconds.
    last_position = (q0 + quarter_frames - 1) / 4
    deadline = time.monotonic() + 2
    while abs(peer.frame() - last_position) > 1 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert abs(peer.frame() - last_position) <= 4

    # A full frame after the run locates it exactly.
    tc = Timecode.from_frames(start - 250, rate)
    player.play([(stage.current_frame() + stage.blocksize, full_frame(tc))])
    assert peer.wait_for_frame(tc.frame_count) == tc.frame_count
