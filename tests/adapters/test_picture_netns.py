"""``/picture`` over the stage network: Chromium on another host (a network namespace of the test's own, its NSS
database trusting the stage's authority as a stage computer's does) against a real ``stage serve`` on this
machine's end of the link, serving HTTPS with what ``stage tls init`` made.

Over HTTPS the page is a secure context, finds WebCodecs and draws, at every refresh, the frame picture is at when
that refresh reaches the screen: read back from the picture canvas' pixels (tests/peers/pictureprobe.js, the cut's
block code), never asked of the page, against the stage's own transport anchor, through play and after a locate
(a two-second stretch of each, all but a twentieth of its refreshes exact: see :func:`frame_exact`).  Over
plain ``http://`` from the same host (a bridge of the test's own on this machine's end of the link speaks plain
HTTP to the page and TLS to the stage, as a stage without a certificate would be reached) there is no secure
context and no ``VideoDecoder``: the page says it cannot be frame-exact and why, and still shows the picture
through its fallback ``<video>``.

One ``stage serve``, one namespace and one browser for the module.
"""

from __future__ import annotations

import itertools
import math
import os
import re
import statistics
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from consolerig import FLAGS, TOKENS, StageServe, free_port
from peers.cuts import Cut, make_cut
from peers.delayproxy import delaying_proxy
from peers.netns import OtherHost, other_host, trusting_home
from peers.wait import SCALE
from playwright.sync_api import Browser, Page, expect, sync_playwright
from screenrig import wall_minus_monotonic

from stage.adapters.pictures import PictureLibrary
from stage.cli import main
from stage.core.timecode import RATES, frame_at

MS = 20_000 * SCALE  # Playwright's waits, in milliseconds
RATE = RATES["23.976"]
CONDUCTOR = {"Authorization": f"Bearer {TOKENS['conductor']}"}
PROBE = (Path(__file__).resolve().parents[1] / "peers" / "pictureprobe.js").read_text(encoding="utf-8")
SECURE = "[isSecureContext, typeof VideoDecoder, location.protocol]"
EDGE = 0.004  # s: a refresh this near a frame edge may show either neighbour (the page's clock, and ours)
SHEET = """
[picture]
rate = "23.976"
[defaults]
countoff = 1
streamer = "1s"
[[cue]]
id = "9M1"
start = "00:59:59:12"
tempo = "12-0"
meter = "4/4"
bars = 4
[[cue.hit]]
bar = 3
label = "door"
color = "yellow"
"""


@pytest.fixture(scope="module")
def host() -> Iterator[OtherHost]:
    with other_host() as h:
        yield h


@pytest.fixture(scope="module")
def authority(tmp_path_factory: pytest.TempPathFactory, host: OtherHost) -> Path:
    d = tmp_path_factory.mktemp("authority") / "tls"
    assert main(["tls", "init", "--dir", str(d), "--ip", host.host_address]) == 0
    return d


@pytest.fixture(scope="module")
def cut(tmp_path_factory: pytest.TempPathFactory) -> Cut:
    return make_cut(tmp_path_factory.mktemp("cut") / "reel9.mov", "23.976", "00:59:58:00", 12.0, size=(320, 180))


@pytest.fixture(scope="module")
def stage(tmp_path_factory: pytest.TempPathFactory, host: OtherHost, authority: Path, cut: Cut) -> Iterator[StageServe]:
    """``stage serve`` over HTTPS on this machine's end of the link, the cut imported."""
    tmp = tmp_path_factory.mktemp("serve")
    cues = tmp / "cues.toml"
    cues.write_text(SHEET, encoding="utf-8")
    serve = StageServe(tmp, f"sqlite:///{tmp / 'takes.db'}", cues=cues, host=host.host_address, tls=authority)
    PictureLibrary(tmp / "picture").import_cut(cut.path, rate=RATE, now=datetime.now(UTC))
    serve.start()
    try:
        yield serve
    finally:
        serve.stop()


