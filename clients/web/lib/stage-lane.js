// <stage-lane>: the time lane — streamers, punches, flutters and the beat lights — on one canvas, redrawn from
// state on every frame whose pixels would differ from the last one's (lib/lanekey.js), device-pixel-ratio aware,
// with nothing allocated per frame.
//
// Attributes: `direction` (ltr | rtl | centre).  Methods: `render(view, now, flash)` draws one frame from a
// LaneView (lib/schedule.js) and a MusicNow (lib/music.js, or null); `blank()` clears it.  Sizes follow the
// element's box (CSS decides them).

import { FRESH, LaneKey } from './lanekey.js';

/** @typedef {import('./schedule.js').LaneView} LaneView */
/** @typedef {import('./music.js').MusicNow} MusicNow */

/** Cue-sheet colour names as drawn on black (docs/cuesheet.md); '#rrggbb' is used as given. */
export const COLORS = Object.freeze(/** @type {Record<string, string>} */ ({
  white: '#ffffff',
  yellow: '#ffd400',
  green: '#2bdc4a',
  red: '#ff3b30',
  blue: '#4f8cff',
  cyan: '#19e3ff',
  magenta: '#ff4dff',
  orange: '#ff9a1a',
  purple: '#b36bff',
}));

/**
 * The CSS colour of a cue-sheet colour.
 * @param {string} name
 * @returns {string}
 */
