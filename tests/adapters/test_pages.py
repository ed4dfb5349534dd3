"""The pages are the package's own: served by the app from the checkout, and from an installed wheel."""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path
from urllib.parse import urlsplit

import httpx
from consolerig import StageServe, chromium
from fastapi import FastAPI
from peers.wait import SCALE
from playwright.sync_api import expect
from stagerig import free_port

from stage.adapters import pages
from stage.adapters.pages import mount_pages, web_root

REPO = Path(__file__).resolve().parents[2]
WEB = REPO / "clients" / "web"
IMPORT = re.compile(r"""^\s*(?:import|export)\s[^'"]*?from\s+['"](\.[^'"]+)['"]|^\s*import\s+['"](\.[^'"]+)['"]""",
                    re.MULTILINE)


def shipped() -> list[Path]:
    """The files a page needs: every page, style and script (not the tests or the type-check settings)."""
    return sorted([*WEB.glob("*.html"), *WEB.glob("*.css"), *WEB.glob("*.js"), *WEB.glob("lib/*.js")])


async def test_the_checkout_serves_every_page_file_and_every_module_they_import() -> None:
    assert web_root() == WEB
    app = FastAPI()
    assert mount_pages(app) == ["/musician", "/conductor", "/engineer", "/picture"]
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://stage") as http:
        page = await http.get("/musician")
        assert page.status_code == 200
        assert page.headers["content-type"] == "text/html; charset=utf-8"
        assert '<script type="module" src="/web/musician.js">' in page.text
        assert page.headers["cache-control"] == "no-cache"
        for path in shipped():
            r = await http.get(f"/web/{path.relative_to(WEB)}")
            assert r.status_code == 200, path
            assert r.content == path.read_bytes()
            if path.suffix == ".js":
                assert "javascript" in r.headers["content-type"]
                for found in IMPORT.finditer(path.read_text(encoding="utf-8")):
                    target = (path.parent / (found.group(1) or found.group(2))).resolve()
                    assert target.is_file(), f"{path.name} imports {target}, which is not there"
                    assert (await http.get(f"/web/{target.relative_to(WEB)}")).status_code == 200
        assert (await http.get("/web/nothing.js")).status_code == 404
        # Nothing outside the stage: no address with a host in any page file.
        for path in shipped():
            assert not re.search(r"https?://(?!\$\{)", path.read_text(encoding="utf-8")), path


async def test_a_built_wheel_carries_the_pages_and_stage_serve_serves_them_from_it(tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    build = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(dist), str(REPO),
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    out, _ = await asyncio.wait_for(build.communicate(), 240 * SCALE)
    assert build.returncode == 0, out.decode()
    wheel = next(dist.glob("stage-*.whl"))
    names = set(zipfile.ZipFile(wheel).namelist())
    for path in shipped():
        assert f"stage/web/{path.relative_to(WEB)}" in names, path
    assert not [n for n in names if n.startswith("stage/web/test")]
    # Every package of the source tree is in the wheel (pyproject.toml lists them by name).
    for init in (REPO / "stage").rglob("__init__.py"):
        assert f"{init.relative_to(REPO)}" in names, f"{init.parent} is missing from [tool.setuptools] packages"

    site = tmp_path / "site"
    install = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(site), str(wheel),
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    out, _ = await asyncio.wait_for(install.communicate(), 120 * SCALE)
    assert install.returncode == 0, out.decode()
    port = free_port()
    config = tmp_path / "stage.toml"
    config.write_text(f'[midi]\nenabled = false\n[http]\nport = {port}\n[osc]\nenabled = false\n'
                      f'[takes]\ndatabase = "sqlite:///{tmp_path / "takes.db"}"\n', encoding="utf-8")
    cues = REPO / "config" / "demo-cues.toml"
    # Run from elsewhere, with only the installed package on the path: no file of the checkout can be used.
    env = {**os.environ, "PYTHONPATH": str(site)}
    serve = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "stage", "serve", "--config", str(config), "--cues", str(cues), cwd=tmp_path, env=env,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
            for _ in range(int(200 * SCALE)):
                try:
                    page = await http.get("/musician")
                    break
                except httpx.HTTPError:
                    assert serve.returncode is None, "stage serve from the wheel did not start"
                    await asyncio.sleep(0.1)
            else:
                raise AssertionError("stage serve from the wheel did not answer")
            assert page.status_code == 200
            assert page.content == (WEB / "musician.html").read_bytes()
            for path in shipped():
                assert (await http.get(f"/web/{path.relative_to(WEB)}")).content == path.read_bytes()
        where = await asyncio.create_subprocess_exec(
            sys.executable, "-c", "from stage.adapters.pages import web_root; print(web_root())", cwd=tmp_path,
            env=env, stdout=subprocess.PIPE)
        printed, _ = await where.communicate()
        assert Path(printed.decode().strip()) == site / "stage" / "web"
        # No Swagger UI beside an installed package: /docs says where the schema is, and fetches nothing.
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
            docs = await http.get("/docs")
            assert docs.status_code == 200
            assert '<a href="/openapi.json">' in docs.text
            assert "npm ci" in docs.text
            assert "://" not in docs.text
    finally:
        serve.terminate()
        await serve.wait()


def test_the_api_reference_at_docs_is_served_by_the_stage_alone(tmp_path: Path) -> None:
    """Swagger UI from the lock file's swagger-ui-dist, every request to the stage: a stage network is offline."""
    assert pages.swagger_root() == REPO / "node_modules" / "swagger-ui-dist", "run npm ci (scripts/setup.sh)"
    serve = StageServe(tmp_path, f"sqlite:///{tmp_path / 'takes.db'}")
    serve.start()
    try:
        with chromium() as browser:
            page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
            requests: list[str] = []
            errors: list[str] = []
            page.on("request", lambda r: requests.append(r.url))
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(f"{serve.base}/docs")
            play = page.locator('.opblock-summary-path[data-path="/api/transport/play"]')
            expect(play).to_be_visible(timeout=10_000 * SCALE)
            assert page.title() == "stage: API"
            # Every operation of the schema is listed: the page read /openapi.json from this stage.
            paths = set(serve.get("/openapi.json")["paths"])
            shown = set(page.locator(".opblock-summary-path").evaluate_all("(els) => els.map((e) => e.dataset.path)"))
            assert shown == paths
            # The examples REST documents for a command are there to try.
            play.click()
            expect(page.locator(".opblock-body").first).to_contain_text("a pickup from bar 33 beat 3, one bar "
                                                                         "counted in", timeout=5_000 * SCALE)
            page.screenshot(path=str(tmp_path / "docs.png"))
            stage = urlsplit(serve.base).netloc
            assert [u for u in requests if not u.startswith("data:") and urlsplit(u).netloc != stage] == []
            assert errors == []
    finally:
        serve.stop()
