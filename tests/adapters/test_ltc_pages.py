"""Chasing LTC as every console shows it: ``stage serve`` on jackd, a deck playing reference LTC, Chromium's pages.

The real command runs with ``[clock] source = "ltc"`` and ``<client>:ltc_in``
connected to a JACK client of the test's own that plays LTC made by the
reference encoder (:mod:`peers.smpte_ltc`).  The musicians' page, the
conductor's and the engineer's say where the timecode comes from and whether
it is locked (the engineer's with the user bits), as does ``/api/health``;
when the deck stops, every one of them says there is no LTC.
"""

from __future__ import annotations

import contextlib
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import numpy as np
from consolerig import TOKENS, chromium, free_port, open_page
from peers.jackd import JackServer, unique_name
from peers.recorder import MidiPeer
from peers.smpte_ltc import Segment, Tape
from peers.wait import SCALE
from playwright.sync_api import Page

ROOT = Path(__file__).resolve().parents[2]
SR = 48000
SHEET = '[picture]\nrate = "25"\n[[cue]]\nid = "1M1"\nstart = "01:00:10:00"\ntempo = 120\nmeter = "4/4"\nbars = 8\n'


def until(check: Callable[[], Any], what: str, seconds: float = 15.0) -> Any:
    deadline = time.monotonic() + seconds * SCALE
    while True:
        with contextlib.suppress(httpx.HTTPError):
            got = check()
            if got:
                return got
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def text(page: Page, selector: str) -> str:
    return str(page.eval_on_selector(selector, "e => e.textContent"))


def test_every_console_says_the_timecode_is_ltc_and_whether_it_is_locked(jack_server: JackServer,
                                                                         tmp_path: Path) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with MidiPeer(unique_name("deck"), servername=jack_server.name, inputs=(), outputs=(),
                  audio_outputs=("ltc",)) as deck:
        config = tmp_path / "stage.toml"
        auth = "".join(f'{role} = "{token}"\n' for role, token in TOKENS.items())
        config.write_text(
            f'[clock]\nsource = "ltc"\n'
            f'[midi]\nserver = "{jack_server.name}"\nclient = "{unique_name("stage")}"\nmtc_out = false\n'
            f'mtc_in = false\nclick_out = false\n[click]\naudio = false\n'
            f'[ltc]\nconnect_in = ["{deck.port("ltc")}"]\n[osc]\nenabled = false\n[http]\nport = {port}\n'
            f'[takes]\ndatabase = "sqlite:///{tmp_path / "takes.db"}"\n[auth]\n{auth}'
        )
        cues = tmp_path / "cues.toml"
        cues.write_text(SHEET)
        log = tmp_path / "serve.log"
        with log.open("wb") as out:
            serve = subprocess.Popen([sys.executable, "-m", "stage", "serve", "--config", str(config), "--cues",
                                      str(cues)], stdout=out, stderr=subprocess.STDOUT, cwd=ROOT, env=jack_server.env)
        try:
            with chromium() as browser:  # started while the stage starts
                health = until(lambda: httpx.get(f"{base}/api/health", timeout=1).json(), "stage serve", 60)
                assert health["clock"] == {"source": "ltc", "state": "stopped", "locked": False, "user_bits": None}
                musician = open_page(browser, f"{base}/musician")
                conductor = open_page(browser, f"{base}/conductor", token=("conductor", TOKENS["conductor"]))
                engineer = open_page(browser, f"{base}/engineer", token=("engineer", TOKENS["engineer"]))
                until(lambda: text(musician, "#clock") == "NO LTC", "the musicians' page to say no LTC")
                # four seconds of 25 fps LTC from 01:00:00:00, its user bits a date (long enough that on a loaded
                # machine every page is seen to say it is locked before the tape runs out: seen in CI with two)
                tape = Tape(25.0, 25, user_bits=0x2024_0611)
                segment = Segment(deck.current_frame() + SR // 4, 4 * SR, p0=90_000.0, level=0.25)
                first, signal = tape.render([segment], SR)
                deck.play_audio("ltc", first, signal.astype(np.float32).tobytes())
                until(lambda: text(musician, "#clock") == "LTC LOCKED", "the musicians' page to say LTC locked")
                until(lambda: text(conductor, "#clock-word") == "· LTC LOCKED", "the conductor's page")
                until(lambda: "LTC in: locked · user bits 20240611" in text(engineer, "#health"), "the engineer's")
                health = httpx.get(f"{base}/api/health", timeout=5).json()
                assert health["clock"] == {"source": "ltc", "state": "locked", "locked": True, "user_bits": "20240611"}
                transport = httpx.get(f"{base}/api/transport", timeout=5).json()
                assert (transport["source"], transport["rolling"]) == ("ltc", True)
                assert transport["sync"] == {"state": "locked", "locked": True, "user_bits": "20240611"}
                assert transport["timecode"].startswith("01:00:0")
                # the deck stops: the chase stops, and every page says there is no LTC
                until(lambda: text(musician, "#clock") == "NO LTC", "the musicians' page to say no LTC", 20)
                until(lambda: text(conductor, "#clock-word") == "· NO LTC", "the conductor's page to say no LTC")
                until(lambda: "LTC in: no signal" in text(engineer, "#health"), "the engineer's page to say so")
                for page in (musician, conductor, engineer):
                    assert page.errors == [], page.errors  # type: ignore[attr-defined]
        finally:
            serve.terminate()
            try:
                serve.wait(15 * SCALE)
            except subprocess.TimeoutExpired:
                serve.kill()
                serve.wait()
    assert "Traceback" not in log.read_text(errors="replace")
