// The schedule ahead (streamers, punches, flutters) and what of it to draw at a given server time.
// Pure: times are arguments; `frame` fills a view made once and allocates nothing.
//
// Items are kept by picture position and drawn with the latest transport anchor, so a chase correction too
// small to void the schedule (docs/ws.md) is still followed.  `lead` is how much earlier than picture the
// server asked screens to draw ([http] screen_latency_ms), read off each announcement.

import { STOPPED, parseAnchor, position, sameAnchor, timeOf } from './anchor.js';

/** @typedef {import('./anchor.js').Anchor} Anchor */

/** Seconds a punch stays on screen (three frames of 24 fps picture). */
export const PUNCH_TIME = 0.125;
/** The most items one frame draws. */
export const MAX_DRAWN = 64;
/** Transport changes that keep the schedule: the server's tolerance, with room for the page's clock error. */
export const KEEP_TOLERANCE = 0.004;

/** Labels of the cue's own streamers (count-off, downbeat, end): their punches are the large ones. */
const CUE_LABELS = new Set(['count-off', 'downbeat', 'start', 'end']);

/**
 * @typedef {object} Item
 * @property {string} key
 * @property {string} cue
 * @property {'streamer' | 'punch' | 'flutter'} kind
 * @property {number} position picture seconds where it starts
 * @property {number} length picture seconds (a streamer's travel; 0 for punches)
 * @property {number} lead seconds of server time it is drawn ahead of picture
 * @property {string} color
 * @property {string} label
 * @property {number | null} bar
 * @property {number | null} beat
 * @property {0 | 1 | 2} size 0 small (flutter), 1 medium (a hit), 2 large (the cue's own)
 */

/** One thing to draw in a frame. */
export class Drawn {
  constructor() {
    /** @type {Item | null} */
    this.item = null;
    /** 0…1 along the lane (streamers), 1 for a punch. */
    this.progress = 0;
    /** Seconds since a punch appeared (streamers: 0). */
    this.age = 0;
  }
}

/** What the lane shows in one frame: filled by `Schedule.frame`. */
export class LaneView {
  constructor() {
    /** @type {Drawn[]} */
    this.drawn = Array.from({ length: MAX_DRAWN }, () => new Drawn());
    this.count = 0;
    /** Server time the frame is drawn for. */
    this.time = 0;
  }
}

/**
 * A schedule event from the protocol as an item, or null when it is not one.
 * @param {Record<string, unknown>} e
 * @param {Anchor} anchor the anchor its start was computed under
 * @returns {Item | null}
 */
export function toItem(e, anchor) {
  const { key, kind, position: p, length, start } = e;
  if (typeof key !== 'string' || typeof p !== 'number' || typeof length !== 'number') return null;
  if (kind !== 'streamer' && kind !== 'punch' && kind !== 'flutter') return null;
  const lead = typeof start === 'number' && anchor.speed > 0 ? timeOf(anchor, p) - start : 0;
  const label = typeof e.label === 'string' ? e.label : '';
  return {
    key,
    kind,
    cue: typeof e.cue === 'string' ? e.cue : '',
    position: p,
    length,
    lead: Math.abs(lead) < 1 ? lead : 0,
    color: typeof e.color === 'string' && e.color ? e.color : 'white',
    label,
    bar: typeof e.bar === 'number' ? e.bar : null,
    beat: typeof e.beat === 'number' ? e.beat : null,
    size: kind === 'flutter' ? 0 : CUE_LABELS.has(label) ? 2 : 1,
  };
}

/**
 * Server times an item starts and ends at (a punch: both its instant) under `anchor`.
 * @param {Item} item
 * @param {Anchor} anchor rolling forward
 * @returns {number} the end; the start is `endTime − length / speed`
 */
export function endTime(item, anchor) {
  return timeOf(anchor, item.position + item.length) - item.lead;
}

/** The schedule a screen holds: the latest anchor and the items announced under it. */
export class Schedule {
  constructor() {
    /** @type {Anchor} */
    this.anchor = STOPPED;
    /** @type {Anchor | null} the anchor the held items were announced under */
    this.announced = null;
    /** @type {Item[]} in announcement order */
    this.items = [];
  }

