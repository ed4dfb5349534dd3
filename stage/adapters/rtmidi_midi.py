"""A minimal MIDI output through python-rtmidi: the fallback, and the benchmark's reference.

`RtMidiOut` opens one virtual output port (``<client>:click_out`` by default)
and sends whole messages the moment `send` is called. It is *not* sample
accurate: rtmidi's JACK backend queues each message and writes it at frame 0
of the next JACK cycle, so a message is late by up to one period (5.3 ms at
256 frames and 48 kHz), and its jitter is that of the sending thread plus the
period. `stage.adapters.jack_midi` is the real path; this one is for hosts
where only rtmidi works (the ALSA sequencer API), and for measuring the
difference.

rtmidi's default API is ALSA, which fails where there is no ``/dev/snd``; the
API is therefore always chosen explicitly (JACK unless told otherwise).

This is the only module that imports `rtmidi`.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterator
from typing import Literal, Self

import rtmidi

from stage.errors import MidiError

__all__ = ["RtMidiOut"]

Api = Literal["jack", "alsa"]
_APIS = {"jack": rtmidi.API_UNIX_JACK, "alsa": rtmidi.API_LINUX_ALSA}
_ENV_LOCK = threading.Lock()


@contextlib.contextmanager
def _jack_server(servername: str | None) -> Iterator[None]:
    # rtmidi cannot name a JACK server; libjack reads JACK_DEFAULT_SERVER when
    # the client opens, so set it for exactly that moment.
    if servername is None:
        yield
        return
    with _ENV_LOCK:
        previous = os.environ.get("JACK_DEFAULT_SERVER")
        os.environ["JACK_DEFAULT_SERVER"] = servername
        try:
            yield
        finally:
            if previous is None:
                del os.environ["JACK_DEFAULT_SERVER"]
            else:
                os.environ["JACK_DEFAULT_SERVER"] = previous


class RtMidiOut:
    """One virtual MIDI output port through rtmidi; `send` writes a message now.

    Raises `MidiError` when the API's server (JACK, or the ALSA sequencer) is
    not available. Use as a context manager or call `close`.
    """

    def __init__(
        self,
        client: str = "stage",
        port: str = "click_out",
        *,
        api: Api = "jack",
        servername: str | None = None,
    ) -> None:
        if api not in _APIS:
            raise MidiError(f"unknown rtmidi API {api!r}: use one of {sorted(_APIS)}")
        self.name = f"{client}:{port}"
        try:
            with _jack_server(servername if api == "jack" else None):
                self._out = rtmidi.MidiOut(_APIS[api], name=client)
            self._out.open_virtual_port(port)
        except rtmidi.RtMidiError as exc:
            where = f"JACK server {servername!r}" if servername else f"the {api} MIDI system"
            raise MidiError(f"cannot open rtmidi output {self.name!r} on {where}: {exc}") from None
        self._closed = False

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def send(self, message: bytes) -> None:
        """Send one complete MIDI message (SysEx included) right away."""
        if self._closed:
            raise MidiError(f"rtmidi output {self.name!r} is closed")
        if not message:
            raise MidiError("cannot send an empty MIDI message")
        try:
            self._out.send_message(message)
        except (rtmidi.RtMidiError, ValueError, TypeError) as exc:
            raise MidiError(f"rtmidi output {self.name!r} refused {message.hex(' ')}: {exc}") from None

    def close(self) -> None:
        """Close the port and the client; safe to call more than once."""
        if self._closed:
            return
        self._closed = True
        self._out.close_port()
        self._out.delete()
