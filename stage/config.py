"""The service configuration: one TOML file, every key with a default.

``stage serve`` runs with no file at all: internal clock, MIDI off, HTTP on
127.0.0.1:8000, OSC on 9000, MQTT off, takes in a local SQLite file.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from stage.core.clicksound import SOUNDS, ClickSounds, Sound
from stage.core.ltc import format_user_bits, parse_user_bits
from stage.core.tempo import ClickKind
from stage.core.timecode import parse_rate
from stage.errors import ConfigError, TimecodeError

DEMO_CUES = Path(__file__).resolve().parents[1] / "config" / "demo-cues.toml"  # the sheet when none is given


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ClockConfig(_Section):
    """``[clock]``: where picture position comes from."""

    source: Literal["internal", "mtc", "ltc"] = "internal"
    # The picture's actual rate (MTC and LTC cannot tell 23.976 from 24 by themselves); None: the cue sheet's.
    rate: str | None = None
    master: bool = True  # with source = "internal": send MTC on <client>:mtc_out (when MIDI is enabled)
    freewheel_frames: int = Field(default=0, ge=0, le=250)
    # From the top and pickups locate picture this many seconds before the first warning click: room for the
    # yellow streamer into it (3 ft is 2 s at 24 fps) and for the players to settle.
    preroll: float = Field(default=5.0, ge=0, le=60)

    @field_validator("rate")
    @classmethod
    def _known_rate(cls, v: str | None) -> str | None:
        if v is None:
            return None
        try:
            return parse_rate(v).name
        except TimecodeError as exc:
            raise ValueError(str(exc)) from exc


class NoteConfig(_Section):
    """A click sound as a MIDI note: note number and velocity."""

    note: int = Field(ge=0, le=127)
    velocity: int = Field(ge=1, le=127)


class MidiConfig(_Section):
    """``[midi]``: click and timecode through JACK."""

    enabled: bool = True  # when JACK is not running, the service says so and runs without MIDI
    backend: Literal["jack", "rtmidi"] = "jack"
    rtmidi_api: Literal["alsa", "jack"] = "alsa"  # with backend = "rtmidi": hosts without JACK use the ALSA sequencer
    client: str = Field(default="stage", min_length=1, max_length=48)
    server: str | None = None  # JACK server name; None = the default server
    mtc_out: bool = True
    mtc_in: bool = True
    click_out: bool = True
    connect_mtc_out: list[str] = Field(default_factory=list)  # ports to connect, e.g. ["xjadeo:MTC in"]
    connect_click_out: list[str] = Field(default_factory=list)
    connect_mtc_in: list[str] = Field(default_factory=list)
    channel: int = Field(default=10, ge=1, le=16)  # GM percussion
    accent: NoteConfig = NoteConfig(note=76, velocity=127)  # hi wood block
    click: NoteConfig = NoteConfig(note=77, velocity=100)  # low wood block
    warning: NoteConfig = NoteConfig(note=75, velocity=90)  # claves
    note_ms: float = Field(default=20.0, gt=0, le=500)
    latency_ms: float = Field(default=0.0, ge=0, le=500)  # click output: sent this much early
    mtc_latency_ms: float = Field(default=0.0, ge=0, le=500)


class MmcConfig(_Section):
    """``[mmc]``: MIDI Machine Control to the timecode master while chasing, and from a DAW or controller otherwise."""

    enabled: bool = False  # open <client>:mmc_out and <client>:mmc_in (docs/mmc.md)
    device_id: int = Field(default=127, ge=0, le=127)  # the master's id, and ours for MMC in; 127: all-call
    connect_out: list[str] = Field(default_factory=list)  # where MMC goes, e.g. ["ardour:MMC in"] or a hardware port
    connect_in: list[str] = Field(default_factory=list)  # whose MMC drives stage, e.g. ["ardour:MMC out"]
    play: Literal["play", "deferred_play"] = "play"  # the command that rolls the master after its locate
    lock_timeout: float = Field(default=5.0, gt=0, le=60)  # seconds for the chase to lock where the master was sent
    record: bool = False  # may Record Strobe and Record Exit go out (in record mode only)?


class SoundConfig(_Section):
    """One click sound: a decaying sine starting at its peak."""

    frequency: float = Field(ge=20, le=20000)  # Hz
    peak: float = Field(gt=0, lt=1)  # fraction of full scale
    decay_ms: float = Field(gt=0, le=500)  # the envelope falls by 1/e in this time
    length_ms: float = Field(gt=1, le=500)


def _sound(s: Sound) -> SoundConfig:
    return SoundConfig(frequency=s.frequency, peak=s.peak, decay_ms=s.decay * 1000, length_ms=s.duration * 1000)


class ClickConfig(_Section):
    """``[click]``: the audio click the engine plays itself on ``<client>:click_audio``."""

    audio: bool = True  # register <client>:click_audio (with MIDI through JACK)
    connect: list[str] = Field(default_factory=list)  # audio ports to connect it to, e.g. ["system:playback_1"]
    level_db: float = Field(default=0.0, ge=-60, le=0)  # every sound's level
    accent: SoundConfig = _sound(SOUNDS[ClickKind.ACCENT])  # the downbeat (beat 1)
    normal: SoundConfig = _sound(SOUNDS[ClickKind.NORMAL])  # every other beat
    warning: SoundConfig = _sound(SOUNDS[ClickKind.WARNING])  # count-off and count-in

    def sounds(self) -> ClickSounds:
        """The sounds as the engine and the renderer use them."""

        def one(c: SoundConfig) -> Sound:
            return Sound(c.frequency, c.peak, c.decay_ms / 1000, c.length_ms / 1000)

        return ClickSounds(one(self.accent), one(self.normal), one(self.warning), self.level_db)


class LtcConfig(_Section):
    """``[ltc]``: linear timecode on JACK audio ports: read on ``<client>:ltc_in``, written on ``<client>:ltc_out``."""

    out: bool = False  # write LTC on <client>:ltc_out while stage is the master ([clock] source = "internal")
    connect_out: list[str] = Field(default_factory=list)  # audio ports to connect ltc_out to: ["system:playback_3"]
    connect_in: list[str] = Field(default_factory=list)  # audio ports to connect to ltc_in ([clock] source = "ltc")
    level_db: float = Field(default=-18.0, ge=-60, le=0)  # the written signal's peak, dBFS
    user_bits: str = "00000000"  # eight hex digits, binary group 8 first, in every frame written
    latency_ms: float = Field(default=0.0, ge=0, le=500)  # written this much early

    @field_validator("user_bits")
    @classmethod
    def _hex(cls, v: str) -> str:
        try:
            return format_user_bits(parse_user_bits(v))
        except TimecodeError as exc:
            raise ValueError(str(exc)) from exc


class HttpConfig(_Section):
    """``[http]``: REST, WebSocket and the pages; HTTPS when a certificate and its key are named (docs/tls.md)."""

    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=0, le=65535)
    screen_latency_ms: float = Field(default=0.0, ge=0, le=1000)
    # PEM files, relative to the config file (`stage tls init` prints these lines).  With them every page, /api
    # and /ws are served over TLS only: WebCodecs and the wake lock need a secure origin, and tokens stay private.
    certificate: str | None = None
    key: str | None = None
    authority: str | None = None  # the CA that signed the certificate: devices download it from /tls
    redirect_port: int | None = Field(default=None, ge=1, le=65535)  # plain HTTP that only sends browsers to https

    @model_validator(mode="after")
    def _tls_keys_together(self) -> HttpConfig:
        if (self.certificate is None) != (self.key is None):
            raise ValueError("certificate and key go together: name both PEM files, or neither")
        if self.certificate is None and (self.authority is not None or self.redirect_port is not None):
            raise ValueError("authority and redirect_port need HTTPS: name a certificate and key too")
        if self.redirect_port is not None and self.port == 0:
            raise ValueError("redirect_port needs a fixed HTTPS port to send browsers to: set port")
        if self.redirect_port is not None and self.redirect_port == self.port:
            raise ValueError(f"redirect_port {self.redirect_port} is the HTTPS port itself: choose another")
        return self

    def relative_to(self, base: Path) -> HttpConfig:
        """This section with its file names made absolute from ``base`` (the config file's directory)."""
        files = {name: str(base / value) for name in ("certificate", "key", "authority")
                 if (value := getattr(self, name)) is not None}
        return self.model_copy(update=files) if files else self


class OscConfig(_Section):
    """``[osc]``: control in, state out."""

    enabled: bool = True
    host: str = "127.0.0.1"
    port: int = Field(default=9000, ge=0, le=65535)
    destinations: list[str] = Field(default_factory=list)  # "host:port"


class MqttConfig(_Section):
    """``[mqtt]``: off unless ``url`` is set."""

    url: str | None = None
    name: str = "main"  # topic root stage/<name>


class TakesConfig(_Section):
    """``[takes]``: where the take log lives."""

    database: str = "sqlite:///stage-takes.db"


class PictureConfig(_Section):
    """``[picture]``: where imported cuts live (docs/picture.md)."""

    dir: str = Field(default="stage-picture", min_length=1)  # relative: from the working directory, as the take log


class AuthConfig(_Section):
    """``[auth]``: one bearer token per role; a role with no token cannot control."""

    conductor: str | None = None
    engineer: str | None = None
    editor: str | None = None


class Config(_Section):
    """The whole configuration."""

    clock: ClockConfig = ClockConfig()
    midi: MidiConfig = MidiConfig()
    click: ClickConfig = ClickConfig()
    ltc: LtcConfig = LtcConfig()
    mmc: MmcConfig = MmcConfig()
    http: HttpConfig = HttpConfig()
    osc: OscConfig = OscConfig()
    mqtt: MqttConfig = MqttConfig()
    takes: TakesConfig = TakesConfig()
    auth: AuthConfig = AuthConfig()
    picture: PictureConfig = PictureConfig()


def load_config(path: str | Path | None) -> Config:
    """Read ``path`` (or return the defaults for None); raises :class:`ConfigError` naming each bad key."""
    if path is None:
        return Config()
    p = Path(path)
    try:
        data: dict[str, Any] = tomllib.loads(p.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"{p}: cannot read: {exc.strerror}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{p}: not valid TOML: {exc}") from exc
    config = parse_config(data, str(p))
    return config.model_copy(update={"http": config.http.relative_to(p.parent)})


def parse_config(data: dict[str, Any], source: str = "config") -> Config:
    """Validate a decoded TOML table."""
    try:
        return Config.model_validate(data)
    except ValidationError as exc:
        lines = [f"{source}: [{'.'.join(str(x) for x in e['loc'])}]: {e['msg']}" for e in exc.errors()]
        raise ConfigError("\n".join(lines)) from exc


__all__ = ["Config", "load_config", "parse_config"]
