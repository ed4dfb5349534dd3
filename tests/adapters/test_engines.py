"""The pages in Safari's engine and in Firefox's, not only Chromium's: WebKitGTK's MiniBrowser (Selenium, under Xvfb;
the WebKit of every iPad) and Firefox ESR (Puppeteer over WebDriver BiDi), against one real ``stage serve``.

- ``/musician`` connects, trusts its clock (its sync shown), draws the lane
  (the canvas's pixels change while picture plays) and reports the streamer
  ends it showed to the stage;
- ``/conductor`` signs in with the conductor's token and its PLAY, touched,
  rolls the stage's transport;
- ``/engineer`` signs in and shows the take log;
- WebCodecs: on the origin the stage serves (loopback, a secure context),
  ``VideoDecoder`` decodes the stage's picture proxy, fetched by HTTP Range
  a group of pictures at a time, and every frame drawn to a canvas carries
  the code of its own sample;
- ``/picture``, playing and after a jump while rolling, draws at every
  refresh the frame due at its display time, read back from the canvas'
  pixels (tests/adapters/test_picture_page.py's reader and check, at its
  640 × 400).  It asks for a host that can keep a browser at its display's
  rate: on two cores loaded past 40 runnable tasks WebKitGTK refreshes a few
  times a second and the page's idea of its display time (the refresh
  interval it keeps, from gaps under 50 ms) is no longer the test's.

One stage serve for the module and one browser of each engine (the tests run
engine by engine); every page is left for ``about:blank`` after its test so
that nothing draws behind the next.  A missing engine fails, naming the
package; it is never skipped.  Screenshots of every page land in the test's
temporary folder (``STAGE_SHOTS``: a folder of one's choosing).
"""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from consolerig import OVERFLOWS, SMALL_TARGETS, TOKENS, StageServe
from peers.cuts import Cut, make_cut
from peers.engine import Engine, set_storage, wait_for
from peers.firefox import Firefox, firefox
from peers.jackd import PeerMissing
from peers.wait import SCALE
from peers.webkit import webkit
from test_picture_page import READER, FrameCheck, anchor_now, command, exact, new_anchor

from stage.adapters.pictures import PictureLibrary
from stage.core.timecode import RATES

SIZE = (1280, 800)
# The picture page's window, as the Chromium test's: a canvas of 1280 × 760 drawn in software (no GPU here) keeps
# WebKitGTK at a few refreshes a second on a loaded host; 640 × 400 at its display's rate.
PICTURE_SIZE = (640, 400)
# Refreshes read after each change: over 3.2 s, at least 10 (WebKitGTK on a host loaded past 40 runnable tasks on
# two cores may refresh only a few times a second).
READ_SECONDS, READ_LEAST = 3.2, 10
CONDUCTOR = {"Authorization": f"Bearer {TOKENS['conductor']}"}
PROXY_CODES = (Path(__file__).resolve().parents[1] / "peers" / "proxy_codes.js").read_text()
# A checksum of the lane's canvas: every 7th pixel's channels summed, enough to tell one picture from the next.
LANE_SUM = """(() => { const c = document.querySelector('stage-lane').shadowRoot.querySelector('canvas');
  const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
  let sum = 0, lit = 0;
  for (let i = 0; i < d.length; i += 28) {
    const v = d[i] + d[i + 1] + d[i + 2];
    sum += v * (i % 9973);
    if (v > 60) lit++;
  }
  return {sum, lit, width: c.width, height: c.height}; })()"""


@pytest.fixture(scope="module")
def cut(tmp_path_factory: pytest.TempPathFactory) -> Cut:
    """Ten seconds of H.264 at 23.976 from 00:59:58:00, every frame's number in its picture (tests/peers/cuts.py)."""
    return make_cut(tmp_path_factory.mktemp("cut") / "reel1_h264.mp4", "23.976", "00:59:58:00", 10.0,
                    size=(320, 180), codec="h264")


