"""A live ``python -m stage serve`` for the fuzzers, with a broker of its own, and the check that it still works.

:func:`live_stage` starts Mosquitto on a free port and the real command (MIDI
off: the engine runs its soft clock) with REST, ``/ws``, OSC and MQTT on, and
a take log on the database given; :meth:`LiveStage.alive` then proves every
transport still answers and the transport still plays, locates and stops.
:class:`Tally` counts what a fuzzer sent and what came back, and prints it.

Everything here is blocking: the fuzzers are plain functions driven by
hypothesis, talking to another process.
"""

from __future__ import annotations

import collections
import contextlib
import json
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion
from peers.jackd import require
from peers.wait import SCALE
from pythonosc.osc_message_builder import OscMessageBuilder
from websockets.sync.client import connect

ROOT = Path(__file__).resolve().parents[2]
TOKENS = {"conductor": "fuzz-conductor", "engineer": "fuzz-engineer", "editor": "fuzz-editor"}

SHEET = """
[picture]
rate = "24"
[defaults]
countoff = 1
streamer = "1s"
[[cue]]
id = "1M1"
start = "00:00:10:00"
tempo = "12-0"
meter = "4/4"
bars = 16
[[cue.hit]]
bar = 3
label = "door"
[[cue]]
id = "1M2"
start = "00:01:00:00"
tempo = 90
meter = "3/4"
bars = 8
"""


def free_port(kind: int = socket.SOCK_STREAM) -> int:
    """A port nothing listens on now."""
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Tally:
    """What one fuzzer sent and what it got back."""

    name: str
    sent: int = 0
    answers: collections.Counter[str] = field(default_factory=collections.Counter)

    def report(self, alive: dict[str, bool]) -> str:
        """One line of figures, printed (visible with ``-s``) and returned."""
        answers = ", ".join(f"{k} {v}" for k, v in sorted(self.answers.items()))
        up = sum(alive.values())
        line = (f"FUZZ {self.name}: sent {self.sent}; answers: {answers or 'none'}; "
                f"endpoints alive {up}/{len(alive)} ({', '.join(k for k, v in alive.items() if v)})")
        print(line)
        return line


def osc_datagram(address: str, *args: tuple[Any, str]) -> bytes:
    """One OSC message."""
    b = OscMessageBuilder(address)
    for value, tag in args:
        b.add_arg(value, tag)
    data: bytes = b.build().dgram
    return data


@dataclass
class LiveStage:
    """A running ``stage serve`` and where it listens."""

    proc: subprocess.Popen[bytes]
    log: Path
    http_port: int
    osc_port: int
    mqtt_port: int
    mqtt_root: str
    database: str  # "sqlite" or "postgresql"

    @property
    def base(self) -> str:
        """The REST base URL."""
        return f"http://127.0.0.1:{self.http_port}"

    def headers(self, role: str = "conductor") -> dict[str, str]:
        """The Authorization header of ``role``."""
        return {"Authorization": f"Bearer {TOKENS[role]}"}

    def log_text(self) -> str:
        """What the service logged so far."""
        return self.log.read_text(errors="replace")

    # -- is it still all there? ------------------------------------------------------------------

    def alive(self) -> dict[str, bool]:
        """Which of the service's parts still work: the process, REST with the transport, /ws, OSC, MQTT."""
        return {
            "process": self.proc.poll() is None,
            "rest+transport": _ok(self._transport_works),
            "ws": _ok(self._ws_answers),
            "osc": _ok(self._osc_answers),
            "mqtt": _ok(self._mqtt_answers),
        }

    def _transport_works(self) -> None:
        """Play, locate and stop, whatever state the fuzzing left behind."""
        with httpx.Client(base_url=self.base, headers=self.headers(), timeout=10 * SCALE) as http:
            http.post("/api/transport/stop")  # 200, or 409 when already stopped
            for path, body in (("/api/transport/varispeed", {"speed": 1.0}),
                               ("/api/session/mode", {"mode": "rehearse"}), ("/api/session/arm", {"cue": "1M1"}),
                               ("/api/transport/locate", {"bar": 1}), ("/api/transport/play", {}),
                               ("/api/transport/locate", {"bar": 3}), ("/api/transport/stop", None)):
                answer = http.post(path, json=body)
                assert answer.status_code == 200, (path, answer.status_code, answer.text)
            state = http.get("/api/transport").json()
            assert state["rolling"] is False
            assert 14.0 <= state["position"] < 16.0, state  # bar 3 of 1M1 is at 14 s, and we stopped soon after
            assert http.get("/api/health").json()["ok"] is True

    def _ws_answers(self) -> None:
        with connect(f"ws://127.0.0.1:{self.http_port}/ws", open_timeout=5 * SCALE) as ws:
            ws.send(json.dumps({"type": "hello", "role": "conductor", "token": TOKENS["conductor"], "topics": []}))
            kinds = [json.loads(ws.recv(timeout=5 * SCALE))["type"] for _ in range(2)]
            assert kinds == ["welcome", "snapshot"], kinds
            ws.send(json.dumps({"type": "sync", "t0": 42.5}))
            assert json.loads(ws.recv(timeout=5 * SCALE))["t0"] == 42.5

    def _osc_answers(self) -> None:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.bind(("127.0.0.1", 0))
            sock.settimeout(5 * SCALE)
            sock.sendto(osc_datagram("/stage/snapshot"), ("127.0.0.1", self.osc_port))
            assert sock.recv(65536).startswith(b"/stage/transport\x00")

    def _mqtt_answers(self) -> None:
        got: list[dict[str, Any]] = []
        client = mqtt_client(self.mqtt_port)
        client.on_message = lambda _c, _u, msg: got.append(json.loads(msg.payload))
        try:
            client.subscribe(f"{self.mqtt_root}/event/result", qos=1)
            time.sleep(0.2 * SCALE)  # the broker takes the subscription before the command goes
            mid = str(uuid.uuid4())
            client.publish(f"{self.mqtt_root}/cmd/varispeed",
                           json.dumps({"token": TOKENS["engineer"], "id": mid, "speed": 1.0}), qos=1)
            deadline = time.monotonic() + 5 * SCALE
            while not any(r.get("id") == mid for r in got):
                assert time.monotonic() < deadline, "no result on MQTT"
                time.sleep(0.02)
        finally:
            client.loop_stop()
            client.disconnect()


