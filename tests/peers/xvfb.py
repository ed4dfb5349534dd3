"""A virtual X display (Debian's ``Xvfb``) for the peers that need a screen: xjadeo, WebKitGTK's MiniBrowser.

`xvfb` starts ``Xvfb -displayfd``: the server itself picks a display number
nobody holds (it tries each in turn and takes the first free one) and writes
it once it is ready, so two tests starting displays at once never collide
and nothing waits on a guess.  The server runs in a session of its own and
is stopped when the ``with`` block ends, also on failure.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
from collections.abc import Iterator

from peers.jackd import require


@contextlib.contextmanager
def xvfb(size: str = "320x240x24") -> Iterator[str]:
    """Run ``Xvfb`` on a free display with one screen of ``size`` (``WxHxDEPTH``); yield its name (``":3"``)."""
    binary = require("Xvfb", "xvfb")
    read_fd, write_fd = os.pipe()
    process = subprocess.Popen(
        [binary, "-displayfd", str(write_fd), "-nolisten", "tcp", "-screen", "0", size],
        pass_fds=(write_fd,),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    os.close(write_fd)
    try:
        with os.fdopen(read_fd, "rb") as pipe:
            number = pipe.readline().decode().strip()  # written once the server is ready
        if not number:
            raise RuntimeError(f"Xvfb exited with {process.wait()} before choosing a display")
        yield f":{number}"
    finally:
        stop(process)


def stop(process: subprocess.Popen[str] | subprocess.Popen[bytes], graceful: float = 0.0) -> None:
    """End ``process``: wait ``graceful`` seconds for it to leave by itself, then SIGTERM, then SIGKILL."""
    if process.poll() is None and graceful:
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=graceful)
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
