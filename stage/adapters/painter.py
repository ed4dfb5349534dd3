"""The overlay painted onto movie frames: NumPy for bars and discs, Pillow for text.

This is the only module that imports NumPy or Pillow.  A frame is an RGB
array (height × width × 3, uint8); :class:`Painter` places the cut's picture
in it and paints a :class:`~stage.core.overlay.FrameOverlay` over the
picture's rectangle, as the ``/picture`` page's canvas does: bars as column
slices, discs and rings as masks made once per size, text as glyph images
rendered once per character, size and colour and blended in place.  Nothing
is rendered per frame that was rendered before: a frame costs slicing and a
few small blends.
"""

from __future__ import annotations

import functools
import math
from pathlib import Path
from typing import TypeAlias

import numpy as np
from numpy.typing import NDArray
from PIL import Image, ImageDraw, ImageFont

from stage.core.overlay import (
    DETAIL_SHARE,
    LABEL_SHARE,
    MIN_TEXT,
    NOTICE_SHARE,
    TEXT_SHARE,
    Disc,
    FrameOverlay,
    Label,
)

__all__ = ["BAND_ALPHA", "Frame", "Painter", "Sprite", "font"]

Frame: TypeAlias = NDArray[np.uint8]
BAND_ALPHA = 0.62  # the burnt-in band's black, as the page's rgba(0,0,0,0.62)
NOTICE_GREY = (0x9A, 0x9A, 0x9A)
WHITE = (0xFF, 0xFF, 0xFF)
LABEL_STROKE = (0, 0, 0, 178)  # the page's rgba(0,0,0,0.7) outline, 4 px wide: 2 px either side of the glyph

# Fonts: DejaVu Sans (Debian's fonts-dejavu-core) when present, else Pillow's own scalable default.
_FONTS = Path("/usr/share/fonts/truetype/dejavu")
BOLD = _FONTS / "DejaVuSans-Bold.ttf"
REGULAR = _FONTS / "DejaVuSans.ttf"

_Font: TypeAlias = ImageFont.FreeTypeFont | ImageFont.ImageFont


@functools.cache
def font(size: int, bold: bool = True) -> _Font:
    """The font the overlay writes in, at ``size`` pixels."""
    path = BOLD if bold else REGULAR
    if path.is_file():
        return ImageFont.truetype(str(path), size)
    return ImageFont.load_default(size)


class Sprite:
    """A small picture blended onto frames: its colours premultiplied by its alpha, ready to add."""

    def __init__(self, rgba: NDArray[np.uint8]) -> None:
        alpha = rgba[..., 3:4].astype(np.uint16)
        self.height, self.width = rgba.shape[:2]
        self.inverse = (255 - alpha).astype(np.uint16)
        self.premultiplied = rgba[..., :3].astype(np.uint16) * alpha + 127  # + 127: the division below rounds

    @classmethod
    def text(cls, text: str, size: int, color: tuple[int, int, int], *, bold: bool = True,
             stroke: int = 0) -> tuple[Sprite, int, int]:
        """``text`` rendered once, with its offset from the pen position (its left edge, the top of its
        ascender): (sprite, dx, dy)."""
        f = font(size, bold)
        x0, y0, x1, y1 = f.getbbox(text, anchor="la", stroke_width=stroke)
        image = Image.new("RGBA", (max(1, math.ceil(x1 - x0)), max(1, math.ceil(y1 - y0))), (*color, 0))
        ImageDraw.Draw(image).text((-x0, -y0), text, font=f, fill=(*color, 255), anchor="la",
                                   stroke_width=stroke, stroke_fill=LABEL_STROKE)
        return cls(np.asarray(image, dtype=np.uint8)), math.floor(x0), math.floor(y0)

    def blend(self, frame: Frame, x: int, y: int) -> None:
        """Blend onto ``frame`` with the sprite's top left at (x, y); what falls outside the frame is left out."""
        h, w = frame.shape[:2]
        fx0, fy0, fx1, fy1 = max(x, 0), max(y, 0), min(x + self.width, w), min(y + self.height, h)
        if fx0 >= fx1 or fy0 >= fy1:
            return
        sx, sy = fx0 - x, fy0 - y
        region = frame[fy0:fy1, fx0:fx1]
        inverse = self.inverse[sy : sy + fy1 - fy0, sx : sx + fx1 - fx0]
        added = self.premultiplied[sy : sy + fy1 - fy0, sx : sx + fx1 - fx0]
        region[...] = (region * inverse + added) // 255


