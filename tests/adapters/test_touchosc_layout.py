"""The conductor's TouchOSC layout against a running stage, with liblo's tools standing in for the tablet.

Every button's message is sent exactly as TouchOSC would send it on a press
(its constant arguments, or the button's value 1.0), through ``oscsend``;
each must be accepted.  Every label must be fed by an address the stage
sends, with the string its text takes, as seen by ``oscdump`` on the port
the *Connect* button subscribes.  And the committed layout must be what
``make_layout.py`` writes.
"""

from __future__ import annotations

import importlib.util
import re
import socket
import sys
import xml.etree.ElementTree as ET
import zlib
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

from peers.wait import until
from stagerig import TOKENS, LinePeer, free_port, osc_dump, osc_send, stage_rig

from stage.adapters.osc import ADDRESSES, Way

ROOT = Path(__file__).resolve().parents[2]
LAYOUT = ROOT / "clients" / "touchosc" / "stage-conductor.tosc"
DEMO = ROOT / "config" / "demo-cues.toml"


def make_layout() -> ModuleType:
    spec = importlib.util.spec_from_file_location("make_layout", LAYOUT.with_name("make_layout.py"))
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["make_layout"] = module
    spec.loader.exec_module(module)
    return module


@dataclass(frozen=True)
class Sent:
    control: str
    address: str
    types: str
    args: tuple[str, ...]


def parse(xml: str) -> tuple[list[Sent], dict[str, str]]:
    """What each button sends on a press, and the address feeding each label's text."""
    root = ET.fromstring(xml)
    assert root.tag == "lexml"
    assert root.get("version") == "3"
    sent: list[Sent] = []
    labels: dict[str, str] = {}
    for node in root.iter("node"):
        name = node.findtext("properties/property[key='name']/value", "").strip()
        for osc in node.findall("messages/osc"):
            path = osc.findtext("path/partial/value", "")
            if osc.findtext("send") == "1":
                assert osc.findtext("triggers/trigger/condition") == "RISE"  # on press, not on release
                types, args = "", []
                for partial in osc.findall("arguments/partial"):
                    kind, conversion = partial.findtext("type"), partial.findtext("conversion")
                    value = partial.findtext("value", "")
                    tag = {"INTEGER": "i", "STRING": "s", "FLOAT": "f"}[str(conversion)]
                    types += tag
                    args.append("1.0" if kind == "VALUE" else value)  # a pressed button's value
                sent.append(Sent(name, path, types, tuple(args)))
            if osc.findtext("receive") == "1":
                assert [p.findtext("conversion") for p in osc.findall("arguments/partial")] == ["STRING"]
                labels[name] = path
    return sent, labels


def received(dump: LinePeer, address: str) -> list[str]:
    """What ``oscdump`` printed for ``address``: its type tags and arguments, without the time tag."""
    out = []
    for line in dump.lines:
        parts = line.split(" ", 2)
        if parts[0] != address and len(parts) > 1 and parts[1] == address:
            parts = parts[1:]  # a time tag first
        if parts[0] == address:
            out.append(" ".join(parts[1:]))
    return out


def without_ids(xml: str) -> str:
    return re.sub(r"ID='[0-9a-f-]{36}'", "ID=''", xml)


def test_the_committed_layout_is_what_the_generator_writes() -> None:
    committed = zlib.decompress(LAYOUT.read_bytes()).decode()
    assert without_ids(committed) == without_ids(make_layout().layout())


def test_every_address_of_the_layout_is_in_the_address_table() -> None:
    sent, labels = parse(zlib.decompress(LAYOUT.read_bytes()).decode())
    assert len(sent) == 21
    for s in sent:
        assert ADDRESSES[s.address].way is Way.IN, s
    assert set(labels.values()) == {"/stage/timecode", "/stage/barbeat", "/stage/session", "/stage/take/label",
                                    "/stage/clients"}
    for address in labels.values():
        assert ADDRESSES[address].way is Way.OUT
    arms = [s.args for s in sent if s.address == "/stage/session/arm"]
    assert arms == [("1M1",), ("1M2",), ("1M3",)]  # the demo sheet's cues


async def test_pressing_every_button_against_a_running_stage(tmp_path: Path) -> None:
    port = free_port(socket.SOCK_DGRAM)
    layout = make_layout().layout(TOKENS["conductor"], port)
    sent, labels = parse(layout)
    order = ["connect", "auth", "arm1M1", "record", "bar9", "play", "stop", "print", "complete", "hold",
             "incomplete", "breakdown", "false_start", "rehearse", "top", "stop", "bar33", "arm1M2", "arm1M3",
             "bar1", "bar17", "bar25", "play", "stop"]
    by_name = {s.control: s for s in sent}
    assert set(order) == set(by_name)
    dump = await osc_dump(port)
    try:
        async with stage_rig(tmp_path, osc=True, takes=True, sheet=DEMO.read_text()) as rig:
            for name in order:
                s = by_name[name]
                beats = len(received(dump, "/stage/barbeat"))
                await osc_send(rig.osc.port, s.address, s.types, *s.args)
                if name == "connect":
                    await until(lambda: received(dump, "/stage/transport"),
                                what="the subscriber's first state")
                if name == "play":  # roll until the screens have had a beat of it
                    await until(lambda n=beats: len(received(dump, "/stage/barbeat")) > n,  # type: ignore[misc]
                                what="a beat", seconds=15)
                if name == "top":  # rehearsing 1M1 from its pre-roll
                    await until(lambda: rig.service.transport_state()["rolling"], what="rolling from the top")
                    armed = rig.service.armed
                    assert armed is not None
                    assert rig.service.transport.anchor.p0 == rig.service.preroll_position(armed)
                if name == "stop":
                    await until(lambda: not rig.service.transport_state()["rolling"], what="stopped")
            await until(lambda: rig.osc.stats["messages"] == len(order), what="every press handled")
            await until(lambda: rig.service.armed is not None and rig.service.armed.id == "1M3", what="1M3 armed")
            await until(lambda: received(dump, "/stage/take/label")[-1:] == ['s "1M1-1 false_start"'],
                        what="the last status")
            stats = rig.osc.stats
            assert stats["unknown"] == 0
            assert not [k for k in stats if k.startswith("refused.")], dict(stats)
            assert received(dump, "/stage/error") == []
            # The take the buttons recorded: 1M1 take 1, its statuses in the order pressed, the last one stands.
            assert rig.takes is not None
            (take,) = await rig.takes.store.list_takes(cue="1M1")
            assert take.status is not None
            assert take.status.value == "false_start"
            assert take.tc_out  # play and stop: a whole take
            # Every label's address arrived, with one argument TouchOSC shows as its text.
            for label, address in labels.items():
                got = received(dump, address)
                assert got, f"label {label}: nothing on {address}"
                assert got[-1][0] in "si", got[-1]  # TouchOSC shows the first argument
    finally:
        await dump.stop()
