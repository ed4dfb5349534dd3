"""HTTPS on the stage network, seen from another host: a network namespace whose Chromium trusts the stage's
authority the way a stage computer's does (NSS in its HOME), against a real ``stage serve`` on this machine's end
of the link.

Over HTTPS the pages are a secure context with WebCodecs, ``/ws`` is ``wss``, the musicians' page draws and a
conductor signs in with the engineer's code; plain HTTP only points to https and hands out the authority; a
browser that does not trust the authority refuses the stage; and a stage on plain HTTP gives a page from another
host no secure context and no ``VideoDecoder``.
"""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from consolerig import FLAGS, TOKENS, StageServe, free_port, open_page
from peers.netns import OtherHost, other_host, trusting_home
from peers.wait import SCALE
from playwright.sync_api import Browser, Error, Page, Playwright, expect, sync_playwright

from stage.cli import main

MS = 10_000 * SCALE  # Playwright's waits, in milliseconds
DRAWING = "() => window.stageDebug && stageDebug.frames.length > 0 && document.getElementById('warning').hidden"
SECURE = "[isSecureContext, typeof VideoDecoder, location.protocol]"


@pytest.fixture(scope="module")
def host() -> Iterator[OtherHost]:
    with other_host() as h:
        yield h


@pytest.fixture(scope="module")
def authority(tmp_path_factory: pytest.TempPathFactory, host: OtherHost) -> Path:
    """What ``stage tls init`` writes for this machine's end of the link."""
    d = tmp_path_factory.mktemp("authority") / "tls"
    assert main(["tls", "init", "--dir", str(d), "--ip", host.host_address, "--name", "stage.local"]) == 0
    return d


@pytest.fixture(scope="module")
def stages(tmp_path_factory: pytest.TempPathFactory, host: OtherHost,
           authority: Path) -> Iterator[tuple[StageServe, StageServe]]:
    """Two ``stage serve`` on this machine's end of the link, started together: over HTTPS (with a plain
    redirect port), and over plain HTTP."""
    tmp = tmp_path_factory.mktemp("secure"), tmp_path_factory.mktemp("plain")
    both = (StageServe(tmp[0], f"sqlite:///{tmp[0] / 'takes.db'}", host=host.host_address, tls=authority,
                       redirect_port=free_port()),
            StageServe(tmp[1], f"sqlite:///{tmp[1] / 'takes.db'}", host=host.host_address))
    try:
        for serve in both:
            serve.start(wait=False)
        for serve in both:
            serve.answering()
        yield both
    finally:
        for serve in both:
            serve.stop()


@pytest.fixture(scope="module")
def secure(stages: tuple[StageServe, StageServe]) -> StageServe:
    return stages[0]


@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as pw:
        yield pw


def launch(pw: Playwright, host: OtherHost, directory: Path, authority: Path | None) -> Browser:
    """Debian's Chromium in the namespace, its HOME's NSS database trusting ``authority`` (None: nothing)."""
    home = trusting_home(directory / "home", authority)
    return pw.chromium.launch(executable_path=str(host.chromium(directory)), args=FLAGS,
                              env={**os.environ, "HOME": str(home)})


@pytest.fixture(scope="module")
def browser(playwright: Playwright, tmp_path_factory: pytest.TempPathFactory, host: OtherHost,
            authority: Path) -> Iterator[Browser]:
    b = launch(playwright, host, tmp_path_factory.mktemp("browser"), authority / "ca.pem")
    yield b
    b.close()


@pytest.fixture(autouse=True)
def pages_closed(browser: Browser) -> Iterator[None]:
    yield
    for context in browser.contexts:
        context.close()


def sockets(page: Page) -> list[str]:
    """The WebSockets ``page`` opens from now on, by URL."""
    urls: list[str] = []
    page.on("websocket", lambda ws: urls.append(ws.url))
    return urls


def musician(browser: Browser, url: str) -> tuple[Page, list[str]]:
    page = browser.new_context(viewport={"width": 960, "height": 540}).new_page()
    opened = sockets(page)
    page.goto(url)
    try:
        # A cold Chromium on the other host: its first TLS handshakes and the clock's first exchanges.
        page.wait_for_function(DRAWING, timeout=3 * MS)
    except Error as e:
        shown = page.evaluate("document.getElementById('warning')?.innerText ?? ''")
        raise AssertionError(f"the page did not draw in step; it shows {shown!r}") from e
    return page, opened


def test_over_https_a_page_on_another_host_is_a_secure_context_with_webcodecs_and_draws(
    browser: Browser, secure: StageServe, host: OtherHost,
) -> None:
    page, opened = musician(browser, f"{secure.base}/musician?debug=1")
    assert page.evaluate(SECURE) == [True, "function", "https:"]
    assert opened == [f"wss://{host.host_address}:{secure.port}/ws"]
    assert page.evaluate("stageDebug.frames.length") > 0
    # It came from the other host's address, not from loopback.
    asked = re.findall(r'([\d.]+):\d+ - "GET /musician\?debug=1 HTTP/1.1" 200', secure.log.read_text())
    assert asked == [host.address]


