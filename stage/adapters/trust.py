"""What a device needs to trust the stage's authority, served at ``/tls``; and plain HTTP that only points to https.

With ``[http] authority`` the stage serves, on its HTTPS port and on the
plain ``redirect_port`` when there is one:

- ``GET /tls``: a page naming the authority and its SHA-256 fingerprint,
  with the files and how each kind of device trusts it;
- ``GET /tls/ca.crt``: the authority's certificate as DER, the type
  Android, Windows and the browsers' import dialogs offer to install;
- ``GET /tls/ca.pem``: the same as PEM;
- ``GET /tls/stage.mobileconfig``: the iPad's and iPhone's profile.

A device that does not trust the authority yet can fetch these only in
the clear (or past a browser's warning): that is what the redirect port is
for, and why the page shows the fingerprint to compare with the one the
stage printed.  Everything else the redirect port answers with 307 to the
same path at https, so a page, a token or ``/ws`` never travels in clear
(a WebSocket is refused there).
"""

from __future__ import annotations

import html
from urllib.parse import urlsplit

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from stage.adapters.tls import Names, Root, profile

# Safari offers to install a profile of this type; Android and Windows an X.509 CA certificate of this one.
TYPES = {"ca.crt": "application/x-x509-ca-cert", "ca.pem": "application/x-pem-file",
         "stage.mobileconfig": "application/x-apple-aspen-config"}


def trust_page(root: Root, secure: str | None) -> str:
    """The ``/tls`` page: the authority, its fingerprint, the files; ``secure`` is where the pages are at https."""
    name = html.escape(root.name)
    then = f'<p>Then open <a href="{html.escape(secure)}/musician">the stage over HTTPS</a>.</p>' if secure else ""
    return f"""<!doctype html><html lang="en"><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>stage: trust this stage</title>
<body style="font: 18px/1.5 system-ui, sans-serif; max-width: 40em; margin: 2em auto; padding: 0 1em">
<h1>Trust this stage</h1>
<p>The stage serves its pages over HTTPS with a certificate from its own authority, <b>{name}</b>. Each device
trusts it once (docs/tls.md):</p>
<ul>
<li>iPad, iPhone: <a href="/tls/stage.mobileconfig">the profile</a>; install it in Settings, then turn on full
trust in Settings → General → About → Certificate Trust Settings.</li>
<li>Android, Windows, macOS, Linux: <a href="/tls/ca.crt">ca.crt</a> (PEM: <a href="/tls/ca.pem">ca.pem</a>).</li>
</ul>
<p>Before trusting it, check that its SHA-256 fingerprint is the one the stage printed:</p>
<p><code style="word-break: break-all">{root.fingerprint}</code></p>
{then}</body></html>
"""


def mount_trust(app: FastAPI, root: Root, secure: str | None = None) -> None:
    """Serve ``/tls`` and the authority's files on ``app``."""
    files = {"ca.crt": root.der, "ca.pem": root.pem, "stage.mobileconfig": profile(root)}
    page = trust_page(root, secure)

    async def index() -> HTMLResponse:
        return HTMLResponse(page, headers={"Cache-Control": "no-cache"})

    app.add_api_route("/tls", index, methods=["GET", "HEAD"], include_in_schema=False)
    for filename, data in files.items():

        async def download(data: bytes = data, filename: str = filename) -> Response:
            saved = filename if filename == "stage.mobileconfig" else f"stage-{filename}"  # not any other "ca.crt"
            return Response(data, media_type=TYPES[filename],
                            headers={"Content-Disposition": f'attachment; filename="{saved}"',
                                     "Cache-Control": "no-cache"})

        app.add_api_route(f"/tls/{filename}", download, methods=["GET", "HEAD"], include_in_schema=False)


def redirect_target(host_header: str | None, target: str, names: Names, port: int, fallback: str) -> str:
    """Where a plain request for ``target`` (path and query) goes: the same host at https on ``port`` when the
    certificate names it (a browser would refuse it otherwise), else ``fallback`` (a host the certificate names)."""
    try:
        host = urlsplit(f"//{host_header}").hostname if host_header else None
    except ValueError:  # not a host at all ("[", say): where the certificate points
        host = None
    if host is None or not names.covers(host):
        host = fallback
    shown = f"[{host}]" if ":" in host else host
    return f"https://{shown}{'' if port == 443 else f':{port}'}{target}"


def redirect_app(names: Names, port: int, fallback: str, root: Root | None, secure: str | None) -> FastAPI:
    """The plain-HTTP application: ``/tls`` (with an authority), and 307 to https for everything else."""
    app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)
    if root is not None:
        mount_trust(app, root, secure)

    @app.api_route("/{path:path}", methods=["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"],
                   include_in_schema=False)
    async def elsewhere(request: Request) -> RedirectResponse:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(redirect_target(request.headers.get("host"), target, names, port, fallback), 307)

    return app