class _Text:
    """A line of text in one font and colour, written glyph by glyph from glyphs rendered once each."""

    def __init__(self, size: int, color: tuple[int, int, int], bold: bool = True) -> None:
        self.size, self.color, self.bold = size, color, bold
        f = font(size, bold)
        ascent, descent = f.getmetrics() if isinstance(f, ImageFont.FreeTypeFont) else (size, 0)
        self.middle = (ascent + descent) / 2  # from the top of the ascender to the middle of the line
        self._glyphs: dict[str, tuple[Sprite, int, int, float]] = {}

    def glyph(self, char: str) -> tuple[Sprite, int, int, float]:
        cached = self._glyphs.get(char)
        if cached is None:
            sprite, dx, dy = Sprite.text(char, self.size, self.color, bold=self.bold)
            cached = (sprite, dx, dy, font(self.size, self.bold).getlength(char))
            self._glyphs[char] = cached
        return cached

    def width(self, text: str) -> float:
        """The advance of ``text`` (glyph by glyph: the digits of a timecode never shift)."""
        return sum(self.glyph(c)[3] for c in text)

    def write(self, frame: Frame, text: str, x: float, middle: float) -> None:
        """Write ``text`` from ``x``, the middle of its line at ``middle``."""
        top = round(middle - self.middle)
        for char in text:
            sprite, dx, dy, advance = self.glyph(char)
            sprite.blend(frame, round(x) + dx, top + dy)
            x += advance


