"""Fan-out latency to 10, 100 and 500 WebSocket clients and 50 OSC destinations, MQTT on, click timing alongside.

The whole stage runs here as ``stage serve`` runs it (engine process with
JACK MIDI on a real ``jackd -d dummy``, uvicorn, the broadcaster, OSC, MQTT
to the machine's broker).  Probe events go on the bus 20 times a second (``--rate``) as
``beat`` events of a cue named ``probe`` whose ``time`` is the instant they
were published; every receiver (WebSocket clients, 125 to a process on one
epoll loop, and one process with 50 OSC sockets) subtracts it from the
instant it got the frame.  For the WebSocket clients that instant is by
default the kernel's receive timestamp of the frame (``--stamp kernel``,
SO_TIMESTAMPING): when the client's host had it, as a screen on its own
machine would.  ``--stamp read`` stamps each read instead, as the process
returns from epoll, which adds the clients' own wake-ups and turns on the
server's two cores.  Both sides read one clock (CLOCK_MONOTONIC; the
kernel's CLOCK_REALTIME stamps are moved onto it).

Meanwhile the engine clicks a long cue into a JACK witness in its own
process: inter-onset error in frames, as in ``bench/clicks.py``, per
condition, with no clients first as the reference.

Each client count runs three times on the one service: against ``stage
serve``'s HTTP server (frames encoded once and written straight to each
transport); as the reference, against uvicorn's stock WebSocket protocol
(one ``websocket.send`` and one task switch per client), which is what
every ASGI application gets; and as the floor, against a bare server whose
only work per event is a loop of ``os.write``, one per client, of the same
bytes, handed the event where the hub is: what this machine's kernel allows
one writer, with nothing of the hub's in it.

All receivers run on one core (``--receivers-cpu``, by default the last):
the machines they stand for have their own CPUs, so they should not take
turns with the stage on the core it runs on.  ``--receivers-cpu none``
lets them run anywhere.

    python bench/fanout.py [--seconds 15] [--clients 10,100,500] [--rate 20] [--stamp kernel|read]
                           [--receivers-cpu N|none] [--no-reference] [--no-floor]
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
import selectors
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
from peers.wait import until  # noqa: E402
from websockets.client import ClientProtocol  # noqa: E402
from websockets.frames import Frame, Opcode  # noqa: E402
from websockets.http11 import Request  # noqa: E402
from websockets.protocol import State  # noqa: E402
from websockets.server import ServerProtocol  # noqa: E402
from websockets.uri import parse_uri  # noqa: E402

from stage.adapters.engine_drivers import open_driver  # noqa: E402
from stage.adapters.server import bound_port, http_server  # noqa: E402
from stage.adapters.ws import WsHub, wire  # noqa: E402
from stage.app import start_broadcast  # noqa: E402
from stage.config import parse_config  # noqa: E402
from stage.core.cuesheet import parse_cue_sheet  # noqa: E402
from stage.runtime.service import Service  # noqa: E402

SR = 48000
PERIOD = 256
PROBE_RATE = 20.0  # probes a second (--rate)
OSC_DESTINATIONS = 50
CLIENTS_PER_PROCESS = 125
NICE = 10  # the receivers' niceness: the machines they stand for have their own CPUs
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


# Linux's receive timestamps (linux/net_tstamp.h): the kernel stamps each segment as it is received.
SO_TIMESTAMPING = 37
SOF_TIMESTAMPING_RX_SOFTWARE = 1 << 3
SOF_TIMESTAMPING_SOFTWARE = 1 << 4
DRAIN_EVERY = 0.002  # seconds between a kernel-stamping process's reads


def ws_clients_proc(port: int, n: int, stamp: str, cpu: int | None,
                    conn: multiprocessing.connection.Connection) -> None:
    """``n`` WebSocket clients on one epoll loop; sends back every probe's latency in seconds.

    Each client is websockets' sans-I/O client protocol on a plain socket;
    what comes in is parsed after the run, off the clock.  When a frame was
    received is, with ``stamp="kernel"``, the kernel's own receive timestamp
    (SO_TIMESTAMPING): the moment the client's host had it, which is what a
    screen on its own machine sees.  The process then reads every
    ``DRAIN_EVERY`` instead of sleeping on its sockets, so the server's sends
    do not also pay for waking 500 co-located readers and the readers' turn
    on the two cores does not count.  With ``stamp="read"`` the process
    sleeps in epoll and stamps each read as it returns: that adds the
    receivers' own wake-up and scheduling on the server's cores.  The clients
    run at a lower priority than the stage (``NICE``) and, unless ``cpu`` is
    None, on that core alone: the machines they stand for have their own CPUs.
    """
    socks: dict[int, tuple[socket.socket, ClientProtocol]] = {}
    sel = selectors.DefaultSelector()
    for _ in range(n):
        sock = socket.create_connection(("127.0.0.1", port))
        proto = ClientProtocol(parse_uri(f"ws://127.0.0.1:{port}/ws"), max_size=2**20)
        proto.send_request(proto.connect())
        sock.sendall(b"".join(proto.data_to_send()))
        while not proto.handshake_exc and proto.state is not State.OPEN:
            proto.receive_data(sock.recv(65536))
        proto.events_received()  # the 101 response
        proto.send_text(json.dumps({"type": "hello", "role": "musician", "topics": ["beat"]}).encode())
        sock.sendall(b"".join(proto.data_to_send()))
        sock.setblocking(False)  # noqa: FBT003
        if stamp == "kernel":
            sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPING,
                            SOF_TIMESTAMPING_RX_SOFTWARE | SOF_TIMESTAMPING_SOFTWARE)
        sel.register(sock, selectors.EVENT_READ)
        socks[sock.fileno()] = (sock, proto)
    keep_to(cpu)
    chunks: list[tuple[float, int, bytes]] = []  # (received at, socket, bytes): parsed after the run
    conn.send("ready")
    while not conn.poll():
        if stamp == "kernel":
            time.sleep(DRAIN_EVERY)
            realtime_offset = time.clock_gettime(time.CLOCK_REALTIME) - time.monotonic()
            for key, _ in sel.select(0):
                sock = socks[key.fd][0]
                while (got := kernel_stamped_frame(sock)) is not None:
                    data, stamped = got
                    chunks.append((stamped - realtime_offset, key.fd, data))
            continue
        for key, _ in sel.select(0.05):
            now = time.monotonic()
            try:
                chunks.append((now, key.fd, socks[key.fd][0].recv(1 << 16)))
            except BlockingIOError:
                continue
    latencies: list[float] = []
    for now, fd, data in chunks:
        proto = socks[fd][1]
        proto.receive_data(data)
        for ev in proto.events_received():
            if isinstance(ev, Frame) and ev.opcode is Opcode.TEXT and b'"probe"' in ev.data:
                msg = json.loads(bytes(ev.data))
                if msg.get("type") == "event" and msg["data"].get("cue") == "probe":
                    latencies.append(now - msg["data"]["time"])
    conn.recv()  # stop
    for sock, _ in socks.values():
        sock.close()
    conn.send(latencies)


def kernel_stamped_frame(sock: socket.socket) -> tuple[bytes, float] | None:
    """The next whole server frame waiting on ``sock`` and the kernel's CLOCK_REALTIME stamp of its arrival.

    Exactly one frame is read, so the stamp (that of the last segment a read
    takes) is this frame's own.  None when no whole frame is waiting.  Two
    frames that arrived before a read may have been merged into one segment
    by the kernel, which keeps the later stamp: that can only make a
    latency look longer, never shorter.
    """
    try:
        head = sock.recv(10, socket.MSG_PEEK)
    except BlockingIOError:
        return None
    if len(head) < 2:
        return None
    n = head[1] & 0x7F
    header = 2 + {126: 2, 127: 8}.get(n, 0)
    size = header + (n if n < 126 else int.from_bytes(head[2:header], "big"))
    if len(head) < header or len(sock.recv(size, socket.MSG_PEEK)) < size:
        return None
    data, ancillary, _, _ = sock.recvmsg(size, 256)
    return data, realtime_stamp(ancillary)


def realtime_stamp(ancillary: list[tuple[int, int, bytes]]) -> float:
    """The kernel's software receive timestamp (CLOCK_REALTIME, seconds) in a message's ancillary data."""
    for level, kind, raw in ancillary:  # software stamp: the first of three timespecs
        if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPING:
            sec, nsec = struct.unpack("qq", raw[:16])
            return float(sec + nsec * 1e-9)
    msg = "no receive timestamp: SO_TIMESTAMPING is not on"
    raise RuntimeError(msg)


def keep_to(cpu: int | None) -> None:
    """Run this receiving process niced, and on core ``cpu`` alone unless it is None."""
    os.nice(NICE)
    if cpu is not None:
        os.sched_setaffinity(0, {cpu})


def osc_receivers_proc(ports: list[int], cpu: int | None, conn: multiprocessing.connection.Connection) -> None:
    """One UDP socket per destination; sends back every probe's latency in seconds, on "collect" and "stop".

    A datagram counts as received at the kernel's receive timestamp for it
    (SO_TIMESTAMPING, as the WebSocket clients), read every ``DRAIN_EVERY``.
    """
    keep_to(cpu)
    socks = []
    for port in ports:
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.bind(("127.0.0.1", port))
        sock.setblocking(False)  # noqa: FBT003
        sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPING, SOF_TIMESTAMPING_RX_SOFTWARE | SOF_TIMESTAMPING_SOFTWARE)
        socks.append(sock)
    latencies: list[float] = []
    conn.send("ready")
    while True:
        if conn.poll():
            cmd = conn.recv()
            conn.send(list(latencies))  # "collect": what came since the last one
            latencies.clear()
            if cmd == "stop":
                break
        time.sleep(DRAIN_EVERY)
        realtime_offset = time.clock_gettime(time.CLOCK_REALTIME) - time.monotonic()
        for sock in socks:
            while True:
                try:
                    data, ancillary, _, _ = sock.recvmsg(4096, 256)
                except BlockingIOError:
                    break
                # /stage/beat ,siisd "probe" …: the server time is the last argument, a big-endian double.
                if data.startswith(b"/stage/beat\x00") and b"probe\x00" in data:
                    stamped = realtime_stamp(ancillary) - realtime_offset
                    latencies.append(stamped - struct.unpack(">d", data[-8:])[0])
    for sock in socks:
        sock.close()


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


def payload(frame: bytes) -> bytes:
    """The payload of one unmasked server frame."""
    n = frame[1] & 0x7F
    return frame[2 + {126: 2, 127: 8}.get(n, 0):]


def click_errors(frames: list[int]) -> list[float]:
    exact = 60 / TEMPO * SR
    return [abs((b - a) - exact) for a, b in itertools.pairwise(frames)]


class BareFanout:
    """The floor: a WebSocket server whose whole work per event is one ``os.write`` of the same bytes per client.

    websockets' sans-I/O server protocol does each handshake; what clients
    send afterwards is read and thrown away.  As a sink of the broadcaster it
    gets each event where the hub does, and writes ``beat`` events (the
    probes) to every client in a bare loop: no choosing, no checks, no queue.
    """

    def __init__(self) -> None:
        self.fds: list[int] = []
        self.loop_times: list[float] = []
        self.server: asyncio.Server | None = None

    async def start(self) -> int:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return int(self.server.sockets[0].getsockname()[1])

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        proto = ServerProtocol(max_size=2**20)
        while not (requests := [ev for ev in proto.events_received() if isinstance(ev, Request)]):
            data = await reader.read(65536)
            if not data:
                return
            proto.receive_data(data)
        proto.send_response(proto.accept(requests[0]))
        writer.write(b"".join(proto.data_to_send()))
        sock = writer.get_extra_info("socket")
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        fd = sock.fileno()
        self.fds.append(fd)
        try:
            while await reader.read(65536):
                pass
        except ConnectionError:
            pass
        finally:
            self.fds.remove(fd)
            writer.close()

    def offer(self, out: Any) -> None:
        if out.topic.value != "beat" or not self.fds:
            return
        t0 = time.perf_counter()
        frame = wire(out.frame)
        write = os.write
        for fd in self.fds:
            try:  # noqa: SIM105 -- a context manager a write would weigh on the floor
                write(fd, frame)
            except OSError:  # a client already gone (between conditions); its reader ends it
                pass
        if out.data.get("cue") == "probe":
            self.loop_times.append(time.perf_counter() - t0)

    async def close(self) -> None:
        if self.server is not None:
            self.server.close()


async def run(seconds: float, counts: list[int], rate: float, stamp: str, cpu: int | None, *,
              reference: bool, floor: bool) -> None:
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
        service = Service(config, parse_cue_sheet(SHEET), open_driver=open_driver)
        await service.start()
        app = FastAPI()
        broadcaster = await start_broadcast(service, app, None)
        # Both servers on the one app and hub: `stage serve`'s (frames written once, straight to each
        # transport) and, as the reference in the same run, uvicorn's stock protocol (websocket.send per client).
        servers = {"stage": http_server(app, "127.0.0.1", 0, log_level="warning")}
        if reference:
            servers["asgi"] = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, lifespan="off",
                                                            log_level="warning", ws_per_message_deflate=False))
        serving = [asyncio.create_task(srv.serve()) for srv in servers.values()]
        while not all(srv.started for srv in servers.values()):  # noqa: ASYNC110 -- uvicorn offers a flag
            await asyncio.sleep(0.05)
        ports = {kind: bound_port(srv) for kind, srv in servers.items()}
        bare = BareFanout()
        if floor:
            ports["floor"] = await bare.start()

        dispatched: list[float] = []
        sent_log: list[tuple[float, str | bytes]] = []  # (when, frame) per copy handed to a socket; decoded later

        class _Tap:  # when the broadcaster hands a probe to the sinks: the server's own share of the latency
            def offer(self, out: Any) -> None:
                if out.data.get("cue") == "probe":
                    dispatched.append(time.monotonic() - out.data["time"])

        def on_sent(_client: int, frame: str | bytes) -> None:  # the frame is in the client's socket
            sent_log.append((time.monotonic(), frame))

        def written() -> list[float]:
            """Publish → copy written, per copy of a probe, from what on_sent logged."""
            sent_at: dict[int, float] = {}
            out = []
            for when, frame in sent_log:
                if id(frame) not in sent_at:
                    text = frame if isinstance(frame, str) else payload(frame)
                    msg = json.loads(text)
                    is_probe = msg.get("type") == "event" and msg["data"].get("cue") == "probe"
                    sent_at[id(frame)] = msg["data"]["time"] if is_probe else math.nan
                if not math.isnan(sent_at[id(frame)]):
                    out.append(when - sent_at[id(frame)])
            return out

        broadcaster.sinks.insert(0, _Tap())
        hub = next(s for s in broadcaster.sinks if isinstance(s, WsHub))
        hub.on_sent = on_sent
        fanout_loop: list[float] = []  # how long the hub's offer of one probe takes: its loop over every client
        offer = hub.offer

        def timed_offer(out: Any) -> None:
            t0 = time.perf_counter()
            offer(out)
            if out.data.get("cue") == "probe":
                fanout_loop.append(time.perf_counter() - t0)

        hub.offer = timed_offer  # type: ignore[method-assign]
        broadcaster.sinks.insert(broadcaster.sinks.index(hub) + 1, bare)  # handed each event right after the hub
        osc_conn, osc_child = ctx.Pipe()
        osc_proc = ctx.Process(target=osc_receivers_proc, args=(osc_ports, cpu, osc_child), daemon=True)
        osc_proc.start()
        assert osc_conn.recv() == "ready"

        service.arm("9M1")
        service.locate(1.0)
        service.play()
        await asyncio.sleep(1.5)

        loop = asyncio.get_running_loop()
        rows = []
        conditions = [("-", 0)] + [(kind, n) for kind in ports for n in counts]

        def connected() -> int:
            return len(bare.fds) if kind == "floor" else len(hub.clients)

        for kind, n in conditions:
            procs = []
            for k in range(0, n, CLIENTS_PER_PROCESS):
                a, b = ctx.Pipe()
                proc = ctx.Process(target=ws_clients_proc,
                                   args=(ports[kind], min(CLIENTS_PER_PROCESS, n - k), stamp, cpu, b),
                                   daemon=True)
                proc.start()
                procs.append((proc, a))
            for _, a in procs:
                await loop.run_in_executor(None, a.recv)
            await until(lambda: connected() == n, what=f"{n} clients", seconds=30)  # noqa: B023
            await asyncio.sleep(1.0)
            rec_conn.send("mark")
            first_click = rec_conn.recv()
            osc_conn.send("collect")
            await loop.run_in_executor(None, osc_conn.recv)  # what came before this condition

            dispatched.clear()
            sent_log.clear()
            fanout_loop.clear()
            bare.loop_times.clear()
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
            rows.append((kind, n, i, ws_lat, osc_lat, (first_click, last_click), list(dispatched), written(),
                         list(bare.loop_times if kind == "floor" else fanout_loop)))
            sent_log.clear()
            await until(lambda: not connected(), what="clients gone", seconds=30)
            print(f"  {kind} {n} clients: {i} probes, {len(ws_lat)} WS receipts, {len(osc_lat)} OSC receipts",
                  flush=True)

        rec_conn.send("frames")
        frames = rec_conn.recv()
        recorder.join()
        osc_conn.send("stop")
        osc_conn.recv()
        osc_proc.join(timeout=1)
        stats = service.stats
        mqtt = next((s for s in broadcaster.sinks if type(s).__name__ == "MqttLink"), None)
        service.stop_transport()
        for srv in servers.values():
            srv.should_exit = True
        await asyncio.gather(*serving)
        await bare.close()
        await broadcaster.close()
        await service.stop()
        for t in ("online", "transport", "sync", "cue", "session", "take", "clients"):
            proc2 = await asyncio.create_subprocess_exec("mosquitto_pub", "-r", "-n", "-t", f"stage/{name}/state/{t}")
            await proc2.wait()

    ms = 1000
    server_rows: list[tuple[str, int, list[float], list[float], list[float]]] = []
    p99s: dict[tuple[str, int], float] = {}
    print(f"\nfan-out: {rate:g} probe events/s for {seconds:.0f} s per condition; latency = receipt − publish, ms")
    print("server: stage = frames encoded once, written straight to each transport (as `stage serve` runs);"
          " asgi = uvicorn's stock protocol, websocket.send per client (the reference);"
          " floor = a bare loop of os.write, one per client, where the hub is (this machine's limit for one writer)")
    print("receivers: " + (f"on core {cpu} alone" if cpu is not None else "on any core") + f", niced {NICE}")
    print(f"{'server':>6} {'WS clients':>10} {'WS p50':>8} {'WS p99':>8} {'WS max':>8} {'recv':>11} "
          f"{'OSC×50 p50':>11} {'p99':>7} {'max':>7} {'recv':>6} | {'click err p50':>13} {'p99':>6} {'max':>6} n")
    for kind, n, probes, ws_lat, osc_lat, (a, b), disp, wrote, loop_t in rows:
        errs = click_errors(frames[a:b])
        ws_cols = (f"{pct(ws_lat, .5) * ms:8.2f} {pct(ws_lat, .99) * ms:8.2f} {max(ws_lat, default=math.nan) * ms:8.2f}"
                   if ws_lat else f"{'-':>8} {'-':>8} {'-':>8}")
        p99s[kind, n] = pct(ws_lat, .99)
        got = f"{len(ws_lat)}/{probes * n}"
        print(f"{kind:>6} {n:>10} {ws_cols} {got:>11} "
              f"{pct(osc_lat, .5) * ms:11.2f} {pct(osc_lat, .99) * ms:7.2f} {max(osc_lat, default=math.nan) * ms:7.2f} "
              f"{len(osc_lat) // OSC_DESTINATIONS:>6} | "
              f"{statistics.median(errs) if errs else math.nan:13.2f} {pct(errs, .99):6.2f} "
              f"{max(errs, default=math.nan):6.2f} {len(errs)}")
        server_rows.append((kind, n, disp, wrote, loop_t))
    for other in ("asgi", "floor"):
        ratios = [f"{n}: {p99s[other, n] / p99s['stage', n]:.2f}" for n in counts if (other, n) in p99s]
        if ratios:
            print(f"WS p99, {other} / stage: " + ", ".join(ratios))
    print("\nthe server's share, ms: bus → sinks (dispatch); the hub's offer of one event to every client (loop);"
          " bus → copy written to the client's socket (stage: the end of the one pass that writes them all;"
          " floor: not logged)")
    print(f"{'server':>6} {'WS clients':>10} {'dispatch p50':>12} {'p99':>6} {'loop p50':>9} {'p99':>6} "
          f"{'written p50':>12} {'p99':>7} {'max':>7}")
    for kind, n, disp, wrote, loop_t in server_rows:
        print(f"{kind:>6} {n:>10} {pct(disp, .5) * ms:12.2f} {pct(disp, .99) * ms:6.2f} "
              f"{pct(loop_t, .5) * ms:9.2f} {pct(loop_t, .99) * ms:6.2f} {pct(wrote, .5) * ms:12.2f} "
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
    ap.add_argument("--no-reference", action="store_true", help="skip the stock-ASGI reference server")
    ap.add_argument("--no-floor", action="store_true", help="skip the bare os.write loop")
    ap.add_argument("--receivers-cpu", default=str((os.cpu_count() or 1) - 1),
                    help="the one core every receiver runs on, or 'none' for any (default: the last)")
    ap.add_argument("--stamp", choices=("kernel", "read"), default="kernel",
                    help="when a WebSocket frame counts as received: the kernel's receive timestamp, or the read")
    args = ap.parse_args()
    print(f"jackd dummy {SR} Hz, {PERIOD} frames a cycle; {os.cpu_count()} cores; "
          f"{OSC_DESTINATIONS} OSC destinations; MQTT to 127.0.0.1:1883", flush=True)
    counts = [int(x) for x in args.clients.split(",")]
    cpu = None if args.receivers_cpu == "none" else int(args.receivers_cpu)
    asyncio.run(run(args.seconds, counts, args.rate, args.stamp, cpu, reference=not args.no_reference,
                    floor=not args.no_floor))


if __name__ == "__main__":
    main()
