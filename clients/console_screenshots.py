# ruff: noqa: INP001 -- a script beside the pages it photographs, not a package
"""Screenshots of ``/conductor`` and ``/engineer`` in their main states, for ``docs/screens.md``.

Starts ``stage serve`` with the demo cue sheet, opens the control pages and
three musician screens in Debian's headless Chromium, and drives the session
through the pages themselves as a conductor and an engineer would: arm, hold
for record, roll, stop, circle, a pickup from bar 9, a refused arm while
recording, a screen that drops out, two engineers editing one take; a cut
imported beforehand, so that the engineer's console names the picture.
``python3 clients/console_screenshots.py [OUT_DIR]`` (default ``docs/screens``).
"""

from __future__ import annotations

import sys
import tempfile
from datetime import datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "tests")]  # this checkout's stage and its test rig

from consolerig import TOKENS, StageServe, chromium, open_page  # noqa: E402
from peers.cuts import make_cut  # noqa: E402
from playwright.sync_api import Page, expect  # noqa: E402

from stage.adapters.pictures import PictureLibrary  # noqa: E402
from stage.core.timecode import RATES  # noqa: E402

WAIT = 15_000


def hold_record(page: Page) -> None:
    page.locator("#record").hover()
    page.mouse.down()
    page.wait_for_timeout(1000)
    page.mouse.up()
    expect(page.locator("body")).to_have_attribute("data-mode", "record", timeout=WAIT)


def shot(page: Page, path: Path) -> None:
    page.evaluate("window.scrollTo(0, 0)")
    page.wait_for_timeout(150)
    page.screenshot(path=str(path))


def tap(page: Page, selector: str) -> None:
    page.locator(selector).click()
    expect(page.locator(selector)).to_have_attribute("data-answer", "yes", timeout=WAIT)


def main(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        # On every interface, as on a stage network: the pairing code is shown with its QR code.
        stage = StageServe(Path(tmp), f"sqlite:///{Path(tmp) / 'takes.db'}", host="0.0.0.0")  # noqa: S104
        cut = make_cut(Path(tmp) / "lighthouse_reel1_v3.mov", "23.976", "00:59:58:00", 2.0, size=(320, 180))
        PictureLibrary(Path(tmp) / "picture").import_cut(cut.path, rate=RATES["23.976"],
                                                          now=datetime.now().astimezone())
        stage.start()
        try:
            with chromium() as browser:
                desks = [open_page(browser, f"{stage.base}/musician?name={n}", width=960, height=540)
                         for n in ("violins 1 desk 1", "horns", "desk 4")]
                con = open_page(browser, f"{stage.base}/conductor", token=("conductor", TOKENS["conductor"]),
                                touch=True)
                eng = open_page(browser, f"{stage.base}/engineer", width=1440, height=900,
                                token=("engineer", TOKENS["engineer"]))
                expect(con.locator("body")).to_have_attribute("data-signed", "yes", timeout=WAIT)
                con.locator(".cue[data-cue='1M1']").click()
                expect(con.locator(".cue[data-cue='1M1']")).to_have_attribute("aria-pressed", "true", timeout=WAIT)
                con.wait_for_timeout(600)
                shot(con, out / "conductor-idle.png")

                # Two takes: a false start and a circled one with a note.
                hold_record(con)
                tap(con, "#play")
                con.wait_for_timeout(1500)
                tap(con, "#stop")
                tap(con, "[data-status='false_start']")
                tap(con, "#top")
                con.wait_for_timeout(4000)
                tap(con, "#stop")
                tap(con, "[data-status='print']")
                con.locator(".phrase", has_text="best ending").click()

                # A pickup from bar 9 (beat 1, typed as the conductor says it), photographed while it rolls.
                con.locator("#pickup").click()
                for key in ("9", "beat", "1"):
                    con.locator(f"#keypad [data-key='{key}']").click()
                expect(con.locator("#keypad-value")).to_have_text("9 | 1")
                shot(con, out / "conductor-keypad.png")
                con.locator("#keypad-go").click()
                expect(con.locator("body")).to_have_attribute("data-rolling", "yes", timeout=WAIT)
                con.wait_for_timeout(2600)
                shot(con, out / "conductor-recording.png")
                shot(eng, out / "engineer-recording.png")

                # A command the stage refuses: arming another cue while recording.
                con.locator(".cue[data-cue='1M2']").click()
                expect(con.locator(".cue[data-cue='1M2']")).to_have_attribute("data-answer", "no", timeout=WAIT)
                shot(con, out / "conductor-refused.png")
                tap(con, "#stop")
                tap(con, "[data-status='hold']")

                # The take log handed on: the export menu (the take sheet, the DAW's markers, the EDL).
                eng.locator("#export summary").click()
                expect(eng.locator("#export .menu")).to_be_visible(timeout=WAIT)
                shot(eng, out / "engineer-export.png")
                eng.locator("#export summary").click()

                # A screen drops out.
                desks[2].context.close()
                expect(eng.locator(".alert", has_text="DROPPED")).to_be_visible(timeout=WAIT)
                eng.locator("#pair").click()
                expect(eng.locator("#pair-qr")).to_be_visible(timeout=WAIT)
                eng.locator("#pair-code").scroll_into_view_if_needed()
                shot(eng, out / "engineer-dropped.png")

                # Two engineers edit the notes of take 2 at once.
                other = open_page(browser, f"{stage.base}/engineer", width=1440, height=900,
                                  token=("engineer", TOKENS["engineer"]))
                take = stage.get("/api/takes")["takes"][1]
                for page, text in ((eng, "horns early in bar 5: fix in the mix"), (other, "lovely strings")):
                    page.locator(f"tr.take[data-id='{take['id']}'] .edit").click()
                    page.locator("tr.editing textarea[name='note']").fill(text)
                eng.locator("tr.editing .save").click()
                expect(eng.locator("tr.editing")).to_have_count(0, timeout=WAIT)
                other.locator("tr.editing .save").click()
                expect(other.locator("tr.editing .conflict")).to_be_visible(timeout=WAIT)
                other.wait_for_timeout(300)
                shot(other, out / "engineer-conflict.png")

                # The tablet upright, and a tablet that is not signed in.
                upright = open_page(browser, f"{stage.base}/conductor", width=800, height=1280, touch=True,
                                    token=("conductor", TOKENS["conductor"]))
                expect(upright.locator("body")).to_have_attribute("data-signed", "yes", timeout=WAIT)
                upright.wait_for_timeout(600)
                shot(upright, out / "conductor-portrait.png")
                guest = open_page(browser, f"{stage.base}/conductor", touch=True)
                expect(guest.locator("#access")).to_contain_text("Not signed in", timeout=WAIT)
                shot(guest, out / "conductor-readonly.png")
                guest.locator("#access .open-signin").click()
                guest.locator("#signin-input").fill("123456")
                guest.locator("#signin-form button[type=submit]").click()
                expect(guest.locator("#signin-why")).not_to_be_empty(timeout=WAIT)
                shot(guest, out / "conductor-signin.png")
        finally:
            stage.stop()


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else REPO / "docs" / "screens")
