# ruff: noqa: INP001 -- a script beside the file it writes, not a package
"""Write ``stage-conductor.tosc``: a TouchOSC layout for the conductor (zlib-compressed XML, lexml version 3).

Buttons send the addresses of ``docs/osc.md``; labels show what ``stage``
sends back (timecode, bar|beat, armed cue and mode, last take).  Regenerate
after changing it here:

    python clients/touchosc/make_layout.py [--token TOKEN] [--port RECEIVE_PORT] [--cues CUES]

TOKEN (default: ``CHANGE-ME``) goes into the *Auth* button's message: put
your role's ``[auth]`` token there, here or in the TouchOSC editor.
RECEIVE_PORT (default: 9001) is the port TouchOSC's connection receives on;
the *Connect* button subscribes it (``/stage/subscribe i RECEIVE_PORT``).
The *Arm* row has a button for each of the first five cues of CUES
(default: the demo cue sheet).
"""

from __future__ import annotations

import argparse
import sys
import uuid
import zlib
from dataclasses import dataclass
from pathlib import Path
from xml.sax.saxutils import escape

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from stage.core.cuesheet import load_cue_sheet

OUT = Path(__file__).with_name("stage-conductor.tosc")
DEMO_CUES = Path(__file__).resolve().parents[2] / "config" / "demo-cues.toml"
W, H = 1024, 768


def _cdata(text: str) -> str:
    return f"<![CDATA[{text}]]>"


def _prop(kind: str, key: str, value: str) -> str:
    return f"<property type='{kind}'><key>{_cdata(key)}</key><value>{value}</value></property>"


def _color(r: float, g: float, b: float, a: float = 1.0) -> str:
    return f"<r>{r}</r><g>{g}</g><b>{b}</b><a>{a}</a>"


def _partial(kind: str, conversion: str, value: str) -> str:
    return (f"<partial><type>{kind}</type><conversion>{conversion}</conversion><value>{_cdata(value)}</value>"
            "<scaleMin>0</scaleMin><scaleMax>1</scaleMax></partial>")


def _osc(path: str, args: list[tuple[str, str, str]], *, send: bool, receive: bool, trigger: str = "x") -> str:
    arguments = "".join(_partial(k, c, v) for k, c, v in args)
    return (
        "<osc><enabled>1</enabled>"
        f"<send>{int(send)}</send><receive>{int(receive)}</receive><feedback>0</feedback>"
        "<connections>00001</connections>"
        f"<triggers><trigger><var>{_cdata(trigger)}</var><condition>RISE</condition></trigger></triggers>"
        f"<path>{_partial('CONSTANT', 'STRING', path)}</path>"
        f"<arguments>{arguments}</arguments></osc>"
    )


@dataclass(frozen=True)
class Control:
    """One button or label on the page."""

    kind: str  # BUTTON | LABEL
    name: str
    x: int
    y: int
    w: int
    h: int
    text: str
    color: tuple[float, float, float]
    send: str = ""  # a button's address
    send_args: tuple[tuple[str, str, str], ...] = ()
    receive: str = ""  # a label's address; its first argument becomes the text

    def xml(self) -> str:
        props = [
            _prop("s", "name", _cdata(self.name)),
            _prop("r", "frame", f"<x>{self.x}</x><y>{self.y}</y><w>{self.w}</w><h>{self.h}</h>"),
            _prop("c", "color", _color(*self.color)),
            _prop("b", "background", "1"),
            _prop("b", "outline", "1"),
            _prop("i", "textSize", "20" if self.kind == "BUTTON" else "28"),
        ]
        messages = ""
        values = ""
        if self.kind == "BUTTON":
            props.append(_prop("i", "buttonType", "0"))  # momentary: 1 on press, 0 on release
            # A button cannot show text itself: a label child carries it.
            messages = _osc(self.send, [("CONSTANT", k, v) if k != "VALUE" else ("VALUE", "FLOAT", v)
                                        for k, v, _ in self.send_args] or [("VALUE", "FLOAT", "x")],
                            send=True, receive=False)
        else:
            props.append(_prop("s", "text", _cdata(self.text)))
            values = (f"<value><key>{_cdata('text')}</key><locked>0</locked><lockedDefaultCurrent>0"
                      f"</lockedDefaultCurrent><default>{_cdata(self.text)}</default>"
                      "<defaultPull>0</defaultPull></value>")
            if self.receive:
                messages = _osc(self.receive, [("VALUE", "STRING", "text")], send=False, receive=True, trigger="text")
        children = ""
        if self.kind == "BUTTON":
            children = "<children>" + Control("LABEL", f"{self.name}_text", 0, 0, self.w, self.h, self.text,
                                              (1, 1, 1)).xml() + "</children>"
        return (f"<node ID='{uuid.uuid4()}' type='{self.kind}'><properties>{''.join(props)}</properties>"
                f"<values>{values}</values><messages>{messages}</messages>{children}</node>")