class Painter:
    """Places the picture in a movie frame of ``size`` at ``rect`` (left, top, width, height) and paints the
    overlay over it.  Masks, glyphs and labels are made on first use and kept."""

    def __init__(self, size: tuple[int, int], rect: tuple[int, int, int, int]) -> None:
        self.size = size
        self.rect = rect
        _, _, w, h = rect
        self._canvas: Frame = np.zeros((size[1], size[0], 3), np.uint8)
        self.full = rect == (0, 0, *size)
        text = max(MIN_TEXT, h * TEXT_SHARE)
        self._band_height = round(text * 1.5)
        self._band_pad = text * 0.5
        self._band = np.empty((self._band_height, w, 3), np.uint16)
        self._text = _Text(round(text), WHITE)
        self._label_size = round(max(MIN_TEXT, h * LABEL_SHARE))
        self._labels: dict[tuple[str, tuple[int, int, int]], tuple[Sprite, int, int]] = {}
        self._notices: dict[tuple[str, bool], tuple[Sprite, int, int]] = {}
        self._discs: dict[tuple[float, float, float], tuple[int, int, NDArray[np.bool_]]] = {}

    def frame(self, picture: Frame | None) -> Frame:
        """A movie frame showing ``picture`` (already at the rect's size), or black where there is none.

        A picture that fills the frame is painted on in place (when it is one
        block of memory, as the encoder's pipe takes it); otherwise it is
        copied into one frame buffer, reused, so the frame returned is good
        until the next call.
        """
        if picture is not None and self.full and picture.flags.writeable and picture.flags.c_contiguous:
            return picture
        x, y, w, h = self.rect
        canvas = self._canvas
        if picture is None:
            canvas[...] = 0
        else:
            canvas[y : y + h, x : x + w] = picture
        return canvas

    def paint(self, frame: Frame, overlay: FrameOverlay) -> None:
        """Paint ``overlay`` over the picture's rectangle of ``frame``."""
        x, y, w, h = self.rect
        view = frame[y : y + h, x : x + w]
        if overlay.notice:
            self._notice(view, overlay.notice, 0.45, bold=True)
            if overlay.detail:
                self._notice(view, overlay.detail, 0.56, bold=False)
        for bar in overlay.bars:
            x0, x1 = max(0, round(bar.left)), min(w, round(bar.left + bar.width))
            if x1 > x0:
                view[:, x0:x1] = bar.color
        for disc in overlay.discs:
            self._disc(view, disc)
        for label in overlay.labels:
            self._label(view, label)
        if overlay.left or overlay.centre or overlay.right:
            self._burn_in(view, overlay)

    def _notice(self, view: Frame, text: str, at: float, *, bold: bool) -> None:
        key = (text, bold)
        made = self._notices.get(key)
        h, w = view.shape[:2]
        if made is None:
            size = round(max(16.0, h * NOTICE_SHARE) if bold else max(MIN_TEXT, h * DETAIL_SHARE))
            made = Sprite.text(text, size, NOTICE_GREY, bold=bold)
            self._notices[key] = made
        sprite, _, _ = made
        sprite.blend(view, (w - sprite.width) // 2, round(h * at - sprite.height / 2))

    def _mask(self, disc: Disc, h: int, w: int) -> tuple[int, int, NDArray[np.bool_]]:
        """The disc's (and its ring's) pixels: a mask over the square around the picture's centre, made once."""
        key = (disc.radius, disc.ring, disc.ring_width)
        made = self._discs.get(key)
        if made is None:
            outer = max(disc.radius, disc.ring + disc.ring_width / 2)
            cx, cy = w / 2, h / 2
            x0, y0 = max(0, math.floor(cx - outer)), max(0, math.floor(cy - outer))
            x1, y1 = min(w, math.ceil(cx + outer) + 1), min(h, math.ceil(cy + outer) + 1)
            ys, xs = np.ogrid[y0:y1, x0:x1]
            d2 = (xs + 0.5 - cx) ** 2 + (ys + 0.5 - cy) ** 2  # pixel centres
            mask = d2 <= disc.radius**2
            if disc.ring:
                inner, out = disc.ring - disc.ring_width / 2, disc.ring + disc.ring_width / 2
                mask |= (d2 >= inner**2) & (d2 <= out**2)
            made = (x0, y0, mask)
            self._discs[key] = made
        return made

    def _disc(self, view: Frame, disc: Disc) -> None:
        h, w = view.shape[:2]
        x0, y0, mask = self._mask(disc, h, w)
        view[y0 : y0 + mask.shape[0], x0 : x0 + mask.shape[1]][mask] = disc.color

    def _label(self, view: Frame, label: Label) -> None:
        key = (label.text, label.color)
        made = self._labels.get(key)
        if made is None:
            made = Sprite.text(label.text, self._label_size, label.color, stroke=2)
            self._labels[key] = made
        sprite, dx, dy = made
        w = view.shape[1]
        # Kept on the picture: a label behind a bar that has only just come in waits at the edge.
        if label.right:
            left = max(label.x, sprite.width + 4) - sprite.width
        else:
            left = min(label.x, w - sprite.width - 4)
        sprite.blend(view, round(left) + dx, round(label.y) + dy)

    def _burn_in(self, view: Frame, overlay: FrameOverlay) -> None:
        h, w = view.shape[:2]
        band = view[h - self._band_height :]
        scratch = self._band
        # Black at BAND_ALPHA over the picture: each value times (1 − 0.62), as 97/256, in integers.
        np.multiply(band, round((1 - BAND_ALPHA) * 256), out=scratch, dtype=np.uint16)
        np.right_shift(scratch, 8, out=scratch)
        band[...] = scratch
        middle = h - self._band_height / 2
        text = self._text
        if overlay.left:
            text.write(view, overlay.left, self._band_pad, middle)
        if overlay.centre:
            text.write(view, overlay.centre, (w - text.width(overlay.centre)) / 2, middle)
        if overlay.right:
            text.write(view, overlay.right, w - self._band_pad - text.width(overlay.right), middle)
