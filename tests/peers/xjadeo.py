"""xjadeo, a real MTC (or LTC) slave, under Xvfb: it chases our timecode and tells its frame.

`xjadeo(...)` starts ``Xvfb`` on a free display (``-displayfd``), makes a test
clip once (ffmpeg ``testsrc``, all-intra MJPEG so every seek is exact), and runs
``xjadeo -R -d jack -m "" CLIP``: remote control on stdin/stdout, MTC through
JACK MIDI, no auto-connection (the caller connects its MTC output to
`Xjadeo.port`, ``xjadeo:MTC in``).  With ``ltc=True`` it runs ``xjadeo -R -l
CLIP`` instead: LTC read from the JACK audio port ``xjadeo:ltc-input``.

How xjadeo reports position, learnt by driving it:

* ``get position`` answers ``@201 position=N``: N is the *video frame index* in
  the clip (00:00:10:05 at 25 fps is 255), not a timecode;
* ``get smpte`` answers ``@228 smpte=HH:MM:SS:FF``, the timecode it displays;
* ``get framerate`` answers ``@202 framerate=F``, the clip's rate;
* it reads MTC once per display refresh (the clip's rate), so a new position
  shows up to a frame or two after the MTC that set it: poll, don't read once
  (`Xjadeo.wait_for_frame`);
* with ``midi sync 0`` (its default) it converts the MTC time to a frame with
  the rate code carried in the MTC (24, 25, 29.97 drop, 30), so the clip must
  be made at the matching rate: `clip` takes it.

One xjadeo per JACK server at a time: its client is always named ``xjadeo``.
"""

from __future__ import annotations

import contextlib
import os
import queue
import re
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path
from typing import Protocol

from peers.jackd import JackServer, quiet_libjack, require
from peers.xvfb import stop, xvfb

CLIP_SECONDS = 180
CLIP_SIZE = "160x120"
MTC_PORT = "xjadeo:MTC in"
LTC_PORT = "xjadeo:ltc-input"
_REPLY = re.compile(r"^@(\d{3}) ?(.*)$")


def clip(rate: Fraction | str, cache: Path | None = None) -> Path:
    """A ``testsrc`` clip at ``rate`` (e.g. ``25``, ``30000/1001``), made once and cached."""
    ffmpeg = require("ffmpeg", "ffmpeg")
    rate = Fraction(rate)
    cache = cache or Path(tempfile.gettempdir()) / "stage-test-clips"
    cache.mkdir(parents=True, exist_ok=True)
    path = cache / f"testsrc-{rate.numerator}-{rate.denominator}-{CLIP_SECONDS}s-{CLIP_SIZE}.avi"
    if path.exists():
        return path
    partial = path.with_suffix(f".{os.getpid()}.partial.avi")
    source = f"testsrc=size={CLIP_SIZE}:rate={rate.numerator}/{rate.denominator}:duration={CLIP_SECONDS}"
    command = [ffmpeg, "-v", "error", "-y", "-f", "lavfi", "-i", source, "-c:v", "mjpeg", "-q:v", "10", str(partial)]
    subprocess.run(command, check=True, stdin=subprocess.DEVNULL)
    partial.replace(path)  # atomic: a parallel run sees the whole clip or none
    return path


class Xjadeo:
    """A running xjadeo in remote-control mode."""

    def __init__(self, process: subprocess.Popen[str], port: str = MTC_PORT) -> None:
        self.process = process
        self.port = port
        self._lines: queue.Queue[str] = queue.Queue()
        self._reader = threading.Thread(target=self._read, name="xjadeo-stdout", daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self._lines.put(line.rstrip("\n"))

    def command(self, line: str, timeout: float = 5.0) -> tuple[int, str]:
        """Send one remote command; return its reply's code and text.

        Informational lines (``@8xx``) are skipped; the first other reply is
        the answer.
        """
        while not self._lines.empty():
            self._lines.get_nowait()
        assert self.process.stdin is not None
        self.process.stdin.write(line + "\n")
        self.process.stdin.flush()
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"xjadeo did not answer {line!r} within {timeout} s")
            try:
                reply = self._lines.get(timeout=remaining)
            except queue.Empty:
                continue
            match = _REPLY.match(reply)
            if match and not match.group(1).startswith("8"):
                return int(match.group(1)), match.group(2)

    def get(self, key: str) -> str:
        """``get KEY`` → the value after ``KEY=``."""
        _, text = self.command(f"get {key}")
        name, _, value = text.partition("=")
        if name != key:
            raise RuntimeError(f"xjadeo answered {text!r} to 'get {key}'")
        return value

    def frame(self) -> int:
        """The video frame xjadeo shows now."""
        return int(self.get("position"))

    def smpte(self) -> str:
        """The timecode xjadeo shows now."""
        return self.get("smpte")

    def wait_for_frame(self, expected: int, timeout: float = 3.0) -> int:
        """Poll until xjadeo shows ``expected``; return the last frame seen."""
        deadline = time.monotonic() + timeout
        frame = self.frame()
        while frame != expected and time.monotonic() < deadline:
            time.sleep(0.02)
            frame = self.frame()
        return frame

    def close(self) -> None:
        if self.process.poll() is None:
            with contextlib.suppress(OSError, ValueError):
                assert self.process.stdin is not None
                self.process.stdin.write("quit\n")
                self.process.stdin.flush()
        stop(self.process, graceful=5.0)


class XjadeoFactory(Protocol):
    """The ``xjadeo`` fixture: start an xjadeo on a clip at ``rate``, on ``server`` or the session's (LTC: ``ltc``)."""

    def __call__(self, rate: Fraction | str, server: JackServer | None = None, *, ltc: bool = False) -> Xjadeo: ...


def _port_exists(server: JackServer, port: str) -> bool:
    import jack  # noqa: PLC0415 -- see peers.jackd.quiet_libjack

    quiet_libjack()
    client = jack.Client("xjadeo-probe", no_start_server=True, servername=server.name)
    try:
        return bool(client.get_ports(re.escape(port), is_input=True))
    finally:
        client.close()


@contextlib.contextmanager
def xjadeo(
    server: JackServer, rate: Fraction | str = "25", *, display: str | None = None, ltc: bool = False
) -> Iterator[Xjadeo]:
    """Run xjadeo on a clip at ``rate``, chasing MTC on ``xjadeo:MTC in`` (LTC on ``xjadeo:ltc-input``)."""
    binary = require("xjadeo", "xjadeo")
    video = clip(rate)
    port, sync = (LTC_PORT, ["-l"]) if ltc else (MTC_PORT, ["-d", "jack", "-m", ""])
    with contextlib.ExitStack() as stack:
        if display is None:
            display = stack.enter_context(xvfb())
        process = subprocess.Popen(
            [binary, "-R", "-S", *sync, str(video)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env={**server.env, "DISPLAY": display},
            text=True,
            bufsize=1,
            start_new_session=True,
        )
        peer = Xjadeo(process, port)
        stack.callback(peer.close)
        peer.command("ping", timeout=15)
        deadline = time.monotonic() + 10
        while not _port_exists(server, port):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"xjadeo registered no {port!r} port (exit code {process.poll()})")
            time.sleep(0.05)
        yield peer
