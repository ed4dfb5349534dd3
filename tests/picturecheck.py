"""A picture revision's proxy and index checked from outside, against what docs/picture.md promises.

PyAV decodes the proxy and every frame ``k`` must show code ``k`` (the test
cuts' block code, tests/peers/cuts.py); ffprobe, reading the file by itself,
must find one H.264 stream in 4:2:0 with no B-frames, a keyframe every
:data:`~stage.core.cut.GOP` frames and nowhere else, the cut's exact rate,
and every sample at the offset and size the index gives; the options x264
wrote into the stream must be those that decode fast (CAVLC) and keep the
deblocking filter.
"""

from __future__ import annotations

import json
import subprocess
from fractions import Fraction
from pathlib import Path
from typing import Any

from peers.cuts import RATES, Cut, codes_of

from stage.core.cut import GOP
from stage.core.proxyindex import ProxyIndex


def ffprobe_json(path: Path, *entries: str) -> dict[str, Any]:
    """ffprobe's JSON for ``-show_entries`` ``entries`` of the first video stream of ``path``."""
    out = subprocess.run(["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries", ":".join(entries),
                          "-of", "json", str(path)], check=True, capture_output=True)
    data: dict[str, Any] = json.loads(out.stdout)
    return data


def check_proxy(proxy: Path, index_json: dict[str, Any], cut: Cut, start_frame: int) -> None:
    """Assert that ``proxy`` and its index are the proxy of ``cut`` whose first frame is ``start_frame``."""
    fps = RATES[cut.rate][0]
    assert codes_of(proxy) == list(range(cut.frames))  # frame k of the proxy is frame k of the cut
    every = subprocess.run(["ffprobe", "-v", "error", "-show_entries", "stream=codec_type", "-of", "csv=p=0",
                            str(proxy)], check=True, capture_output=True, text=True).stdout.split()
    assert every == ["video"], f"the proxy holds more than its picture: {every}"
    stream = ffprobe_json(proxy, "stream=codec_name,pix_fmt,has_b_frames,r_frame_rate,avg_frame_rate,nb_frames,"
                          "height,width")["streams"][0]
    assert (stream["codec_name"], stream["pix_fmt"], stream["has_b_frames"]) == ("h264", "yuv420p", 0)
    assert Fraction(stream["r_frame_rate"]) == Fraction(stream["avg_frame_rate"]) == fps
    assert int(stream["nb_frames"]) == cut.frames
    assert stream["height"] <= 720
    assert stream["width"] % 2 == 0
    head = proxy.read_bytes()[:1 << 16]  # x264 writes its options into the first frame (an SEI message)
    options = head[head.index(b"x264 - core"):].split(b"\0", 1)[0].decode()
    assert " cabac=0 " in options, options
    assert " deblock=1:" in options, options
    packets = ffprobe_json(proxy, "packet=pos,size,flags")["packets"]
    assert [k for k, p in enumerate(packets) if "K" in p["flags"]] == list(range(0, cut.frames, GOP))
    index = ProxyIndex.from_json(index_json)
    assert list(index.offsets) == [int(p["pos"]) for p in packets]
    assert list(index.sizes) == [int(p["size"]) for p in packets]
    assert index.keyframes == tuple(range(0, cut.frames, GOP))
    assert index.start.frame_count == start_frame
    assert index.rate.fps == fps
    assert (index.width, index.height) == (stream["width"], stream["height"])
    assert index.offsets[-1] + index.sizes[-1] <= proxy.stat().st_size
