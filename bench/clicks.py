"""Click and MTC timing as another JACK client receives them, in JACK frames.

Runs a real ``jackd -d dummy -r 48000 -p 256`` and, in the same run, sends the
same clicks three ways, each recorded by an independent JACK client:

- ``stage``: the engine process (each click and quarter frame written at its frame offset), and its
  audio click on ``<client>:click_audio`` (each sound's onset found in the recorded audio);
- ``rtmidi thread``: python-rtmidi's JACK backend driven by a thread sleeping until each deadline;
- ``rtmidi call_at``: python-rtmidi driven by a plain asyncio ``loop.call_at`` loop.

Inter-onset error = received interval − exact interval (from the schedule), in
frames; for the audio click also its onset − the MIDI note-on of the same
click.  Each condition runs ``--seconds`` (default 180): idle, then with the
other core busy (a CPU-bound process). Then the MTC chase: a peer plays a
quarter-frame stream at +0.1 %, the engine chases it, and each click is
compared with the frame where the true stream reaches it.

    python bench/clicks.py [--seconds 180] [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import itertools
import multiprocessing
import multiprocessing.connection
import multiprocessing.synchronize
import os
import statistics
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

import rtmidi  # noqa: E402
from peers.jackd import jack_server, unique_name  # noqa: E402
from peers.recorder import MidiPeer, audio_onsets  # noqa: E402

from stage.adapters.engine_drivers import open_driver  # noqa: E402
from stage.core.cuesheet import parse_cue_sheet  # noqa: E402
from stage.core.mtc import quarter_frame_message  # noqa: E402
from stage.core.timecode import RATES  # noqa: E402
from stage.runtime import messages as m  # noqa: E402
from stage.runtime.engine import EngineHandle  # noqa: E402
from stage.runtime.enginecore import EngineSettings  # noqa: E402
from stage.runtime.service import cue_clicks  # noqa: E402

SR = 48000
PERIOD = 256

# A long cue with tempos that do not fall on whole samples, a meter change and a ramp.
SHEET = """
[picture]
rate = "24"
[[cue]]
id = "9M1"
start = "01:00:00:00"
tempo = 117.55
meter = "4/4"
bars = 400
countoff = 0
[[cue.change]]
bar = 20
tempo = "14-3"
meter = "7/8"
click = "8"
[[cue.change]]
bar = 40
tempo = 96
meter = "3/4"
ramp = 6
"""


def percentiles(values: list[float]) -> tuple[float, float, float, int]:
    if not values:
        return float("nan"), float("nan"), float("nan"), 0
    s = sorted(values)
    p99 = s[min(len(s) - 1, int(0.99 * len(s)))]
    return statistics.median(s), p99, s[-1], len(s)


def match(frames: list[int], exact: list[float]) -> tuple[list[tuple[int, float]], list[float]]:
    """Pair each received frame with its expected one on the grid fitted to the whole run.

    The grid is ``offset + (exact − exact[0]) × SR``, the offset the median
    difference over the first events; each received event takes the nearest
    grid point, so a missing or extra event never shifts the others.
    Returns the pairs and the grid.
    """
    if not frames or not exact:
        return [], []
    rel = [(e - exact[0]) * SR for e in exact]
    offset = statistics.median(f - r for f, r in zip(frames[:20], rel[:20], strict=False))
    grid = [offset + r for r in rel]
    pairs = []
    for f in frames:
        i = bisect.bisect_left(grid, f)
        best = min((j for j in (i - 1, i) if 0 <= j < len(grid)), key=lambda j: abs(f - grid[j]))
        pairs.append((f, grid[best]))
    return pairs, grid


def inter_onset_errors(frames: list[int], exact: list[float]) -> list[float]:
    """|received interval − exact interval| between consecutive received events, each matched to its expected one."""
    pairs, _ = match(frames, exact)
    return [abs((f2 - f1) - (g2 - g1)) for (f1, g1), (f2, g2) in itertools.pairwise(pairs)]


def missing(frames: list[int], exact: list[float]) -> int:
    """Expected events between the first and the last one received that never arrived."""
    pairs, grid = match(frames, exact)
    if not pairs:
        return 0
    hit = {g for _, g in pairs}
    lo, hi = min(hit), max(hit)
    return sum(1 for g in grid if lo <= g <= hi and g not in hit)


def burn(stop: multiprocessing.synchronize.Event) -> None:
    x = 0
    while not stop.is_set():
        for _ in range(100000):
            x += 1


def rtmidi_out(name: str, server: str) -> rtmidi.MidiOut:
    os.environ["JACK_DEFAULT_SERVER"] = server
    out = rtmidi.MidiOut(rtmidi.API_UNIX_JACK, name=name)
    out.open_virtual_port("out")
    return out


def thread_sender(out: rtmidi.MidiOut, times: list[float], t0: float, data: list[int], stop: threading.Event) -> None:
    for t in times:
        delay = t0 + t - time.monotonic()
        if delay > 0 and stop.wait(delay):
            return
        out.send_message(data)


async def call_at_sender(out: rtmidi.MidiOut, times: list[float], t0: float, data: list[int]) -> None:
    loop = asyncio.get_running_loop()
    done: asyncio.Future[None] = loop.create_future()
    offset = loop.time() - time.monotonic()
    def fire(last: bool) -> None:
        out.send_message(data)
        if last:
            done.set_result(None)

    for i, t in enumerate(times):
        loop.call_at(t0 + t + offset, fire, i == len(times) - 1)
    await done


def recorder_proc(
    server_name: str, name: str, inputs: tuple[str, ...], conn: multiprocessing.connection.Connection
) -> None:
    """The witness, alone in its process so no other Python thread can hold its GIL."""
    with MidiPeer(name, servername=server_name, inputs=inputs, outputs=(), audio_inputs=("stage_audio",)) as rec:
        conn.send("ready")
        conn.recv()  # stop
        conn.send({p: rec.events(p) for p in inputs})
        conn.send(audio_onsets(rec.audio["stage_audio"]))


def senders_proc(server_name: str, targets: tuple[str, str], rel: list[float], start_in: float,
                 conn: multiprocessing.connection.Connection) -> None:
    """The two rtmidi reference senders, in their own process."""
    import jack  # noqa: PLC0415

    n1, n2 = unique_name("rt-thread"), unique_name("rt-callat")
    rt1, rt2 = rtmidi_out(n1, server_name), rtmidi_out(n2, server_name)
    helper = jack.Client(unique_name("bench-connect"), no_start_server=True, servername=server_name)
    for client, target in ((n1, targets[0]), (n2, targets[1])):
        (src,) = helper.get_ports(f"{client}:.*", is_midi=True, is_output=True)
        helper.connect(src, target)
    helper.close()
    conn.send("ready")
    t0 = conn.recv() + start_in  # monotonic time of the roll, sent by the parent
    stop = threading.Event()
    th = threading.Thread(target=thread_sender, args=(rt1, rel, t0, [0x99, 76, 100], stop), daemon=True)
    th.start()
    asyncio.run(call_at_sender(rt2, rel, t0, [0x99, 76, 100]))
    th.join()
    rt1.close_port()
    rt2.close_port()
    conn.send("done")


def run_condition(server_name: str, seconds: float, busy: bool) -> dict[str, tuple[float, float, float, int]]:
    sheet = parse_cue_sheet(SHEET)
    cue = sheet.cue("9M1")
    clicks = cue_clicks(cue)
    stop_burn = multiprocessing.Event()
    burner = multiprocessing.Process(target=burn, args=(stop_burn,), daemon=True) if busy else None
    if burner:
        burner.start()
    inputs = ("stage_click", "stage_mtc", "rt_thread", "rt_callat")
    ctx = multiprocessing.get_context("spawn")
    rec_name = unique_name("bench-rec")
    rec_conn, rec_child = ctx.Pipe()
    recorder = ctx.Process(target=recorder_proc, args=(server_name, rec_name, inputs, rec_child), daemon=True)
    recorder.start()
    assert rec_conn.recv() == "ready"

    def port(short: str) -> str:
        return f"{rec_name}:{short}"

    rel = [c.p - float(cue.downbeat) for c in clicks if c.p - float(cue.downbeat) < seconds]
    snd_conn, snd_child = ctx.Pipe()
    senders = ctx.Process(target=senders_proc, args=(server_name, (port("rt_thread"), port("rt_callat")), rel,
                                                      0.25, snd_child), daemon=True)
    senders.start()
    assert snd_conn.recv() == "ready"
    stats: list[m.Event] = []
    settings = EngineSettings(
        midi=True, server=server_name, client=unique_name("stage"), rate="24", mtc_master=True,
        connect=(("click_out", port("stage_click")), ("mtc_out", port("stage_mtc")),
                 ("click_audio", port("stage_audio"))),
    )
    engine = EngineHandle(
        settings, lambda ev: stats.append(ev) if isinstance(ev, m.EngineStats) else None, open_driver=open_driver
    )
    engine.start()
    engine.send(m.LoadClicks(tuple(clicks)))
    p_start = float(cue.downbeat) - 0.25
    engine.send(m.Locate(p_start))
    time.sleep(0.3)
    engine.send(m.Play())
    snd_conn.send(time.monotonic())  # the rtmidi senders start at the same picture position
    assert snd_conn.recv() == "done"
    time.sleep(0.5)
    engine.send(m.Stop())
    time.sleep(1.2)
    last = stats[-1] if stats else None
    engine.close()
    rec_conn.send("stop")
    events = rec_conn.recv()
    audio = rec_conn.recv()
    recorder.join(timeout=5)
    senders.join(timeout=5)
    got = {p: [f for f, d in events[p] if d[0] & 0xF0 == 0x90 or d[0] == 0xF1] for p in inputs}
    stop_burn.set()
    if burner:
        burner.join(timeout=2)
    exact_clicks = [c.p for c in clicks]
    stage_ons = got["stage_click"]
    exact_qf = [q / 96 for q in range(len(got["stage_mtc"]) + 96)]
    on_midi = set(stage_ons)
    near = [min(stage_ons, key=lambda f: abs(f - a)) for a in audio] if stage_ons else []
    vs_midi = [abs(a - f) for a, f in zip(audio, near, strict=True)]
    lost = {
        "stage click": missing(stage_ons, exact_clicks),
        "stage audio click": missing(audio, exact_clicks),
        "stage MTC quarter frame": missing(got["stage_mtc"], exact_qf),
        "rtmidi thread click": missing(got["rt_thread"], exact_clicks),
        "rtmidi call_at click": missing(got["rt_callat"], exact_clicks),
    }
    return {
        "stage click": percentiles(inter_onset_errors(stage_ons, exact_clicks)),
        "stage audio click": percentiles(inter_onset_errors(audio, exact_clicks)),
        "stage MTC quarter frame": percentiles(inter_onset_errors(got["stage_mtc"], exact_qf)),
        "rtmidi thread click": percentiles(inter_onset_errors(got["rt_thread"], exact_clicks)),
        "rtmidi call_at click": percentiles(inter_onset_errors(got["rt_callat"], exact_clicks)),
        "_lost": tuple(lost.values()),  # type: ignore[dict-item]
        "_audio": (*percentiles([float(e) for e in vs_midi])[:3], len(on_midi - set(audio))),
        "_late": (last.late if isinstance(last, m.EngineStats) else -1,
                  last.xruns if isinstance(last, m.EngineStats) else -1, 0, 0),
    }


def run_chase(server_name: str, seconds: float) -> tuple[tuple[float, float, float, int], float]:
    """Click error against a true MTC stream at +0.1 %, and lock time in quarter frames."""
    rate = RATES["24"]
    speed = 1.001
    cue = parse_cue_sheet(SHEET).cue("9M1")
    clicks = cue_clicks(cue)
    syncs: list[tuple[float, m.Event]] = []
    with (
        MidiPeer(unique_name("bench-src"), servername=server_name, inputs=(), outputs=("mtc",)) as src,
        MidiPeer(unique_name("bench-rec"), servername=server_name, inputs=("click",), outputs=()) as rec,
    ):
        settings = EngineSettings(
            midi=True, server=server_name, client=unique_name("stage"), rate="24", source="mtc",
            connect=(("click_out", rec.port("click")), ("mtc_in", src.port("mtc"))),
        )
        engine = EngineHandle(settings, lambda ev: syncs.append((time.monotonic(), ev)), open_driver=open_driver)
        engine.start()
        engine.send(m.LoadClicks(tuple(clicks)))
        time.sleep(0.3)
        p_start = float(cue.downbeat) - 1.0
        q_first = int(p_start * 96) + 1
        f_start = src.current_frame() + SR // 2
        n_qf = int((seconds + 1.0) * 96)

        def frame_at(p: float) -> float:
            return f_start + (p - p_start) / speed * SR

        stream = [(round(frame_at(q / 96)), quarter_frame_message(q, rate)) for q in range(q_first, q_first + n_qf)]
        # feed the stream a few seconds at a time: the peer's queue stays small
        for i in range(0, len(stream), 960):
            src.schedule("mtc", stream[i : i + 960])
            src.wait_until_frame(stream[min(i + 480, len(stream) - 1)][0], timeout=seconds + 30)
        src.wait_until_frame(stream[-1][0] + SR, timeout=60)
        engine.close()
        ons = [f for f, d in rec.events("click") if d[0] & 0xF0 == 0x90]
    p_end = (q_first + n_qf - 1) / 96
    errors = []
    for c in clicks:
        if p_start + 0.5 <= c.p < p_end:
            f_true = frame_at(c.p)
            near = min(ons, key=lambda f: abs(f - f_true), default=None)
            if near is not None and abs(near - f_true) < SR * 0.05:
                errors.append(abs(near - f_true) / SR * 1000)
    locked = [ev for _, ev in syncs if isinstance(ev, m.SyncStatus) and ev.locked]
    lock_qf = locked[0].quarter_frames if locked else float("nan")
    return percentiles(errors), lock_qf


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=180.0)
    ap.add_argument("--quick", action="store_true", help="20 s per condition")
    args = ap.parse_args()
    seconds = 20.0 if args.quick else args.seconds
    print(f"jackd dummy, {SR} Hz, {PERIOD} frames a cycle ({PERIOD / SR * 1000:.2f} ms); {seconds:.0f} s per condition")
    with jack_server(samplerate=SR, period=PERIOD) as server:
        for busy in (False, True):
            res = run_condition(server.name, seconds, busy)
            late, xruns = res.pop("_late")[:2]
            lost = res.pop("_lost")
            a50, a99, amax, unheard = res.pop("_audio")
            print(f"\n{'other core busy' if busy else 'idle'}: inter-onset error in JACK frames (1 frame = 20.8 µs)")
            print(f"  {'sender':28s} {'p50':>8s} {'p99':>8s} {'max':>8s} {'n':>6s} {'missing':>8s}")
            for (name, (p50, p99, mx, n)), gone in zip(res.items(), lost, strict=True):
                print(f"  {name:28s} {p50:8.2f} {p99:8.2f} {mx:8.2f} {n:6d} {gone:8d}")
            ref = res["rtmidi thread click"][1]
            ours = res["stage click"][1]
            print(f"  audio click onset − MIDI note-on (frames): p50 {a50:.0f}  p99 {a99:.0f}  max {amax:.0f};"
                  f"  note-ons without a sound on their sample: {unheard}")
            print(f"  stage messages late for their cycle: {late}; xruns seen by the engine: {xruns}")
            print(f"  p99 ratio rtmidi-thread / stage: {ref / max(ours, 0.5):.0f}× (stage p99 floored at 0.5 frame)")
        (p50, p99, mx, n), lock_qf = run_chase(server.name, seconds)
        print("\nMTC chase at +0.1 % through JACK: click position error against the true stream (ms)")
        print(f"  p50 {p50:.4f}  p99 {p99:.4f}  max {mx:.4f}  n {n};  locked after {lock_qf} quarter frames")


if __name__ == "__main__":
    main()
