"""The browser pages (``/musician``, later ``/conductor`` and ``/engineer``), served by the service itself.

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
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles
from starlette.responses import Response

import stage

PAGES = ("musician", "conductor", "engineer")
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

        page.__doc__ = f"The {name}s' screen."
        app.add_api_route(f"/{name}", page, methods=["GET"], include_in_schema=False)
        served.append(f"/{name}")
    app.mount("/web", _Static(directory=base), name="web")
    return served
