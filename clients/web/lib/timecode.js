// Picture timecode of a run-time position, counted as the stage counts it (stage/core/timecode.py): the frame
// the position falls in (a millionth of a frame of slack for float error at a boundary), drop-frame numbers
// skipped as SMPTE skips them, wrapping at 24 hours. The rate comes from the session (`rate`).

/** @typedef {{name: string, fps: [number, number], nominal: number, drop: boolean}} Rate */

const TOLERANCE = 1e-6;

/**
 * The frame picture position `seconds` falls in.
 * @param {number} seconds
 * @param {Rate} rate
 */
export function frameAt(seconds, rate) {
  return Math.floor((seconds * rate.fps[0]) / rate.fps[1] + TOLERANCE);
}

/**
 * Timecode text of frame `count`: `HH:MM:SS:FF`, or `HH:MM:SS;FF` at a drop-frame rate.
 * @param {number} count
 * @param {Rate} rate
 */
export function timecodeOf(count, rate) {
  const dropped = rate.drop ? rate.nominal / 15 : 0;
  const per10 = rate.nominal * 600 - 9 * dropped;
  const perDay = 24 * 6 * per10;
  let n = ((count % perDay) + perDay) % perDay;
  if (dropped) {
    const tens = Math.floor(n / per10);
    const rest = n % per10;
    n += 9 * dropped * tens;
    if (rest >= dropped) n += dropped * Math.floor((rest - dropped) / (rate.nominal * 60 - dropped));
  }
  const f = n % rate.nominal;
  const s = Math.floor(n / rate.nominal);
  const two = (/** @type {number} */ v) => String(v).padStart(2, '0');
  return `${two(Math.floor(s / 3600))}:${two(Math.floor(s / 60) % 60)}:${two(s % 60)}${rate.drop ? ';' : ':'}${two(f)}`;
}

/**
 * Timecode text of the frame picture position `seconds` is in (before 00:00:00:00: that frame).
 * @param {number} seconds
 * @param {Rate} rate
 */
export function timecodeAt(seconds, rate) {
  return timecodeOf(frameAt(Math.max(seconds, 0), rate), rate);
}
