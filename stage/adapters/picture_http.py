"""The picture over HTTP: ``GET /api/picture``, each revision's files under ``/picture/files/``, ``PUT /api/picture``.

An upload (:class:`PictureImports`) is one import at a time, off the event
loop: the body streams to a file beside the revisions (never whole in
memory), hashed as it arrives; the proxy is made by ffmpeg in a process of
its own, reading and indexing in a worker thread.  Its progress goes out on
the bus's ``picture`` topic, to every transport (docs/ws.md): the step, how
far along, then the revision or the reason it failed.  The new revision
becomes current only while picture is stopped, as a new cue sheet does:
refused (409) while picture rolls, when the upload begins and again at the
last moment.

A page fetches a group of pictures by one ``Range`` request of the proxy:
:class:`ProxyRanges` answers it (206) with one read in a worker thread, from
a file it keeps open (a revision never changes).  Everything else (the
index, the whole proxy, several ranges, a suffix, one out of the file) is
Starlette's ``FileResponse``, whose every step is a worker thread's turn: a
page waiting for the group it must show next waited on six of them.  A
revision's files never change, so they may be cached for good.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import hashlib
import logging
import os
import re
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable
from datetime import datetime
from pathlib import Path
from typing import IO, Annotated, Any

from fastapi import Depends, FastAPI, Query, Request
from fastapi.responses import FileResponse, JSONResponse, Response
from starlette.requests import ClientDisconnect

from stage.adapters.pictures import INDEX, PROXY, PictureLibrary
from stage.adapters.web import need
from stage.core.cut import Picture, outside
from stage.core.protocol import Topic
from stage.core.session import Action, Role
from stage.core.timecode import Timecode
from stage.errors import DiskFull, PictureError, SessionError, StageError, Unavailable
from stage.runtime.commands import Controls
from stage.runtime.service import Service

log = logging.getLogger(__name__)

FILES_PATH = "/picture/files"
MEDIA = {PROXY: "video/mp4", INDEX: "application/json"}
IMMUTABLE = {"Cache-Control": "public, max-age=31536000, immutable"}  # the revision is in the path
WRITE_CHUNK = 1 << 20  # bytes of an upload gathered before one write (in a worker thread)
EVERY = 0.2  # seconds between two picture events of one step
OPEN_PROXIES = 4  # proxies kept open for ranges, the latest served
_ONE_RANGE = re.compile(r"bytes=(\d+)-(\d*)")

# Each step's share of the whole import, for one progress bar: (from, to).
SHARES = {"receiving": (0.0, 0.2), "hashing": (0.0, 0.2), "reading": (0.2, 0.25), "encoding": (0.25, 0.95),
          "indexing": (0.95, 1.0)}


def picture_json(picture: Picture) -> dict[str, Any]:
    """A picture as ``GET /api/picture`` answers it: its record and where its proxy and index are."""
    base = f"{FILES_PATH}/{picture.revision}"
    return {**picture.record(), "proxy": {"url": f"{base}/{PROXY}", "index": f"{base}/{INDEX}"}}


def one_range(header: str | None, size: int) -> tuple[int, int] | None:
    """``[start, end)`` of a ``Range`` header asking for one range from a byte inside a file of ``size`` bytes
    (its end clipped to the file's, as RFC 9110 says); None for no header and for anything else (several ranges,
    a suffix, a start past the end, a malformed one): those go to ``FileResponse``, which answers each."""
    m = _ONE_RANGE.fullmatch(header.strip()) if header is not None else None
    if m is None:
        return None
    start = int(m.group(1))
    last = int(m.group(2)) if m.group(2) else size - 1
    if start >= size or last < start:
        return None
    return start, min(last, size - 1) + 1


class ProxyRanges:
    """One range of a revision's proxy read in one worker-thread call, from a file kept open.

    The latest :data:`OPEN_PROXIES` proxies served stay open (revisions never
    change); reading and closing share a lock, so a file is never read after
    it was closed.
    """

    def __init__(self, library: PictureLibrary) -> None:
        self.library = library
        self._open: OrderedDict[str, tuple[int, int]] = OrderedDict()  # revision → (descriptor, size)
        self._lock = threading.Lock()

    async def read(self, revision: str, header: str | None) -> tuple[bytes, int, int, int] | None:
        """The bytes of the one range ``header`` asks of ``revision``'s proxy, with its start, end and the file's
        size; None when the header asks for something else (:func:`one_range`).  :class:`NotFound` for a
        revision that is not there."""
        if header is None:
            return None
        return await asyncio.to_thread(self._read, revision, header)

    def _read(self, revision: str, header: str) -> tuple[bytes, int, int, int] | None:
        with self._lock:
            entry = self._open.get(revision)
            if entry is None:
                path = self.library.file(revision, PROXY)
                fd = os.open(path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
                entry = (fd, os.fstat(fd).st_size)
                self._open[revision] = entry
                while len(self._open) > OPEN_PROXIES:
                    os.close(self._open.popitem(last=False)[1][0])
            self._open.move_to_end(revision)
            fd, size = entry
            span = one_range(header, size)
            if span is None:
                return None
            start, end = span
            return os.pread(fd, end - start, start), start, end, size

    def close(self) -> None:
        """Close every proxy kept open."""
        with self._lock:
            while self._open:
                os.close(self._open.popitem()[1][0])


class PictureImports:
    """Uploads into the service's picture library, one at a time; progress and outcome on the ``picture`` topic.

    ``wall`` is the clock of ``imported_at``; ``monotonic`` paces the events.
    """

    def __init__(self, service: Service, library: PictureLibrary, *,
                 wall: Callable[[], datetime] = lambda: datetime.now().astimezone(),
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self.service = service
        self.library = library
        self._wall = wall
        self._monotonic = monotonic
        self.busy: str | None = None  # the name of the cut being imported
        self._cancel = threading.Event()
        self.ranges = ProxyRanges(library)

    def close(self) -> None:
        """Cancel the import under way, if any (it cleans up after itself), and close the proxies served."""
        self._cancel.set()
        self.ranges.close()

    def _publish(self, data: dict[str, Any]) -> None:
        self.service.bus.publish(Topic.PICTURE, data)

    def _event(self, name: str, step: str, done: int, total: int) -> dict[str, Any]:
        low, high = SHARES[step]
        share = done / total if total > 0 else 0.0
        return {"state": step, "name": name, "done": done, "total": total,
                "fraction": round(low + (high - low) * min(share, 1.0), 4), "revision": None, "error": None}

    async def upload(self, body: AsyncIterator[bytes], *, name: str, start: str | None = None,
                     length: int | None = None) -> dict[str, Any]:
        """Import the cut streamed in ``body`` (``length`` bytes, when known) and make it current.

        Returns the new picture (:func:`picture_json`) and the cues that run
        outside it.  Refused (:class:`SessionError`) while another import runs
        or picture rolls; :class:`PictureError` for a cut the stage cannot
        use, :class:`DiskFull` when the disk fills: the current picture stays.
        """
        if self.busy is not None:
            raise SessionError(f"a cut is being imported already ({self.busy}): wait for it to finish")
        self.service.check_picture_change()
        if start is not None:
            Timecode.parse(start, self.service.rate)  # a start that can never work: before a byte is read
        self.busy = name
        self._cancel.clear()
        upload = self.library.root / f".upload-{secrets.token_hex(6)}"
        try:
            digest = await self._receive(body, upload, name, length)
            picture = await self._build(upload, name, start, digest)
        except Exception as exc:
            self._publish({"state": "failed", "name": name, "done": 0, "total": 0, "fraction": 0.0,
                           "revision": None, "error": str(exc) if isinstance(exc, StageError) else "internal error"})
            raise
        finally:
            with contextlib.suppress(OSError):
                await asyncio.to_thread(upload.unlink, missing_ok=True)
            self.busy = None
        self._publish({"state": "done", "name": name, "done": picture.frames, "total": picture.frames,
                       "fraction": 1.0, "revision": picture.revision, "error": None})
        return {"picture": picture_json(picture), "outside": outside(picture.start, picture.frames,
                                                                     self.service.sheet.cues)}

    async def _receive(self, body: AsyncIterator[bytes], path: Path, name: str, length: int | None) -> str:
        """Write the body to ``path`` (in a worker thread, a megabyte at a time); its SHA-256."""
        digest = hashlib.sha256()
        received, buffer, last = 0, bytearray(), 0.0
        self._publish(self._event(name, "receiving", 0, length or 0))
        try:
            await asyncio.to_thread(path.parent.mkdir, parents=True, exist_ok=True)
            f: IO[bytes] = await asyncio.to_thread(path.open, "wb")
        except OSError as exc:
            raise Unavailable(f"the picture directory {self.library.root} cannot be written: "
                              f"{exc.strerror or exc}") from None
        try:
            async for chunk in body:
                buffer += chunk
                received += len(chunk)
                if len(buffer) >= WRITE_CHUNK:
                    await asyncio.to_thread(_write, f, digest, bytes(buffer))
                    buffer.clear()
                if self._monotonic() - last >= EVERY:
                    last = self._monotonic()
                    self._publish(self._event(name, "receiving", received, length or received))
            await asyncio.to_thread(_write, f, digest, bytes(buffer))
        except ClientDisconnect:
            raise PictureError(f"the upload of {name} was cut off after {received} bytes") from None
        except OSError as exc:
            if exc.errno == errno.ENOSPC:
                raise DiskFull(f"the disk of {self.library.root} filled while receiving {name} ({received} bytes): "
                               "nothing was kept, the current picture stays") from None
            raise Unavailable(f"the picture directory {self.library.root} cannot be written: "
                              f"{exc.strerror or exc}") from None
        finally:
            await asyncio.to_thread(f.close)
        if received == 0:
            raise PictureError("the upload is empty: send the cut's bytes as the request's body")
        if length is not None and received != length:
            raise PictureError(f"the upload of {name} was cut off: {received} of {length} bytes arrived")
        return digest.hexdigest()

    async def _build(self, upload: Path, name: str, start: str | None, digest: str) -> Picture:
        loop = asyncio.get_running_loop()
        paced: dict[str, float] = {}

        def step(what: str, done: int, total: int) -> None:  # in the worker thread
            now = self._monotonic()
            if done < total and now - paced.get(what, 0.0) < EVERY:
                return
            paced[what] = now
            loop.call_soon_threadsafe(self._publish, self._event(name, what, done, total))

        built = await asyncio.to_thread(self.library.build, upload, rate=self.service.rate, now=self._wall(),
                                        start=start, name=name, sha256=digest, step=step, cancel=self._cancel)
        picture = built.picture
        before = self.service.picture
        try:
            self.service.check_picture_change()  # picture may have rolled while the proxy was made
            await asyncio.to_thread(self.library.make_current, picture.revision)
            try:
                self.service.replace_picture(picture)  # refused if it rolled this very moment
            except SessionError:
                await asyncio.to_thread(self.library.make_current, None if before is None else before.revision)
                raise
        except StageError:
            await asyncio.to_thread(self.library.discard, picture.revision)
            raise
        log.info("picture: %s is revision %s, %d frames at %s fps from %s", name, picture.revision, picture.frames,
                 picture.rate, picture.start)
        return picture


def _write(f: IO[bytes], digest: Any, data: bytes) -> None:
    f.write(data)
    digest.update(data)


# At module level: FastAPI resolves a dependency's (string) annotation in its module.
importer = need(Action.IMPORT_PICTURE)


def mount_picture(app: FastAPI, imports: PictureImports) -> None:
    """Add the picture's routes to ``app`` (made by :func:`stage.adapters.web.create_app`: its controls check
    that the caller may import)."""
    service, library = imports.service, imports.library
    controls: Controls = app.state.controls

    @app.get("/api/picture", tags=["picture"], responses={404: {"description": "no picture imported"}})
    async def get_picture() -> Any:
        """The current picture: revision, rate, first frame and length, its source file, its proxy and index."""
        if service.picture is None:
            return JSONResponse({"detail": "no picture imported"}, 404)
        return picture_json(service.picture)

    @app.put(
        "/api/picture", tags=["picture"],
        responses={401: {"description": "no token"}, 403: {"description": "a role that may not import a cut"},
                   409: {"description": "picture rolls, or another import is under way"},
                   422: {"description": "a cut the stage cannot use: every reason named"},
                   507: {"description": "the disk filled: nothing was kept"}},
        openapi_extra={"requestBody": {"required": True, "content": {"application/octet-stream": {
            "schema": {"type": "string", "format": "binary"}}}}},
    )
    async def put_picture(
        request: Request, role: Annotated[Role, Depends(importer)],
        start: Annotated[str | None, Query(description="the cut's first frame, where the file has no timecode",
                                           examples=["00:59:58:00"], max_length=16)] = None,
        name: Annotated[str | None, Query(description="the cut's file name", max_length=255)] = None,
    ) -> dict[str, Any]:
        """Import a cut (the file's bytes as the body) as the new current picture; refused while picture rolls.

        Answers once the proxy is made, with the picture; progress on the ``picture`` topic meanwhile.
        """
        controls.permit(role, Action.IMPORT_PICTURE)
        size = request.headers.get("content-length")
        length = int(size) if size is not None and size.isdigit() else None
        return await imports.upload(request.stream(), name=name or "upload", start=start, length=length)

    @app.get(FILES_PATH + "/{revision}/{file}", include_in_schema=False)
    async def picture_file(revision: str, file: str, request: Request) -> Response:
        """A revision's proxy or index; ranges answered (206)."""
        if file == PROXY:
            got = await imports.ranges.read(revision, request.headers.get("range"))
            if got is not None:
                body, start, end, size = got
                return Response(body, 206, media_type=MEDIA[file], headers={
                    **IMMUTABLE, "Accept-Ranges": "bytes", "Content-Range": f"bytes {start}-{end - 1}/{size}"})
        path = await asyncio.to_thread(library.file, revision, file)
        return FileResponse(path, media_type=MEDIA[file], headers=IMMUTABLE)
