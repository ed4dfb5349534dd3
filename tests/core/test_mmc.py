"""The MMC codec against bytes written out from the MIDI Machine Control specification, and its parser on anything."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stage.core.mmc import (
    ALL_CALL,
    MAX_MESSAGE,
    SPECS,
    Command,
    MmcMessage,
    MmcParser,
    MmcStats,
    MmcTime,
    encode,
    locate,
)
from stage.core.timecode import RATES, Timecode
from stage.errors import TimecodeError


def parse(data: bytes, device: int = ALL_CALL, t: float = 0.0) -> tuple[list[MmcMessage], MmcStats]:
    parser = MmcParser(device)
    parser.feed(data, t)
    return list(parser), parser.stats


def h(text: str) -> bytes:
    return bytes.fromhex(text)


# -- the bytes ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("command", "expected"),
    [
        (Command.STOP, "f0 7f 7f 06 01 f7"),
        (Command.PLAY, "f0 7f 7f 06 02 f7"),
        (Command.DEFERRED_PLAY, "f0 7f 7f 06 03 f7"),
        (Command.RECORD_STROBE, "f0 7f 7f 06 06 f7"),
        (Command.RECORD_EXIT, "f0 7f 7f 06 07 f7"),
    ],
)
def test_one_byte_commands_to_all_devices(command: Command, expected: str) -> None:
    assert encode(command) == h(expected)


def test_the_device_id_is_the_third_byte() -> None:
    assert encode(Command.PLAY, 0x10) == h("f0 7f 10 06 02 f7")
    with pytest.raises(ValueError, match="0 to 127"):
        encode(Command.PLAY, 128)


@pytest.mark.parametrize(
    ("text", "rate", "expected"),
    [
        # hr = 0 tt hhhhh with MTC's rate codes; mn sc fr; subframes 00
        ("01:00:10:00", "24", "f0 7f 7f 06 44 06 01 01 00 0a 00 00 f7"),
        ("01:00:10:00", "23.976", "f0 7f 7f 06 44 06 01 01 00 0a 00 00 f7"),
        ("01:00:00:00", "25", "f0 7f 7f 06 44 06 01 21 00 00 00 00 f7"),
        ("10:01:00;02", "29.97df", "f0 7f 7f 06 44 06 01 4a 01 00 02 00 f7"),
        ("23:59:59:29", "30", "f0 7f 7f 06 44 06 01 77 3b 3b 1d 00 f7"),
        ("23:59:59:29", "29.97", "f0 7f 7f 06 44 06 01 77 3b 3b 1d 00 f7"),
        ("00:00:51:12", "24", "f0 7f 7f 06 44 06 01 00 00 33 0c 00 f7"),
    ],
)
def test_locate_target_bytes(text: str, rate: str, expected: str) -> None:
    assert locate(Timecode.parse(text, RATES[rate])) == h(expected)


def test_locate_needs_a_target_and_nothing_else_takes_one() -> None:
    with pytest.raises(ValueError, match="Locate"):
        encode(Command.LOCATE)
    with pytest.raises(ValueError, match="Locate"):
        encode(Command.PLAY, target=MmcTime(1, 0, 0, 0))


def test_a_rate_mmc_cannot_carry_is_refused() -> None:
    with pytest.raises(TimecodeError, match="cannot travel"):
        locate(Timecode.parse("01:00:00:00", RATES["50"]))


def test_time_fields_beyond_their_bits_are_refused() -> None:
    with pytest.raises(TimecodeError, match="minutes is 0 to 63"):
        MmcTime(0, 64, 0, 0)


def test_a_target_read_at_a_rate() -> None:
    target = MmcTime(1, 2, 3, 4, 50, code=0)
    assert str(target.timecode(RATES["24"])) == "01:02:03:04"
    with pytest.raises(TimecodeError):
        MmcTime(1, 61, 0, 0).timecode(RATES["24"])
    with pytest.raises(TimecodeError):
        MmcTime(1, 0, 0, 25).timecode(RATES["24"])


# -- the parser ------------------------------------------------------------------------------------------------------


def test_each_command_is_read_back_with_its_arrival_time() -> None:
    found, stats = parse(encode(Command.DEFERRED_PLAY) + locate(Timecode.parse("01:00:10:00", RATES["24"])), t=2.5)
    assert found == [
        MmcMessage(Command.DEFERRED_PLAY, ALL_CALL, None, 2.5),
        MmcMessage(Command.LOCATE, ALL_CALL, MmcTime(1, 0, 10, 0), 2.5),
    ]
    assert stats == MmcStats(messages=2)


def test_a_message_split_across_feeds_completes_at_its_last_byte() -> None:
    parser = MmcParser()
    data = locate(Timecode.parse("00:00:51:12", RATES["24"]))
    parser.feed(data[:5], 1.0)
    assert list(parser) == []
    parser.feed(data[5:], 1.5)
    assert [(m.command, m.t) for m in parser] == [(Command.LOCATE, 1.5)]


def test_several_commands_in_one_message() -> None:
    found, _ = parse(h("f0 7f 7f 06 44 06 01 00 00 33 0c 00 02 f7"))
    assert [m.command for m in found] == [Command.LOCATE, Command.PLAY]


def test_colour_bit_and_subframes_are_kept() -> None:
    [found], _ = parse(h("f0 7f 7f 06 44 06 01 21 45 06 07 32 f7"))
    assert found.target == MmcTime(1, 5, 6, 7, 50, code=1, colour=True)


def test_another_device_is_ignored_and_all_call_is_heard() -> None:
    found, stats = parse(encode(Command.PLAY, 0x11) + encode(Command.STOP, 0x10) + encode(Command.PLAY), device=0x10)
    assert [(m.command, m.device) for m in found] == [(Command.STOP, 0x10), (Command.PLAY, ALL_CALL)]
    assert stats == MmcStats(messages=2, other_device=1)
    # Listening as 127, a message to one named device is for that device only.
    found, stats = parse(encode(Command.PLAY, 0x10))
    assert found == []
    assert stats.other_device == 1


@pytest.mark.parametrize(
    ("data", "why"),
    [
        ("f0 7f 7f 06 44 06 01 00 00 0a 90 3c 40", "cut short by status byte 90"),
        ("f0 7f 7f 06 44 06 01 00 00 0a 00 f7", "counts 6 bytes, 5 follow"),
        ("f0 7f 7f 06 44 05 01 00 00 0a 00 f7", "carries 6 bytes, not 5"),
        ("f0 7f 7f 06 44 f7", "no byte count"),
        ("f0 7f 7f 06 f7", "no command"),
        ("f7", "no start"),
        ("f0 7f 7f 06 44 06 01 00 00 0a 40 00 f7", "negative sign"),
        ("f0 7f 7f 06 44 06 01 00 00 0a 20 00 f7", "status byte instead of subframes"),
        ("f0 7f 7f 06 02 f0 7f 7f 06 01 f7", "cut short by status byte F0"),
    ],
)
def test_malformed_system_exclusive_is_counted_and_dropped(data: str, why: str) -> None:
    parser = MmcParser()
    parser.feed(h(data))
    found = list(parser)
    assert parser.stats.malformed == 1
    assert why in parser.problem
    # the one thing read is the Stop that followed a cut-short Play
    assert [m.command for m in found] == ([Command.STOP] if "f0 7f 7f 06 01" in data else [])


def test_a_message_too_long_for_mmc_is_malformed_and_the_next_one_is_read() -> None:
    long = h("f0 7f 7f 06") + bytes([0x02] * MAX_MESSAGE) + h("f7")
    found, stats = parse(long + encode(Command.STOP))
    assert [m.command for m in found] == [Command.STOP]
    assert stats.malformed == 1


def test_a_command_with_a_broken_neighbour_is_dropped_with_it() -> None:
    found, stats = parse(h("f0 7f 7f 06 02 44 06 01 00 f7"))
    assert found == []
    assert stats == MmcStats(malformed=1)


def test_commands_stage_does_not_obey_are_stepped_over() -> None:
    # fast forward (04), shuttle (47 03 …), locate [I/F] (44 02 00 08), then play
    found, stats = parse(h("f0 7f 7f 06 04 47 03 20 00 00 44 02 00 08 02 f7"))
    assert [m.command for m in found] == [Command.PLAY]
    assert stats == MmcStats(messages=1, unknown=3)
    # an extension set (00) ends what can be read of the message
    found, stats = parse(h("f0 7f 7f 06 02 00 01 02 f7"))
    assert [m.command for m in found] == [Command.PLAY]
    assert stats.unknown == 1


def test_what_is_not_mmc_passes_by_uncounted() -> None:
    stream = (
        h("f0 7f 7f 01 01 20 00 00 00 f7")  # MTC full frame
        + h("f0 7e 7f 06 01 f7")  # non-real-time universal: identity request
        + h("f0 41 10 42 12 40 00 7f 00 41 f7")  # a manufacturer's
        + h("f0 7f 7f 07 01 f7")  # a machine's response
        + h("f1 20 90 3c 40 3e 40 80 3c 00")  # a quarter frame, notes with running status
        + encode(Command.PLAY)
    )
    found, stats = parse(stream)
    assert [m.command for m in found] == [Command.PLAY]
    assert stats == MmcStats(messages=1)


def test_realtime_bytes_inside_a_message_are_skipped() -> None:
    found, stats = parse(h("f0 7f f8 7f 06 fe 44 06 01 00 00 0a f8 00 00 f7"))
    assert [m.target for m in found] == [MmcTime(0, 0, 10, 0)]
    assert stats == MmcStats(messages=1)


# -- properties ------------------------------------------------------------------------------------------------------

devices = st.integers(0, 0x7F)
times = st.builds(MmcTime, st.integers(0, 31), st.integers(0, 63), st.integers(0, 63), st.integers(0, 31),
                  st.integers(0, 127), st.integers(0, 3), st.booleans())


@st.composite
def messages(draw: st.DrawFn) -> MmcMessage:
    spec = draw(st.sampled_from(SPECS))
    target = draw(times) if spec.command is Command.LOCATE else None
    return MmcMessage(spec.command, draw(devices), target)


@given(st.lists(messages(), max_size=12), st.integers(0, 0x7F), st.data())
@settings(deadline=None)  # maths, not speed: a loaded host must not fail an example for its time
def test_encode_then_parse_gives_every_message_for_us_back(
    sent: list[MmcMessage], us: int, data: st.DataObject
) -> None:
    stream = b"".join(encode(m.command, m.device, m.target) for m in sent)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=6)))
    parser = MmcParser(us)
    for a, b in zip([0, *cuts], [*cuts, len(stream)], strict=True):
        parser.feed(stream[a:b])
    ours = [m for m in sent if m.device in (us, ALL_CALL)]
    assert list(parser) == ours
    assert parser.stats == MmcStats(messages=len(ours), other_device=len(sent) - len(ours))


@given(st.binary(max_size=400), devices)
@settings(deadline=None)  # maths, not speed: a loaded host must not fail an example for its time
def test_any_byte_stream_is_read_without_raising(stream: bytes, us: int) -> None:
    parser = MmcParser(us)
    parser.feed(stream)
    found = list(parser)
    assert len(found) == parser.stats.messages
    assert all(m.device in (us, ALL_CALL) for m in found)


@given(st.binary(max_size=200), messages())
@settings(deadline=None)  # maths, not speed: a loaded host must not fail an example for its time
def test_a_message_after_garbage_and_a_status_byte_is_read(garbage: bytes, message: MmcMessage) -> None:
    parser = MmcParser(message.device)
    # F7 ends whatever the garbage left open; a lone F7 is at worst one malformed count
    parser.feed(garbage + b"\xf7" + encode(message.command, message.device, message.target))
    assert list(parser)[-1] == message
