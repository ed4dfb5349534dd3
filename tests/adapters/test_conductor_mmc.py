"""The conductor's "from bar 17" on ``/conductor`` (Chromium) rolls the recorder by MMC, and stage clicks on its MTC.

A real ``stage serve`` chases a headless Ardour session (:mod:`peers.ardour`)
on the session's jackd and drives it by MMC; the conductor's page in Debian's
Chromium asks for a pickup from bar 17 with the keypad, as a conductor
would.  An independent JACK client (:class:`peers.recorder.MidiPeer`)
witnesses the MMC stage sends, Ardour's MTC, and stage's click.
"""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest
from consolerig import TOKENS, StageServe, chromium, open_page
from peers.ardour import ardour_master, mtc_roll, spec_locate
from peers.jackd import JackServer, unique_name
from peers.recorder import MidiPeer, audio_onsets
from peers.wait import SCALE
from playwright.sync_api import expect
from sheets import PICKUP as SHEET

from stage.core.cuesheet import parse_cue_sheet

MS = 10_000 * SCALE
SR = 48000
PREROLL = 0.5
ROLLS = 3  # pickups tried until one in which Ardour itself kept time (on a loaded host it is late now and then)


def test_from_bar_17_on_the_conductor_page_locates_and_rolls_the_master_and_bar_17_lands_on_its_sample(
    jack_server: JackServer, tmp_path: Path
) -> None:
    cues = tmp_path / "cues.toml"
    cues.write_text(SHEET)
    cue = parse_cue_sheet(SHEET).cue("1M1")
    assert cue.clicks is not None
    bar17 = float(cue.downbeat + cue.clicks.time_of(17))
    preroll = bar17 - 6 * 0.25 - PREROLL  # the count-in's first click, less the pre-roll: 00:00:39:08
    with (
        ardour_master(jack_server, "24", device=1) as ardour,
        MidiPeer(unique_name("witness"), servername=jack_server.name, inputs=("mtc", "click"),
                 outputs=(), audio_inputs=("audio",)) as witness,
        # the MMC's own witness depends on nothing but stage: a cycle Ardour is late in cannot cost it the bytes
        MidiPeer(unique_name("wire"), servername=jack_server.name, inputs=("mmc",), outputs=()) as wire,
        chromium() as browser,
    ):
        witness.client.connect(ardour.mtc_out, witness.port("mtc"))
        stage = StageServe(tmp_path, f"sqlite:///{tmp_path / 'takes.db'}", cues=cues, sections=(
            f'[clock]\nsource = "mtc"\npreroll = {PREROLL}\n'
            f'[midi]\nserver = "{jack_server.name}"\nclient = "{unique_name("stage")}"\nmtc_out = false\n'
            f'connect_mtc_in = ["{ardour.mtc_out}"]\nconnect_click_out = ["{witness.port("click")}"]\n'
            f'[click]\nconnect = ["{witness.port("audio")}"]\n'
            f'[mmc]\nenabled = true\nconnect_out = ["{ardour.mmc_in}", "{wire.port("mmc")}"]\n'
            f"lock_timeout = {10 * SCALE}\n"))
        stage.start()
        try:
            page = open_page(browser, f"{stage.base}/conductor", token=("conductor", TOKENS["conductor"]), touch=True)
            expect(page.locator("body")).to_have_attribute("data-signed", "yes", timeout=MS)
            page.locator(".cue[data-cue='1M1']").click()
            expect(page.locator(".cue[data-cue='1M1']")).to_have_attribute("aria-pressed", "true", timeout=MS)
            for _ in range(ROLLS):
                before, sent = witness.frame0, len(wire.events("mmc"))
                page.locator("#pickup").click()
                page.locator("#keypad [data-key='1']").click()
                page.locator("#keypad [data-key='7']").click()
                page.locator("#keypad-go").click()
                # at the finger: where the chase locked on the master
                locked = page.locator(".answer[data-ok='yes']", has_text="locked")
                expect(locked).to_have_text(re.compile(r"✓ locked 00:00:39:\d\d · bar 15"), timeout=2 * MS)
                expect(page.locator("body")).to_have_attribute("data-rolling", "yes", timeout=MS)
                page.wait_for_function("() => document.getElementById('follow-bar').textContent.startsWith('17')",
                                       timeout=2 * MS)
                page.locator("#stop").click()
                expect(page.locator("#stop")).to_have_attribute("data-answer", "yes", timeout=MS)
                expect(page.locator("body")).to_have_attribute("data-rolling", "no", timeout=MS)
                roll = mtc_roll(witness.events("mtc"), before, SR)
                if roll.steady_until >= roll.sample_of(bar17, SR):
                    break
            else:
                pytest.fail(f"Ardour's MTC was not steady up to bar 17 in {ROLLS} rolls: this host is too loaded")
            # 200, or 503 if a loaded host kept the engine from answering for half a second: mmc is there either way
            health = httpx.get(f"{stage.base}/api/health", timeout=5 * SCALE).json()
            assert page.errors == []  # type: ignore[attr-defined]
        finally:
            stage.stop()
    # the exact bytes, each at a cycle's first frame: Locate to the pickup's pre-roll frame, Play; then Stop
    assert [d for _, d in wire.events("mmc")[sent:]] == [
        spec_locate(preroll), bytes.fromhex("f07f7f0602f7"), bytes.fromhex("f07f7f0601f7")]
    assert spec_locate(preroll).hex(" ") == "f0 7f 7f 06 44 06 01 00 00 27 08 00 f7"
    assert all((f - wire.frame0) % jack_server.period == 0 for f, _ in wire.events("mmc"))
    assert (health["mmc"]["sent"], health["mmc"]["to_master"]) == (len(wire.events("mmc")), True)  # one message each
    # Ardour rolled from there; bar 17's downbeat sounded on the sample its MTC puts bar 17 on, MIDI and audio
    assert abs(roll.position - preroll) < 1e-9
    downbeat = roll.sample_of(bar17, SR)
    accents = [f for f, d in witness.events("click") if f > before and d[0] & 0xF0 == 0x90 and d[1] == 76]
    assert accents[0] == downbeat
    assert downbeat in audio_onsets(witness.audio["audio"])
