// Which picture frame is due at a refresh, and which groups of pictures to fetch and decode around it.
// Pure: the index, the anchor and the times are arguments (docs/picture.md, "The page").
//
// Sample k of the proxy is picture frame `start_frame + k`; picture position p (seconds since 00:00:00:00 at the
// actual rate) is in frame floor(p × fps), the way stage/core/timecode.py and lib/timecode.js count it (drop-frame
// only changes how a frame is named, not which one it is).  A group of pictures (GOP) runs from a keyframe to the
// next and is one HTTP range of the proxy; groups are closed, so each one decodes by itself.

import { position } from './anchor.js';

/** @typedef {import('./anchor.js').Anchor} Anchor */

/**
 * What the page reads of index.json.
 * @typedef {object} PictureIndex
 * @property {string} revision
 * @property {string} codec
 * @property {string} description base64 avcC
 * @property {number} width
 * @property {number} height
 * @property {string} rate
 * @property {[number, number]} fps
 * @property {number} start_frame
 * @property {number} frames
 * @property {number[]} keyframes
 * @property {number[]} offsets
 * @property {number[]} sizes
 */

/** A millionth of a frame of slack for float error at a boundary (lib/timecode.js). */
const SLACK = 1e-6;
/** Seconds of picture decoded ahead of the playhead while it rolls (at any speed, in its direction). */
export const AHEAD = 0.5;
/** Seconds of picture whose bytes are fetched ahead (compressed, they are small): a slow answer from a busy
 * stage is hidden behind them. */
export const BYTES_AHEAD = 3;
/** Frames kept behind the playhead (a small step back needs no decode). */
export const BEHIND = 2;
/** The most decoded frames held at once, whatever happens: memory stays bounded. */
export const MAX_HELD = 48;
/** Seconds a group takes from being asked for to its frames out (fetch and decode, on a loaded stage): after a
 * locate while rolling, picture moves on by this much before anything can be shown. */
export const LEAD = 0.1;

/**
 * The index from index.json, checked: null when it is not one the page can play.
 * @param {unknown} raw
 * @returns {PictureIndex | null}
 */
export function parseIndex(raw) {
  if (raw === null || typeof raw !== 'object') return null;
  const o = /** @type {Record<string, any>} */ (raw);
  const ints = (/** @type {unknown} */ a) => Array.isArray(a) && a.every((x) => Number.isInteger(x) && x >= 0);
  if (typeof o.codec !== 'string' || typeof o.description !== 'string') return null;
  if (!Array.isArray(o.fps) || o.fps.length !== 2 || !(o.fps[0] > 0 && o.fps[1] > 0)) return null;
  if (!Number.isInteger(o.start_frame) || !Number.isInteger(o.frames) || o.frames <= 0) return null;
  if (!ints(o.keyframes) || !ints(o.offsets) || !ints(o.sizes)) return null;
  if (o.offsets.length !== o.frames || o.sizes.length !== o.frames || o.keyframes[0] !== 0) return null;
  return /** @type {PictureIndex} */ (o);
}

/**
 * Frames per second of the index's rate.
 * @param {PictureIndex} index
 * @returns {number}
 */
export function fpsOf(index) {
  return index.fps[0] / index.fps[1];
}

/**
 * The picture frame (counted from 00:00:00:00) position `p` is in.
 * @param {number} p picture seconds
 * @param {[number, number]} fps
 * @returns {number}
 */
export function frameOf(p, fps) {
  return Math.floor((p * fps[0]) / fps[1] + SLACK);
}

/**
 * The sample of the proxy due at server time `t` under `anchor`: may lie outside 0 … frames − 1 (no picture
 * there: see `inCut`).
 * @param {PictureIndex} index
 * @param {Anchor} anchor
 * @param {number} t server seconds at which the refresh reaches the screen
 * @returns {number}
 */
export function dueSample(index, anchor, t) {
  return frameOf(position(anchor, t), index.fps) - index.start_frame;
}

/**
 * True when sample `k` is one of the cut's.
 * @param {PictureIndex} index
 * @param {number} k
 * @returns {boolean}
 */
export function inCut(index, k) {
  return k >= 0 && k < index.frames;
}

/**
 * The group of pictures that holds sample `k` (the number of its keyframe in `keyframes`); `k` inside the cut.
 * @param {PictureIndex} index
 * @param {number} k
 * @returns {number}
 */
export function gopOf(index, k) {
  const keys = index.keyframes;
  let lo = 0;
  let hi = keys.length;
  while (hi - lo > 1) {
    const mid = (lo + hi) >>> 1;
    if (keys[mid] <= k) lo = mid;
    else hi = mid;
  }
  return lo;
}

/**
 * The samples of group `g`: its keyframe `first`, and `end` (one past its last).
 * @param {PictureIndex} index
 * @param {number} g
 * @returns {{first: number, end: number}}
 */
export function gopSamples(index, g) {
  return { first: index.keyframes[g], end: g + 1 < index.keyframes.length ? index.keyframes[g + 1] : index.frames };
}