def test_a_conductor_on_another_host_signs_in_with_the_engineers_code_over_https(
    browser: Browser, secure: StageServe, host: OtherHost,
) -> None:
    eng = open_page(browser, f"{secure.base}/engineer", width=1440, height=900, token=("engineer", TOKENS["engineer"]))
    expect(eng.locator("body")).to_have_attribute("data-signed", "yes", timeout=MS)
    eng.locator("#pair-role").select_option("conductor")
    eng.locator("#pair").click()
    hint = eng.locator("#pair-hint")
    expect(hint).to_contain_text(f"scan this, or open {secure.base}/conductor", timeout=MS)
    trust = f"http://{host.host_address}:{secure.redirect_port}/tls"
    expect(hint).to_contain_text(f"A tablet new to this stage first trusts it: {trust} (docs/tls.md)")
    code = eng.locator("#pair-digits").inner_text().replace(" ", "")
    tablet = open_page(browser, f"{secure.base}/conductor#pair={code}", touch=True)
    expect(tablet.locator("body")).to_have_attribute("data-signed", "yes", timeout=MS)
    expect(tablet.locator("#signed-as")).to_have_text("conductor ✓")
    cue = tablet.locator(".cue[data-cue='1M1']")
    cue.click()  # the token it was given works over wss
    expect(cue).to_have_attribute("aria-pressed", "true", timeout=MS)
    assert secure.get("/api/session")["armed"] == "1M1"
    assert eng.errors == tablet.errors == []  # type: ignore[attr-defined]


def test_plain_http_only_points_to_https_and_hands_out_the_authority(
    browser: Browser, secure: StageServe, host: OtherHost, authority: Path,
) -> None:
    plain = f"http://{host.host_address}:{secure.redirect_port}"
    page = browser.new_context().new_page()
    page.goto(f"{plain}/conductor?view=1")
    assert page.url == f"{secure.base}/conductor?view=1"
    assert page.evaluate(SECURE) == [True, "function", "https:"]
    # The trust page stays in the clear: a device fetches the authority there before it trusts it.
    page.goto(f"{plain}/tls")
    assert page.evaluate(SECURE) == [False, "undefined", "http:"]
    fingerprint = authority_fingerprint(authority)
    expect(page.locator("code")).to_have_text(fingerprint)
    files: dict[str, Any] = page.evaluate("""async () => {
      const out = {};
      for (const name of ['ca.crt', 'ca.pem', 'stage.mobileconfig']) {
        const r = await fetch(`/tls/${name}`);
        out[name] = {type: r.headers.get('content-type'), bytes: Array.from(new Uint8Array(await r.arrayBuffer()))};
      }
      return out;
    }""")
    assert bytes(files["ca.crt"]["bytes"]) == (authority / "ca.crt").read_bytes()
    assert bytes(files["ca.pem"]["bytes"]) == (authority / "ca.pem").read_bytes()
    assert bytes(files["stage.mobileconfig"]["bytes"]) == (authority / "stage.mobileconfig").read_bytes()
    assert [files[n]["type"] for n in ("ca.crt", "stage.mobileconfig")] == [
        "application/x-x509-ca-cert", "application/x-apple-aspen-config"]
    # No /ws in clear: a token never crosses the stage network unencrypted.
    outcome = page.evaluate("""(url) => new Promise((done) => {
      const ws = new WebSocket(url);
      ws.onopen = () => done('open');
      ws.onclose = () => done('closed');
    })""", f"ws://{host.host_address}:{secure.redirect_port}/ws")
    assert outcome == "closed"


def authority_fingerprint(authority: Path) -> str:
    from cryptography import x509  # noqa: PLC0415
    from cryptography.hazmat.primitives import hashes  # noqa: PLC0415

    digest = x509.load_pem_x509_certificate((authority / "ca.pem").read_bytes()).fingerprint(hashes.SHA256())
    return ":".join(f"{b:02X}" for b in digest)


def test_a_browser_trusts_the_stage_only_once_told_to_by_nss_or_by_policy(
    playwright: Playwright, tmp_path: Path, secure: StageServe, host: OtherHost, authority: Path,
) -> None:
    """Without the authority in its NSS database Chromium refuses the stage; a kiosk's Chromium told by the
    enterprise policy docs/tls.md gives (CACertificates in /etc/chromium/policies/managed) accepts it."""
    stranger = launch(playwright, host, tmp_path / "stranger", None)
    try:
        with pytest.raises(Error, match="net::ERR_CERT_AUTHORITY_INVALID"):
            stranger.new_page().goto(f"{secure.base}/musician")
    finally:
        stranger.close()
    policy = host.etc("chromium/policies/managed/stage.json")
    policy.write_text(json.dumps({"CACertificates": [base64.b64encode((authority / "ca.crt").read_bytes()).decode()]}))
    try:
        kiosk = launch(playwright, host, tmp_path / "kiosk", None)
        try:
            page = kiosk.new_page()
            page.goto(f"{secure.base}/musician")
            assert page.evaluate(SECURE) == [True, "function", "https:"]
        finally:
            kiosk.close()
    finally:
        shutil.rmtree(host.etc("chromium"))  # browsers started later trust through NSS only


def test_over_plain_http_a_page_on_another_host_has_no_secure_context_and_no_webcodecs(
    browser: Browser, stages: tuple[StageServe, StageServe], host: OtherHost,
) -> None:
    plain = stages[1]
    page, opened = musician(browser, f"{plain.base}/musician?debug=1")
    assert page.evaluate(SECURE) == [False, "undefined", "http:"]
    assert opened == [f"ws://{host.host_address}:{plain.port}/ws"]
