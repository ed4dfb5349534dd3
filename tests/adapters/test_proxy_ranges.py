"""A group of pictures read by one range: which ``Range`` headers take the one-read path, and what it answers.

The answer over HTTP (status, ``Content-Range``, the bytes against the whole
file) is tests/adapters/test_picture_http.py's, against a real ``stage serve``.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from stage.adapters.picture_http import OPEN_PROXIES, ProxyRanges, one_range
from stage.adapters.pictures import PROXY, PictureLibrary
from stage.errors import NotFound


def test_one_range_from_a_byte_is_answered_and_everything_else_is_left_to_file_response() -> None:
    assert one_range("bytes=100-199", 1000) == (100, 200)
    assert one_range("bytes=0-0", 1000) == (0, 1)
    assert one_range("bytes=900-", 1000) == (900, 1000)
    assert one_range(" bytes=900-5000 ", 1000) == (900, 1000)  # an end past the file is the file's end
    for other in (None, "", "bytes=-100", "bytes=0-9,20-29", "bytes=1000-1099", "bytes=200-100", "items=0-9",
                  "bytes=a-b", "bytes=0x10-20"):
        assert one_range(other, 1000) is None, other


@given(st.integers(0, 5000), st.integers(0, 5000), st.integers(1, 4000))
def test_a_range_answered_is_inside_the_file_and_starts_where_asked(start: int, last: int, size: int) -> None:
    span = one_range(f"bytes={start}-{last}", size)
    if start >= size or last < start:
        assert span is None
    else:
        assert span == (start, min(last, size - 1) + 1)


def proxies(root: Path, count: int) -> PictureLibrary:
    """A library of ``count`` revisions whose proxies hold bytes that say which revision and byte they are."""
    for n in range(1, count + 1):
        folder = root / f"{n}-abcdef"
        folder.mkdir(parents=True)
        (folder / PROXY).write_bytes(bytes((n * 16 + k) % 256 for k in range(4096)))
    return PictureLibrary(root)


def open_files() -> int:
    return sum(1 for _ in Path("/proc/self/fd").iterdir())


def test_ranges_are_read_from_files_kept_open_and_only_the_latest_few(tmp_path: Path) -> None:
    ranges = ProxyRanges(proxies(tmp_path, OPEN_PROXIES + 2))

    async def read(revision: str, header: str) -> tuple[bytes, int, int, int] | None:
        return await ranges.read(revision, header)

    before = open_files()
    try:
        got = asyncio.run(read("1-abcdef", "bytes=10-19"))
        assert got == (bytes((16 + k) % 256 for k in range(10, 20)), 10, 20, 4096)
        assert asyncio.run(read("1-abcdef", "bytes=0-9,20-29")) is None  # several: FileResponse's
        for n in range(2, OPEN_PROXIES + 3):
            tail = asyncio.run(read(f"{n}-abcdef", "bytes=4090-"))
            assert tail == (bytes((n * 16 + k) % 256 for k in range(4090, 4096)), 4090, 4096, 4096)
        assert open_files() - before == OPEN_PROXIES
        # The first was let go; asked again, it is opened again, and still right.
        again = asyncio.run(read("1-abcdef", "bytes=4095-4095"))
        assert again == (bytes([(16 + 4095) % 256]), 4095, 4096, 4096)
        with pytest.raises(NotFound, match="no picture revision 9-abcdef"):
            asyncio.run(read("9-abcdef", "bytes=0-9"))
        with pytest.raises(NotFound, match="is not a picture revision"):
            asyncio.run(read("../../etc", "bytes=0-9"))
    finally:
        ranges.close()
    assert open_files() == before
