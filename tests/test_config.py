"""The configuration: defaults, the documented example, and clear errors for bad keys."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from stage.config import Config, load_config, parse_config
from stage.core.timecode import RATES
from stage.errors import ConfigError
from stage.runtime.service import check_clock, engine_settings

ROOT = Path(__file__).resolve().parents[1]


def test_no_file_means_every_default() -> None:
    c = load_config(None)
    assert c.clock.source == "internal"
    assert c.clock.rate is None
    assert (c.http.host, c.http.port) == ("127.0.0.1", 8000)
    assert c.osc.port == 9000
    assert c.mqtt.url is None
    assert c.takes.database == "sqlite:///stage-takes.db"
    assert c.midi.client == "stage"
    assert c.midi.backend == "jack"


def test_the_documented_example_is_the_defaults() -> None:
    assert load_config(ROOT / "config" / "stage.toml") == Config()


def test_engine_settings_follow_the_config() -> None:
    c = parse_config(
        {
            "clock": {"source": "mtc", "freewheel_frames": 12},
            "midi": {"channel": 1, "accent": {"note": 60, "velocity": 110}, "latency_ms": 12.5,
                     "connect_mtc_in": ["ardour:MTC out"]},
        }
    )
    s = engine_settings(c, "29.97df")
    assert s.rate == "29.97df"
    assert s.source == "mtc"
    assert s.freewheel_frames == 12
    assert s.notes.channel == 0
    assert s.notes.accent == (60, 110)
    assert s.click_latency == 0.0125
    assert s.connect == (("mtc_in", "ardour:MTC out"),)


def test_ltc_settings_follow_the_config() -> None:
    c = parse_config({
        "clock": {"source": "internal"},
        "ltc": {"out": True, "connect_out": ["xjadeo:ltc"], "level_db": -12, "user_bits": "1234 abcd",
                "latency_ms": 4},
    })
    assert c.ltc.user_bits == "1234ABCD"
    s = engine_settings(c, "25")
    assert (s.ltc_out, s.ltc_level_db, s.ltc_user_bits, s.ltc_latency) == (True, -12, 0x1234ABCD, 0.004)
    assert s.connect == (("ltc_out", "xjadeo:ltc"),)
    chased = engine_settings(parse_config({"clock": {"source": "ltc"}, "ltc": {"connect_in": ["deck:out"]}}), "24")
    assert (chased.source, chased.connect) == ("ltc", (("ltc_in", "deck:out"),))


@pytest.mark.parametrize("source", ["mtc", "ltc"])
def test_a_chased_clock_needs_a_rate_its_timecode_carries(source: str) -> None:
    config = parse_config({"clock": {"source": source}})
    check_clock(config, RATES["30"])
    with pytest.raises(ConfigError, match=rf'\[clock\] source = "{source}": {source.upper()} cannot carry 48 fps'):
        check_clock(config, RATES["48"])
    check_clock(parse_config({}), RATES["48"])  # the internal clock runs at any rate


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"clock": {"source": "smpte"}}, "[clock.source]"),
        ({"ltc": {"user_bits": "12 34 56"}}, "[ltc.user_bits]: Value error, user bits '12 34 56': expected eight hex"),
        ({"ltc": {"level_db": 3}}, "[ltc.level_db]"),
        ({"clock": {"rate": "31"}}, "unknown rate '31'"),
        ({"midi": {"channel": 17}}, "[midi.channel]"),
        ({"http": {"prot": 8000}}, "[http.prot]: Extra inputs are not permitted"),
        ({"colour": {}}, "[colour]"),
        ({"midi": {"accent": {"note": 128, "velocity": 1}}}, "[midi.accent.note]"),
    ],
)
def test_bad_keys_are_named(data: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as err:
        parse_config(data, "stage.toml")
    assert message in str(err.value)
    assert str(err.value).startswith("stage.toml: [")


def test_unreadable_and_broken_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "missing.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[clock\nsource = 1\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(bad)
