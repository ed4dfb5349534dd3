// The musicians' view of the cue for the control pages: the lane (streamers, punches, beat lights) and bar|beat,
// drawn each frame from the synced clock and the schedule exactly as /musician draws them, and the picture's
// running timecode at the session's rate.

import { position } from './anchor.js';
import { ClockQuality } from './clock.js';
import { CueMusic, MusicNow, cueData, nextHitText } from './music.js';
import { LaneView } from './schedule.js';
import { refreshInterval } from './screen.js';
import { frameAt, timecodeOf } from './timecode.js';
import './stage-lane-define.js';

/** @typedef {import('./connection.js').StageConnection} StageConnection */
/** @typedef {import('./state.js').ScreenState} ScreenState */
/** @typedef {import('./stage-lane.js').StageLane} StageLane */
/** @typedef {{id: string, title: string, first: number, end: number, downbeat: number, free: boolean, start: string, bars: number | null, countoff: number}} CueSummary */

export class CueFollow {
  /**
   * @param {StageLane} lane
   * @param {{bar: HTMLElement, phase: HTMLElement, cue: HTMLElement, hit: HTMLElement, tc: HTMLElement}} text
   * @param {StageConnection} conn
   * @param {ScreenState} state
   */
  constructor(lane, text, conn, state) {
    this.lane = lane;
    this.text = text;
    this.conn = conn;
    this.state = state;
    /** @type {CueSummary[]} */
    this.cues = [];
    /** @type {Map<string, CueMusic>} */
    this.music = new Map();
    /** @type {Set<string>} */
    this.loading = new Set();
    this.view = new LaneView();
    this.now = new MusicNow();
    this.quality = new ClockQuality();
    this.frameDt = 1 / 60;
    this.lastRaf = 0;
    /** What the text says now (the DOM is touched only when it changes). */
    this.shown = '';
    this.hitShown = '';
    /** The frame the timecode shows (NaN: none; its text is made only when it changes). */
    this.tcFrame = NaN;
    /** Told when what is drawn may have changed outside a message (a cue's music loaded). */
    this.wake = () => {};
  }

  /** Read the cue list again (after every welcome: the sheet may have changed). */
  async loadCues() {
    this.music.clear();
    try {
      const r = await fetch('/api/cues');
      if (r.ok) this.cues = await r.json();
    } catch {
      // the connection's own state says the stage is gone
    }
    this.wake();
    return this.cues;
  }

  /** @param {string} id */
  async loadCue(id) {
    if (this.music.has(id) || this.loading.has(id)) return;
    this.loading.add(id);
    try {
      const q = encodeURIComponent(id);
      const [cue, clicks] = await Promise.all([fetch(`/api/cues/${q}`), fetch(`/api/cues/${q}/clicks`)]);
      if (cue.ok && clicks.ok) this.music.set(id, new CueMusic(cueData(await cue.json(), await clicks.json())));
    } catch {
      // asked again next frame
    } finally {
      this.loading.delete(id);
      this.wake();
    }
  }

  /**
   * The cue picture is in, else the armed one, else the next one.
   * @param {number} p
   * @returns {CueSummary | null}
   */
  cueAt(p) {
    const armed = this.state.armed;
    let next = null;
    for (const c of this.cues) {
      if (c.first <= p && p < c.end) return c;
      if (c.first > p && (next === null || c.first < next.first)) next = c;
    }
    for (const c of this.cues) if (c.id === armed) return c;
    return next;
  }

  /**
   * Draw the frame for rAF time `raf` (ms); true while picture rolls (the next refresh is drawn too).
   * @param {number} raf
   * @param {boolean} steady the frame before was the refresh before this one
   * @returns {boolean}
   */
  frame(raf, steady) {
    if (this.lastRaf > 0 && steady) {
      const d = (raf - this.lastRaf) / 1000;
      this.frameDt = refreshInterval(this.frameDt, d);
    }
    this.lastRaf = raf;
    const q = this.conn.clock.quality(performance.now() / 1000, this.quality);
    if (this.conn.state !== 'open' || !q.trusted) {
      this.lane.blank();
      this.say('', this.conn.state !== 'open' ? 'NO CONNECTION' : 'CLOCK SYNCING', '–');
      this.timecode(NaN, null);
      return false;
    }
    const t = this.conn.clock.toServer((raf + this.frameDt * 1000) / 1000);
    const anchor = this.state.anchor;
    this.state.schedule.frame(t, this.frameDt, this.view);
    const p = position(anchor, t);
    const rate = this.state.session.rate ?? null;
    this.timecode(rate !== null ? frameAt(Math.max(p, 0), rate) : NaN, rate);
    const cue = this.cueAt(p);
    const m = cue !== null ? this.music.get(cue.id) : undefined;
    if (cue !== null && m === undefined) void this.loadCue(cue.id);
    if (m !== undefined) m.at(p, this.now);
    this.lane.render(this.view, m !== undefined ? this.now : null, false);
    const n = this.now;
    // The next hit's text changes with the bar (or the tenth of a second in free timing), not every frame.
    const hit = m !== undefined && n.hit >= 0 && n.phase !== 'after' ? nextHitText(m, n) : '';
    if (hit !== this.hitShown) {
      this.hitShown = hit;
      this.text.hit.textContent = hit ? `next: ${hit}` : '';
    }
    if (m === undefined) this.say(cue?.id ?? '–', cue === null ? 'NO CUE' : 'LOADING', '–');
    else if (n.phase === 'music') this.say(cue?.id ?? '', 'BAR | BEAT', `${n.bar} | ${n.beat}`);
    else if (n.phase === 'countoff') this.say(cue?.id ?? '', 'COUNT-OFF', `${n.countdown}`);
    else if (n.phase === 'free') this.say(cue?.id ?? '', 'FREE', `${Math.floor(n.seconds)} s`);
    else this.say(cue?.id ?? '', anchor.speed > 0 ? (n.phase === 'before' ? 'COMING UP' : 'END OF CUE') : 'STOPPED', '–');
    return anchor.speed !== 0;
  }

  /**
   * Show the timecode of `frame` (NaN: none known).
   * @param {number} frame
   * @param {import('./timecode.js').Rate | null} rate
   */
  timecode(frame, rate) {
    if (frame === this.tcFrame || (Number.isNaN(frame) && Number.isNaN(this.tcFrame))) return;
    this.tcFrame = frame;
    this.text.tc.textContent = rate !== null && !Number.isNaN(frame) ? timecodeOf(frame, rate) : '–';
  }

  /**
   * @param {string} cue
   * @param {string} phase
   * @param {string} bar
   */
  say(cue, phase, bar) {
    const key = `${cue}\n${phase}\n${bar}`;
    if (key === this.shown) return;
    this.shown = key;
    this.text.cue.textContent = cue;
    this.text.phase.textContent = phase;
    this.text.bar.textContent = bar;
  }
}
