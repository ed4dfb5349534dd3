"""Sample-accurate MIDI through JACK: our own client, one handler call per cycle.

`JackMidi` opens a JACK client (``stage`` by default), registers MIDI output and
input ports (``<client>:mtc_out``, ``<client>:click_out``, ``<client>:mtc_in``)
and any audio ports (``<client>:click_audio``, ``<client>:ltc_out`` out,
``<client>:ltc_in`` in), and calls one `CycleHandler` from JACK's process
callback once per cycle:

* first the `AudioReader` is given each audio input port's samples for the
  cycle, with the cycle's start frame;
* every incoming event is handed over with its *absolute* frame, the cycle's
  start frame plus the event's offset inside the cycle;
* every outgoing event the handler returns carries an absolute frame too, and
  is written at exactly ``frame - frame0`` inside the cycle;
* then the `AudioRenderer` fills each audio output port's buffer for the same
  cycle (silence when there is none).

Frames are JACK's frame time, unwrapped: JACK counts in a uint32 that wraps
after about a day at 48 kHz; here it is a plain Python int that never wraps.

JACK's clock is not `time.monotonic()`: jackd2 on Linux reads
``CLOCK_MONOTONIC_RAW``, which is offset from ``CLOCK_MONOTONIC`` and runs at a
slightly different rate while NTP slews the latter. `frames_to_monotonic` and
`monotonic_to_frames` therefore map through JACK's own cycle times and a
measured, regularly refreshed offset between the two clocks.

Closing needs care: jack2's ``jack_deactivate`` stops a client's process
thread with an asynchronous ``pthread_cancel``; if that lands while the thread
runs Python, the thread dies holding the GIL and the process hangs. So `close`
first asks the callback to end its own thread (JACK-Client's `CallbackExit`:
jack2 then deactivates the client and exits the thread from C), waits for the
thread to be gone, and only then closes. For the same reason no Python callback
runs on JACK's notification thread except the one for a server shutdown.

This is the only module that imports `jack`.
"""

from __future__ import annotations

import ctypes
import errno
import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from operator import itemgetter
from pathlib import Path
from types import MappingProxyType
from typing import Any, Protocol, Self

import jack

from stage.errors import MidiError

__all__ = ["AudioReader", "AudioRenderer", "CycleHandler", "JackMidi", "JackMidiStats", "MidiEvent", "unwrap_frame"]

log = logging.getLogger(__name__)

MidiEvent = tuple[int, bytes]
"""One MIDI message at an absolute JACK frame: ``(frame, message bytes)``."""

_WRAP = 1 << 32
_HALF_WRAP = 1 << 31
_NO_EVENTS: Mapping[str, Sequence[MidiEvent]] = MappingProxyType({})
_FIRST_CYCLE_TIMEOUT = 2.0  # seconds: a running server cycles every few ms
_STOP_TIMEOUT = 1.0  # seconds to wait for the process thread to end itself
_OFFSET_REFRESH = 1.0  # seconds between re-measurements of the clock offset
_frame_of = itemgetter(0)


class CycleHandler(Protocol):
    """What JACK's process callback calls once per cycle.

    ``frame0`` is the cycle's first frame (unwrapped), ``nframes`` its length.
    ``inputs`` maps each input port's short name to the events that arrived in
    this cycle, at absolute frames in ``[frame0, frame0 + nframes)``. Return the
    events to send, keyed by output port short name, at absolute frames in the
    same range; keep later events for a later cycle yourself.

    Runs on JACK's real-time thread: never block, allocate little, return fast.
    """

    def __call__(
        self, frame0: int, nframes: int, inputs: Mapping[str, Sequence[MidiEvent]], /
    ) -> Mapping[str, Sequence[MidiEvent]]: ...


AudioRenderer = Callable[[str, int, "memoryview[float]"], None]
"""Fills one audio output port for one cycle: ``(port short name, frame0, samples)``.

``samples`` is the port's buffer as float32, one item per frame of the cycle;
it runs on the real-time thread right after the `CycleHandler` of the cycle.
"""