/**
 * The byte range of group `g` in the proxy (one HTTP range: its samples follow one another): `start` and `end`
 * (exclusive), as `Range: bytes=start-(end − 1)` asks for them.
 * @param {PictureIndex} index
 * @param {number} g
 * @returns {{start: number, end: number}}
 */
export function gopBytes(index, g) {
  const { first, end } = gopSamples(index, g);
  return { start: index.offsets[first], end: index.offsets[end - 1] + index.sizes[end - 1] };
}

/**
 * The samples wanted decoded for a refresh at sample `due` with picture moving at `speed`: `lo` … `hi − 1`,
 * clipped to the cut (empty when `due` is outside it and nothing of the cut is near).  Rolling, `seconds`
 * (default AHEAD) of picture in its direction; stopped, the frame itself.
 * @param {PictureIndex} index
 * @param {number} due
 * @param {number} speed
 * @param {number} [seconds]
 * @returns {{lo: number, hi: number}}
 */
export function wanted(index, due, speed, seconds = AHEAD) {
  const ahead = Math.ceil(Math.abs(speed) * fpsOf(index) * seconds);
  let lo = due;
  let hi = due + 1;
  if (speed > 0) hi += ahead;
  else if (speed < 0) lo -= ahead;
  lo = Math.min(index.frames, Math.max(0, lo));
  return { lo, hi: Math.min(index.frames, Math.max(lo, hi)) };
}

/**
 * The sample to decode towards when nothing near `due` is decoded or on its way (a locate, or the decoder left
 * behind): rolling, where picture will be LEAD seconds on, so that a group the playhead leaves while it is
 * fetched and decoded is not decoded first; stopped, `due` itself.  Clipped to the cut.
 * @param {PictureIndex} index
 * @param {number} due
 * @param {number} speed
 * @returns {number}
 */
export function aimAt(index, due, speed) {
  if (speed === 0 || !inCut(index, due)) return due;
  const lead = Math.sign(speed) * Math.ceil(Math.abs(speed) * fpsOf(index) * LEAD);
  return Math.min(index.frames - 1, Math.max(0, due + lead));
}

/**
 * True when a decoded sample `k` is worth keeping for a refresh at `due` moving at `speed`: inside what is
 * wanted, a few frames behind it, or in the rest of a group being decoded ahead.
 * @param {PictureIndex} index
 * @param {number} k
 * @param {number} due
 * @param {number} speed
 * @returns {boolean}
 */
export function keep(index, k, due, speed) {
  const { lo, hi } = wanted(index, due, speed);
  if (lo >= hi) return false;
  const back = speed < 0 ? gopSamples(index, gopOf(index, lo)).first : lo - BEHIND;
  const front = speed > 0 ? gopSamples(index, gopOf(index, hi - 1)).end : hi + BEHIND;
  return k >= back && k < front;
}

/**
 * The groups to fetch and decode next, nearest the playhead first: every group holding a wanted sample that is
 * neither held (`held(k)`) nor already on its way (`busy`).
 * @param {PictureIndex} index
 * @param {number} due
 * @param {number} speed
 * @param {(k: number) => boolean} held
 * @param {ReadonlySet<number>} busy groups being fetched or decoded
 * @returns {number[]}
 */
export function groupsToFetch(index, due, speed, held, busy) {
  const { lo, hi } = wanted(index, due, speed);
  /** @type {number[]} */
  const out = [];
  if (lo >= hi) return out;
  const first = gopOf(index, lo);
  const last = gopOf(index, hi - 1);
  const order = [];
  if (speed < 0) for (let g = last; g >= first; g--) order.push(g);
  else for (let g = first; g <= last; g++) order.push(g);
  for (const g of order) {
    if (busy.has(g)) continue;
    const s = gopSamples(index, g);
    const from = Math.max(s.first, lo);
    const to = Math.min(s.end, hi);
    for (let k = from; k < to; k++) {
      if (!held(k)) {
        out.push(g);
        break;
      }
    }
  }
  return out;
}

/**
 * The groups whose bytes are wanted at `due` moving at `speed`, nearest first: BYTES_AHEAD seconds of picture.
 * @param {PictureIndex} index
 * @param {number} due
 * @param {number} speed
 * @returns {number[]}
 */
export function groupsToRead(index, due, speed) {
  const { lo, hi } = wanted(index, due, speed, BYTES_AHEAD);
  /** @type {number[]} */
  const out = [];
  if (lo >= hi) return out;
  const first = gopOf(index, lo);
  const last = gopOf(index, hi - 1);
  if (speed < 0) for (let g = last; g >= first; g--) out.push(g);
  else for (let g = first; g <= last; g++) out.push(g);
  return out;
}

/**
 * The held sample to evict first when more than MAX_HELD are held: the one farthest from `due`.
 * @param {Iterable<number>} held
 * @param {number} due
 * @returns {number | null}
 */
export function farthest(held, due) {
  let best = null;
  let gap = -1;
  for (const k of held) {
    const d = Math.abs(k - due);
    if (d > gap) {
      gap = d;
      best = k;
    }
  }
  return best;
}
