"""Fan-out latency to 10, 100 and 500 WebSocket clients and 50 OSC destinations, MQTT on, click timing alongside.

The whole stage runs here as ``stage serve`` runs it (engine process with
JACK MIDI on a real ``jackd -d dummy``, uvicorn, the broadcaster, OSC, MQTT
to the machine's broker).  Probe events go on the bus 20 times a second (``--rate``) as
``beat`` events of a cue named ``probe`` whose ``time`` is the instant they
were published; every receiver (WebSocket clients in their own processes,
so what is measured is not the clients' GIL, and one process with 50 OSC
sockets) subtracts it from the instant it got the frame.  Both sides read
CLOCK_MONOTONIC, which is one clock for every process on the machine.

Meanwhile the engine clicks a long cue into a JACK witness in its own
process: inter-onset error in frames, as in ``bench/clicks.py``, per
condition, with no clients first as the reference.

    python bench/fanout.py [--seconds 15] [--clients 10,100,500] [--rate 20]
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import math
import multiprocessing
import multiprocessing.connection
import os
import socket
import statistics
import struct
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

import uvicorn  # noqa: E402
from fastapi import FastAPI  # noqa: E402
from peers.jackd import jack_server, unique_name  # noqa: E402
from peers.recorder import MidiPeer  # noqa: E402
from websockets.asyncio.client import connect  # noqa: E402

from stage.adapters.ws import WsHub  # noqa: E402
from stage.config import parse_config  # noqa: E402
from stage.core.cuesheet import parse_cue_sheet  # noqa: E402
from stage.runtime.broadcast import start_broadcast  # noqa: E402
from stage.runtime.service import Service  # noqa: E402

SR = 48000
PERIOD = 256
PROBE_RATE = 20.0  # probes a second (--rate)
OSC_DESTINATIONS = 50
CLIENTS_PER_PROCESS = 125
TEMPO = 233.3  # clicks a minute: 12344.9 frames apart, never a whole number
SHEET = f"""
[picture]
rate = "24"
[[cue]]
id = "9M1"
start = "00:00:02:00"
tempo = {TEMPO}
meter = "4/4"
bars = 2000
countoff = 0
"""


def pct(values: list[float], q: float) -> float:
    if not values:
        return math.nan
    s = sorted(values)
    return s[min(len(s) - 1, int(q * len(s)))]


# -- receivers, each in its own process ------------------------------------------------------


def ws_clients_proc(url: str, n: int, conn: multiprocessing.connection.Connection) -> None:
    """``n`` WebSocket clients; sends back every probe's latency in seconds."""
    asyncio.run(_ws_clients(url, n, conn))


async def _ws_clients(url: str, n: int, conn: multiprocessing.connection.Connection) -> None:
    latencies: list[float] = []
    clients = []
    for _ in range(n):
        ws = await connect(url, max_size=2**20)
        await ws.send(json.dumps({"type": "hello", "role": "musician", "topics": ["beat"]}))
        clients.append(ws)

    async def read(ws: Any) -> None:
        async for raw in ws:
            now = time.monotonic()
            if '"probe"' in raw:
                msg = json.loads(raw)
                if msg.get("type") == "event" and msg["data"].get("cue") == "probe":
                    latencies.append(now - msg["data"]["time"])

    readers = [asyncio.create_task(read(ws)) for ws in clients]
    conn.send("ready")
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, conn.recv)  # stop
    for r in readers:
        r.cancel()
    for ws in clients:
        await ws.close()
    conn.send(latencies)


def osc_receivers_proc(ports: list[int], conn: multiprocessing.connection.Connection) -> None:
    """One UDP socket per destination; sends back every probe's latency in seconds."""
    asyncio.run(_osc_receivers(ports, conn))


class _Osc(asyncio.DatagramProtocol):
    def __init__(self, out: list[float]) -> None:
        self.out = out

    def datagram_received(self, data: bytes, _addr: Any) -> None:
        now = time.monotonic()
        # /stage/beat ,siisd "probe" …: the server time is the last argument, a big-endian double.
        if data.startswith(b"/stage/beat\x00") and b"probe\x00" in data:
            self.out.append(now - struct.unpack(">d", data[-8:])[0])


async def _osc_receivers(ports: list[int], conn: multiprocessing.connection.Connection) -> None:
    latencies: list[float] = []
    loop = asyncio.get_running_loop()
    transports = []
    for port in ports:
        t, _ = await loop.create_datagram_endpoint(lambda: _Osc(latencies), local_addr=("127.0.0.1", port))
        transports.append(t)
    conn.send("ready")
    while True:
        cmd = await loop.run_in_executor(None, conn.recv)
        conn.send(list(latencies))  # "collect": what came since the last one
        latencies.clear()
        if cmd == "stop":
            break
    for t in transports:
        t.close()


