"""The engineer's take log in real headless Chromium against a real ``stage serve`` (SQLite take log).

The new take's row is on the page from the session the moment picture rolls
(as the musicians see "take N"), marked pending; it is shown as kept only once
its ``take`` event says the take log has it.  The database is held up for
real: the test holds SQLite's write lock from a connection of its own, so the
stage's insert waits (pending) and then fails (not stored) until it lets go.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from consolerig import TOKENS, StageServe, chromium, open_page
from peers.wait import SCALE
from playwright.sync_api import Browser, Locator, Page, expect

MS = 10_000 * SCALE  # Playwright's waits, in milliseconds
CONDUCTOR = {"Authorization": f"Bearer {TOKENS['conductor']}"}


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as b:
        yield b


@pytest.fixture(scope="module")
def stage(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StageServe]:
    tmp = tmp_path_factory.mktemp("engineer-takelog")
    serve = StageServe(tmp, f"sqlite:///{tmp / 'takes.db'}")
    serve.start()
    yield serve
    serve.stop()


@pytest.fixture(scope="module")
def eng(browser: Browser, stage: StageServe) -> Iterator[Page]:
    page = open_page(browser, f"{stage.base}/engineer", width=1440, height=900, token=("engineer", TOKENS["engineer"]))
    expect(page.locator("body")).to_have_attribute("data-signed", "yes", timeout=MS)
    yield page
    page.context.close()


def post(stage: StageServe, path: str, body: dict[str, Any] | None = None) -> httpx.Response:
    return httpx.post(f"{stage.base}{path}", json=body, headers=CONDUCTOR, timeout=30 * SCALE)


def record(stage: StageServe) -> None:
    """Stopped, 1M1 armed, record mode."""
    if stage.get("/api/transport")["rolling"]:
        post(stage, "/api/transport/stop").raise_for_status()
    post(stage, "/api/session/arm", {"cue": "1M1"}).raise_for_status()
    post(stage, "/api/session/mode", {"mode": "record"}).raise_for_status()


def play_aside(stage: StageServe) -> tuple[threading.Thread, list[httpx.Response]]:
    """POST play from a thread: in record mode it is answered only once the take is committed (or refused)."""
    answers: list[httpx.Response] = []
    thread = threading.Thread(target=lambda: answers.append(post(stage, "/api/transport/play")))
    thread.start()
    return thread, answers


def database(stage: StageServe) -> Path:
    return Path(stage.database.removeprefix("sqlite:///"))


def held_up(stage: StageServe) -> sqlite3.Connection:
    """Take SQLite's write lock from another connection: the stage's next write waits for it (5 s, then fails)."""
    lock = sqlite3.connect(database(stage), timeout=30, isolation_level=None)
    lock.execute("BEGIN IMMEDIATE")
    return lock


def pending_row(eng: Page) -> Locator:
    """The one rolling row, on show while the database has not got its take: pending, with nothing to edit it by."""
    row = eng.locator(".take[data-state='rolling']")
    expect(row).to_have_count(1, timeout=MS)
    expect(row).to_have_attribute("data-kept", "pending")
    expect(row).to_have_attribute("data-id", "")
    expect(row.locator("button.edit")).to_have_count(0)
    return row


def script_errors(page: Page) -> list[str]:
    """The page's errors, less a 503 of the health poll: a loaded host can stall the engine for half a second,
    which /api/health answers with 503 and the page shows as the engine's state."""
    errors: list[str] = page.errors  # type: ignore[attr-defined]
    return [e for e in errors if "status of 503" not in e]


def test_the_new_take_shows_at_once_pending_and_turns_kept_when_committed(stage: StageServe, eng: Page) -> None:
    record(stage)
    before = {t["id"] for t in stage.get("/api/takes")["takes"]}
    lock = held_up(stage)
    thread, answers = play_aside(stage)
    try:
        row = pending_row(eng)
        expect(row.locator(".status")).to_have_text("● ROLLINGlogging…")  # said in words
        number = int(row.locator(".no").inner_text())
        assert row.locator(".cue").inner_text() == "1M1"
        assert {t["id"] for t in stage.get("/api/takes")["takes"]} == before  # truly not in the take log yet
    finally:
        lock.execute("ROLLBACK")
        lock.close()
    thread.join(30 * SCALE)
    [answer] = answers
    answer.raise_for_status()
    take = answer.json()["take"]
    assert (take["cue"], take["take"]) == ("1M1", number)
    kept = eng.locator(f".take[data-id='{take['id']}']")
    expect(kept).to_have_attribute("data-kept", "yes", timeout=MS)
    expect(kept).to_have_attribute("data-state", "rolling")
    expect(kept.locator(".status")).to_have_text("● ROLLING")
    expect(kept.locator("button.edit")).to_be_enabled()
    expect(eng.locator(".take")).to_have_count(len(before) + 1)  # the pending row became this one
    assert kept.locator(".tc-in").inner_text() == take["tc_in"]
    post(stage, "/api/transport/stop").raise_for_status()
    expect(kept).to_have_attribute("data-state", "ended", timeout=MS)
    [logged] = [t for t in stage.get("/api/takes")["takes"] if t["id"] == take["id"]]
    assert kept.locator(".tc-out").inner_text() == logged["tc_out"]
    assert script_errors(eng) == []


