"""The engine's backends, opened in the engine process: JACK MIDI and audio, or the rtmidi fallback.

:func:`open_driver` is the :class:`~stage.runtime.ports.DriverOpener` the
composition root (:mod:`stage.app`) hands the service; the engine process
(:func:`stage.runtime.engine.engine_main`) calls it, so the runtime never
names an adapter.  The libraries are imported when a backend is opened:
only the engine process talks to JACK, and rtmidi only when asked for.
"""

from __future__ import annotations

from multiprocessing.connection import Connection
from typing import Any

from stage.core.ltc import ltc_rate
from stage.core.timecode import parse_rate
from stage.errors import LtcError, MidiError, TimecodeError
from stage.runtime import messages as m
from stage.runtime.engine import SOFT_BLOCKSIZE, SOFT_SAMPLERATE, SoftClock
from stage.runtime.enginecore import CLICK_AUDIO_PORT, EngineCore, EngineSettings
from stage.runtime.enginemmc import MMC_IN_PORT, MMC_OUT_PORT
from stage.runtime.ltcio import LTC_IN_PORT, LTC_OUT_PORT


def open_driver(settings: EngineSettings, events: Connection) -> tuple[EngineCore, Any]:
    """The backend ``settings.backend`` names (``rtmidi``; anything else is JACK), opened."""
    return (open_rtmidi if settings.backend == "rtmidi" else open_jack)(settings, events)


def open_jack(settings: EngineSettings, events: Connection) -> tuple[EngineCore, Any]:
    """JACK MIDI and audio: the click and LTC on their exact frames, MTC or LTC read when chasing it."""
    from stage.adapters.jack_midi import JackMidi  # noqa: PLC0415 - only the engine process talks to JACK

    outputs = [p for p, on in (("mtc_out", settings.mtc_out), ("click_out", settings.click_out)) if on]
    inputs = ["mtc_in"] if settings.mtc_in else []
    if settings.mmc:
        outputs.append(MMC_OUT_PORT)
        inputs.append(MMC_IN_PORT)
    problems: list[str] = []
    ltc_in, ltc_out = _ltc_ports(settings, problems)
    audio = [p for p, on in ((CLICK_AUDIO_PORT, settings.click_audio), (LTC_OUT_PORT, ltc_out)) if on]
    audio_in = [LTC_IN_PORT] if ltc_in else []
    driver = JackMidi(settings.client, outputs=outputs, inputs=inputs, audio_outputs=audio, audio_inputs=audio_in,
                      servername=settings.server)
    core = EngineCore(settings, driver.samplerate)
    if ltc_in or ltc_out:
        from stage.adapters.libltc import LtcDecoder, LtcEncoder  # noqa: PLC0415 - libltc only where LTC runs

        rate, sr = parse_rate(settings.rate), driver.samplerate
        core.attach_ltc(
            LtcDecoder(sr, rate) if ltc_in else None,
            LtcEncoder(sr, rate, level_db=settings.ltc_level_db, user_bits=settings.ltc_user_bits) if ltc_out else None,
        )
    driver.set_handler(core)
    if audio:
        core.audio = settings.click_audio
        driver.set_audio(core.render_audio)
    if audio_in:
        driver.set_reader(core.read_audio)
    for ours, theirs in settings.connect:
        try:
            if ours.endswith("_in"):  # our inputs are connected from the peer
                driver.connect(theirs, ours)
            else:
                driver.connect(ours, theirs)
        except MidiError as exc:
            problems.append(str(exc))
    ports = tuple(driver.port_name(p) for p in [*outputs, *audio, *inputs, *audio_in])
    events.send(m.Ready(midi=True, samplerate=driver.samplerate, blocksize=driver.blocksize, ports=ports,
                        reason="; ".join(problems)))
    return core, driver


def _ltc_ports(settings: EngineSettings, problems: list[str]) -> tuple[bool, bool]:
    """Whether to read LTC (chasing it) and write it (master, asked for); a reason in ``problems`` when it cannot."""
    from stage.adapters.libltc import library  # noqa: PLC0415 - libltc only where LTC runs

    ltc_in = settings.source == "ltc"
    ltc_out = settings.ltc_out and settings.source == "internal"
    if not (ltc_in or ltc_out):
        return False, False
    try:
        ltc_rate(parse_rate(settings.rate))
        library()
    except (LtcError, TimecodeError) as exc:
        problems.append(f"no LTC: {exc}")
        return False, False
    return ltc_in, ltc_out


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