@pytest.fixture(scope="module")
def plain(stage: StageServe, host: OtherHost, authority: Path) -> Iterator[str]:
    """http://… on this machine's end of the link: plain HTTP to the page, TLS to the stage."""
    port = free_port()
    with delaying_proxy(port, stage.port, 0.0, 0.0, host=host.host_address, target_host=host.host_address,
                        target_cafile=str(authority / "ca.pem")):
        yield f"http://{host.host_address}:{port}"


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory, host: OtherHost, authority: Path) -> Iterator[Browser]:
    """Debian's Chromium in the namespace, its NSS database trusting the stage's authority."""
    directory = tmp_path_factory.mktemp("browser")
    home = trusting_home(directory / "home", authority / "ca.pem")
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=str(host.chromium(directory)), args=FLAGS,
                               env={**os.environ, "HOME": str(home)})
        try:
            yield b
        finally:
            b.close()


@pytest.fixture
def http(stage: StageServe) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=stage.base, verify=stage.verify, headers=CONDUCTOR, timeout=15 * SCALE) as client:
        yield client


def open_picture(browser: Browser, url: str) -> Page:
    context = browser.new_context(viewport={"width": 640, "height": 360})
    context.add_init_script(PROBE)  # reads <stage-picture>'s picture at every refresh
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.errors = errors  # type: ignore[attr-defined]
    page.goto(url)
    return page


def command(http: httpx.Client, path: str, body: dict[str, Any] | None = None) -> dict[str, float]:
    """A transport command; the anchor the stage then runs on (a loaded host may answer 503 after the engine
    moved: the transport says where it is)."""
    r = http.post(path, json=body or {})
    assert r.status_code in (200, 503) or (r.status_code == 409 and path.endswith("/stop")), r.text
    return dict(http.get("/api/transport").json()["anchor"])


def origin(page: Page) -> float:
    """Where the page's performance.now() starts on this machine's monotonic clock (the stage's): its
    ``timeOrigin`` on the wall clock, which both read (the namespace has its own network, not its own clocks)."""
    return float(page.evaluate("performance.timeOrigin")) / 1000 - wall_minus_monotonic()


def reads(page: Page, seconds: float) -> list[dict[str, Any]]:
    """Every refresh of the next ``seconds``: its rAF time and the code its pixels show."""
    page.evaluate("pictureProbe.take()")
    time.sleep(seconds)
    frames: list[dict[str, Any]] = page.evaluate("pictureProbe.take().frames")
    return frames


def due(anchor: dict[str, float], t: float, start_frame: int) -> tuple[int, float]:
    """The sample picture is at, at stage time ``t``, and how far (s of real time) ``t`` is from a frame edge."""
    p = anchor["p0"] + anchor["speed"] * (t - anchor["t0"])
    exact = p * float(RATE.fps)
    edge = min(exact - math.floor(exact), math.ceil(exact) - exact) / float(RATE.fps) / (abs(anchor["speed"]) or 1)
    return frame_at(p, RATE) - start_frame, edge


def judge(frames: list[dict[str, Any]], anchor: dict[str, float], zero: float, start_frame: int,
          after: float) -> tuple[list[tuple[int, int | None]], list[dict[str, Any]]]:
    """(due, drawn) of every refresh reaching the screen ``after`` s past the anchor or later; and the wrong ones
    (not the frame due, nor its neighbour at a frame edge)."""
    refresh = statistics.median(b["raf"] - a["raf"] for a, b in itertools.pairwise(frames)) / 1000
    pairs, wrong = [], []
    for f in frames:
        t = zero + f["raf"] / 1000 + refresh
        if t < anchor["t0"] + after:
            continue
        k, edge = due(anchor, t, start_frame)
        pairs.append((k, f["code"]))
        if f["code"] != k and not (f["code"] is not None and abs(f["code"] - k) == 1 and edge < EDGE):
            wrong.append({"t": round(t - anchor["t0"], 3), "due": k, "drew": f["code"],
                          "edge_ms": round(edge * 1e3, 2)})
    return pairs, wrong


def frame_exact(page: Page, anchor: dict[str, float], zero: float, start_frame: int,
                after: float) -> list[tuple[int, int | None]]:
    """Two seconds of refreshes, from ``after`` s past the anchor, in which the page drew the frame due (all but
    a twentieth): (due, drawn) of each.  This test is about the stage network, not the page's timing under load
    (test_picture_page.py holds every refresh to it; bench/picture.py measures it): on this shared machine
    Chromium's decoder may stall for a moment, holding the frame before, so up to four stretches are read; a
    picture that is not being decoded, or not drawn where it should be, misses in every one."""
    for _ in range(4):
        checked, wrong = judge(reads(page, 2.0), anchor, zero, start_frame, after)
        if len(checked) >= 15 and len(wrong) <= 0.05 * len(checked):
            return checked
    raise AssertionError(f"{len(wrong)} of {len(checked)} refreshes not the frame due: {wrong[:10]}")