def test_a_take_the_database_refused_is_shown_as_not_stored_until_it_is(stage: StageServe, eng: Page) -> None:
    record(stage)
    before = len(stage.get("/api/takes")["takes"])
    lock = held_up(stage)
    thread, answers = play_aside(stage)
    try:
        row = pending_row(eng)
        # Past the store's busy timeout the insert fails: the play is refused, the take rolls on, kept in memory.
        thread.join(60 * SCALE)
        [answer] = answers
        assert answer.status_code == 503, answer.text
        expect(row).to_have_attribute("data-kept", "unstored", timeout=MS)
        expect(row.locator(".status .kept")).to_have_text("NOT STORED yet: the stage retries")
        expect(row.locator("button.edit")).to_have_count(0)
        eng.screenshot(path=str(database(stage).parent / "engineer-not-stored.png"))
    finally:
        lock.execute("ROLLBACK")
        lock.close()
    post(stage, "/api/transport/stop")
    # The stage retries every second: the take lands, with its end, and the row is kept.
    stored = eng.locator(".take[data-kept='yes']")
    expect(stored).to_have_count(before + 1, timeout=MS)
    expect(eng.locator(".take[data-kept='unstored'], .take[data-kept='pending']")).to_have_count(0)
    logged = stage.get("/api/takes")["takes"][-1]
    last = eng.locator(f".take[data-id='{logged['id']}']")
    expect(last).to_have_attribute("data-state", "ended", timeout=MS)
    assert last.locator(".no").inner_text() == str(logged["take"])
    assert last.locator(".tc-out").inner_text() == logged["tc_out"]
    assert script_errors(eng) == []


FLASH = """(id) => {
    const row = document.querySelector(`.take[data-id='${id}']`);
    const flash = document.getAnimations()
        .find((a) => a.effect?.target === row && a.effect?.pseudoElement === '::after');
    const after = getComputedStyle(row, '::after');
    const timing = ['offset', 'easing', 'composite', 'computedOffset'];
    return {name: flash?.animationName ?? null, state: flash?.playState ?? null,
            frames: flash?.effect.getKeyframes().map((k) => Object.keys(k).filter((p) => !timing.includes(p))),
            colour: after.backgroundColor, below: after.zIndex};
}"""


def test_a_take_just_logged_lights_up_once_by_opacity_alone(stage: StageServe, eng: Page) -> None:
    """The new row's flash animates nothing but the opacity of a layer under its words (the compositor's work: an
    animated background would have the page repaint itself at every frame for two seconds), and it ends."""
    record(stage)
    thread, answers = play_aside(stage)
    thread.join(30 * SCALE)
    [answer] = answers
    take = answer.json()["take"]
    row = eng.locator(f".take[data-id='{take['id']}']")
    expect(row).to_have_attribute("data-kept", "yes", timeout=MS)
    flash = eng.evaluate(FLASH, take["id"])
    assert (flash["name"], flash["state"]) == ("fresh", "running")
    assert flash["frames"]
    assert all(f == ["opacity"] for f in flash["frames"]), flash["frames"]
    assert (flash["colour"], flash["below"]) == ("rgb(29, 79, 134)", "-1")
    eng.screenshot(path=str(database(stage).parent / "engineer-fresh-take.png"))
    post(stage, "/api/transport/stop").raise_for_status()
    expect(row).to_have_attribute("data-state", "ended", timeout=MS)
    eng.wait_for_function("(id) => !document.getAnimations().some((a) => a.effect?.target === "
                          "document.querySelector(`.take[data-id='${id}']`))", arg=take["id"], timeout=MS)
    assert script_errors(eng) == []


IN_VIEW = """(id) => {
    const box = document.getElementById('log-scroll').getBoundingClientRect();
    const row = document.querySelector(`#rows > .take[data-id='${id}']`).getBoundingClientRect();
    return row.top >= box.top - 1 && row.bottom <= box.bottom + 1;
}"""


def take_one(stage: StageServe) -> dict[str, Any]:
    """A take recorded and stopped (committed both ways)."""
    record(stage)
    thread, answers = play_aside(stage)
    thread.join(30 * SCALE)
    [answer] = answers
    answer.raise_for_status()
    post(stage, "/api/transport/stop").raise_for_status()
    return dict(answer.json()["take"])


def test_the_log_stays_at_the_newest_take_unless_the_engineer_scrolled_back(stage: StageServe, eng: Page) -> None:
    """More takes than the log's box shows: each new one is in view, as in any log; once the engineer has scrolled
    back to an earlier take, a new one does not take the box away from it."""
    takes = [take_one(stage) for _ in range(10)]
    last = takes[-1]
    expect(eng.locator(f"#rows > .take[data-id='{last['id']}']")).to_have_attribute("data-state", "ended", timeout=MS)
    eng.wait_for_function(IN_VIEW, arg=last["id"], timeout=MS)
    first = eng.evaluate("document.querySelector('#rows > .take').dataset.id")
    assert not eng.evaluate(IN_VIEW, first), "the log is not long enough to scroll: the test shows nothing"
    eng.locator("#log-scroll").evaluate("(box) => { box.scrollTop = 0; }")
    eng.wait_for_function(IN_VIEW, arg=first, timeout=MS)
    newer = take_one(stage)
    expect(eng.locator(f"#rows > .take[data-id='{newer['id']}']")).to_have_attribute("data-state", "ended", timeout=MS)
    eng.wait_for_timeout(300)  # a frame or two, for a scroll that must not come
    assert eng.evaluate(IN_VIEW, first)
    assert not eng.evaluate(IN_VIEW, newer["id"])
    assert script_errors(eng) == []