def recorder_proc(server_name: str, name: str, conn: multiprocessing.connection.Connection) -> None:
    """The click witness, alone in its process."""
    with MidiPeer(name, servername=server_name, inputs=("click",), outputs=()) as rec:
        conn.send("ready")
        while True:
            cmd = conn.recv()
            onsets = [f for f, d in rec.events("click") if d[0] & 0xF0 == 0x90 and d[2] > 0]
            conn.send(len(onsets) if cmd == "mark" else onsets)
            if cmd != "mark":
                return


# -- the stage ---------------------------------------------------------------------------------


def free_udp_ports(n: int) -> list[int]:
    socks = []
    for _ in range(n):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind(("127.0.0.1", 0))
        socks.append(s)
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


def click_errors(frames: list[int]) -> list[float]:
    exact = 60 / TEMPO * SR
    return [abs((b - a) - exact) for a, b in itertools.pairwise(frames)]


async def run(seconds: float, counts: list[int], rate: float) -> None:
    ctx = multiprocessing.get_context("spawn")
    with jack_server(samplerate=SR, period=PERIOD) as jackd:
        rec_name = unique_name("fanout-rec")
        rec_conn, rec_child = ctx.Pipe()
        recorder = ctx.Process(target=recorder_proc, args=(jackd.name, rec_name, rec_child), daemon=True)
        recorder.start()
        assert rec_conn.recv() == "ready"
        osc_ports = free_udp_ports(OSC_DESTINATIONS)
        name = unique_name("fanout")
        config = parse_config({
            "midi": {"enabled": True, "server": jackd.name, "client": unique_name("stage"),
                     "mtc_out": False, "mtc_in": False, "connect_click_out": [f"{rec_name}:click"]},
            "osc": {"enabled": True, "port": 0, "destinations": [f"127.0.0.1:{p}" for p in osc_ports]},
            "mqtt": {"url": "mqtt://127.0.0.1:1883", "name": name},
        })
        service = Service(config, parse_cue_sheet(SHEET))
        await service.start()
        app = FastAPI()
        broadcaster = await start_broadcast(service, app, None)
        server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, lifespan="off", log_level="warning",
                                               ws_per_message_deflate=False))  # zlib per client per event
        serving = asyncio.create_task(server.serve())
        while not server.started:  # noqa: ASYNC110 -- uvicorn offers a flag, not an event
            await asyncio.sleep(0.05)
        port = server.servers[0].sockets[0].getsockname()[1]
        url = f"ws://127.0.0.1:{port}/ws"

        dispatched: list[float] = []
        written: list[float] = []
        probe_frames: dict[int, float] = {}

        class _Tap:  # when the broadcaster hands a probe to the sinks: the server's own share of the latency
            def offer(self, out: Any) -> None:
                if out.data.get("cue") == "probe":
                    dispatched.append(time.monotonic() - out.data["time"])
                    probe_frames[id(out.frame)] = out.data["time"]

        def on_sent(_client: int, frame: str) -> None:  # the frame is in the client's socket
            t = probe_frames.get(id(frame))
            if t is not None:
                written.append(time.monotonic() - t)

        broadcaster.sinks.insert(0, _Tap())
        hub = next(s for s in broadcaster.sinks if isinstance(s, WsHub))
        hub.on_sent = on_sent
        osc_conn, osc_child = ctx.Pipe()
        osc_proc = ctx.Process(target=osc_receivers_proc, args=(osc_ports, osc_child), daemon=True)
        osc_proc.start()
        assert osc_conn.recv() == "ready"

        service.arm("9M1")
        service.locate(1.0)
        service.play()
        await asyncio.sleep(1.5)

        loop = asyncio.get_running_loop()
        rows = []
        for n in [0, *counts]:
            procs = []
            for k in range(0, n, CLIENTS_PER_PROCESS):
                a, b = ctx.Pipe()
                proc = ctx.Process(target=ws_clients_proc, args=(url, min(CLIENTS_PER_PROCESS, n - k), b), daemon=True)
                proc.start()
                procs.append((proc, a))
            for _, a in procs:
                await loop.run_in_executor(None, a.recv)
            await asyncio.sleep(1.0)
            rec_conn.send("mark")
            first_click = rec_conn.recv()
            osc_conn.send("collect")
            await loop.run_in_executor(None, osc_conn.recv)  # what came before this condition

            dispatched.clear()
            written.clear()
            t_end = time.monotonic() + seconds
            i = 0
            next_at = time.monotonic()
            while time.monotonic() < t_end:
                now = time.monotonic()
                service.bus.publish("beat", {"cue": "probe", "bar": i, "beat": 1, "kind": "probe",
                                             "position": 0.0, "time": now})
                i += 1
                next_at += 1 / rate
                await asyncio.sleep(max(next_at - time.monotonic(), 0))
            await asyncio.sleep(0.5)
            rec_conn.send("mark")
            last_click = rec_conn.recv()
            ws_lat: list[float] = []
            for _, a in procs:
                a.send("stop")
            for proc, a in procs:
                ws_lat += await loop.run_in_executor(None, a.recv)
                proc.join()
            osc_conn.send("collect")
            osc_lat = await loop.run_in_executor(None, osc_conn.recv)
            rows.append((n, i, ws_lat, osc_lat, (first_click, last_click), list(dispatched), list(written)))
            probe_frames.clear()
            print(f"  {n} clients: {i} probes, {len(ws_lat)} WS receipts, {len(osc_lat)} OSC receipts", flush=True)

        rec_conn.send("frames")
        frames = rec_conn.recv()
        recorder.join()
        osc_conn.send("stop")
        osc_conn.recv()
        osc_proc.join(timeout=1)
        stats = service.stats
        mqtt = next((s for s in broadcaster.sinks if type(s).__name__ == "MqttLink"), None)
        service.stop_transport()
        server.should_exit = True
        await serving
        await broadcaster.close()
        await service.stop()
        for t in ("online", "transport", "sync", "cue", "session", "take", "clients"):
            proc2 = await asyncio.create_subprocess_exec("mosquitto_pub", "-r", "-n", "-t", f"stage/{name}/state/{t}")
            await proc2.wait()

    ms = 1000
    server_rows: list[tuple[int, list[float], list[float]]] = []
    print(f"\nfan-out: {rate:g} probe events/s for {seconds:.0f} s per condition; latency = receipt − publish, ms")
    print(f"{'WS clients':>10} {'WS p50':>8} {'WS p99':>8} {'WS max':>8} {'recv':>7} "
          f"{'OSC×50 p50':>11} {'p99':>7} {'max':>7} {'recv':>6} | {'click err p50':>13} {'p99':>6} {'max':>6} n")
    for n, probes, ws_lat, osc_lat, (a, b), disp, wrote in rows:
        errs = click_errors(frames[a:b])
        ws_cols = (f"{pct(ws_lat, .5) * ms:8.2f} {pct(ws_lat, .99) * ms:8.2f} {max(ws_lat, default=math.nan) * ms:8.2f}"
                   if ws_lat else f"{'-':>8} {'-':>8} {'-':>8}")
        expect = probes * n
        print(f"{n:>10} {ws_cols} {len(ws_lat):>4}/{expect:<4} "
              f"{pct(osc_lat, .5) * ms:11.2f} {pct(osc_lat, .99) * ms:7.2f} {max(osc_lat, default=math.nan) * ms:7.2f} "
              f"{len(osc_lat) // OSC_DESTINATIONS:>6} | "
              f"{statistics.median(errs) if errs else math.nan:13.2f} {pct(errs, .99):6.2f} "
              f"{max(errs, default=math.nan):6.2f} {len(errs)}")
        server_rows.append((n, disp, wrote))
    print("\nthe server's share, ms: bus → sinks (dispatch), and bus → frame written to the client's socket")
    print(f"{'WS clients':>10} {'dispatch p50':>12} {'p99':>6} {'written p50':>12} {'p99':>7} {'max':>7}")
    for n, disp, wrote in server_rows:
        print(f"{n:>10} {pct(disp, .5) * ms:12.2f} {pct(disp, .99) * ms:6.2f} {pct(wrote, .5) * ms:12.2f} "
              f"{pct(wrote, .99) * ms:7.2f} {max(wrote, default=math.nan) * ms:7.2f}")
    print(f"\nclick error: |received − exact inter-onset interval| in JACK frames (1 frame = {1e6 / SR:.1f} µs; "
          f"exact interval {60 / TEMPO * SR:.2f} frames, so ≥ 0.2 from rounding alone)")
    if stats is not None:
        print(f"engine: {stats.cycles} cycles, {stats.late} late, {stats.xruns} xruns")
    if mqtt is not None:
        print(f"MQTT: {dict(getattr(mqtt, 'stats', {}))}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=15.0)
    ap.add_argument("--clients", default="10,100,500")
    ap.add_argument("--rate", type=float, default=PROBE_RATE, help="probe events a second")
    args = ap.parse_args()
    print(f"jackd dummy {SR} Hz, {PERIOD} frames a cycle; {os.cpu_count()} cores; "
          f"{OSC_DESTINATIONS} OSC destinations; MQTT to 127.0.0.1:1883", flush=True)
    asyncio.run(run(args.seconds, [int(x) for x in args.clients.split(",")], args.rate))


if __name__ == "__main__":
    main()
