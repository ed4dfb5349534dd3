"""tests/peers/pictureprobe.js reads the test cuts' block code as tests/peers/cuts.py draws it: the number of every
frame at any width, nothing from a blend of two frames, the number still under a streamer bar, and never a wrong
number under anything wider.  Node runs the reader once over a batch of rows made here."""

from __future__ import annotations

import json
import random
import shutil
import subprocess
from pathlib import Path

import numpy as np
from numpy.typing import NDArray
from peers.cuts import STRIP, code_frame

PROBE = Path(__file__).parent / "peers" / "pictureprobe.js"
HEIGHT = 90


def rows(frame: NDArray[np.uint8], width: int) -> list[list[int]]:
    """The picture scaled to ``width`` (linear, as a canvas scales it), and the two strip rows the reader takes,
    as RGBA."""
    height, source = frame.shape[:2]
    xs = (np.arange(width) + 0.5) * source / width - 0.5
    left = np.clip(np.floor(xs).astype(int), 0, source - 1)
    right = np.clip(left + 1, 0, source - 1)
    share = np.clip(xs - left, 0, 1)[:, None]
    out = []
    for strip in (0, 1):
        y = int(height * STRIP * (strip + 0.5))
        line = frame[y, left] * (1 - share) + frame[y, right] * share
        rgba = np.concatenate([line, np.full((width, 1), 255)], axis=1)
        out.append([int(v) for v in np.rint(rgba).astype(np.uint8).ravel()])
    return out


def read_all(cases: list[tuple[list[list[int]], int]]) -> list[int | None]:
    node = shutil.which("node")
    assert node is not None, "node is not installed: apt-get install nodejs"
    script = (f"await import({json.dumps(PROBE.as_uri())}); const p = globalThis.cutCode;"
              "let s = ''; process.stdin.on('data', (d) => { s += d; });"
              "process.stdin.on('end', () => { const cases = JSON.parse(s);"
              "process.stdout.write(JSON.stringify(cases.map(([r, w]) => p.readRows(r[0], r[1], w)))); });")
    done = subprocess.run([node, "--input-type=module", "-e", script], input=json.dumps(cases),
                          capture_output=True, text=True, check=True, timeout=120)
    result: list[int | None] = json.loads(done.stdout)
    return result


def test_every_frame_reads_its_own_number_at_any_width_and_a_blend_reads_nothing() -> None:
    rng = random.Random(19)
    ks = [0, 1, 2, 0x7FFF, 0x8000, 0xFFFF] + [rng.randrange(1 << 16) for _ in range(60)]
    widths = [72, 320, 640, 961, 1920]
    cases: list[tuple[list[list[int]], int]] = []
    expected: list[int | None] = []
    for i, k in enumerate(ks):
        frame = code_frame(k, 640, HEIGHT)
        width = widths[i % len(widths)]
        cases.append((rows(frame, width), width))
        expected.append(k)
        other = k ^ (1 << rng.randrange(16))  # a neighbour differing in at least one bit, blended half and half
        blend = ((frame.astype(np.uint16) + code_frame(other, 640, HEIGHT)) // 2).astype(np.uint8)
        cases.append((rows(blend, width), width))
        expected.append(None)
    assert read_all(cases) == expected


def test_a_streamer_bar_over_the_code_leaves_the_number_and_a_wider_one_never_gives_another() -> None:
    rng = random.Random(1919)
    width = 960
    thin = max(6, round(width * 0.012))  # a streamer, as docs/picture.md sizes it
    cases: list[tuple[list[list[int]], int]] = []
    ks = []
    for _ in range(80):
        k = rng.randrange(1 << 16)
        ks.append(k)
        for bar in (thin, 3 * width // 18):
            frame = code_frame(k, width, HEIGHT)
            x = rng.randrange(width - bar)
            frame[:, x:x + bar] = (255, 255, 0) if rng.random() < 0.5 else (200, 0, 0)
            cases.append((rows(frame, width), width))
    got = read_all(cases)
    assert got[0::2] == ks  # under a thin bar: the number
    assert all(g in (None, k) for g, k in zip(got[1::2], ks, strict=True))  # under a wide one: it, or nothing
    assert None in got[1::2]