@pytest.fixture(scope="module")
def stage(tmp_path_factory: pytest.TempPathFactory, cut: Cut) -> Iterator[StageServe]:
    """``stage serve`` on the demo sheet (23.976) with the cut imported as its picture."""
    tmp = tmp_path_factory.mktemp("engines")
    serve = StageServe(tmp, f"sqlite:///{tmp / 'takes.db'}")
    PictureLibrary(tmp / "picture").import_cut(cut.path, rate=RATES["23.976"], now=datetime.now(UTC))
    serve.start()
    try:
        yield serve
    finally:
        serve.stop()


@pytest.fixture(scope="module", params=["webkit", "firefox"])
def engine(request: pytest.FixtureRequest) -> Iterator[Engine]:
    """One browser of each engine for the module: the tests run in WebKit, then in Firefox."""
    start = webkit if request.param == "webkit" else firefox
    try:
        with start(*SIZE) as browser:
            yield browser
    except PeerMissing as exc:
        pytest.fail(str(exc), pytrace=False)


@pytest.fixture
def page(engine: Engine, stage: StageServe) -> Iterator[Engine]:
    """The engine's page, left for about:blank after the test (a page left drawing would load the next), with no
    error logged meanwhile (Firefox tells; WebKitWebDriver has no console to read)."""
    if isinstance(engine, Firefox):
        engine.errors()
    yield engine
    errors = engine.errors() if isinstance(engine, Firefox) else []
    engine.goto("about:blank")
    engine.resize(*SIZE)
    with httpx.Client(base_url=stage.base, headers=CONDUCTOR, timeout=10 * SCALE) as http:
        http.post("/api/transport/stop")
    assert errors == [], errors


@pytest.fixture(scope="module")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where the screenshots go."""
    chosen = os.environ.get("STAGE_SHOTS")
    folder = Path(chosen) if chosen else tmp_path_factory.mktemp("shots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def rest(stage: StageServe, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
    """POST a control path as the conductor; the answer's JSON (200 required)."""
    r = httpx.post(f"{stage.base}{path}", json=body or {}, headers=CONDUCTOR, timeout=30 * SCALE)
    assert r.status_code == 200, r.text
    return dict(r.json())


def touch(page: Engine, selector: str) -> None:
    """Click ``selector`` once the page shows it enabled (the cue list comes after the sign-in)."""
    wait_for(page, f"(() => {{ const e = document.querySelector({json.dumps(selector)});"
             " return e !== null && !e.disabled && e.offsetParent !== null; })()", f"{selector} to be shown")
    page.click(selector)


def fits(page: Engine) -> None:
    """Laid out in this engine as in Chromium (tests/consolerig.py's checks): nothing past the screen's edge, no
    word out of its button, no target under 48 CSS px."""
    assert page.evaluate(f"({OVERFLOWS})()") == []
    assert page.evaluate(f"({SMALL_TARGETS})()") == []


def test_the_musicians_page_connects_trusts_its_clock_draws_the_lane_and_reports_what_it_showed(
    page: Engine, stage: StageServe, shots: Path,
) -> None:
    name = f"{page.name} desk"
    page.goto(f"{stage.base}/musician?name={name.replace(' ', '%20')}&debug=1")
    wait_for(page, "document.getElementById('link').dataset.state === 'open' && document.getElementById('warning')"
             ".hidden && stageDebug.frames.length > 0", "the page to connect, trust its clock and draw", 30)
    sync = wait_for(page, "/^sync ±\\d+\\.\\d ms$/.test(document.getElementById('sync').textContent) && "
                    "document.getElementById('sync').textContent", "the clock sync shown")
    assert float(sync.split("±")[1].split()[0]) < 50, sync  # half the best round trip on loopback
    rest(stage, "/api/session/arm", {"cue": "1M1"})
    rest(stage, "/api/transport/from_top")
    wait_for(page, "document.getElementById('cue-id').textContent === '1M1'", "cue 1M1 shown")
    # While a streamer runs into the count-off's first click the lane is redrawn: its pixels change, something is lit.
    wait_for(page, "stageDebug.frames.at(-1).heads.length > 0", "a streamer under way", 30)
    lanes = []
    for _ in range(5):
        lanes.append(page.evaluate(LANE_SUM))
        time.sleep(0.1)
    assert all(lane["width"] > 0 and lane["height"] > 0 for lane in lanes)
    assert len({lane["sum"] for lane in lanes}) > 1, lanes
    assert any(lane["lit"] > 0 for lane in lanes), lanes
    page.screenshot(shots / f"{page.name}-musician.png")
    # The streamer into the first warning click ends on screen: the page reports the frame that showed it, with
    # its clock's sync, and the stage counts it against this screen.
    def draws() -> dict[str, Any] | None:
        clients = httpx.get(f"{stage.base}/api/clients", timeout=10 * SCALE).json()
        mine = [c for c in clients if c["name"] == name and c["role"] == "musician"]
        return mine[0]["draws"] if mine and mine[0]["draws"] and mine[0]["draws"]["count"] >= 1 else None

    wait_for(page, "stageDebug.reports.length > 0", "a streamer end reported", 30)
    got = _poll(draws, "the stage to count the screen's reports", 30 * SCALE)
    reports = page.evaluate("stageDebug.reports")
    frame = page.evaluate("stageDebug.frames.at(-1).dt")
    for r in reports:  # the end of one of this take's streamers, shown about when it was due (how close: bench/)
        assert abs(r["shown"] - r["due"]) < 0.5, (r, frame)
    assert got["count"] >= 1