AudioReader = Callable[[str, int, "memoryview[float]"], None]
"""Takes one audio input port for one cycle: ``(port short name, frame0, samples)``.

``samples`` is the port's buffer as float32, valid only during the call; it
runs on the real-time thread right before the `CycleHandler` of the cycle.
"""


@dataclass(frozen=True)
class JackMidiStats:
    """Counters of things that went wrong in the process callback.

    late_events: returned with a frame before the cycle; sent at offset 0.
    dropped_events: not sent: beyond the cycle, for an unknown port, empty, or
        refused by JACK (port buffer full).
    handler_errors: cycles in which the handler raised.
    callback_errors: cycles in which the adapter itself failed (a bug).
    xruns: cycles the server skipped for this client (it was late; its input
        events of those cycles are lost, its output events come late).
    """

    cycles: int
    late_events: int
    dropped_events: int
    handler_errors: int
    callback_errors: int
    xruns: int


@dataclass(frozen=True)
class _CycleClock:
    """One cycle's place on JACK's clock, as read by the process thread."""

    frame0: int  # unwrapped
    nframes: int
    usecs0: int  # JACK time (µs) of frame0
    period_usecs: float  # JACK's filtered estimate of one period


def unwrap_frame(raw: int, near: int) -> int:
    """The unwrapped frame that JACK's 32-bit ``raw`` frame time stands for.

    Of all frames congruent to ``raw`` modulo 2**32, the one nearest ``near``
    (an unwrapped frame known to be within a day or so: the previous cycle's).
    """
    return near + ((raw - near + _HALF_WRAP) % _WRAP - _HALF_WRAP)


def _libjack_cycle_times() -> Callable[..., int]:
    # JACK-Client does not bind jack_get_cycle_times(); it lives in the same
    # libjack, and it is the only way to learn the JACK time of a cycle's start.
    lib = ctypes.CDLL(jack._libname)  # noqa: SLF001 - the very library JACK-Client loaded
    fn = lib.jack_get_cycle_times
    fn.argtypes = [
        ctypes.c_void_p,
        ctypes.POINTER(ctypes.c_uint32),
        ctypes.POINTER(ctypes.c_uint64),
        ctypes.POINTER(ctypes.c_uint64),
        ctypes.POINTER(ctypes.c_float),
    ]
    fn.restype = ctypes.c_int
    return fn


def _libjack_get_time() -> Callable[[], int]:
    lib = ctypes.CDLL(jack._libname)  # noqa: SLF001
    fn = lib.jack_get_time
    fn.argtypes = []
    fn.restype = ctypes.c_uint64
    return fn


def _silence_libjack() -> None:
    # libjack prints to stderr on every failed open ("Cannot connect to server
    # socket …"); route it to logging, where the caller decides.
    jack.set_error_function(lambda msg: log.debug("libjack: %s", msg))
    jack.set_info_function(lambda msg: log.debug("libjack: %s", msg))


def _wait_thread_gone(tid: int, timeout: float) -> None:
    task = Path(f"/proc/self/task/{tid}")
    if not task.parent.is_dir():
        time.sleep(0.05)  # no procfs: give the thread the moment it needs to exit
        return
    deadline = time.monotonic() + timeout
    while task.exists() and time.monotonic() < deadline:
        time.sleep(0.001)


def _is_sorted(events: Sequence[MidiEvent]) -> bool:
    previous = None
    for frame, _ in events:
        if previous is not None and frame < previous:
            return False
        previous = frame
    return True


