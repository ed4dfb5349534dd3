"""The control pages count timecode as the stage does: clients/web/lib/timecode.js against stage.core.timecode.

Node runs the page's module over frames and positions drawn at random for every rate the stage knows (the
rate as the session sends it); each must read exactly as the stage's own ``Timecode``.
"""

from __future__ import annotations

import json
import random
import shutil
import subprocess
from pathlib import Path

import pytest

from stage.core.timecode import RATES, Timecode, frame_at

MODULE = Path(__file__).resolve().parents[1] / "clients" / "web" / "lib" / "timecode.js"
SCRIPT = """
import { readFileSync } from 'node:fs';
import { timecodeAt, timecodeOf } from %s;
const cases = JSON.parse(readFileSync(0, 'utf8'));
const read = ([rate, kind, v]) => (kind === 'frame' ? timecodeOf(v, rate) : timecodeAt(v, rate));
process.stdout.write(JSON.stringify(cases.map(read)));
"""


def test_the_pages_timecode_is_the_stages_at_every_rate() -> None:
    node = shutil.which("node")
    if node is None:
        pytest.fail("node is not installed: scripts/setup.sh installs it")
    draw = random.Random(24)
    cases: list[tuple[dict[str, object], str, float]] = []
    expected: list[str] = []
    for rate in RATES.values():
        edges = [0, 1, rate.nominal * 60 - 1, rate.nominal * 60, rate.frames_per_10min, rate.frames_per_day - 1,
                 rate.frames_per_day, -1]
        for count in edges + [draw.randrange(-rate.frames_per_day, 2 * rate.frames_per_day) for _ in range(400)]:
            cases.append((rate.as_dict(), "frame", count))
            expected.append(str(Timecode.from_frames(count, rate)))
        for _ in range(400):
            seconds = draw.uniform(-1, 90000)
            if draw.random() < 0.3:  # on a frame boundary, where float error lives
                seconds = draw.randrange(0, rate.frames_per_day) * rate.fps.denominator / rate.fps.numerator
            cases.append((rate.as_dict(), "position", seconds))
            expected.append(str(Timecode.from_frames(frame_at(max(seconds, 0.0), rate), rate)))
    run = subprocess.run([node, "--input-type=module", "-e", SCRIPT % json.dumps(MODULE.as_uri())],
                         input=json.dumps(cases), capture_output=True, text=True, timeout=60, check=False)
    assert run.returncode == 0, run.stderr
    got = json.loads(run.stdout)
    wrong = [(c, e, g) for c, e, g in zip(cases, expected, got, strict=True) if e != g]
    assert wrong == [], wrong[:5]
    assert len(got) == len(RATES) * 808
