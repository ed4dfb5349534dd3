"""The overlay painted on a frame, read back pixel by pixel (no codec between: every pixel is exact)."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from stage.adapters.painter import BAND_ALPHA, Painter
from stage.core.overlay import Bar, Disc, FrameOverlay, Label

GREY = 200
YELLOW = (255, 212, 0)
BLUE = (79, 140, 255)


def grey(width: int, height: int) -> NDArray[np.uint8]:
    return np.full((height, width, 3), GREY, np.uint8)


def columns_of(row: NDArray[np.uint8], color: tuple[int, int, int]) -> list[int]:
    return [int(x) for x in np.flatnonzero((row == color).all(axis=1))]


def test_bars_are_whole_columns_with_the_leading_edge_where_the_overlay_says() -> None:
    painter = Painter((640, 360), (0, 0, 640, 360))
    frame = painter.frame(grey(640, 360))
    painter.paint(frame, FrameOverlay(bars=(Bar(300.4, 7.68, YELLOW), Bar(-3, 6, BLUE), Bar(638, 6, BLUE))))
    for y in (0, 100, 359):
        assert columns_of(frame[y], YELLOW) == list(range(300, 308))  # round(300.4) … round(308.08) − 1
        assert columns_of(frame[y], BLUE) == [0, 1, 2, 638, 639]  # cut at the picture's edges
    assert (frame[:, 308:638] == GREY).all()


def test_discs_and_rings_are_centred_and_sized() -> None:
    painter = Painter((400, 200), (0, 0, 400, 200))
    frame = painter.frame(grey(400, 200))
    painter.paint(frame, FrameOverlay(discs=(Disc(25.0, BLUE),)))
    row = frame[100]
    assert columns_of(row, BLUE) == list(range(175, 225))  # 50 px across the middle, centred on x = 200
    column = frame[:, 200]
    assert columns_of(column, BLUE) == list(range(75, 125))
    frame = painter.frame(grey(400, 200))
    painter.paint(frame, FrameOverlay(discs=(Disc(20.0, YELLOW, ring=30.0, ring_width=4.0),)))
    inside = columns_of(frame[100], YELLOW)
    assert inside == [*range(168, 172), *range(180, 220), *range(228, 232)]  # ring, disc, ring; grey between


def test_the_band_darkens_the_bottom_and_carries_white_text() -> None:
    painter = Painter((640, 360), (0, 0, 640, 360))
    frame = painter.frame(grey(640, 360))
    painter.paint(frame, FrameOverlay(left="01:00:00:00", centre="1M1", right="12 | 3"))
    band = round(max(12, 360 * 0.06) * 1.5)  # 32 px
    assert (frame[: 360 - band] == GREY).all()
    dark = round(GREY * (1 - BAND_ALPHA))
    row = frame[360 - band]  # the band's top row: above the text
    assert (np.abs(row.astype(int) - dark) <= 1).all()
    text = frame[360 - band :]
    white: NDArray[np.bool_] = np.asarray((text >= 250).all(axis=2))
    xs = np.flatnonzero(white.any(axis=0))
    # Timecode from the left padding, the count ending at the right one, the cue in the middle.
    assert 8 <= xs.min() <= 14
    assert 626 <= xs.max() <= 632
    assert white[:, 300:340].any()
    assert not white[:, 250:290].any()


def test_labels_wait_at_the_edge_and_text_is_blended_not_boxed() -> None:
    painter = Painter((640, 360), (0, 0, 640, 360))
    frame = painter.frame(grey(640, 360))
    # A label right-aligned to x = 5 cannot fit: it is kept on the picture, starting 4 px from the left edge.
    painter.paint(frame, FrameOverlay(labels=(Label("DOOR", 5.0, 80.0, right=True, color=YELLOW),)))
    marked = np.flatnonzero((frame[70:120] != GREY).any(axis=(0, 2)))
    assert 0 <= marked.min() <= 4
    assert (frame[:70] == GREY).all()  # nothing above the label's line
    yellow = (frame == YELLOW).all(axis=2)
    assert yellow.sum() > 100  # the glyphs' insides, in the hit's colour


def test_a_letterboxed_picture_and_a_frame_with_no_picture() -> None:
    painter = Painter((640, 360), (80, 0, 480, 360))
    frame = painter.frame(grey(480, 360))
    painter.paint(frame, FrameOverlay(bars=(Bar(474, 6, YELLOW),), notice="BEFORE THE CUT"))
    assert (frame[:, :80] == 0).all()
    assert (frame[:, 560:] == 0).all()  # the overlay stays on the picture
    assert columns_of(frame[10], YELLOW) == list(range(554, 560))
    black = painter.frame(None)
    painter.paint(black, FrameOverlay(notice="END OF THE CUT", detail="picture ends at 01:00:07:05"))
    lit = np.flatnonzero((black != 0).any(axis=(1, 2)))
    assert lit.min() >= 140  # the notice near the middle, the detail under it
    assert lit.max() <= 215
    greys = black[lit.min() : lit.max() + 1]
    assert ((greys == 0) | (greys == 0x9A)).all(axis=2).mean() > 0.95  # grey on black (and the edges between)


def test_a_picture_with_padded_rows_is_handed_on_as_one_block() -> None:
    """A decoder may give rows padded to an alignment: the frame the encoder's pipe gets is contiguous."""
    padded = np.zeros((90, 168, 3), np.uint8)
    padded[:, :160] = GREY
    picture = padded[:, :160]
    assert not picture.flags.c_contiguous
    painter = Painter((160, 90), (0, 0, 160, 90))
    frame = painter.frame(picture)
    assert frame.flags.c_contiguous
    assert (frame == GREY).all()
    contiguous = grey(160, 90)
    assert painter.frame(contiguous) is contiguous  # painted in place, no copy
