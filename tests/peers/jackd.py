"""A real JACK server for tests and benchmarks: ``jackd`` with the dummy driver.

Each server gets a unique name (``-n``), so parallel test runs and a developer's
own ``jackd`` never meet. Clients in this process pass ``servername=``;
subprocesses get `JackServer.env` (``JACK_DEFAULT_SERVER`` and friends).

jackd runs fine as root without D-Bus: ``JACK_NO_AUDIO_RESERVATION=1`` stops it
asking D-Bus for the (absent) sound card, and the dummy driver needs no device.
``JACK_PROMISCUOUS_SERVER`` is only for sharing a server between users; not needed.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path


class PeerMissing(RuntimeError):
    """A peer program is not installed; the message says how to install it."""


def require(binary: str, package: str) -> str:
    """Path of a peer binary, or `PeerMissing` naming the Debian package."""
    path = shutil.which(binary)
    if path is None:
        raise PeerMissing(f"{binary!r} is not installed: apt-get install {package}")
    return path


def unique_name(prefix: str) -> str:
    """A name no other run on this machine will pick."""
    return f"{prefix}-{os.getpid()}-{uuid.uuid4().hex[:8]}"


@dataclass
class JackServer:
    """A running ``jackd``: its name, its settings, and how to reach it."""

    name: str
    samplerate: int
    period: int
    process: subprocess.Popen[bytes]
    log_path: Path
    env: dict[str, str] = field(default_factory=dict)

    def log(self) -> str:
        """Everything jackd printed so far."""
        return self.log_path.read_text(errors="replace")


def server_env(name: str) -> dict[str, str]:
    """Environment for a process that must talk to server ``name``."""
    return {
        **os.environ,
        "JACK_DEFAULT_SERVER": name,
        "JACK_NO_START_SERVER": "1",
        "JACK_NO_AUDIO_RESERVATION": "1",
    }


def quiet_libjack() -> None:
    """Keep libjack's "cannot connect to server" chatter out of test output."""
    import jack  # noqa: PLC0415 -- loads libjack: only where a JACK peer is used, so other tests run without it

    jack.set_error_function(lambda _msg: None)
    jack.set_info_function(lambda _msg: None)


def _can_connect(name: str) -> bool:
    import jack  # noqa: PLC0415 -- see quiet_libjack

    quiet_libjack()
    try:
        client = jack.Client("probe", no_start_server=True, servername=name)
    except jack.JackOpenError:
        return False
    client.close()
    return True


@contextlib.contextmanager
def jack_server(
    name: str | None = None,
    *,
    samplerate: int = 48000,
    period: int = 256,
    synchronous: bool = False,
    client_timeout_ms: int | None = None,
    start_timeout: float = 10.0,
) -> Iterator[JackServer]:
    """Run ``jackd -n NAME -d dummy -r RATE -p PERIOD`` until the block ends.

    ``synchronous`` adds ``-S``: the server waits for every client to finish a
    cycle before starting the next, so a client that is slow under load delays
    the (dummy, clockless) cycle instead of missing it. Tests that compare exact
    frames use it; benchmarks measure the default asynchronous mode.
    """
    jackd = require("jackd", "jackd2")
    name = name or unique_name("stage-test")
    command = [jackd, "-n", name]
    if synchronous:
        command.append("-S")
    if client_timeout_ms is not None:
        command += ["-t", str(client_timeout_ms)]
    command += ["-d", "dummy", "-r", str(samplerate), "-p", str(period)]

    with tempfile.TemporaryDirectory(prefix="jackd-") as tmp:
        log_path = Path(tmp) / "jackd.log"
        with log_path.open("wb") as log_file:
            process = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                env=server_env(name),
                start_new_session=True,  # a Ctrl-C in the test run must not reach it first
            )
        server = JackServer(name, samplerate, period, process, log_path, server_env(name))
        try:
            deadline = time.monotonic() + start_timeout
            while not _can_connect(name):
                if process.poll() is not None:
                    raise RuntimeError(f"jackd exited with {process.returncode}:\n{server.log()}")
                if time.monotonic() > deadline:
                    raise RuntimeError(f"jackd {name!r} accepted no client within {start_timeout} s:\n{server.log()}")
                time.sleep(0.05)
            yield server
        finally:
            _stop(process)


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
