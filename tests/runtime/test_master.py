"""The timecode master driven by MMC, without JACK: what goes out for each command, and what counts as obeyed."""

from __future__ import annotations

from typing import Any

import pytest

from stage.config import MmcConfig
from stage.core.timecode import RATES
from stage.errors import MasterError
from stage.runtime import messages as m
from stage.runtime.master import Master

R24 = RATES["24"]
FRAME = 1 / 24
PLAY, STOP = bytes.fromhex("f07f7f0602f7"), bytes.fromhex("f07f7f0601f7")


class Rig:
    """A master with its MMC collected, a clock the test moves, and a session mode it sets."""

    def __init__(self, **config: Any) -> None:
        self.sent: list[bytes] = []
        self.now = 100.0
        self.record = False
        self.master = Master(MmcConfig(enabled=True, **config), R24, self.send, recording=lambda: self.record,
                             where=lambda p: {"cue": "1M1", "bar": int(p), "beat": 1}, clock=lambda: self.now)

    def send(self, cmd: m.SendMmc) -> None:
        self.sent.extend(cmd.messages)


def test_the_bytes_of_each_command() -> None:
    rig = Rig()
    assert rig.master.locate(3612.7) == pytest.approx(3612 + 16 / 24)  # the start of the frame it falls in
    rig.master.play()
    rig.master.stop()
    assert [d.hex() for d in rig.sent] == ["f07f7f0644060101000c1000f7", PLAY.hex(), STOP.hex()]


def test_deferred_play_and_the_device_id_from_the_config() -> None:
    rig = Rig(play="deferred_play", device_id=9)
    rig.master.play()
    assert rig.sent == [bytes.fromhex("f07f090603f7")]


def test_record_strobe_and_exit_only_when_allowed_and_recording() -> None:
    for allowed, recording, expected in [
        (False, True, ["f07f7f0602f7", "f07f7f0601f7"]),
        (True, False, ["f07f7f0602f7", "f07f7f0601f7"]),
        (True, True, ["f07f7f0606f7", "f07f7f0607f7", "f07f7f0601f7"]),
    ]:
        rig = Rig(record=allowed)
        rig.record = recording
        rig.master.play()
        rig.master.stop()
        assert [d.hex() for d in rig.sent] == expected


async def test_a_play_is_obeyed_when_the_chase_locks_rolling_from_where_the_master_was_sent() -> None:
    rig = Rig(lock_timeout=5.0)
    target = rig.master.locate(60.0)
    rig.master.play()
    sent = rig.now
    rig.master.heard(sent + 0.01, target, 0.0, "locating")  # the full frame: standing there
    rig.master.heard(sent + 0.2, target + 0.05, 1.0, "locating")  # rolling, not locked yet
    assert not rig.master.current.done.is_set()  # type: ignore[union-attr]
    rig.master.heard(sent + 0.3, target + 0.1, 1.0, "locked")
    report = await rig.master.answered()
    assert report is not None
    assert report["mmc"] == ["locate 00:01:00:00", "play"]
    assert (report["target"], report["timecode"], report["rolling"]) == ("00:01:00:00", "00:01:00:02", True)
    assert report["after"] == pytest.approx(0.3)
    assert report["bar"] == 60


@pytest.mark.parametrize(
    ("p0", "obeyed"),
    [
        (60.0 - 2 * FRAME, True),  # the chase's own window either side
        (60.0 - 3 * FRAME, False),  # before where it was sent: it rolled from somewhere else
        (60.0 + 0.3 + 2 * FRAME, True),  # no more picture than the time since the MMC left
        (60.0 + 0.3 + 3 * FRAME, False),
    ],
)
def test_where_a_rolling_master_may_be(p0: float, obeyed: bool) -> None:
    rig = Rig()
    rig.master.locate(60.0)
    rig.master.play()
    rig.master.heard(rig.now + 0.3, p0, 1.0, "locked")
    assert rig.master.current is not None
    assert rig.master.current.done.is_set() is obeyed


async def test_a_locate_is_obeyed_standing_there_and_a_stop_when_picture_stands() -> None:
    rig = Rig()
    rig.master.locate(10.0)
    rig.master.heard(rig.now, 20.0, 0.0, "locating")
    assert not rig.master.current.done.is_set()  # type: ignore[union-attr]
    rig.master.heard(rig.now, 10.0, 0.0, "locating")
    assert (await rig.master.answered() or {})["rolling"] is False
    rig.master.stop()
    rig.master.heard(rig.now, 11.0, 1.0, "locked")
    rig.master.heard(rig.now, 11.5, 0.0, "stopped")  # silence: the chase stops where timecode was last heard
    assert (await rig.master.answered() or {})["timecode"] == "00:00:11:12"


@pytest.mark.parametrize(
    ("heard", "why"),
    [
        ([], ("no MTC came back within 0.05 s of the MMC locate 00:00:30:00, play: is stage:mmc_out connected to "
             "the master, does it obey MMC for device 127, and does its timecode reach stage:mtc_in?")),
        ([(30.0, 0.0, False)], "the master stands at 00:00:30:00, bar 30 of 1M1 but did not roll within 0.05 s"),
        ([(31.0, 1.0, False)], "MTC came back near 00:00:31:00, bar 31 of 1M1 but the chase did not lock within"),
        ([(45.0, 1.0, True)], ("MTC came back at 00:00:45:00, bar 45 of 1M1, not at 00:00:30:00, bar 30 of 1M1 "
                              "where the master was sent within 0.05 s of the MMC locate 00:00:30:00, play")),
        ([(12.0, 0.0, False)], "MTC came back at 00:00:12:00, bar 12 of 1M1, stopped, not at 00:00:30:00"),
    ],
)
async def test_why_not_names_what_came_back(heard: list[tuple[float, float, bool]], why: str) -> None:
    rig = Rig(lock_timeout=0.05)
    rig.master.locate(30.0)
    rig.master.play()
    for p0, speed, locked in heard:
        rig.master.heard(rig.now, p0, speed, "locked" if locked else "locating")
    with pytest.raises(MasterError) as refused:
        await rig.master.answered()
    assert why in str(refused.value)


async def test_a_transport_without_timecode_says_nothing_of_the_master() -> None:
    rig = Rig(lock_timeout=0.05)
    rig.master.locate(30.0)
    rig.master.play()
    rig.master.heard(rig.now, 0.0, 0.0, None)  # the engine's first word: no picture yet
    rig.master.heard(rig.now, 30.0, 0.0, "stopped")
    with pytest.raises(MasterError, match=r"^no MTC came back"):
        await rig.master.answered()


async def test_a_master_that_does_not_stop() -> None:
    rig = Rig(lock_timeout=0.05)
    rig.master.stop()
    rig.master.heard(rig.now, 50.0, 1.0, "locked")
    with pytest.raises(MasterError, match="MTC kept coming within 0.05 s of the MMC stop: the master did not stop "
                                          r"\(picture at 00:00:50:00, bar 50 of 1M1\)"):
        await rig.master.answered()


async def test_a_command_sent_before_the_answer_supersedes_it() -> None:
    rig = Rig()
    rig.master.play()
    first = rig.master.current
    rig.master.stop()
    assert first is not None
    assert first.error == "the stop sent to the master after it came before the chase answered"
    assert rig.master.sent == 2


async def test_nothing_sent_nothing_to_answer() -> None:
    assert await Rig().master.answered() is None