def _poll(check: Any, what: str, seconds: float) -> Any:
    deadline = time.monotonic() + seconds
    while (value := check()) is None:
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)
    return value


def test_the_conductors_page_signs_in_with_its_token_and_its_play_rolls_the_stage(
    page: Engine, stage: StageServe, shots: Path,
) -> None:
    set_storage(page, f"{stage.base}/conductor", {"stage.token.conductor": TOKENS["conductor"]})
    wait_for(page, "document.body.dataset.signed === 'yes'", "the conductor signed in")
    touch(page, ".cue[data-cue='1M2']")
    wait_for(page, "document.querySelector(\".cue[data-cue='1M2']\").getAttribute('aria-pressed') === 'true'",
             "1M2 armed")
    assert stage.get("/api/session")["armed"] == "1M2"
    assert stage.get("/api/transport")["rolling"] is False
    touch(page, "#play")
    wait_for(page, "document.getElementById('play').dataset.answer === 'yes'", "PLAY answered done")
    assert stage.get("/api/transport")["rolling"] is True
    wait_for(page, "document.body.dataset.rolling === 'yes'", "the page showing picture rolling")
    page.screenshot(shots / f"{page.name}-conductor.png")
    fits(page)
    touch(page, "#stop")
    wait_for(page, "document.getElementById('stop').dataset.answer === 'yes'", "STOP answered done")
    assert stage.get("/api/transport")["rolling"] is False


def test_the_engineers_page_shows_the_take_log(page: Engine, stage: StageServe, shots: Path) -> None:
    engineer = {"Authorization": f"Bearer {TOKENS['engineer']}"}
    with httpx.Client(base_url=stage.base, headers=engineer, timeout=30 * SCALE) as http:
        for path, body in (("/api/session/arm", {"cue": "1M1"}), ("/api/session/mode", {"mode": "record"})):
            assert http.post(path, json=body).status_code == 200
        played = http.post("/api/transport/play")
        assert played.status_code == 200, played.text
        take = played.json()["take"]
        assert http.post("/api/transport/stop").status_code in (200, 503)  # 503: an engine late on a loaded host
        _poll(lambda: None if http.get("/api/transport").json()["rolling"] else True, "picture to stop", 10 * SCALE)
        assert http.post("/api/session/mode", json={"mode": "rehearse"}).status_code == 200
        logged = http.get(f"/api/takes/{take['id']}").json()["take"]
    set_storage(page, f"{stage.base}/engineer", {"stage.token.engineer": TOKENS["engineer"]})
    wait_for(page, "document.body.dataset.signed === 'yes'", "the engineer signed in")
    row = f"document.querySelector(\".take[data-id='{take['id']}']\")"
    cells = wait_for(page, f"{row} && {row}.querySelector('.tc-out').textContent.trim() && "
                     f"[...['.cue', '.tc-in', '.tc-out']].map((c) => {row}.querySelector(c).textContent.trim())",
                     "the take in the log")
    assert cells == ["1M1", logged["tc_in"], logged["tc_out"]]
    page.screenshot(shots / f"{page.name}-engineer.png")
    fits(page)