def test_over_https_from_another_host_picture_decodes_with_webcodecs_and_draws_the_frame_due(
    browser: Browser, stage: StageServe, host: OtherHost, http: httpx.Client, tmp_path: Path,
) -> None:
    start_frame = int(http.get("/api/picture").json()["start_frame"])
    command(http, "/api/transport/stop")  # whatever the test before left rolling
    command(http, "/api/session/arm", {"cue": "9M1"})
    command(http, "/api/transport/locate", {"timecode": "00:59:58:12"})
    page = open_picture(browser, f"{stage.base}/picture?debug=1")
    page.wait_for_function("pictureProbe.frames.some((f) => f.code === 12)", timeout=MS)
    assert page.evaluate(SECURE) == [True, "function", "https:"]
    assert page.evaluate("document.querySelector('stage-picture').fallback") is False
    expect(page.locator("stage-picture #banner")).to_be_hidden()
    zero = origin(page)

    anchor = command(http, "/api/transport/play")
    assert anchor["speed"] == 1.0
    played = frame_exact(page, anchor, zero, start_frame, after=0.3)
    assert played[-1][0] - played[0][0] >= 30  # picture moved on, a frame at a time

    anchor = command(http, "/api/transport/locate", {"timecode": "00:59:59:02"})  # back 1½ s, still rolling
    assert anchor["speed"] == 1.0
    located = frame_exact(page, anchor, zero, start_frame, after=0.5)
    assert located[0][0] < played[-1][0]

    told = page.evaluate("pictureProbe.take()")
    assert told["outputs"] > 0
    assert told["chunks"] >= told["outputs"]
    # The proxy came by range to the other host's address, not to loopback.
    asked = re.findall(r'([\d.]+):\d+ - "GET /picture/files/\S+ HTTP/1.1" 20[06]', stage.log.read_text())
    assert asked
    assert set(asked) == {host.address}
    page.screenshot(path=tmp_path / "https.png")
    command(http, "/api/transport/stop")
    assert page.errors == []  # type: ignore[attr-defined]


def test_over_plain_http_from_another_host_the_page_says_it_is_not_frame_exact_and_shows_picture_by_its_video(
    browser: Browser, plain: str, http: httpx.Client, tmp_path: Path,
) -> None:
    start_frame = int(http.get("/api/picture").json()["start_frame"])
    command(http, "/api/transport/stop")  # whatever the test before left rolling
    command(http, "/api/session/arm", {"cue": "9M1"})
    command(http, "/api/transport/locate", {"timecode": "00:59:58:12"})
    page = open_picture(browser, f"{plain}/picture?debug=1")
    expect(page.locator("#link")).to_have_text("connected", timeout=MS)
    assert page.evaluate(SECURE) == [False, "undefined", "http:"]
    banner = page.locator("stage-picture #banner")
    expect(banner).to_be_visible(timeout=MS)
    expect(banner).to_contain_text("NOT FRAME-EXACT")
    expect(banner).to_contain_text("no WebCodecs here (a secure origin is needed)")  # why
    expect(banner).to_contain_text("open the stage over https")  # and what to do
    assert page.evaluate("document.querySelector('stage-picture').fallback") is True
    page.wait_for_function("pictureProbe.frames.some((f) => f.code !== null)", timeout=MS)
    zero = origin(page)

    anchor = command(http, "/api/transport/play")
    played, _ = judge(reads(page, 4.0), anchor, zero, start_frame, after=1.5)
    shown = [(k, code) for k, code in played if code is not None]
    assert len(shown) >= 0.9 * len(played) >= 20  # the <video>'s frames, read from its pixels
    assert shown[-1][1] - shown[0][1] >= 24  # and they move on with picture
    # Near where picture is (a seek lands within the element's own reach), if not exactly on it.
    assert statistics.median(abs(code - k) for k, code in shown) <= 6
    page.screenshot(path=tmp_path / "plain.png")
    command(http, "/api/transport/stop")
    assert page.errors == []  # type: ignore[attr-defined]