export function cssColor(name) {
  return COLORS[name] ?? (/^#[0-9a-fA-F]{6}$/.test(name) ? name : COLORS.white);
}

/**
 * Where a streamer's head is, in CSS pixels from the lane's left edge, for progress 0…1 (the far edge or the
 * centre at 1).  `centre` gives the head coming from the left; its mirror comes from the right.
 * @param {number} progress
 * @param {number} width the lane's width in CSS pixels
 * @param {string} direction
 * @returns {number}
 */
export function headX(progress, width, direction) {
  if (direction === 'rtl') return width * (1 - progress);
  if (direction === 'centre') return (width / 2) * progress;
  return width * progress;
}

/**
 * Where a punch is centred, in CSS pixels from the left edge.
 * @param {number} width
 * @param {number} radius
 * @param {string} direction
 * @returns {number}
 */
export function punchX(width, radius, direction) {
  if (direction === 'rtl') return radius;
  if (direction === 'centre') return width / 2;
  return width - radius;
}

/** Share of the lane's height the beat lights take (the streamers have the rest). */
export const LIGHTS_SHARE = 0.3;
/** Punch radius as a share of the streamer band's height: flutter, hit, the cue's own. */
export const PUNCH_SIZES = Object.freeze([0.2, 0.32, 0.46]);

const DIGITS = Array.from({ length: 33 }, (_, i) => String(i));
const UPPER = new Map(/** @type {[string, string][]} */ ([]));

/**
 * A label in capitals, made once per distinct label.
 * @param {string} label
 * @returns {string}
 */
function upper(label) {
  let s = UPPER.get(label);
  if (s === undefined) {
    s = label.toUpperCase();
    UPPER.set(label, s);
  }
  return s;
}

/**
 * Distance between beat lights for `n` beats in a strip `w` × `h`.
 * @param {number} n
 * @param {number} w
 * @param {number} h
 * @returns {number}
 */
function lightStep(n, w, h) {
  return Math.min(h * 1.25, (w * 0.9) / Math.max(1, n));
}

/**
 * @param {number} n
 * @param {number} w
 * @param {number} h
 * @returns {number}
 */
function lightRadius(n, w, h) {
  return Math.min(h * 0.36, lightStep(n, w, h) * 0.36);
}

/**
 * What <stage-lane> and <stage-picture> share: the streamers' `direction` attribute ('ltr', 'rtl' or 'centre'),
 * and `measure()` (each element's own: its canvases sized to its box) called when it is connected and resized.
 */
export class StreamerElement extends HTMLElement {
  constructor() {
    super();
    this.direction = 'ltr';
    this.resize = new ResizeObserver(() => this.measure());
  }

  static get observedAttributes() {
    return ['direction'];
  }

  connectedCallback() {
    this.resize.observe(this);
    this.measure();
  }

  disconnectedCallback() {
    this.resize.disconnect();
  }

  /**
   * @param {string} _name
   * @param {string | null} _old
   * @param {string | null} value
   */
  attributeChangedCallback(_name, _old, value) {
    this.direction = value === 'rtl' || value === 'centre' ? value : 'ltr';
  }

  /** Size the element's canvases to its box (each element's own). */
  measure() {}
}

export class StageLane extends StreamerElement {
  constructor() {
    super();
    const root = this.attachShadow({ mode: 'open' });
    root.innerHTML = '<style>:host{display:block;position:relative;background:#000}'
      + 'canvas{position:absolute;inset:0;width:100%;height:100%;display:block}</style><canvas></canvas>';
    this.canvas = /** @type {HTMLCanvasElement} */ (root.querySelector('canvas'));
    const ctx = this.canvas.getContext('2d', { alpha: false });
    if (ctx === null) throw new Error('no 2D canvas');
    this.ctx = ctx;
    /** CSS pixels. */
    this.width = 0;
    this.height = 0;
    this.dpr = 1;
    /** Fonts for the current size, made on resize, not per frame. */
    this.labelFont = '';
    this.labelSize = 14;
    /** @type {string[]} the lights' digit font by beats in the bar */
    this.digitFonts = [];
    /** @type {Map<string, number>} label widths in the current label font */
    this.widths = new Map();
    /** What the canvas shows now: a frame that would draw the same is skipped. */
    this.key = new LaneKey();
  }

  /** Size the canvas's backing store to the box × devicePixelRatio (on resize only). */
  measure() {
    const dpr = globalThis.devicePixelRatio || 1;
    const w = this.clientWidth;
    const h = this.clientHeight;
    if (w === this.width && h === this.height && dpr === this.dpr) return;
    this.width = w;
    this.height = h;
    this.dpr = dpr;
    this.canvas.width = Math.max(1, Math.round(w * dpr));
    this.canvas.height = Math.max(1, Math.round(h * dpr));
    this.key.reset(); // a resized canvas is cleared
    const band = h * (1 - LIGHTS_SHARE);
    this.labelSize = Math.max(14, Math.min(56, band * 0.16));
    this.labelFont = `600 ${this.labelSize}px system-ui, sans-serif`;
    this.widths.clear();
    this.digitFonts = DIGITS.map((_, n) => `700 ${lightRadius(n, w, h * LIGHTS_SHARE)}px system-ui, sans-serif`);
  }

  /** Clear to black. */
  blank() {
    if (this.key.same(null, null, false, this.width, this.height, this.dpr, this.direction)) return;
    const c = this.ctx;
    c.setTransform(1, 0, 0, 1, 0, 0);
    c.fillStyle = '#000';
    c.fillRect(0, 0, this.canvas.width, this.canvas.height);
  }

  /**
   * Draw one frame.
   * @param {LaneView} view
   * @param {MusicNow | null} music
   * @param {boolean} [flash] the whole lane lit (the calibration pattern's click)
   */
  render(view, music, flash = false) {
    if (this.key.same(view, music, flash, this.width, this.height, this.dpr, this.direction)) return;
    const c = this.ctx;
    const w = this.width;
    const h = this.height;
    c.setTransform(this.dpr, 0, 0, this.dpr, 0, 0);
    c.fillStyle = flash ? '#ffffff' : '#000000';
    c.fillRect(0, 0, w, h);
    if (flash) return;
    const lights = h * LIGHTS_SHARE;
    if (music !== null) this.lights(music, w, lights);
    const top = lights;
    const band = h - lights;
    // The punch line: where streamers land.
    c.fillStyle = '#3a3a3a';
    if (this.direction === 'centre') c.fillRect(w / 2 - 1, top, 2, band);
    else c.fillRect(this.direction === 'rtl' ? 0 : w - 2, top, 2, band);
    for (let i = 0; i < view.count; i++) {
      const d = view.drawn[i];
      const item = d.item;
      if (item === null) continue;
      const color = cssColor(item.color);
      if (item.kind === 'streamer') this.streamer(d.progress, color, item.label, w, top, band);
      else this.punch(item.size, d.age, color, w, top, band);
    }
  }

  /**
   * @private
   * @param {number} progress
   * @param {string} color
   * @param {string} label
   * @param {number} w
   * @param {number} top
   * @param {number} band
   */
  streamer(progress, color, label, w, top, band) {
    const c = this.ctx;
    const bar = Math.max(6, w * 0.008);
    const x = headX(progress, w, this.direction);
    c.fillStyle = color;
    c.globalAlpha = 0.22; // the trail: how far it has come
    if (this.direction === 'rtl') c.fillRect(x, top + band * 0.42, w - x, band * 0.16);
    else c.fillRect(0, top + band * 0.42, x, band * 0.16);
    if (this.direction === 'centre') c.fillRect(w - x, top + band * 0.42, x, band * 0.16);
    c.globalAlpha = 1;
    // The head: a solid bar the whole band high, its leading edge at x.
    if (this.direction === 'rtl') c.fillRect(x, top, bar, band);
    else c.fillRect(x - bar, top, bar, band);
    if (this.direction === 'centre') c.fillRect(w - x, top, bar, band);
    if (!label) return;
    // The label rides with the head, so the streamer's meaning never rests on its colour alone.
    const size = this.labelSize;
    c.font = this.labelFont;
    c.textBaseline = 'top';
    const text = upper(label);
    if (this.direction === 'rtl') {
      c.textAlign = 'left';
      c.fillText(text, x + bar * 2, top + size * 0.3);
    } else {
      c.textAlign = 'right';
      c.fillText(text, Math.max(x - bar * 2, this.textWidth(text)), top + size * 0.3);
    }
  }

  /**
   * The width of a label in the label font, measured once per size (measureText makes an object each call).
   * @private
   * @param {string} text
   * @returns {number}
   */
  textWidth(text) {
    let w = this.widths.get(text);
    if (w === undefined) {
      w = this.ctx.measureText(text).width;
      this.widths.set(text, w);
    }
    return w;
  }

  /**
   * @private
   * @param {number} size
   * @param {number} age
   * @param {string} color
   * @param {number} w
   * @param {number} top
   * @param {number} band
   */
  punch(size, age, color, w, top, band) {
    const c = this.ctx;
    const r = band * (PUNCH_SIZES[size] ?? PUNCH_SIZES[1]);
    const x = punchX(w, r, this.direction);
    c.fillStyle = color;
    c.beginPath();
    c.arc(x, top + band / 2, r, 0, Math.PI * 2);
    c.fill();
    if (size === 2) {
      // The cue's own punches are rings around a disc: a shape as well as a size.
      c.strokeStyle = color;
      c.lineWidth = Math.max(3, r * 0.12);
      c.beginPath();
      c.arc(x, top + band / 2, r * 1.25 + age * 40, 0, Math.PI * 2);
      c.stroke();
    }
  }

  /**
   * The beat lights: one per click of the bar; the downbeat a larger square, the others discs; the current one
   * lit, flashing bright at its click; numbered.  The count-off's lights are amber and say so.
   * @private
   * @param {MusicNow} m
   * @param {number} w
   * @param {number} h
   */
  lights(m, w, h) {
    if (m.beats <= 0) return;
    const c = this.ctx;
    const n = m.beats;
    const step = lightStep(n, w, h);
    const r = lightRadius(n, w, h);
    const x0 = w / 2 - (step * (n - 1)) / 2;
    const y = h / 2;
    const counting = m.phase === 'countoff';
    const on = counting ? '#ffb000' : m.accent ? '#2bdc4a' : '#ffffff';
    const fresh = m.sinceClick < FRESH;
    c.textAlign = 'center';
    c.textBaseline = 'middle';
    c.font = this.digitFonts[n] ?? this.labelFont;
    for (let i = 0; i < n; i++) {
      const x = x0 + step * i;
      const beat = i + 1;
      const lit = beat === m.beat;
      const past = beat < m.beat;
      c.fillStyle = lit ? on : past ? '#2a2a2a' : '#111111';
      c.strokeStyle = lit ? on : '#777777';
      c.lineWidth = Math.max(2, r * 0.1);
      c.globalAlpha = lit && !fresh ? 0.85 : 1;
      c.beginPath();
      if (beat === 1) {
        const s = r * 1.15;
        c.rect(x - s, y - s, s * 2, s * 2);
      } else {
        c.arc(x, y, r, 0, Math.PI * 2);
      }
      c.fill();
      c.globalAlpha = 1;
      c.stroke();
      c.fillStyle = lit ? '#000000' : '#9a9a9a';
      c.fillText(DIGITS[beat] ?? '', x, y);
    }
  }
}
