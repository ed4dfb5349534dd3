// A screen's own settings: kept by the browser (localStorage) and settable in the URL for kiosk use.  Pure.

/** @typedef {'ltr' | 'rtl' | 'centre'} Direction */
/** @typedef {'s' | 'm' | 'l'} Size */

/**
 * @typedef {object} Settings
 * @property {string} name shown to the engineer in the clients list
 * @property {number} offsetMs the display's latency: frames are drawn this much ahead (−500…500)
 * @property {Direction} direction streamers left to right, right to left, or from both edges to the centre
 * @property {Size} size the lane's height and the text's scale
 * @property {boolean} calibrate the calibration pattern instead of the cue
 * @property {boolean} debug keep per-frame records for tests and benchmarks
 * @property {boolean} picture the cut above the lane (/musician)
 * @property {boolean} streamers what is drawn over the picture: streamers, punches and flutters (on unless told
 * @property {boolean} punches   off), and burnt in along the bottom: the frame's timecode, bar|beat, the
 * @property {boolean} flutters  count-off, the cue and the take (off unless asked for)
 * @property {boolean} tc
 * @property {boolean} bars
 * @property {boolean} countoff
 * @property {boolean} cue
 * @property {boolean} take
 */

/** @type {Settings} */
export const DEFAULTS = Object.freeze({
  name: '', offsetMs: 0, direction: 'ltr', size: 'm', calibrate: false, debug: false, picture: false,
  streamers: true, punches: true, flutters: true, tc: false, bars: false, countoff: false, cue: false, take: false,
});

/** The settings that say what is drawn over the picture (URL words, per visit like calibrate and debug). */
export const OVERLAY_WORDS = Object.freeze(['streamers', 'punches', 'flutters', 'tc', 'bars', 'countoff', 'cue', 'take']);

/** Settings kept in localStorage (calibrate, debug, picture and the overlay's words are per visit). */
export const KEPT = Object.freeze(['name', 'offsetMs', 'direction', 'size']);

const DIRECTIONS = ['ltr', 'rtl', 'centre'];
const SIZES = ['s', 'm', 'l'];

/**
 * One setting from text, or undefined when the text does not fit it.
 * @param {string} key
 * @param {string} text
 * @returns {string | number | boolean | undefined}
 */
function read(key, text) {
  switch (key) {
    case 'name':
      return text.trim().slice(0, 64);
    case 'offsetMs': {
      const n = Number(text);
      return text.trim() !== '' && Number.isFinite(n) && n >= -500 && n <= 500 ? n : undefined;
    }
    case 'direction':
      return text === 'center' ? 'centre' : DIRECTIONS.includes(text) ? text : undefined;
    case 'size':
      return SIZES.includes(text) ? text : undefined;
    default:
      // The switches: present (or 1, true, on) is on; anything else (0) is off.
      if (typeof (/** @type {Record<string, unknown>} */ (DEFAULTS))[key] !== 'boolean') return undefined;
      return text === '' || text === '1' || text === 'true' || text === 'on';
  }
}

/** URL parameter → setting. */
const PARAMS = /** @type {Record<string, keyof Settings>} */ ({
  name: 'name',
  offset_ms: 'offsetMs',
  direction: 'direction',
  size: 'size',
  calibrate: 'calibrate',
  debug: 'debug',
  picture: 'picture',
  ...Object.fromEntries(OVERLAY_WORDS.map((w) => [w, w])),
});

/**
 * The settings: defaults, then what was kept, then the URL (which wins, for kiosk use).
 * @param {string} search location.search
 * @param {string | null} stored localStorage's JSON, if any
 * @returns {Settings}
 */
export function loadSettings(search, stored) {
  /** @type {Record<string, unknown>} */
  const out = { ...DEFAULTS };
  if (stored) {
    try {
      const kept = JSON.parse(stored);
      if (kept && typeof kept === 'object') {
        for (const key of KEPT) {
          if (key in kept) {
            const v = read(key, String(kept[key]));
            if (v !== undefined) out[key] = v;
          }
        }
      }
    } catch {
      // a broken entry is ignored: the defaults stand
    }
  }
  const params = new URLSearchParams(search);
  for (const [param, key] of Object.entries(PARAMS)) {
    const text = params.get(param);
    if (text === null) continue;
    const v = read(key, text);
    if (v !== undefined) out[key] = v;
  }
  return /** @type {Settings} */ (out);
}

/**
 * One setting changed from a form's text; the settings unchanged when the text does not fit.
 * @param {Settings} s
 * @param {keyof Settings} key
 * @param {string} text
 * @returns {Settings}
 */
export function withSetting(s, key, text) {
  const v = read(key, text);
  return v === undefined ? s : { ...s, [key]: v };
}

/**
 * What localStorage keeps.
 * @param {Settings} s
 * @returns {string}
 */
export function storeSettings(s) {
  return JSON.stringify({ name: s.name, offsetMs: s.offsetMs, direction: s.direction, size: s.size });
}