GREEN, RED, BLUE = (0.1, 0.6, 0.2), (0.75, 0.1, 0.1), (0.1, 0.3, 0.7)
GREY, YELLOW, PURPLE = (0.3, 0.3, 0.3), (0.8, 0.6, 0.0), (0.5, 0.2, 0.6)


RECEIVE_PORT = 9001
TOKEN = "CHANGE-ME"  # noqa: S105 -- a placeholder the user replaces, not a secret


def controls(token: str, receive_port: int, cues: list[str]) -> list[Control]:
    """The page, top to bottom."""
    c = [
        Control("LABEL", "timecode", 20, 20, 480, 80, "--:--:--:--", GREY, receive="/stage/timecode"),
        Control("LABEL", "barbeat", 520, 20, 240, 80, "-|-", GREY, receive="/stage/barbeat"),
        Control("LABEL", "session", 780, 20, 224, 80, "no cue", GREY, receive="/stage/session"),
        Control("BUTTON", "play", 20, 120, 240, 140, "PLAY", GREEN, send="/stage/transport/play"),
        Control("BUTTON", "stop", 280, 120, 240, 140, "STOP", RED, send="/stage/transport/stop"),
        Control("BUTTON", "rehearse", 540, 120, 220, 65, "REHEARSE", BLUE, send="/stage/session/rehearse"),
        Control("BUTTON", "record", 540, 195, 220, 65, "RECORD", RED, send="/stage/session/record"),
        Control("BUTTON", "auth", 780, 120, 224, 65, "AUTH", PURPLE, send="/stage/auth",
                send_args=(("STRING", token, ""),)),
        Control("BUTTON", "connect", 780, 195, 224, 65, "CONNECT", PURPLE, send="/stage/subscribe",
                send_args=(("INTEGER", str(receive_port), ""),)),
    ]
    for i, bar in enumerate((1, 9, 17, 25, 33)):
        c.append(Control("BUTTON", f"bar{bar}", 20 + i * 200, 280, 180, 80, f"BAR {bar}", GREY,
                         send="/stage/transport/bar", send_args=(("INTEGER", str(bar), ""),)))
    for i, cue in enumerate(cues[:5]):
        c.append(Control("BUTTON", f"arm{cue}", 20 + i * 200, 380, 180, 80, f"ARM {cue}", YELLOW,
                         send="/stage/session/arm", send_args=(("STRING", cue, ""),)))
    statuses = (("false_start", "FALSE START"), ("breakdown", "BREAKDOWN"), ("incomplete", "INCOMPLETE"),
                ("complete", "COMPLETE"), ("hold", "HOLD"), ("print", "PRINT"))
    for i, (status, text) in enumerate(statuses):
        c.append(Control("BUTTON", status, 20 + i * 165, 480, 150, 100, text, GREEN if status == "print" else BLUE,
                         send=f"/stage/take/{status}"))
    c.append(Control("LABEL", "take", 20, 600, 984, 80, "no take yet", GREY, receive="/stage/take/label"))
    c.append(Control("LABEL", "clients", 20, 690, 300, 60, "0", GREY, receive="/stage/clients"))
    # from the top: picture from the pre-roll before the armed cue's count-off, and roll
    c.append(Control("BUTTON", "top", 704, 690, 300, 60, "FROM THE TOP", GREEN, send="/stage/transport/top"))
    return c


def layout(token: str = TOKEN, receive_port: int = RECEIVE_PORT, cues: list[str] | None = None) -> str:
    """The whole layout as XML."""
    root_props = "".join([
        _prop("s", "name", _cdata("stage conductor")),
        _prop("r", "frame", f"<x>0</x><y>0</y><w>{W}</w><h>{H}</h>"),
        _prop("c", "color", _color(0.08, 0.08, 0.1)),
        _prop("b", "background", "1"),
    ])
    if cues is None:
        cues = [cue.id for cue in load_cue_sheet(DEMO_CUES).cues]
    children = "".join(c.xml() for c in controls(escape(token), receive_port, cues))
    return ("<?xml version='1.0' encoding='UTF-8'?><lexml version='3'>"
            f"<node ID='{uuid.uuid4()}' type='GROUP'><properties>{root_props}</properties><values></values>"
            f"<messages></messages><children>{children}</children></node></lexml>")


def main() -> None:
    """Write the layout file."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--token", default=TOKEN)
    ap.add_argument("--port", type=int, default=RECEIVE_PORT)
    ap.add_argument("--cues", type=Path, default=DEMO_CUES)
    args = ap.parse_args()
    cues = [cue.id for cue in load_cue_sheet(args.cues).cues]
    OUT.write_bytes(zlib.compress(layout(args.token, args.port, cues).encode("utf-8"), 9))
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
