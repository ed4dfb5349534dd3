// What the read-only screens (/musician, /picture) share: the whole-screen warning's rule and words, and the cue
// sheet's cues and their music, fetched as picture reaches them.  No DOM.

import { CueMusic, cueData } from './music.js';

/** @typedef {{id: string, title: string, first: number, end: number, downbeat: number, free: boolean, start: string}} CueSummary */
/** @typedef {'' | 'lost' | 'clock' | 'engine'} WarningKind */

/**
 * The display's refresh interval (seconds), followed from one more rAF interval `d`: an interval that spans
 * refreshes the page missed (a busy main thread) counts as that many refreshes, so the estimate stays the
 * display's own and not the page's frame rate; anything under 2 ms or over 100 ms is ignored.
 * @param {number} held the estimate so far
 * @param {number} d seconds between this rAF and the last
 * @returns {number}
 */
export function refreshInterval(held, d) {
  if (!(d > 0.002 && d < 0.1)) return held;
  const one = d / Math.max(1, Math.round(d / held));
  return held + (one - held) * 0.05;
}

/** Engine states in which the transport and its clicks can be followed (docs/engine.md). */
export const ENGINE_UP = new Set(['running', 'disabled']);

/**
 * Whether a screen may draw, and if not why: the link lost, the clock not trusted, or the click engine down.
 * @param {string} link the connection's state
 * @param {{trusted: boolean, reason: string}} quality the clock's
 * @param {Record<string, any> | null | undefined} engine the transport's `engine`
 * @returns {{kind: WarningKind, reason: string}}
 */
export function warningOf(link, quality, engine) {
  if (link !== 'open') return { kind: 'lost', reason: '' };
  if (!quality.trusted) return { kind: 'clock', reason: quality.reason };
  if (engine !== undefined && engine !== null && !ENGINE_UP.has(engine.state)) {
    return { kind: 'engine', reason: String(engine.reason ?? engine.state) };
  }
  return { kind: '', reason: '' };
}

/**
 * The warning's title and text.
 * @param {WarningKind} kind
 * @param {number} attempts reconnect attempts so far
 * @param {string} reason
 * @returns {[string, string]}
 */
export function warningWords(kind, attempts, reason) {
  if (kind === 'lost') {
    return ['NO CONNECTION TO THE STAGE', attempts > 0 ? `Reconnecting by itself… (attempt ${attempts})` : 'Connecting…'];
  }
  if (kind === 'clock') return ['CLOCK NOT IN STEP — DO NOT FOLLOW', `Synchronising with the stage: ${reason}.`];
  if (kind === 'engine') return ['CLICK ENGINE DOWN — STAND BY', `The stage is bringing its click back${reason ? ` (${reason})` : ''}.`];
  return ['', ''];
}

/** The sheet's cues and the music of those picture reached, fetched from the stage's REST API. */
export class CueBook {
  /** @param {typeof fetch} [fetcher] */
  constructor(fetcher = fetch.bind(globalThis)) {
    this.fetcher = fetcher;
    /** @type {CueSummary[]} */
    this.cues = [];
    /** @type {Map<string, CueMusic>} */
    this.music = new Map();
    /** @type {Set<string>} */
    this.loading = new Set();
    /** Bumped by every reload: music asked for before it is the old plan's, and is dropped when it comes. */
    this.generation = 0;
    /** Told when a cue's music has come (the screen draws it). */
    this.loaded = () => {};
  }

  /** Forget the music and fetch the cues again (a new sheet, a pickup cued up). */
  async reload() {
    this.generation++;
    this.music.clear();
    this.loading.clear();
    try {
      const r = await this.fetcher('/api/cues');
      if (r.ok) this.cues = await r.json();
    } catch {
      // the link's own state says the server is gone
    }
  }

  /**
   * The music of cue `id`, fetched once (undefined until it has come).
   * @param {string} id
   * @returns {CueMusic | undefined}
   */
  musicOf(id) {
    const m = this.music.get(id);
    if (m === undefined) void this.load(id);
    return m;
  }

  /**
   * @private
   * @param {string} id
   */
  async load(id) {
    if (this.music.has(id) || this.loading.has(id)) return;
    const generation = this.generation;
    this.loading.add(id);
    try {
      const q = encodeURIComponent(id);
      const [cue, clicks] = await Promise.all([this.fetcher(`/api/cues/${q}`), this.fetcher(`/api/cues/${q}/clicks`)]);
      if (cue.ok && clicks.ok) {
        const m = new CueMusic(cueData(await cue.json(), await clicks.json()));
        // A pickup cued up (or a new sheet) while this was on its way: these clicks are the old plan's.
        if (generation === this.generation) {
          this.music.set(id, m);
          this.loaded();
        }
      }
    } catch {
      // asked again when the cue is next reached
    } finally {
      if (generation === this.generation) this.loading.delete(id);
    }
  }

  /**
   * The cue to show at picture position `p`: the one picture is in, else the armed one, else the next one.
   * @param {number} p
   * @param {string | null} armed
   * @returns {CueSummary | null}
   */
  cueAt(p, armed) {
    let next = null;
    for (const c of this.cues) {
      if (c.first <= p && p < c.end) return c;
      if (c.first > p && (next === null || c.first < next.first)) next = c;
    }
    if (armed !== null) for (const c of this.cues) if (c.id === armed) return c;
    return next;
  }
}

/**
 * The page's element with id `id`; a page missing one of its own elements is a bug, said at once.
 * @param {string} id
 * @returns {HTMLElement}
 */
export function $(id) {
  const el = document.getElementById(id);
  if (el === null) throw new Error(`#${id} is missing`);
  return el;
}
