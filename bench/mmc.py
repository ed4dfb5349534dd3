"""Driving a real recorder by MMC: how soon the answer comes, and where the pickup bar's downbeat lands.

Run: ``python bench/mmc.py [--runs 12] [--seed 1]``

A ``jackd -d dummy -r 48000 -p 256`` (asynchronous, as on a stage) runs a
headless Ardour 7 session (the timecode master, ``tests/peers/ardour.py``)
and stage's engine chasing it with ``[mmc]`` on; an independent JACK client
records Ardour's MTC and stage's click.  Each run is a pickup from a random
bar of the test sheet (``tests/sheets.py``): the command's answer (MMC Locate
to the pre-roll and Play, the chase locked where the master was sent) is
timed from the call to the answer, ``after`` is the report's own MMC-to-lock
time, and the pickup bar's downbeat note-on is compared with the sample
Ardour's quarter frames put that bar on.  Then a stop, also timed.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from peers.ardour import ardour_master, mtc_roll  # noqa: E402
from peers.jackd import jack_server, unique_name  # noqa: E402
from peers.recorder import MidiPeer  # noqa: E402
from peers.wait import until  # noqa: E402
from sheets import PICKUP  # noqa: E402

from stage.adapters.engine_drivers import open_driver  # noqa: E402
from stage.config import ClockConfig, Config, MidiConfig, MmcConfig  # noqa: E402
from stage.core import protocol as p  # noqa: E402
from stage.core.cuesheet import parse_cue_sheet  # noqa: E402
from stage.core.session import Role  # noqa: E402
from stage.runtime.commands import Controls  # noqa: E402
from stage.runtime.service import Service  # noqa: E402

SR = 48000
PREROLL = 0.5
ACCENT = 76


def pct(values: list[float], q: float) -> float:
    """The q-th percentile (nearest rank)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered) + 0.5) - 1))]


async def bench(runs: int, seed: int) -> None:
    sheet = parse_cue_sheet(PICKUP)
    cue = sheet.cue("1M1")
    assert cue.clicks is not None
    rng = random.Random(seed)
    answers, afters, stops, errors = [], [], [], []
    missed = unsteady = 0
    with jack_server(synchronous=False) as server, ardour_master(server, "24", device=1) as ardour, MidiPeer(
        unique_name("witness"), servername=server.name, inputs=("mtc", "click"), outputs=()
    ) as witness:
        witness.client.connect(ardour.mtc_out, witness.port("mtc"))
        config = Config(
            clock=ClockConfig(source="mtc", preroll=PREROLL),
            midi=MidiConfig(server=server.name, client=unique_name("stage"), mtc_out=False,
                            connect_mtc_in=[ardour.mtc_out], connect_click_out=[witness.port("click")]),
            mmc=MmcConfig(enabled=True, connect_out=[ardour.mmc_in], lock_timeout=10.0),
        )
        service = Service(config, sheet, open_driver=open_driver)
        await service.start()
        controls = Controls(service)
        try:
            service.arm("1M1")
            for _ in range(runs):
                bar = rng.randrange(3, 18)
                before = witness.frame0
                began = time.perf_counter()
                answer = await controls.run(p.Command(None, "play", {"pickup_bar": bar}), Role.CONDUCTOR)
                answers.append((time.perf_counter() - began) * 1000)
                afters.append(answer["master"]["after"] * 1000)
                downbeat = float(cue.downbeat + cue.clicks.time_of(bar))
                await until(lambda: service.position() > downbeat + 0.1, "the pickup bar", 15)  # noqa: B023
                roll = mtc_roll(witness.events("mtc"), before, SR)
                due = roll.sample_of(downbeat, SR)
                await asyncio.to_thread(witness.wait_until_frame, due + SR // 10)
                heard = [f - due for f, d in witness.events("click")
                         if abs(f - due) < SR // 10 and d[0] & 0xF0 == 0x90 and d[1] == ACCENT]
                if roll.steady_until < due:
                    unsteady += 1  # Ardour or the witness was late: its MTC measures nothing past there
                elif heard:
                    errors.append(heard[0])
                else:
                    missed += 1  # not there: the witness's own xruns lose input (counted below)
                began = time.perf_counter()
                await controls.run(p.Command(None, "stop", {}), Role.CONDUCTOR)
                stops.append((time.perf_counter() - began) * 1000)
                await asyncio.sleep(0.2)
        finally:
            await service.stop()
        xruns = witness.xruns
    print(f"MMC to headless Ardour 7, {runs} pickups from random bars (24 fps, 48 kHz, {PREROLL} s pre-roll)")
    for name, values, unit in (("answer to play (locate, play, lock)", answers, "ms"),
                               ("  of which MMC to lock (report's after)", afters, "ms"),
                               ("answer to stop (silence seen)", stops, "ms"),
                               ("pickup bar's downbeat − MTC's sample", [float(e) for e in errors], "samples")):
        print(f"{name:<42} p50 {statistics.median(values):8.1f}  p95 {pct(values, 95):8.1f}  "
              f"max {max(values, key=abs):8.1f} {unit}")
    print(f"downbeats not heard by the witness: {missed} (its xruns: {xruns}); rolls whose MTC was not steady "
          f"up to the downbeat, left out: {unsteady}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=12)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    asyncio.run(bench(args.runs, args.seed))


if __name__ == "__main__":
    main()
