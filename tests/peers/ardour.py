"""Ardour 7 (Debian's), headless, as a scoring stage's recorder: the timecode master that obeys MMC and sends MTC.

``ardour7-lua`` is Ardour's Lua session tool: the whole engine, no GUI.  The
script below creates a session in a temporary folder on the test's own
jackd, sets its timecode to the picture's rate, turns MTC out and MMC
control on, says ``ready`` and idles until it is stopped.  Its JACK client
then has ``<name>:MMC in`` (it locates, plays, stops on MMC addressed to its
device id, 127 by default, or to all devices) and ``<name>:MTC out`` (a full
frame on every locate and start, quarter frames while it rolls, each on its
sample).  Measured here: it comes up in about 3 s on an idle host (5-12 s
at load 20-30), answers a Locate with a full frame within a period or two,
and starts its quarter frames ~30 ms after a Play.

A missing ``ardour7-lua`` fails the test, naming the package.
"""

from __future__ import annotations

import contextlib
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from peers.jackd import JackServer, require, unique_name

# Ardour's Lua names for the timecode formats its MTC can carry.
FORMATS = {"24": "TC24", "25": "TC25", "30": "TC30"}

SCRIPT = """
AudioEngine:set_backend("JACK", "{name}", "")
local s = create_session("{folder}", "master", {samplerate})
assert(s, "no session")
Session:cfg():set_timecode_format(Timecode.TimecodeFormat.{format})
ARDOUR.config():set_send_mtc(true)
ARDOUR.config():set_mmc_control(true)
ARDOUR.config():set_mmc_receive_device_id({device})
print("ready")
io.stdout:flush()
while true do ARDOUR.LuaAPI.usleep(100000) end
"""


@dataclass
class Ardour:
    """A running headless Ardour session."""

    name: str
    process: subprocess.Popen[bytes]
    log_path: Path

    def port(self, short: str) -> str:
        """A port of its JACK client by its short name (``MMC in``, ``MTC out``)."""
        return f"{self.name}:{short}"

    @property
    def mmc_in(self) -> str:
        """Where MMC for it goes."""
        return self.port("MMC in")

    @property
    def mtc_out(self) -> str:
        """Where its MTC comes from."""
        return self.port("MTC out")

    def log(self) -> str:
        """What it printed."""
        return self.log_path.read_text(errors="replace")

    def check(self) -> None:
        """Fail with what it printed if it is no longer running (JACK may have shut it out: ``-X`` ends it then)."""
        if self.process.poll() is not None:
            raise RuntimeError(f"ardour7-lua exited with {self.process.returncode}:\n{self.log()}")


START_ATTEMPTS = 3
"""Starts tried before giving up: about one start in eight, jackd 1.9.21 drops Ardour's connection while it
registers ("Could not read result type = 13 … JACK server has been closed") and Ardour exits; the next start
works."""


@contextlib.contextmanager
def ardour_master(
    server: JackServer, rate: str = "24", *, device: int = 127, start_timeout: float = 60.0
) -> Iterator[Ardour]:
    """Run a headless Ardour session on ``server`` with its timecode at ``rate`` until the block ends."""
    exe = require("ardour7-lua", "ardour")
    with tempfile.TemporaryDirectory(prefix="ardour-") as tmp:
        ardour = None
        for attempt in range(START_ATTEMPTS):
            ardour = _start(exe, server, Path(tmp) / str(attempt), rate, device)
            try:
                _wait_ready(ardour, start_timeout)
                break
            except RuntimeError:
                _stop(ardour.process)
                if attempt + 1 == START_ATTEMPTS or "JACK server has been closed" not in ardour.log():
                    raise
        assert ardour is not None
        try:
            yield ardour
        finally:
            _stop(ardour.process)


def _start(exe: str, server: JackServer, folder: Path, rate: str, device: int) -> Ardour:
    folder.mkdir()
    name = unique_name("ardour")
    script = folder / "master.lua"
    script.write_text(SCRIPT.format(name=name, folder=folder / "session", samplerate=server.samplerate,
                                    format=FORMATS[rate], device=device))
    log_path = folder / "ardour.log"
    env = {**server.env, "HOME": str(folder), "XDG_CONFIG_HOME": str(folder)}  # its config stays in the test's folder
    with log_path.open("wb") as out:
        # -X: it ends when JACK shuts it out, instead of idling without an engine
        process = subprocess.Popen([exe, "-X", str(script)], stdin=subprocess.DEVNULL, stdout=out,
                                   stderr=subprocess.STDOUT, env=env, start_new_session=True)
    return Ardour(name, process, log_path)


def _wait_ready(ardour: Ardour, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while "ready" not in ardour.log():
        ardour.check()
        if time.monotonic() > deadline:
            raise RuntimeError(f"ardour7-lua was not ready within {timeout} s:\n{ardour.log()}")
        time.sleep(0.05)


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


# -- reading and writing what a master speaks, from the specifications (not with stage's codecs) ---------------------


def spec_locate(seconds: float, device: int = 0x7F) -> bytes:
    """MMC Locate [TARGET] to the 24 fps frame ``seconds`` falls in: ``F0 7F dd 06 44 06 01 hr mn sc fr ff F7``."""
    frame = int(seconds * 24 + 1e-6)
    h, rest = divmod(frame, 24 * 3600)
    m, rest = divmod(rest, 24 * 60)
    s, f = divmod(rest, 24)
    return bytes([0xF0, 0x7F, device, 0x06, 0x44, 0x06, 0x01, 0 << 5 | h, m, s, f, 0, 0xF7])


@dataclass(frozen=True)
class Roll:
    """Where a master's 24 fps MTC says picture was: quarter frame ``sample`` marks ``position`` (seconds), and
    every quarter frame after it up to ``steady_until`` (a sample) came exactly a 96th of a second after the one
    before.  Past that the master was late (a loaded host: its cycle ran after its time) and its MTC is no
    measure of anything."""

    sample: int
    position: float
    steady_until: int

    def sample_of(self, position: float, samplerate: int = 48000) -> int:
        """The sample picture ``position`` was on, by this MTC (only meaningful up to ``steady_until``)."""
        return self.sample + round((position - self.position) * samplerate)


def mtc_roll(events: list[tuple[int, bytes]], after: int, samplerate: int = 48000) -> Roll:
    """The roll in MTC received after frame ``after``, read from its first quarter frame that starts a cycle.

    MTC: ``F1 0nnn dddd``, pieces 0-7 carry the frames, seconds, minutes and
    hours low nibble first, piece 7 the rate code in bits 1-2; piece 0 marks
    its frame's start, each later quarter frame a 96th of a second on.
    """
    per_qf = samplerate // 96
    qfs = [(f, d[1]) for f, d in events if f > after and d[0] == 0xF1]
    start = next(i for i, (_, v) in enumerate(qfs) if v >> 4 == 0)
    cycle = qfs[start:start + 8]
    assert [v >> 4 for _, v in cycle] == list(range(8)), cycle
    n = [v & 0x0F for _, v in cycle]
    assert n[7] >> 1 == 0, "rate code 0 (24 fps)"
    frames, seconds, minutes, hours = n[0] | n[1] << 4, n[2] | n[3] << 4, n[4] | n[5] << 4, n[6] | (n[7] & 1) << 4
    roll = qfs[start:]
    steady = 0
    while steady + 1 < len(roll) and roll[steady + 1][0] - roll[steady][0] == per_qf \
            and roll[steady + 1][1] >> 4 == (steady + 1) % 8:
        steady += 1
    return Roll(roll[0][0], (hours * 60 + minutes) * 60 + seconds + frames / 24, roll[steady][0])
