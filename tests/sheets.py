"""Cue sheets the JACK and page tests share."""

from __future__ import annotations

PICKUP = """
[picture]
rate = "24"
[[cue]]
id = "1M1"
start = "00:00:20:00"
tempo = "8-0"
meter = "4/4"
bars = 18
countoff = 2
streamer = "1s"
[[cue.change]]
bar = 17
tempo = "6-0"
meter = "3/4"
"""
"""1M1 at 24 fps: 8-0 is 1/3 s a click (16000 samples at 48 kHz); bar 17 changes to 6-0 (1/4 s, 12000 samples)
in 3/4, so its count-in is six clicks of 12000 samples.  Every picture offset is a whole number of samples."""