def test_webcodecs_decodes_the_stages_picture_proxy_frame_for_frame(page: Engine, stage: StageServe, cut: Cut) -> None:
    picture = stage.get("/api/picture")
    page.goto(f"{stage.base}/conductor")  # any page of the stage's origin: loopback, a secure context
    assert page.evaluate("[isSecureContext, typeof VideoDecoder]") == [True, "function"]
    index = stage.get(picture["proxy"]["index"])
    groups = list(range(len(index["keyframes"])))
    order = [groups[-1], *groups[:-1]]  # the last group first: a page that jumps decodes from any keyframe
    answer = page.evaluate(f"({PROXY_CODES})({picture['proxy']['index']!r}, {picture['proxy']['url']!r}, {order})")
    assert answer["errors"] == []
    assert [r["status"] for r in answer["ranges"]] == [206] * len(order)
    for r, g in zip(answer["ranges"], order, strict=True):
        first = index["keyframes"][g]
        last = (index["keyframes"][g + 1] if g + 1 < len(index["keyframes"]) else index["frames"]) - 1
        assert re.fullmatch(rf"bytes {index['offsets'][first]}-{index['offsets'][last] + index['sizes'][last] - 1}"
                            r"/\d+", r["range"]), r
    samples = [s for g in order for s in range(index["keyframes"][g], (index["keyframes"] + [index["frames"]])[g + 1])]
    got = [(f["sample"], f["code"]) for f in answer["frames"]]
    assert got == [(k, k) for k in samples], [g for g in got if g[0] != g[1]]  # every frame shows its sample's code
    assert len(samples) == cut.frames


def test_the_picture_page_draws_the_frame_due_at_every_refresh(page: Engine, stage: StageServe, shots: Path) -> None:
    """The Chromium test's frame check (tests/adapters/test_picture_page.py), in this engine: playing, the frame
    each refresh drew, read back from the picture canvas' pixels, is the frame due at that refresh's display time
    under the stage's anchor; the decoder runs in its worker."""
    page.resize(*PICTURE_SIZE)
    page.goto(f"{stage.base}/picture?debug=1")
    wait_for(page, "window.stageDebug && stageDebug.frames.length > 0 && document.getElementById('warning').hidden"
             " && stageDebug.stats !== null", "the picture page to connect, trust its clock and load the cut", 30)
    # No init script in WebKitWebDriver: the reader wraps requestAnimationFrame once the page runs; the page asks
    # for every refresh anew, so from its next refresh on each goes through it.
    page.evaluate(READER.strip().removesuffix(";"))
    with httpx.Client(base_url=stage.base, timeout=10 * SCALE) as http:
        picture = http.get("/api/picture").json()
        check = FrameCheck(page, RATES[picture["rate"]].fps, picture["start_frame"], picture["frames"])
        command(http, "/api/session/arm", {"cue": "1M1"})
        before = anchor_now(http)
        command(http, "/api/transport/locate", {"timecode": "00:59:58:12"})
        command(http, "/api/transport/play")
        anchor = new_anchor(http, before, 1.0)
        exact(check, http, anchor, READ_SECONDS, 1.0, least=READ_LEAST)
        page.screenshot(shots / f"{page.name}-picture.png")
        before = anchor
        command(http, "/api/transport/locate", {"timecode": "01:00:03:00"})  # a jump while rolling: followed
        anchor = new_anchor(http, before, 1.0)
        exact(check, http, anchor, READ_SECONDS, 1.0, least=READ_LEAST)
    # Decoded in a worker of its own in this engine too (lib/picture-worker.js), and never failed.
    decoding = page.evaluate("[stageDebug.stats.worker, stageDebug.stats.failures, stageDebug.stats.error]")
    assert decoding == [True, 0, ""]