class JackMidi:
    """A JACK client with MIDI ports, driven by a `CycleHandler`.

    Opening connects to a running server (never starts one), registers the
    ports, activates, and waits for the first cycle. Use as a context manager
    or call `close`. Raises `MidiError` when JACK is not running or the client
    name is taken.
    """

    def __init__(
        self,
        name: str = "stage",
        *,
        outputs: Iterable[str] = ("mtc_out", "click_out"),
        inputs: Iterable[str] = ("mtc_in",),
        audio_outputs: Iterable[str] = (),
        audio_inputs: Iterable[str] = (),
        handler: CycleHandler | None = None,
        audio: AudioRenderer | None = None,
        reader: AudioReader | None = None,
        servername: str | None = None,
    ) -> None:
        _silence_libjack()
        self._handler = handler
        self._audio = audio
        self._reader = reader
        self._cycles = 0
        self._late = 0
        self._dropped = 0
        self._handler_errors = 0
        self._callback_errors = 0
        self._xruns = 0
        self._shutdown_reason: str | None = None
        self._clock: _CycleClock | None = None
        self._first_cycle = threading.Event()
        self._closed = False  # the process callback ends its own thread once it is set
        self._stopped = threading.Event()
        self._process_tid: int | None = None
        self._offset: tuple[float, float] | None = None  # (measured at, monotonic − JACK seconds)
        self._cycle_times = _libjack_cycle_times()
        self._get_time = _libjack_get_time()
        self._c_frames = ctypes.c_uint32()
        self._c_usecs = ctypes.c_uint64()
        self._c_next = ctypes.c_uint64()
        self._c_period = ctypes.c_float()
        self._silence: memoryview[float] = memoryview(bytes(4 * 8192)).cast("f")

        where = f"JACK server {servername!r}" if servername else "the default JACK server"
        try:
            self._client = jack.Client(name, use_exact_name=True, no_start_server=True, servername=servername)
        except jack.JackOpenError as exc:
            if exc.status.server_failed:
                raise MidiError(
                    f"cannot open JACK client {name!r}: {where} is not running "
                    f"(start one with `jackd -d dummy -r 48000 -p 256`)"
                ) from None
            # jack2 answers a taken name (we ask for the exact name) with a bare server error.
            raise MidiError(
                f"{where} refused client {name!r} ({exc.status}): is a client with that name already running?"
            ) from None
        self._client_ptr = int(jack._ffi.cast("uintptr_t", self._client._ptr))  # noqa: SLF001
        try:
            self._outputs: dict[str, Any] = {p: self._client.midi_outports.register(p) for p in outputs}
            self._inputs: list[tuple[str, Any]] = [(p, self._client.midi_inports.register(p)) for p in inputs]
            self._output_list = list(self._outputs.values())
            self._audio_outputs: list[tuple[str, Any]] = [
                (p, self._client.outports.register(p)) for p in audio_outputs
            ]
            self._audio_inputs: list[tuple[str, Any]] = [(p, self._client.inports.register(p)) for p in audio_inputs]
            self._client.set_process_callback(self._process)
            self._client.set_shutdown_callback(self._on_shutdown)
            self._client.activate()
        except jack.JackError as exc:
            self._client.close()
            raise MidiError(f"cannot set up JACK client {name!r}: {exc}") from None
        if not self._first_cycle.wait(_FIRST_CYCLE_TIMEOUT):
            self.close()
            raise MidiError(f"{where} accepted client {name!r} but ran no process cycle")

    # -- life cycle -------------------------------------------------------

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Deactivate and close the client; safe to call more than once."""
        if self._closed:
            return
        self._closed = True
        tid = self._process_tid
        if tid is not None and self._stopped.wait(_STOP_TIMEOUT):
            _wait_thread_gone(tid, _STOP_TIMEOUT)
        # When the thread ended itself, deactivate() has nothing left to cancel;
        # when the server stopped cycling, the thread waits inside libjack, where
        # cancelling it is harmless.
        try:
            if self._shutdown_reason is None:
                self._client.deactivate()
        except jack.JackError as exc:
            log.debug("deactivating JACK client: %s", exc)
        finally:
            self._client.close()
            self._handler = None

    @property
    def name(self) -> str:
        """The client's name: ports are ``<name>:<port>``."""
        return str(self._client.name)

    @property
    def running(self) -> bool:
        """True until `close`, or until the JACK server shuts us down."""
        return not self._closed and self._shutdown_reason is None

    @property
    def shutdown_reason(self) -> str | None:
        """Why the server shut the client down, if it did."""
        return self._shutdown_reason

    def set_handler(self, handler: CycleHandler | None) -> None:
        """Replace the cycle handler; the next cycle uses the new one."""
        self._handler = handler

    def set_audio(self, audio: AudioRenderer | None) -> None:
        """Replace the audio renderer; the next cycle uses the new one (None: silence)."""
        self._audio = audio

    def set_reader(self, reader: AudioReader | None) -> None:
        """Replace the audio reader; the next cycle uses the new one (None: audio inputs unread)."""
        self._reader = reader

    # -- ports ------------------------------------------------------------

    def port_name(self, port: str) -> str:
        """Full JACK name of a port: our short names get the client prefix."""
        return port if ":" in port else f"{self.name}:{port}"

    def connect(self, source: str, destination: str) -> None:
        """Connect two ports by name; short names are ours. Idempotent."""
        src, dst = self.port_name(source), self.port_name(destination)
        try:
            self._client.connect(src, dst)
        except jack.JackError as exc:
            if not (isinstance(exc, jack.JackErrorCode) and exc.code == errno.EEXIST):
                raise MidiError(f"cannot connect {src!r} -> {dst!r}: {exc}") from None

    def disconnect(self, source: str, destination: str) -> None:
        """Remove a connection made by `connect`."""
        src, dst = self.port_name(source), self.port_name(destination)
        try:
            self._client.disconnect(src, dst)
        except jack.JackError as exc:
            raise MidiError(f"cannot disconnect {src!r} -> {dst!r}: {exc}") from None

    def midi_ports(self, pattern: str = "", *, inputs: bool = False, outputs: bool = False) -> list[str]:
        """Names of all MIDI ports on the server whose name matches the regex."""
        ports = self._client.get_ports(pattern, is_midi=True, is_input=inputs, is_output=outputs)
        return [str(p.name) for p in ports]

    def connections(self, port: str) -> list[str]:
        """Names of the ports connected to one port."""
        try:
            return [str(p.name) for p in self._client.get_all_connections(self.port_name(port))]
        except jack.JackError as exc:
            raise MidiError(f"no such JACK port {self.port_name(port)!r}: {exc}") from None

    # -- time -------------------------------------------------------------

    @property
    def samplerate(self) -> int:
        """Frames per second."""
        return int(self._client.samplerate)

    @property
    def blocksize(self) -> int:
        """Frames per cycle (the period)."""
        return int(self._client.blocksize)

    def current_frame(self) -> int:
        """JACK's estimate of the frame being processed now (unwrapped)."""
        return unwrap_frame(int(self._client.frame_time), self._cycle_clock().frame0)

    def frames_to_monotonic(self, frame: int) -> float:
        """The `time.monotonic()` instant of an absolute frame."""
        clock = self._cycle_clock()
        usecs = clock.usecs0 + (frame - clock.frame0) * clock.period_usecs / clock.nframes
        return usecs / 1e6 + self._clock_offset()

    def monotonic_to_frames(self, t: float) -> int:
        """The absolute frame nearest to a `time.monotonic()` instant."""
        clock = self._cycle_clock()
        usecs = (t - self._clock_offset()) * 1e6
        return clock.frame0 + round((usecs - clock.usecs0) * clock.nframes / clock.period_usecs)

    def _cycle_clock(self) -> _CycleClock:
        clock = self._clock
        if clock is None:  # pragma: no cover - __init__ waits for the first cycle
            raise MidiError("JACK has not run a cycle yet")
        return clock

    def _clock_offset(self) -> float:
        now = time.monotonic()
        cached = self._offset
        if cached is not None and now - cached[0] < _OFFSET_REFRESH:
            return cached[1]
        # Bracket one JACK clock read between two monotonic reads; the tightest
        # bracket of a few tries bounds the error to a microsecond or so.
        best_gap, offset = float("inf"), 0.0
        for _ in range(5):
            before = time.monotonic()
            jack_usecs = self._get_time()
            after = time.monotonic()
            if after - before < best_gap:
                best_gap = after - before
                offset = (before + after) / 2 - jack_usecs / 1e6
        self._offset = (now, offset)
        return offset

    # -- counters ---------------------------------------------------------

    @property
    def late_events(self) -> int:
        """Events returned for a frame before their cycle (sent at offset 0)."""
        return self._late

    @property
    def dropped_events(self) -> int:
        """Events not sent (beyond the cycle, unknown port, refused by JACK)."""
        return self._dropped

    @property
    def handler_errors(self) -> int:
        """Cycles in which the handler raised."""
        return self._handler_errors

    @property
    def xruns(self) -> int:
        """Cycles the server skipped for this client since opening."""
        return self._xruns

    @property
    def cycles(self) -> int:
        """Process cycles run since opening."""
        return self._cycles

    def stats(self) -> JackMidiStats:
        """All counters at once."""
        return JackMidiStats(
            cycles=self._cycles,
            late_events=self._late,
            dropped_events=self._dropped,
            handler_errors=self._handler_errors,
            callback_errors=self._callback_errors,
            xruns=self._xruns,
        )

    # -- JACK callbacks (JACK's threads) ----------------------------------

    def _on_shutdown(self, _status: object, reason: str) -> None:
        self._shutdown_reason = reason or "JACK server shut down"

    def _process(self, nframes: int) -> None:
        if self._closed:
            for port in self._output_list:
                port.clear_buffer()
            for _, port in self._audio_outputs:
                samples = memoryview(port.get_buffer()).cast("f")
                samples[:] = self._zeros(len(samples))
            self._stopped.set()
            raise jack.CallbackExit  # jack2 deactivates us and ends this thread from C
        # Any other exception escaping here would make JACK-Client stop calling
        # us for good: the click would stop. Count it and carry on.
        try:
            self._run_cycle(nframes)
        except Exception:
            self._callback_errors += 1

    def _run_cycle(self, nframes: int) -> None:
        self._cycle_times(
            self._client_ptr,
            ctypes.byref(self._c_frames),
            ctypes.byref(self._c_usecs),
            ctypes.byref(self._c_next),
            ctypes.byref(self._c_period),
        )
        raw = self._c_frames.value
        previous = self._clock
        if previous is None:
            frame0 = raw
            self._process_tid = threading.get_native_id()
        else:
            frame0 = unwrap_frame(raw, previous.frame0 + previous.nframes)
            skipped = (frame0 - previous.frame0 - previous.nframes) // nframes
            if skipped > 0:
                self._xruns += skipped
        self._clock = _CycleClock(frame0, nframes, self._c_usecs.value, self._c_period.value)
        self._cycles += 1

        reader = self._reader
        if reader is not None:
            for name, port in self._audio_inputs:
                try:
                    reader(name, frame0, memoryview(port.get_buffer()).cast("f"))
                except Exception:
                    self._handler_errors += 1

        inputs: dict[str, Sequence[MidiEvent]] = {}
        for name, port in self._inputs:
            events: list[MidiEvent] = []
            for offset, data in port.incoming_midi_events():
                events.append((frame0 + offset, bytes(data)))
            inputs[name] = events

        for port in self._output_list:
            port.clear_buffer()
        outputs = _NO_EVENTS
        handler = self._handler
        if handler is not None:
            try:
                outputs = handler(frame0, nframes, inputs)
            except Exception:
                self._handler_errors += 1
                outputs = _NO_EVENTS
        for name, events_out in outputs.items():
            port = self._outputs.get(name)
            if port is None:
                self._dropped += len(events_out)
                continue
            self._write(port, events_out, frame0, nframes)
        audio = self._audio
        for name, port in self._audio_outputs:
            samples = memoryview(port.get_buffer()).cast("f")
            if audio is None:
                samples[:] = self._zeros(nframes)
                continue
            try:
                audio(name, frame0, samples)
            except Exception:
                self._handler_errors += 1
                samples[:] = self._zeros(nframes)
        if previous is None:
            self._first_cycle.set()

    def _zeros(self, n: int) -> memoryview[float]:
        """``n`` float32 zeros, kept from one cycle to the next: no allocation while the period stays."""
        if len(self._silence) < n:
            self._silence = memoryview(bytes(4 * n)).cast("f")
        return self._silence[:n]

    def _write(self, port: Any, events: Sequence[MidiEvent], frame0: int, nframes: int) -> None:
        if not _is_sorted(events):
            # JACK refuses events out of order within a cycle.
            events = sorted(events, key=_frame_of)
        for frame, data in events:
            offset = frame - frame0
            if offset < 0:
                self._late += 1
                offset = 0
            elif offset >= nframes:
                self._dropped += 1
                continue
            if not data:
                self._dropped += 1
                continue
            try:
                port.write_midi_event(offset, data)
            except jack.JackError:
                self._dropped += 1
