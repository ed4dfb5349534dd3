"""The browser pages (``/musician``, ``/conductor``, ``/engineer``, ``/picture``), served by the service itself.

The files are the package's own: ``stage/web`` in an installed package
(``clients/web`` of the source tree, mapped by ``pyproject.toml``), or
``clients/web`` when running from a checkout.  Nothing is fetched from
anywhere else: a stage network is offline.  ``/web/…`` serves the scripts and
styles; each page has its short address.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse
from fastapi.staticfiles import StaticFiles
from starlette.responses import Response

import stage

PAGES = ("musician", "conductor", "engineer", "picture")
# Screens are reloaded rarely and must pick up a new version when they are: ask before reusing a copy.
HEADERS = {"Cache-Control": "no-cache"}


def web_root() -> Path:
    """Where the page files are: the installed package's ``stage/web``, else this checkout's ``clients/web``."""
    installed = Path(stage.__file__).resolve().parent / "web"
    if (installed / "musician.html").is_file():
        return installed
    return Path(__file__).resolve().parents[2] / "clients" / "web"


class _Static(StaticFiles):
    """Static files that ask the browser to check for a newer copy before reusing one."""

    def file_response(self, *args: Any, **kwargs: Any) -> Response:
        response = super().file_response(*args, **kwargs)
        response.headers.update(HEADERS)
        return response


def mount_pages(app: FastAPI, root: Path | None = None) -> list[str]:
    """Serve the pages found in ``root`` (default :func:`web_root`) and ``/web/…``; the page paths served."""
    base = root if root is not None else web_root()
    served: list[str] = []
    for name in PAGES:
        html = base / f"{name}.html"
        if not html.is_file():
            continue

        async def page(path: Path = html) -> FileResponse:
            return FileResponse(path, media_type="text/html; charset=utf-8", headers=HEADERS)

        page.__doc__ = f"The /{name} page."
        app.add_api_route(f"/{name}", page, methods=["GET"], include_in_schema=False)
        served.append(f"/{name}")
    app.mount("/web", _Static(directory=base), name="web")
    return served


# The interactive API reference at /docs is Swagger UI from the npm package swagger-ui-dist (package-lock.json),
# served from this checkout's node_modules: FastAPI's own /docs would fetch it from a CDN a stage cannot reach.
SWAGGER_FILES = ("swagger-ui-bundle.js", "swagger-ui.css", "favicon-32x32.png")
NO_SWAGGER = """<!doctype html><html lang="en"><meta charset="utf-8"><title>stage: API</title>
<body style="font: 16px/1.5 system-ui, sans-serif; max-width: 40em; margin: 2em auto">
<h1>stage: API</h1><p>The OpenAPI schema is at <a href="/openapi.json">/openapi.json</a>; docs/rest.md describes
every endpoint. The interactive reference needs Swagger UI, installed into the source tree by
<code>npm ci</code> (scripts/setup.sh does it); this stage runs without it.</p></body></html>
"""


def swagger_root() -> Path | None:
    """Swagger UI's files (``node_modules/swagger-ui-dist`` of this checkout), or None when npm ci has not run."""
    root = Path(__file__).resolve().parents[2] / "node_modules" / "swagger-ui-dist"
    return root if all((root / name).is_file() for name in SWAGGER_FILES) else None


def mount_api_docs(app: FastAPI, openapi_url: str = "/openapi.json") -> None:
    """``/docs``: Swagger UI over ``openapi_url``, every file from this stage (no validator badge: it would
    call out); without Swagger UI, a page that says where the schema is."""
    assets = swagger_root()
    if assets is not None:
        app.mount("/docs/assets", _Static(directory=assets), name="api-docs")

    async def docs() -> HTMLResponse:
        if assets is None:
            return HTMLResponse(NO_SWAGGER)
        return get_swagger_ui_html(
            openapi_url=openapi_url, title=f"{app.title}: API",
            swagger_js_url="/docs/assets/swagger-ui-bundle.js", swagger_css_url="/docs/assets/swagger-ui.css",
            swagger_favicon_url="/docs/assets/favicon-32x32.png", swagger_ui_parameters={"validatorUrl": None})

    app.add_api_route("/docs", docs, methods=["GET"], include_in_schema=False)
