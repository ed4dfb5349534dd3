// What is drawn over the picture, as Video Sync draws it: the page's half of the contract whose other half is the
// streamer movie's stage/core/overlay.py (the same shares, sizes and colours; docs/picture.md).
// Pure: `OverlayView.fill` turns a LaneView (lib/schedule.js: what shows and how far along) into pixels, in a view
// made once, allocating nothing per frame.
//
// A streamer is a bar the picture's whole height, 1.2 % of its width (6 px at the least), its leading edge at the
// far edge (or the centre) at the hit, its label in capitals beside it on the side it comes from, its top just
// below the top fifth (where a cut's own burnt-in codes sit); a punch is a disc at the centre, 15 % of the
// height across for a flutter, 25 % for a hit, 35 % and a ring for the cue's own.

import { MAX_DRAWN } from './schedule.js';

/** @typedef {import('./schedule.js').LaneView} LaneView */

export const BAR_SHARE = 0.012;
export const MIN_BAR = 6;
/** Diameters as shares of the height: flutter, hit, the cue's own. */
export const PUNCH_SHARES = Object.freeze([0.15, 0.25, 0.35]);
export const RING_SCALE = 1.3;
export const RING_SHARE = 0.12;
export const RING_MIN = 3;
export const LABEL_TOP = 0.22;
export const LABEL_SHARE = 0.055;
export const TEXT_SHARE = 0.06;
export const MIN_TEXT = 12;
/** The burnt-in band's black. */
export const BAND_ALPHA = 0.62;

/**
 * A streamer's width in pixels on a picture `width` pixels wide.
 * @param {number} width
 * @returns {number}
 */
export function barWidth(width) {
  return Math.max(MIN_BAR, width * BAR_SHARE);
}

/**
 * Where a streamer's leading edge is, in pixels from the left, at `progress` (0 … 1): the far edge (or the
 * centre) at 1.  For `centre`, the head coming from the left; its mirror, `width − x`, comes from the right.
 * @param {number} progress
 * @param {number} width
 * @param {string} direction
 * @returns {number}
 */
export function headX(progress, width, direction) {
  if (direction === 'rtl') return width * (1 - progress);
  if (direction === 'centre') return (width * progress) / 2;
  return width * progress;
}

/**
 * A punch's radius in pixels: `size` 0 a flutter, 1 a hit, 2 the cue's own.
 * @param {number} height
 * @param {number} size
 * @returns {number}
 */
export function punchRadius(height, size) {
  return (height * (PUNCH_SHARES[size] ?? PUNCH_SHARES[1])) / 2;
}

/** One bar: left edge and width (px), colour name. */
export class BarPlace {
  constructor() {
    this.left = 0;
    this.width = 0;
    this.color = 'white';
  }
}

/** One disc at the centre: radius, ring radius and width (0: none), colour name. */
export class DiscPlace {
  constructor() {
    this.radius = 0;
    this.ring = 0;
    this.ringWidth = 0;
    this.color = 'white';
  }
}

/** One label: its text (the item's label, shown in capitals), `x` where it ends (`right`) or starts, its top `y`. */
export class LabelPlace {
  constructor() {
    this.text = '';
    this.x = 0;
    this.y = 0;
    this.right = true;
    this.color = 'white';
  }
}

/** Everything drawn over one frame, in drawing order: bars, discs, labels. */
export class OverlayView {
  constructor() {
    /** @type {BarPlace[]} two per streamer at most (edges to centre) */
    this.bars = Array.from({ length: MAX_DRAWN * 2 }, () => new BarPlace());
    this.barCount = 0;
    /** @type {DiscPlace[]} */
    this.discs = Array.from({ length: MAX_DRAWN }, () => new DiscPlace());
    this.discCount = 0;
    /** @type {LabelPlace[]} */
    this.labels = Array.from({ length: MAX_DRAWN }, () => new LabelPlace());
    this.labelCount = 0;
  }

  /**
   * Fill from `lane` for a picture `width` × `height` px; `show` says which of streamers, punches and flutters
   * are drawn.
   * @param {LaneView} lane
   * @param {number} width
   * @param {number} height
   * @param {string} direction ltr | rtl | centre
   * @param {{streamers: boolean, punches: boolean, flutters: boolean}} show
   * @returns {OverlayView}
   */
  fill(lane, width, height, direction, show) {
    this.barCount = 0;
    this.discCount = 0;
    this.labelCount = 0;
    const bar = barWidth(width);
    for (let i = 0; i < lane.count; i++) {
      const item = lane.drawn[i].item;
      if (item === null) continue;
      if (item.kind === 'streamer') {
        if (!show.streamers) continue;
        const x = headX(lane.drawn[i].progress, width, direction);
        // The bar trails its leading edge: left of it going right, right of it going left; centre, one each side.
        this.bar(direction === 'rtl' ? x : x - bar, bar, item.color);
        if (direction === 'centre') this.bar(width - x, bar, item.color);
        if (item.label) {
          // Beside the bar on the side it comes from, so that it never runs ahead of the bar into the hit.
          const l = this.labels[this.labelCount++];
          const rtl = direction === 'rtl';
          l.text = item.label;
          l.x = rtl ? x + bar * 1.5 : x - bar * 1.5;
          l.y = height * LABEL_TOP;
          l.right = !rtl;
          l.color = item.color;
        }
      } else if (item.kind === 'flutter' ? show.flutters : show.punches) {
        const d = this.discs[this.discCount++];
        const r = punchRadius(height, item.size);
        d.radius = r;
        d.color = item.color;
        // The cue's own: a ring as well, so it is told by shape as well as by size and colour.
        d.ring = item.size === 2 ? r * RING_SCALE : 0;
        d.ringWidth = item.size === 2 ? Math.max(RING_MIN, r * RING_SHARE) : 0;
      }
    }
    return this;
  }

  /**
   * @private
   * @param {number} left
   * @param {number} width
   * @param {string} color
   */
  bar(left, width, color) {
    const b = this.bars[this.barCount++];
    b.left = left;
    b.width = width;
    b.color = color;
  }
}

/**
 * The sizes of the burnt-in text for a picture `height` px high: the text, the band under it, the label's.
 * @param {number} height
 * @returns {{text: number, band: number, pad: number, label: number}}
 */
export function textSizes(height) {
  const text = Math.max(MIN_TEXT, height * TEXT_SHARE);
  return { text, band: Math.round(text * 1.5), pad: text * 0.5, label: Math.round(Math.max(MIN_TEXT, height * LABEL_SHARE)) };
}

/**
 * The right of the band, as the movie burns it in: `12 | 3` in the music, `COUNT-OFF 2` in the count-off,
 * a free-timing cue's seconds; '' outside the cue.
 * @param {import('./music.js').MusicNow} n
 * @param {boolean} bars show bar|beat (and a free cue's seconds)
 * @param {boolean} countoff show the count-off
 * @param {(s: number) => string} clock a free cue's seconds as text
 * @returns {string}
 */
export function countText(n, bars, countoff, clock) {
  if (n.phase === 'music') return bars ? `${n.bar} | ${n.beat}` : '';
  if (n.phase === 'countoff') return bars || countoff ? `COUNT-OFF ${n.countdown}` : '';
  if (n.phase === 'free') return bars ? clock(n.seconds) : '';
  return '';
}