def _ok(check: Any) -> bool:
    try:
        check()
    except Exception as exc:
        print(f"  not alive: {check.__name__}: {exc!r}")
        return False
    return True


def mqtt_client(port: int) -> paho.Client:
    """A connected paho client running its network loop on a thread."""
    client = paho.Client(CallbackAPIVersion.VERSION2, client_id=f"fuzz-{uuid.uuid4().hex[:8]}")
    client.connect("127.0.0.1", port)
    client.loop_start()
    deadline = time.monotonic() + 5 * SCALE
    while not client.is_connected():
        assert time.monotonic() < deadline, "the fuzzer could not connect to its broker"
        time.sleep(0.01)
    return client


def _wait_port(port: int, what: str) -> None:
    deadline = time.monotonic() + 10 * SCALE
    while True:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
            return
        assert time.monotonic() < deadline, f"{what} did not come up on port {port}"
        time.sleep(0.02)


@contextlib.contextmanager
def live_stage(tmp: Path, database: str) -> Iterator[LiveStage]:
    """Mosquitto and ``stage serve`` (REST, /ws, OSC, MQTT, the take log on ``database``), stopped afterwards."""
    broker_port, http_port, osc_port = free_port(), free_port(), free_port(socket.SOCK_DGRAM)
    root_name = f"fuzz{uuid.uuid4().hex[:6]}"
    broker = subprocess.Popen([require("mosquitto", "mosquitto"), "-p", str(broker_port)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    config, cues, log = tmp / "stage.toml", tmp / "cues.toml", tmp / "serve.log"
    auth = "".join(f'{role} = "{token}"\n' for role, token in TOKENS.items())
    config.write_text(
        f"[midi]\nenabled = false\n[http]\nport = {http_port}\n[osc]\nport = {osc_port}\n"
        f'[mqtt]\nurl = "mqtt://127.0.0.1:{broker_port}"\nname = "{root_name}"\n'
        f'[takes]\ndatabase = "{database}"\n[auth]\n{auth}[picture]\ndir = "{tmp / "picture"}"\n',
        encoding="utf-8",
    )
    cues.write_text(SHEET, encoding="utf-8")
    proc: subprocess.Popen[bytes] | None = None
    try:
        _wait_port(broker_port, "mosquitto")
        with log.open("wb") as out:
            command = [sys.executable, "-m", "stage", "serve", "--config", str(config), "--cues", str(cues)]
            proc = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, cwd=ROOT)
        deadline = time.monotonic() + 30 * SCALE
        while True:
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(f"http://127.0.0.1:{http_port}/api/health").status_code == 200:
                    break
            assert proc.poll() is None, log.read_text(errors="replace")[-3000:]
            assert time.monotonic() < deadline, log.read_text(errors="replace")[-3000:]
            time.sleep(0.05)
        yield LiveStage(proc, log, http_port, osc_port, broker_port, f"stage/{root_name}", database.split(":", 1)[0])
    finally:
        for p in (proc, broker):
            if p is not None and p.poll() is None:
                p.terminate()
                try:
                    p.wait(10 * SCALE)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()


def crashes_in(log: str) -> list[str]:
    """Lines of a service log that tell of a crash: tracebacks and fatal errors."""
    return [line for line in log.splitlines() if "Traceback" in line or "Fatal" in line or "CRITICAL" in line]
