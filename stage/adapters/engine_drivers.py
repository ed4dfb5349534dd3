"""The engine's backends, opened in the engine process: JACK MIDI, or the rtmidi fallback.

:func:`open_driver` is the :class:`~stage.runtime.ports.DriverOpener` the
composition root (:mod:`stage.app`) hands the service; the engine process
(:func:`stage.runtime.engine.engine_main`) calls it, so the runtime never
names an adapter.  The libraries are imported when a backend is opened:
only the engine process talks to JACK, and rtmidi only when asked for.
"""

from __future__ import annotations

from multiprocessing.connection import Connection
from typing import Any

from stage.errors import MidiError
from stage.runtime import messages as m
from stage.runtime.engine import SOFT_BLOCKSIZE, SOFT_SAMPLERATE, SoftClock
from stage.runtime.enginecore import CLICK_AUDIO_PORT, EngineCore, EngineSettings


def open_driver(settings: EngineSettings, events: Connection) -> tuple[EngineCore, Any]:
    """The backend ``settings.backend`` names (``rtmidi``; anything else is JACK), opened."""
    return (open_rtmidi if settings.backend == "rtmidi" else open_jack)(settings, events)


def open_jack(settings: EngineSettings, events: Connection) -> tuple[EngineCore, Any]:
    """JACK MIDI (and the audio click): every message on its exact frame, MTC in when asked for."""
    from stage.adapters.jack_midi import JackMidi  # noqa: PLC0415 - only the engine process talks to JACK

    outputs = [p for p, on in (("mtc_out", settings.mtc_out), ("click_out", settings.click_out)) if on]
    inputs = ["mtc_in"] if settings.mtc_in else []
    audio = [CLICK_AUDIO_PORT] if settings.click_audio else []
    driver = JackMidi(settings.client, outputs=outputs, inputs=inputs, audio_outputs=audio, servername=settings.server)
    core = EngineCore(settings, driver.samplerate)
    driver.set_handler(core)
    if audio:
        core.audio = True
        driver.set_audio(core.render_audio)
    problems = []
    for ours, theirs in settings.connect:
        try:
            if ours == "mtc_in":
                driver.connect(theirs, ours)
            else:
                driver.connect(ours, theirs)
        except MidiError as exc:
            problems.append(str(exc))
    ports = tuple(driver.port_name(p) for p in [*outputs, *audio, *inputs])
    events.send(m.Ready(midi=True, samplerate=driver.samplerate, blocksize=driver.blocksize, ports=ports,
                        reason="; ".join(problems)))
    return core, driver


def open_rtmidi(settings: EngineSettings, events: Connection) -> tuple[EngineCore, Any]:
    """The rtmidi fallback: MIDI out only, sent by a thread on the engine's own clock."""
    from stage.adapters.rtmidi_midi import RtMidiOut  # noqa: PLC0415 - the fallback, only when asked for

    opened: dict[str, RtMidiOut] = {}
    try:
        for port, on in (("mtc_out", settings.mtc_out), ("click_out", settings.click_out)):
            if on:
                opened[port] = RtMidiOut(settings.client, port, api=settings.rtmidi_api, servername=settings.server)
    except MidiError:
        for out in opened.values():
            out.close()
        raise
    core = EngineCore(settings, SOFT_SAMPLERATE)
    driver = SoftClock(core, SOFT_SAMPLERATE, SOFT_BLOCKSIZE, {p: o.send for p, o in opened.items()})
    close = driver.close

    def close_all() -> None:
        close()
        for out in opened.values():
            out.close()

    driver.close = close_all  # type: ignore[method-assign]
    reason = "rtmidi fallback: messages go out to the sending thread's precision, no MTC input"
    events.send(m.Ready(midi=True, samplerate=SOFT_SAMPLERATE, blocksize=SOFT_BLOCKSIZE,
                        ports=tuple(o.name for o in opened.values()), reason=reason))
    return core, driver
