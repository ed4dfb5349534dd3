// What a lane frame would draw, reduced to the numbers its pixels depend on, so that a frame drawing the same
// pixels as the one before is skipped: a stopped transport, a lane with nothing on it and the time between two
// beat lights then cost no raster and no compositing, and the screens sharing a machine keep their time for what
// changes.  Nothing is allocated per frame.

import { MAX_DRAWN } from './schedule.js';

/** @typedef {import('./schedule.js').LaneView} LaneView */
/** @typedef {import('./music.js').MusicNow} MusicNow */

/** The beat light's bright flash lasts this long after its click (seconds). */
export const FRESH = 0.12;

/** Numbers kept per frame before the items (size, flash, lights) and per item drawn. */
const HEAD = 10;
const PER_ITEM = 2;

export class LaneKey {
  /** @param {number} [maxItems] the most items a frame draws */
  constructor(maxItems = MAX_DRAWN) {
    this.last = new Float64Array(HEAD + PER_ITEM * maxItems);
    this.next = new Float64Array(this.last.length);
    /** @type {unknown[]} the items drawn last, by identity */
    this.lastItems = new Array(maxItems).fill(null);
    /** @type {unknown[]} */
    this.nextItems = new Array(maxItems).fill(null);
    this.lastLength = -1;
  }

  /** Forget the last frame (the canvas was cleared or resized): the next one is drawn whatever it holds. */
  reset() {
    this.lastLength = -1;
  }

  /**
   * Whether this frame would draw exactly what the last one drew; if not, it becomes the last one.
   * @param {LaneView | null} view null: the lane blank
   * @param {MusicNow | null} music
   * @param {boolean} flash
   * @param {number} width CSS pixels
   * @param {number} height CSS pixels
   * @param {number} dpr
   * @param {string} direction
   * @returns {boolean}
   */
  same(view, music, flash, width, height, dpr, direction) {
    const k = this.next;
    const items = this.nextItems;
    k[0] = view === null ? 0 : flash ? 2 : 1;
    k[1] = width;
    k[2] = height;
    k[3] = dpr;
    k[4] = direction === 'rtl' ? 1 : direction === 'centre' ? 2 : 0;
    const lit = music !== null && view !== null && !flash;
    k[5] = lit ? music.beats : -1;
    k[6] = lit ? music.beat : -1;
    k[7] = lit ? (music.phase === 'countoff' ? 1 : 0) + (music.accent ? 2 : 0) : -1;
    k[8] = lit && music.sinceClick < FRESH ? 1 : 0;
    const count = view === null || flash ? 0 : Math.min(view.count, items.length);
    k[9] = count;
    const px = width * dpr;
    for (let i = 0; i < count; i++) {
      const d = view === null ? null : view.drawn[i];
      const item = d?.item ?? null;
      items[i] = item;
      const at = HEAD + PER_ITEM * i;
      if (d === null || item === null) {
        k[at] = 0;
        k[at + 1] = 0;
      } else if (item.kind === 'streamer') {
        k[at] = Math.round(d.progress * px); // the head, to the device pixel
        k[at + 1] = 0;
      } else {
        k[at] = 0;
        k[at + 1] = item.size === 2 ? Math.round(d.age * 40 * dpr) : 0; // the cue punch's ring grows
      }
    }
    const length = HEAD + PER_ITEM * count;
    let same = length === this.lastLength;
    for (let i = 0; same && i < length; i++) same = k[i] === this.last[i];
    for (let i = 0; same && i < count; i++) same = items[i] === this.lastItems[i];
    if (same) return true;
    this.next = this.last;
    this.last = k;
    this.nextItems = this.lastItems;
    this.lastItems = items;
    this.lastLength = length;
    return false;
  }
}
