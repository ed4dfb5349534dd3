"""Another JACK client: records MIDI (and audio) with absolute frames, and sends MIDI (and audio) at given frames.

`MidiPeer` is written straight against JACK-Client, independently of
`stage.adapters.jack_midi`, so that it is a witness and not a mirror: a frame
error in our adapter cannot cancel out against the same error here.

Frames are JACK frame times unwrapped to plain ints, like the adapter's: for
one cycle every client of a server sees the same start frame, and an event
written at offset k by a client that runs earlier in the graph arrives at
offset k in the same cycle.

It closes like the adapter does (see `stage.adapters.jack_midi`): the process
callback ends its own thread before the client is closed, because jack2 would
otherwise cancel that thread, possibly while it holds the GIL.
"""

from __future__ import annotations

import heapq
import math
import queue
import struct
import threading
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Self

import jack

Event = tuple[int, bytes]

_WRAP = 1 << 32
_HALF_WRAP = 1 << 31


class MidiPeer:
    """A JACK client with MIDI inputs it records and outputs it plays from a schedule."""

    def __init__(
        self,
        name: str,
        *,
        servername: str,
        inputs: Iterable[str] = ("in",),
        outputs: Iterable[str] = ("out",),
        audio_inputs: Iterable[str] = (),
        audio_outputs: Iterable[str] = (),
    ) -> None:
        self.client = jack.Client(name, use_exact_name=True, no_start_server=True, servername=servername)
        self.name = str(self.client.name)
        self._rate = float(self.client.samplerate)
        self._inputs: list[tuple[str, Any]] = [(p, self.client.midi_inports.register(p)) for p in inputs]
        self._outputs: dict[str, Any] = {p: self.client.midi_outports.register(p) for p in outputs}
        self._audio_inputs: list[tuple[str, Any]] = [(p, self.client.inports.register(p)) for p in audio_inputs]
        self._audio_outputs: list[tuple[str, Any]] = [(p, self.client.outports.register(p)) for p in audio_outputs]
        self._audio_incoming: queue.SimpleQueue[tuple[str, int, memoryview[float]]] = queue.SimpleQueue()
        self._audio_playing: list[tuple[str, int, memoryview[float]]] = []  # (port, first frame, float32 samples)
        # every block of audio that was not all silence: (absolute frame of its first sample, float32 bytes)
        self.audio: dict[str, list[tuple[int, bytes]]] = {p: [] for p, _ in self._audio_inputs}
        self.received: dict[str, list[Event]] = {p: [] for p, _ in self._inputs}
        # when each was received on the monotonic clock (the cycle's start as this callback sees it, plus the
        # event's offset): for senders that go by the wall clock, not by frames
        self.received_at: dict[str, list[float]] = {p: [] for p, _ in self._inputs}
        self.sent: list[tuple[str, int, int, bytes]] = []  # (port, intended frame, written frame, bytes)
        self.late = 0
        self.xruns = 0  # what the server reported (any client late), and the cycles this client itself missed
        self._incoming: queue.SimpleQueue[tuple[int, int, str, bytes]] = queue.SimpleQueue()
        self._heap: list[tuple[int, int, str, bytes]] = []
        self._seq = 0
        self._frame0: int | None = None
        self._raw0 = 0
        self._first = threading.Event()
        self._stopping = False
        self._stopped = threading.Event()
        self._tid = 0
        self.client.set_process_callback(self._process)
        self.client.set_xrun_callback(self._xrun)
        self.client.activate()
        if not self._first.wait(5):
            raise RuntimeError(f"JACK ran no cycle for {name!r}")

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._stopping = True
        if self._stopped.wait(2):
            task = Path(f"/proc/self/task/{self._tid}")
            deadline = time.monotonic() + 2
            while task.exists() and time.monotonic() < deadline:
                time.sleep(0.001)
        self.client.deactivate()
        self.client.close()

    def port(self, short: str) -> str:
        return f"{self.name}:{short}"

    @property
    def frame0(self) -> int:
        """Start frame of the latest cycle (unwrapped)."""
        assert self._frame0 is not None
        return self._frame0

    def current_frame(self) -> int:
        raw = int(self.client.frame_time)
        return self.frame0 + ((raw - self._raw0 + _HALF_WRAP) % _WRAP - _HALF_WRAP)

    def schedule(self, port: str, events: Iterable[Event]) -> None:
        """Send each event at its absolute frame (thread-safe)."""
        for frame, data in events:
            self._seq += 1
            self._incoming.put((frame, self._seq, port, bytes(data)))

    def play_audio(self, port: str, frame: int, samples: bytes) -> None:
        """Play float32 ``samples`` on an audio output from absolute ``frame`` on (silence elsewhere; thread-safe)."""
        self._audio_incoming.put((port, frame, memoryview(samples).cast("f")))

    def audio_done(self) -> bool:
        """True when every sample given to `play_audio` has been played."""
        return self._audio_incoming.empty() and not self._audio_playing

    def events(self, port: str = "in") -> list[Event]:
        return list(self.received[port])

    def events_at(self, port: str = "in") -> list[tuple[float, bytes]]:
        """What was received, with when on the monotonic clock (within a wake-up of the callback)."""
        return [(at, data) for at, (_, data) in zip(list(self.received_at[port]), self.events(port), strict=False)]

    def wait_for(self, count: int, port: str = "in", timeout: float = 10.0) -> list[Event]:
        """Wait until ``count`` events were received on a port; return them."""
        deadline = time.monotonic() + timeout
        while len(self.received[port]) < count and time.monotonic() < deadline:
            time.sleep(0.01)
        return self.events(port)

    def wait_until_frame(self, frame: int, timeout: float = 10.0) -> None:
        """Wait until JACK has processed every cycle up to ``frame``."""
        deadline = time.monotonic() + timeout
        while (self._frame0 is None or self._frame0 <= frame) and time.monotonic() < deadline:
            time.sleep(0.005)

    def _xrun(self, _delayed_usecs: float) -> None:
        self.xruns += 1

    def _process(self, nframes: int) -> None:
        if self._stopping:
            for port in self._outputs.values():
                port.clear_buffer()
            for _, port in self._audio_outputs:
                memoryview(port.get_buffer()).cast("B")[:] = bytes(4 * nframes)
            self._stopped.set()
            raise jack.CallbackExit
        raw = int(self.client.last_frame_time)
        if self._frame0 is None:
            frame0 = raw
            self._tid = threading.get_native_id()
        else:
            frame0 = self._frame0 + (raw - self._raw0) % _WRAP
            self.xruns += max(0, (frame0 - self._frame0) // nframes - 1)
        self._frame0, self._raw0 = frame0, raw

        start = None
        for name, port in self._inputs:
            sink, at = self.received[name], self.received_at[name]
            for offset, data in port.incoming_midi_events():
                if start is None:
                    start = time.monotonic() - self.client.frames_since_cycle_start / self._rate
                sink.append((frame0 + offset, bytes(data)))
                at.append(start + offset / self._rate)

        for name, port in self._audio_inputs:
            block = bytes(port.get_buffer())
            if block.count(0) != len(block):
                self.audio[name].append((frame0, block))

        for port in self._outputs.values():
            port.clear_buffer()
        while True:
            try:
                heapq.heappush(self._heap, self._incoming.get_nowait())
            except queue.Empty:
                break
        end = frame0 + nframes
        self._play(frame0, nframes)
        while self._heap and self._heap[0][0] < end:
            frame, _, name, data = heapq.heappop(self._heap)
            offset = frame - frame0
            if offset < 0:
                self.late += 1
                offset = 0
            self._outputs[name].write_midi_event(offset, data)
            self.sent.append((name, frame, frame0 + offset, data))
        self._first.set()

    def _play(self, frame0: int, nframes: int) -> None:
        while True:
            try:
                self._audio_playing.append(self._audio_incoming.get_nowait())
            except queue.Empty:
                break
        end = frame0 + nframes
        for name, port in self._audio_outputs:
            buf = memoryview(port.get_buffer()).cast("f")
            buf[:] = memoryview(bytes(4 * nframes)).cast("f")
            for p, first, samples in self._audio_playing:
                a, b = max(first, frame0), min(first + len(samples), end)
                if p == name and b > a:
                    buf[a - frame0 : b - frame0] = samples[a - first : b - first]
        self._audio_playing = [x for x in self._audio_playing if x[1] + len(x[2]) > end]


def audio_samples(blocks: list[tuple[int, bytes]]) -> dict[int, float]:
    """Every non-zero recorded sample by its absolute frame."""
    out: dict[int, float] = {}
    for frame0, block in blocks:
        for i, x in enumerate(struct.unpack(f"<{len(block) // 4}f", block)):
            if x != 0.0:
                out[frame0 + i] = x
    return out


def audio_onsets(blocks: list[tuple[int, bytes]], threshold: float = 0.01, gap: int = 480) -> list[int]:
    """Frames where sound starts: a sample above ``threshold`` after at least ``gap`` samples below it."""
    samples = audio_samples(blocks)
    onsets: list[int] = []
    last = None
    for frame in sorted(samples):
        if abs(samples[frame]) < threshold:
            continue
        if last is None or frame - last > gap:
            onsets.append(frame)
        last = frame
    return onsets


def pitch_at(blocks: list[tuple[int, bytes]], frame: int, samplerate: int, length: int = 480) -> float:
    """The frequency of the sound starting at ``frame``, from its zero crossings over ``length`` samples (Hz)."""
    samples = audio_samples(blocks)
    xs = [samples.get(frame + i, 0.0) for i in range(length)]
    crossings = [i for i in range(1, length) if (xs[i - 1] < 0) != (xs[i] < 0) and xs[i] != 0.0]
    if len(crossings) < 2:
        return math.nan
    return (len(crossings) - 1) / 2 / ((crossings[-1] - crossings[0]) / samplerate)
