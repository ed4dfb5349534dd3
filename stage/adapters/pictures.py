"""Picture revisions on disk: every imported cut's proxy, index and record, under ``[picture] dir``.

::

    <dir>/current.json               {"revision": "3-1f9a2c"}: the current revision (a temp file, renamed)
    <dir>/3-1f9a2c/proxy.mp4         the proxy every browser decodes (docs/picture.md)
    <dir>/3-1f9a2c/index.json        where each of its frames is (stage.core.proxyindex)
    <dir>/3-1f9a2c/picture.json      the revision's record: the cut's rate, start, length and source file
    <dir>/.3-1f9a2c.partial/         an import under way: renamed into place once checked, removed if it fails
    <dir>/.lock                      held by the import under way: one at a time, from any process

An import (:meth:`PictureLibrary.build`) makes its revision in a directory of
its own and renames it into place when everything is written and checked;
:meth:`PictureLibrary.make_current` then points ``current.json`` at it.  A
failed import removes what it wrote and leaves the current revision as it
was.  Older revisions stay (the takes recorded against them name them) until
removed by hand.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import json
import os
import shutil
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from stage.adapters import media
from stage.core.cut import Cut, Picture, judge, next_revision_number, proxy_size, revision_id, revision_number
from stage.core.proxyindex import ProxyIndex, proxy_index
from stage.core.timecode import Rate
from stage.errors import DiskFull, NotFound, PictureError, SessionError, StageError, Unavailable

CURRENT = "current.json"
PROXY = "proxy.mp4"
INDEX = "index.json"
RECORD = "picture.json"
FILES = (PROXY, INDEX)  # what /picture/files/<revision>/ serves
CHUNK = 1 << 20

Step = Callable[[str, int, int], None]
"""Told ``(step, done, total)`` as an import advances: ``hashing`` and ``reading`` in bytes, ``encoding`` and
``indexing`` in frames."""

STEPS = ("hashing", "reading", "encoding", "indexing")


@dataclass(frozen=True)
class Built:
    """A revision built and in place (not yet current): the picture and the cut it came from."""

    picture: Picture
    cut: Cut


def _no_space(exc: OSError) -> bool:
    return exc.errno == errno.ENOSPC


def _write_json(path: Path, data: Any) -> None:
    """Write ``data`` to ``path`` through a temp file and a rename, synced: readers see the old or the new."""
    tmp = path.with_name(f".{path.name}.tmp")
    with tmp.open("w", encoding="utf-8") as f:
        json.dump(data, f, separators=(",", ":"))
        f.flush()
        os.fsync(f.fileno())
    tmp.replace(path)
    _sync_dir(path.parent)


def _sync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def sha256_of(path: Path, step: Step | None = None) -> str:
    """The SHA-256 of the file at ``path`` (hex); ``step`` hears ``("hashing", bytes, size)``."""
    digest = hashlib.sha256()
    size = path.stat().st_size
    done = 0
    with path.open("rb") as f:
        while chunk := f.read(CHUNK):
            digest.update(chunk)
            done += len(chunk)
            if step is not None:
                step("hashing", done, size)
    return digest.hexdigest()


class PictureLibrary:
    """The revisions under one directory (created when first needed)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    # -- reading -------------------------------------------------------------------------------------

    def current_revision(self) -> str | None:
        """The id ``current.json`` names (None: no picture imported yet)."""
        try:
            data = json.loads((self.root / CURRENT).read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as exc:
            raise PictureError(f"{self.root / CURRENT} cannot be read: {exc}") from None
        revision = data.get("revision") if isinstance(data, dict) else None
        if revision is None:
            return None
        if not isinstance(revision, str) or revision_number(revision) is None:
            raise PictureError(f"{self.root / CURRENT} names no revision: {data!r}")
        return revision

    def current(self) -> Picture | None:
        """The current picture, or None."""
        revision = self.current_revision()
        return None if revision is None else self.revision(revision)

    def revision(self, revision: str) -> Picture:
        """The record of ``revision``; :class:`NotFound` for one that is not here."""
        path = self._dir(revision) / RECORD
        try:
            return Picture.from_record(json.loads(path.read_text(encoding="utf-8")))
        except FileNotFoundError:
            raise NotFound(f"no picture revision {revision} in {self.root}") from None
        except (OSError, ValueError) as exc:
            raise PictureError(f"{path} cannot be read: {exc}") from None

    def revisions(self) -> list[Picture]:
        """Every revision here, oldest first."""
        if not self.root.is_dir():
            return []
        found = [(revision_number(p.name), p.name) for p in self.root.iterdir() if (p / RECORD).is_file()]
        return [self.revision(name) for number, name in sorted(found) if number is not None]

    def index(self, revision: str) -> ProxyIndex:
        """The index of ``revision``'s proxy."""
        path = self.file(revision, INDEX)
        return ProxyIndex.from_json(json.loads(path.read_text(encoding="utf-8")))

    def file(self, revision: str, name: str) -> Path:
        """The path of one of a revision's served files (:data:`FILES`); :class:`NotFound` for anything else."""
        if name not in FILES:
            raise NotFound(f"a picture revision has {' and '.join(FILES)}, not {name!r}")
        path = self._dir(revision) / name
        if not path.is_file():
            raise NotFound(f"no picture revision {revision}")
        return path

    def _dir(self, revision: str) -> Path:
        if revision_number(revision) is None:  # never a path outside the library: "..", "/etc"
            raise NotFound(f"{revision!r} is not a picture revision")
        return self.root / revision

    # -- importing ----------------------------------------------------------------------------------

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        """Hold the directory's lock (one import at a time, from any process); leftovers of an import that died
        with its process (a partial revision) are removed, as none can be under way."""
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            lock = (self.root / ".lock").open("a")
        except OSError as exc:
            raise Unavailable(f"the picture directory {self.root} cannot be written: {exc.strerror or exc}") from None
        with lock:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise SessionError(f"another import into {self.root} is under way: wait for it to finish") from None
            try:
                for stale in self.root.glob(".*.partial"):
                    shutil.rmtree(stale, ignore_errors=True)
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def remove_uploads(self) -> None:
        """Remove uploads a stopped service left half received (``stage serve`` calls this as it starts)."""
        with contextlib.suppress(OSError):  # a directory that cannot be read: the first upload will say so
            for stale in self.root.glob(".upload-*"):
                stale.unlink(missing_ok=True)

    def build(
        self, source: Path, *, rate: Rate, now: datetime, start: str | None = None, name: str | None = None,
        sha256: str | None = None, step: Step | None = None, cancel: threading.Event | None = None,
    ) -> Built:
        """Import the cut at ``source`` as a new revision, in place but not current (:meth:`make_current`).

        ``rate`` is the cue sheet's picture rate, which the cut must have;
        ``start`` its first frame's timecode where the file has none (or a
        wrong one); ``name`` what to call it (default: its file name);
        ``sha256`` its hash when already known (an upload hashes as it
        arrives).  :class:`PictureError` for a cut the stage cannot use,
        :class:`~stage.errors.DiskFull` when the disk fills; either way
        nothing is left behind.
        """
        label = name or source.name
        with self._locked():
            try:
                digest = sha256 if sha256 is not None else sha256_of(source, step)
                probe = media.probe(source, label, None if step is None else lambda d, t: step("reading", d, t))
                cut = judge(probe, rate, start)
                revision = revision_id(next_revision_number(p.name for p in self.root.iterdir()), digest)
            except FileNotFoundError:
                raise PictureError(f"{label}: no such file") from None
            except OSError as exc:
                raise PictureError(f"{label}: cannot read it: {exc.strerror or exc}") from None
            partial = self.root / f".{revision}.partial"
            try:
                picture = self._make(partial, source, cut, revision, digest, now, step, cancel)
                final = self.root / revision
                partial.replace(final)
                _sync_dir(self.root)
            except DiskFull as exc:
                shutil.rmtree(partial, ignore_errors=True)
                raise DiskFull(f"{exc}: nothing was kept, the current picture stays") from None
            except OSError as exc:
                shutil.rmtree(partial, ignore_errors=True)
                if _no_space(exc):
                    raise DiskFull(f"the disk of {self.root} filled while importing {label}: nothing was kept, "
                                   "the current picture stays") from None
                raise Unavailable(f"cannot write the picture of {label} into {self.root}: {exc.strerror or exc}"
                                  ) from None
            except BaseException:
                shutil.rmtree(partial, ignore_errors=True)
                raise
        return Built(picture, cut)

    def _make(self, partial: Path, source: Path, cut: Cut, revision: str, digest: str, now: datetime,
              step: Step | None, cancel: threading.Event | None) -> Picture:
        partial.mkdir()
        size = proxy_size(cut.probe.width, cut.probe.height, cut.probe.aspect)
        proxy = partial / PROXY
        media.make_proxy(source, proxy, size=size, frames=cut.frames, cancel=cancel, name=cut.probe.name,
                         progress=None if step is None else lambda d, t: step("encoding", d, t))
        picture = Picture(revision, cut.probe.name, cut.rate, cut.start, cut.frames, size[0], size[1],
                          now.isoformat(timespec="seconds"), cut.source_json(digest))
        table = media.read_samples(proxy)
        if step is not None:
            step("indexing", 0, cut.frames)
        index = proxy_index(table.samples, avcc=table.avcc, width=table.width, height=table.height,
                            time_base=table.time_base, file_size=proxy.stat().st_size, picture=picture)
        with proxy.open("rb") as f:
            os.fsync(f.fileno())
        _write_json(partial / INDEX, index.as_json())
        _write_json(partial / RECORD, picture.record())
        if step is not None:
            step("indexing", cut.frames, cut.frames)
        return picture

    def make_current(self, revision: str | None) -> None:
        """Point ``current.json`` at ``revision`` (None: no picture), atomically."""
        if revision is not None:
            self.revision(revision)  # it must be here
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            _write_json(self.root / CURRENT, {"revision": revision})
        except OSError as exc:
            with contextlib.suppress(OSError):
                (self.root / f".{CURRENT}.tmp").unlink()
            if _no_space(exc):
                raise DiskFull(f"the disk of {self.root} is full: the current picture was not changed") from None
            raise Unavailable(f"cannot write {self.root / CURRENT}: {exc.strerror or exc}") from None

    def discard(self, revision: str) -> None:
        """Remove a revision that never became current (an import refused at the last moment)."""
        if revision == self.current_revision():
            raise SessionError(f"picture revision {revision} is current: it stays")
        shutil.rmtree(self._dir(revision), ignore_errors=True)

    def import_cut(
        self, source: Path, *, rate: Rate, now: datetime, start: str | None = None, name: str | None = None,
        step: Step | None = None,
    ) -> Built:
        """Build a revision from ``source`` and make it current (``stage picture import``)."""
        built = self.build(source, rate=rate, now=now, start=start, name=name, step=step)
        try:
            self.make_current(built.picture.revision)
        except StageError:
            self.discard(built.picture.revision)
            raise
        return built