  /**
   * A new transport anchor: the items are dropped unless it agrees with theirs (a chase correction).
   * @param {Anchor} anchor
   * @param {number} now server time
   * @returns {boolean} true when the items were dropped
   */
  transport(anchor, now) {
    const keep = this.announced !== null && sameAnchor(this.announced, anchor, now, KEEP_TOLERANCE);
    this.anchor = anchor;
    if (keep) return false;
    const had = this.items.length > 0;
    this.items.length = 0;
    this.announced = null;
    return had;
  }

  /**
   * A `schedule` event: its items join (an item announced again replaces the one with its key).
   * @param {Record<string, unknown>} data
   */
  announce(data) {
    const anchor = parseAnchor(data.anchor) ?? this.anchor;
    if (!Array.isArray(data.events)) return;
    this.announced = anchor;
    for (const raw of data.events) {
      if (raw === null || typeof raw !== 'object') continue;
      const item = toItem(/** @type {Record<string, unknown>} */ (raw), anchor);
      if (item === null) continue;
      const i = this.items.findIndex((x) => x.key === item.key);
      if (i >= 0) this.items[i] = item;
      else this.items.push(item);
    }
  }

  /**
   * A snapshot: its transport anchor and the schedule still ahead replace everything held.
   * @param {Anchor} anchor
   * @param {unknown[]} events
   */
  load(anchor, events) {
    this.anchor = anchor;
    this.items.length = 0;
    this.announced = null;
    if (anchor.speed > 0) this.announce({ anchor, events });
  }

  /**
   * Forget the items that ended more than `after` seconds before server time `now`.
   * @param {number} now
   * @param {number} [after]
   */
  prune(now, after = 1) {
    const a = this.anchor;
    if (a.speed <= 0) {
      this.items.length = 0;
      return;
    }
    let j = 0;
    for (const item of this.items) {
      const gone = endTime(item, a) + (item.kind === 'streamer' ? 0 : PUNCH_TIME) < now - after;
      if (!gone) this.items[j++] = item;
    }
    this.items.length = j;
  }

  /**
   * Fill `view` with what is on screen at server time `t`, for frames `dt` seconds apart.
   *
   * A streamer shows from its start until half a frame past its end, its head where picture is at `t`
   * (held at the end for that last half frame); a punch shows from half a frame before its instant (the frame
   * nearest it is the first) for PUNCH_TIME.  Nothing shows unless the transport runs forward.
   * @param {number} t
   * @param {number} dt
   * @param {LaneView} view
   * @returns {LaneView}
   */
  frame(t, dt, view) {
    view.time = t;
    view.count = 0;
    const a = this.anchor;
    if (a.speed <= 0) return view;
    const half = dt / 2;
    for (const item of this.items) {
      if (view.count === MAX_DRAWN) break;
      const end = endTime(item, a);
      let progress = 1;
      let age = 0;
      if (item.kind === 'streamer') {
        const start = end - item.length / a.speed;
        if (t < start || t >= end + half) continue;
        progress = end > start ? Math.min(1, (t - start) / (end - start)) : 1;
      } else {
        age = t - (end - half);
        if (age < 0 || age >= PUNCH_TIME) continue;
      }
      const d = view.drawn[view.count++];
      d.item = item;
      d.progress = progress;
      d.age = age;
    }
    return view;
  }
}

/**
 * True when frame time `t` is the first to show `item`'s end (a streamer reaching its punch, a punch appearing):
 * the report the page sends for it is due.
 * @param {Item} item
 * @param {Anchor} anchor
 * @param {number} t
 * @param {number} dt
 * @returns {boolean}
 */
export function endShown(item, anchor, t, dt) {
  if (anchor.speed <= 0) return false;
  const end = endTime(item, anchor);
  return t >= end - dt / 2 && t < end + (item.kind === 'streamer' ? dt / 2 : PUNCH_TIME);
}

/**
 * The picture position a streamer's head shows at server time `t` (for tests and reports).
 * @param {Item} item
 * @param {Anchor} anchor
 * @param {number} t
 * @returns {number}
 */
export function headPosition(item, anchor, t) {
  return position(anchor, t + item.lead);
}
