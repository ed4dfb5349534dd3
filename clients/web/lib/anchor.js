// Transport anchors: position(t) = p0 + speed × (t − t0), t on the server's clock (seconds).
// Pure: no clock reads, no DOM.

/** @typedef {{t0: number, p0: number, speed: number}} Anchor */

/** The anchor of a stopped transport at picture position 0. */
export const STOPPED = Object.freeze({ t0: 0, p0: 0, speed: 0 });

/** How far two anchors may disagree over the horizon and still be one anchor (seconds), as the server rules. */
export const TOLERANCE = 0.002;

/** How far ahead the server announces the schedule (seconds). */
export const HORIZON = 3.0;

/**
 * Picture position (seconds) at server time `t`.
 * @param {Anchor} a
 * @param {number} t
 * @returns {number}
 */
export function position(a, t) {
  return a.p0 + a.speed * (t - a.t0);
}

/**
 * Server time at which picture position `p` is reached; the anchor must be rolling.
 * @param {Anchor} a
 * @param {number} p
 * @returns {number}
 */
export function timeOf(a, p) {
  if (a.speed === 0) throw new RangeError('a stopped transport never reaches another position');
  return a.t0 + (p - a.p0) / a.speed;
}

/**
 * True when `next` agrees with `held` to within `tolerance` seconds of picture over [now, now + horizon]
 * (a chase correction): what was announced under `held` still holds.  Anchors not both running forward never
 * agree (the server voids its schedule on a stop or a reverse).
 * @param {Anchor} held
 * @param {Anchor} next
 * @param {number} now server time
 * @param {number} [tolerance]
 * @param {number} [horizon]
 * @returns {boolean}
 */
export function sameAnchor(held, next, now, tolerance = TOLERANCE, horizon = HORIZON) {
  if (!(held.speed > 0 && next.speed > 0)) return false;
  const a = Math.abs(position(held, now) - position(next, now)) / next.speed;
  const b = Math.abs(position(held, now + horizon) - position(next, now + horizon)) / next.speed;
  return Math.max(a, b) <= tolerance;
}

/**
 * An anchor from protocol data, or null when it is not one.
 * @param {unknown} raw
 * @returns {Anchor | null}
 */
export function parseAnchor(raw) {
  if (raw === null || typeof raw !== 'object') return null;
  const o = /** @type {Record<string, unknown>} */ (raw);
  const { t0, p0, speed } = o;
  if (typeof t0 !== 'number' || typeof p0 !== 'number' || typeof speed !== 'number') return null;
  if (!Number.isFinite(t0) || !Number.isFinite(p0) || !Number.isFinite(speed)) return null;
  return { t0, p0, speed };
}
