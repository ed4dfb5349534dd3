"""Shared fixtures: real peers (jackd, a recording JACK client, xjadeo).

A missing peer program fails the test with the package to install: it is never
skipped, here or in CI.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterator
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import pytest_asyncio
from hypothesis import settings
from peers.cuts import Cut, make_cut
from peers.jackd import JackServer, PeerMissing, require, unique_name
from peers.jackd import jack_server as start_jack_server
from peers.postgres import scratch_database
from peers.xjadeo import Xjadeo, XjadeoFactory
from peers.xjadeo import xjadeo as start_xjadeo

# Property tests check maths, not speed (bench/ measures speed): a loaded machine must not fail an example for the
# time it took, so no example has a deadline.
settings.register_profile("stage", deadline=None, print_blob=True)
settings.load_profile("stage")

if TYPE_CHECKING:  # the recorder loads libjack: imported by its fixture, so tests without JACK collect without it
    from peers.recorder import MidiPeer


def _require(binary: str, package: str) -> None:
    try:
        require(binary, package)
    except PeerMissing as exc:
        pytest.fail(str(exc), pytrace=False)


@pytest.fixture(scope="session")
def jack_server() -> Iterator[JackServer]:
    """One ``jackd -S -d dummy -r 48000 -p 256`` for the session, under a unique name.

    Synchronous (``-S``): a client that is slow on a busy machine delays the
    cycle instead of missing it, so exact-frame assertions hold under load.
    """
    _require("jackd", "jackd2")
    with start_jack_server(synchronous=True) as server:
        yield server


@pytest.fixture(scope="session")
def realtime_jack_server() -> Iterator[JackServer]:
    """An asynchronous server, as in production: its frame clock keeps pace with real time.

    (In ``-S`` mode the dummy driver's clock stalls whenever a client is late.)
    """
    _require("jackd", "jackd2")
    with start_jack_server(synchronous=False) as server:
        yield server


@pytest.fixture
def recorder(jack_server: JackServer) -> Iterator[MidiPeer]:
    """Another JACK client that records its ``in`` port and plays its ``out`` port."""
    from peers.recorder import MidiPeer  # noqa: PLC0415

    with MidiPeer(unique_name("rec"), servername=jack_server.name) as peer:
        yield peer


@pytest.fixture
def xjadeo(jack_server: JackServer) -> Iterator[XjadeoFactory]:
    """Start xjadeo (under its own Xvfb) on a clip at the given rate; stopped after the test.

    It joins the session's `jack_server` unless given another server.
    """
    for binary, package in (("xjadeo", "xjadeo"), ("Xvfb", "xvfb"), ("ffmpeg", "ffmpeg")):
        _require(binary, package)
    with contextlib.ExitStack() as stack:

        def start(rate: Fraction | str, server: JackServer | None = None, *, ltc: bool = False) -> Xjadeo:
            return stack.enter_context(start_xjadeo(server or jack_server, rate, ltc=ltc))

        yield start


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def pg_database() -> AsyncIterator[str]:
    """A scratch PostgreSQL database on the machine's server, shared by one module's tests, dropped after."""
    async with scratch_database() as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A take database: each test runs on a fresh SQLite file and on the module's PostgreSQL database."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'takes.db'}"
    else:
        yield str(request.getfixturevalue("pg_database"))


@pytest.fixture(scope="session")
def cuts(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Cut]:
    """The cutting room's files, made once a session (tests/peers/cuts.py): two seconds each, 320×180, a timecode
    track at 00:59:58:00 — ProRes QuickTimes at 23.976 (``r23``), 25 (``r25``) and 29.97 drop-frame (``df``), a
    DNxHR MXF (``mxf``) and an H.264 MP4 (``mp4``) at 23.976, and a QuickTime without timecode (``bare``)."""
    _require("ffmpeg", "ffmpeg")
    d = tmp_path_factory.mktemp("cuts")
    small = (320, 180)
    return {
        "r23": make_cut(d / "reel1_23976.mov", "23.976", "00:59:58:00", 2.0, size=small),
        "r25": make_cut(d / "reel1_25.mov", "25", "00:59:58:00", 2.0, size=small),
        "df": make_cut(d / "reel1_2997df.mov", "29.97df", "00:59:58:00", 2.0, size=small),
        "mxf": make_cut(d / "reel1_dnxhr.mxf", "23.976", "00:59:58:00", 2.0, size=small, codec="dnxhr"),
        "mp4": make_cut(d / "reel1_h264.mp4", "23.976", "00:59:58:00", 2.0, size=small, codec="h264"),
        "bare": make_cut(d / "reel1_no_tc.mov", "23.976", None, 2.0, size=small),
    }
