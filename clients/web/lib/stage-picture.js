// <stage-picture>: the cut, frame-exact, with the streamers, punches and flutters drawn over it (docs/picture.md).
//
// Two canvases, device-pixel-ratio aware: the picture (the decoded frame due, or black with a notice where there is
// none) and over it the overlay (lib/overlay.js, the streamer movie's rules).  The picture canvas is drawn only when
// the frame to show changes; the overlay at every refresh.  Where VideoDecoder is undefined (plain http from
// another address: no secure origin) a <video> on the proxy takes the picture canvas's place, slaved by seeks
// when far and by its playback rate when near, and a banner says it is not frame-exact, and why.
//
// Attributes: `direction` (ltr | rtl | centre).  Methods: `load(index, url)` a revision's index and proxy;
// `unload(notice, detail)` no picture; `render(t, anchor, lane, texts)` one refresh (t: the server time at which
// it reaches the screen); `blank()` black, nothing drawn over.  `stats` (debug): the decoder's DecoderStats.

import { position } from './anchor.js';
import { COLORS, StreamerElement } from './stage-lane.js';
import { BAND_ALPHA, OverlayView, textSizes } from './overlay.js';
import { PictureDecoder } from './picture-decoder.js';
import { dueSample, fpsOf } from './picture-frame.js';
import { timecodeOf } from './timecode.js';

/** @typedef {import('./picture-frame.js').PictureIndex} PictureIndex */
/** @typedef {import('./anchor.js').Anchor} Anchor */
/** @typedef {import('./schedule.js').LaneView} LaneView */
/**
 * What is burnt in along the bottom ('' for nothing) and which marks are drawn.
 * @typedef {{left: boolean, centre: string, right: string, streamers: boolean, punches: boolean, flutters: boolean}} Texts
 */

/** A notice's and its detail's size as shares of the picture's height, and where they sit (overlay.py's). */
const NOTICE_SHARE = 0.075;
const DETAIL_SHARE = 0.045;
/** Seconds of picture off at which the fallback <video> seeks rather than nudges its rate. */
const SEEK_OFF = 0.5;
/** The <video>'s rate nudge: this share of speed per second off, at most MAX_NUDGE. */
const NUDGE = 2;
const MAX_NUDGE = 0.25;

/**
 * The CSS colour of a cue-sheet colour name.
 * @param {string} name
 * @returns {string}
 */
function css(name) {
  return COLORS[name] ?? (/^#[0-9a-fA-F]{6}$/.test(name) ? name : COLORS.white);
}

/**
 * The rate of an index as lib/timecode.js names frames.
 * @param {PictureIndex} index
 * @returns {import('./timecode.js').Rate}
 */
function rateOf(index) {
  return { name: index.rate, fps: index.fps, nominal: Math.round(index.fps[0] / index.fps[1]), drop: index.rate === '29.97df' };
}

export class StagePicture extends StreamerElement {
  constructor() {
    super();
    const root = this.attachShadow({ mode: 'open' });
    root.innerHTML = '<style>:host{display:block;position:relative;background:#000;overflow:hidden}'
      + 'canvas,video{position:absolute;inset:0;width:100%;height:100%;display:block}video{object-fit:contain}'
      + '#banner{position:absolute;left:0;right:0;top:0;padding:.2em .6em;background:rgba(122,26,0,.85);color:#fff;'
      + 'font:700 clamp(12px,1.6vw,22px)/1.3 system-ui,sans-serif;text-align:center}</style>'
      + '<canvas id="picture"></canvas><video id="video" muted playsinline preload="auto" hidden></video>'
      + '<canvas id="overlay"></canvas><div id="banner" role="alert" hidden></div>';
    const $ = (/** @type {string} */ id) => /** @type {HTMLElement} */ (root.getElementById(id));
    this.picture = /** @type {HTMLCanvasElement} */ ($('picture'));
    this.overlay = /** @type {HTMLCanvasElement} */ ($('overlay'));
    this.video = /** @type {HTMLVideoElement} */ ($('video'));
    this.banner = $('banner');
    const pc = this.picture.getContext('2d', { alpha: false });
    const oc = this.overlay.getContext('2d');
    if (pc === null || oc === null) throw new Error('no 2D canvas');
    this.pc = pc;
    this.oc = oc;
    /** Device pixels. */
    this.width = 0;
    this.height = 0;
    this.dpr = 1;
    /** The picture's rectangle in the canvas (device px): the cut's shape, fitted. */
    this.rect = { x: 0, y: 0, w: 0, h: 0 };
    /** @type {PictureIndex | null} */
    this.index = null;
    this.url = '';
    /** @type {PictureDecoder | null} */
    this.decoder = null;
    /** The fallback <video> runs the picture (no WebCodecs). */
    this.fallback = false;
    /** What the picture canvas shows: a sample, or a notice; redrawn only when it changes. */
    this.shownKey = '';
    /** The sample shown last (−1: none of this index). */
    this.shownSample = -1;
    this.notice = 'NO PICTURE';
    this.detail = 'no cut imported on the stage';
    this.view = new OverlayView();
    /** The band's timecode, made when the frame changes. */
    this.timecode = '';
    this.timecodeOf = -1;
    /** @type {Map<string, string>} labels in capitals */
    this.upper = new Map();
    this.overlayDrawn = true;
  }

  /** The decoder's statistics (debug), or null. */
  get stats() {
    return this.decoder?.stats ?? null;
  }

  /** Size both canvases to the box × devicePixelRatio, and fit the picture in (on resize only). */
  measure() {
    const dpr = globalThis.devicePixelRatio || 1;
    const w = Math.max(1, Math.round(this.clientWidth * dpr));
    const h = Math.max(1, Math.round(this.clientHeight * dpr));
    if (w === this.width && h === this.height && dpr === this.dpr) return;
    this.width = w;
    this.height = h;
    this.dpr = dpr;
    for (const c of [this.picture, this.overlay]) {
      c.width = w;
      c.height = h;
    }
    this.fit();
  }

  /** @private */
  fit() {
    const w = this.width;
    const h = this.height;
    const aspect = this.index !== null ? this.index.width / this.index.height : 16 / 9;
    const rw = Math.min(w, Math.round(h * aspect));
    const rh = Math.min(h, Math.round(w / aspect));
    this.rect = { x: Math.floor((w - rw) / 2), y: Math.floor((h - rh) / 2), w: rw, h: rh };
    this.shownKey = '';
    this.overlayDrawn = true;
  }

  /**
   * A revision to show: its index and the proxy's URL.
   * @param {PictureIndex} index
   * @param {string} url
   */
  load(index, url) {
    this.unload('LOADING PICTURE', index.revision ?? '');
    this.index = index;
    this.url = url;
    this.fallback = typeof VideoDecoder === 'undefined';
    if (this.fallback) {
      this.video.src = url;
      this.video.hidden = false;
      this.picture.hidden = true;
      this.banner.hidden = false;
      this.banner.textContent = 'NOT FRAME-EXACT: no WebCodecs here (a secure origin is needed) — '
        + 'open the stage over https (docs/tls.md)';
    } else {
      this.decoder = new PictureDecoder(index, url);
    }
    this.fit();
  }

  /**
   * No picture: black with `notice` (and `detail` under it).
   * @param {string} notice
   * @param {string} detail
   */
  unload(notice, detail) {
    this.decoder?.close();
    this.decoder = null;
    this.index = null;
    this.url = '';
    this.fallback = false;
    this.video.pause();
    this.video.removeAttribute('src');
    this.video.hidden = true;
    this.picture.hidden = false;
    this.banner.hidden = true;
    this.notice = notice;
    this.detail = detail;
    this.shownSample = -1;
    this.shownKey = '';
  }

  /** Black, nothing over it (the page shows a warning instead). */
  blank() {
    this.showNotice('', '');
    this.clearOverlay();
    if (this.fallback && !this.video.paused) this.video.pause();
  }

  /**
   * A transport change just heard: the decoder asked now for the frame due at server time `t` (the next
   * refresh's), rather than at that refresh; after a locate its group's fetch starts that much sooner.
   * @param {number} t
   * @param {Anchor} anchor
   */
  prepare(t, anchor) {
    const index = this.index;
    if (index === null || this.fallback || this.decoder === null) return;
    this.decoder.update(dueSample(index, anchor, t), anchor.speed);
  }

  /**
   * One refresh: the frame due at server time `t` under `anchor`, and the overlay.
   * @param {number} t
   * @param {Anchor} anchor
   * @param {LaneView} lane what of the schedule shows at `t` (lib/schedule.js)
   * @param {Texts} texts
   */
  render(t, anchor, lane, texts) {
    const index = this.index;
    let k = NaN;
    if (index === null) {
      this.showNotice(this.notice, this.detail);
    } else {
      k = dueSample(index, anchor, t);
      if (this.fallback) this.slave(index, anchor, t);
      else this.showSample(index, k, anchor.speed);
    }
    this.drawOverlay(lane, texts, index !== null && k >= 0 && k < index.frames ? index.start_frame + k : NaN, index);
  }

  /**
   * @private
   * @param {PictureIndex} index
   * @param {number} k
   * @param {number} speed
   */
  showSample(index, k, speed) {
    if (k < 0 || k >= index.frames) {
      const rate = rateOf(index);
      if (k < 0) this.showNotice('BEFORE THE CUT', `picture starts at ${timecodeOf(index.start_frame, rate)}`);
      else this.showNotice('END OF THE CUT', `picture ends at ${timecodeOf(index.start_frame + index.frames - 1, rate)}`);
      this.decoder?.update(k, speed);
      return;
    }
    const decoder = this.decoder;
    if (decoder === null) return;
    decoder.update(k, speed);
    if (this.shownSample === k && this.shownKey === 'frame') return;
    let frame = decoder.frame(k);
    let sample = k;
    if (frame === null) {
      // On its way (a locate, or a decoder running late): the newest frame decoded before it, if newer than the
      // one shown; else the frame shown stays; black and a word if none has been shown.
      const behind = decoder.behind(k);
      const shown = this.shownKey === 'frame' ? this.shownSample : -1;
      if (behind === null || behind.sample === shown || (shown >= 0 && shown < k && behind.sample < shown)) {
        if (shown < 0) this.showNotice('LOADING PICTURE', '');
        return;
      }
      frame = behind.frame;
      sample = behind.sample;
    }
    const r = this.rect;
    this.pc.drawImage(frame, r.x, r.y, r.w, r.h);
    this.shownSample = sample;
    this.shownKey = 'frame';
  }

  /**
   * Black with a notice in the middle of the picture ('' for none); drawn only when it changes.
   * @private
   * @param {string} notice
   * @param {string} detail
   */
  showNotice(notice, detail) {
    const key = `${notice}\n${detail}`;
    if (this.shownKey === key) return;
    this.shownKey = key;
    this.shownSample = -1;
    const c = this.pc;
    c.setTransform(1, 0, 0, 1, 0, 0);
    c.fillStyle = '#000';
    c.fillRect(0, 0, this.width, this.height);
    if (!notice) return;
    const r = this.rect;
    c.fillStyle = '#fff';
    c.textAlign = 'center';
    c.textBaseline = 'middle';
    c.font = `700 ${Math.round(Math.max(16 * this.dpr, r.h * NOTICE_SHARE))}px system-ui, sans-serif`;
    c.fillText(notice, r.x + r.w / 2, r.y + r.h * 0.45, r.w * 0.95);
    if (detail) {
      c.fillStyle = '#bbb';
      c.font = `400 ${Math.round(Math.max(12 * this.dpr, r.h * DETAIL_SHARE))}px system-ui, sans-serif`;
      c.fillText(detail, r.x + r.w / 2, r.y + r.h * 0.56, r.w * 0.95);
    }
  }

  /**
   * The fallback: the <video> kept near where picture is, by a seek when far and its rate when near.
   * @private
   * @param {PictureIndex} index
   * @param {Anchor} anchor
   * @param {number} t
   */
  slave(index, anchor, t) {
    const v = this.video;
    const fps = fpsOf(index);
    const target = position(anchor, t) - index.start_frame / fps;
    const duration = index.frames / fps;
    if (target < 0 || target >= duration) {
      if (!v.paused) v.pause();
      return;
    }
    const off = target - v.currentTime;
    if (anchor.speed <= 0) {
      if (!v.paused) v.pause();
      if (Math.abs(off) > 0.5 / fps && !v.seeking) v.currentTime = target + 0.25 / fps;
      return;
    }
    if (Math.abs(off) > SEEK_OFF * anchor.speed && !v.seeking) {
      v.currentTime = target + 0.1 * anchor.speed; // where picture will be when the seek is done, roughly
      v.playbackRate = anchor.speed;
    } else {
      const nudge = Math.max(-MAX_NUDGE, Math.min(MAX_NUDGE, off * NUDGE));
      v.playbackRate = anchor.speed * (1 + nudge);
    }
    if (v.paused) void v.play().catch(() => {});
  }

  /** @private */
  clearOverlay() {
    if (!this.overlayDrawn) return;
    this.oc.setTransform(1, 0, 0, 1, 0, 0);
    this.oc.clearRect(0, 0, this.width, this.height);
    this.overlayDrawn = false;
  }

  /**
   * The streamers, punches and flutters, and the burnt-in band, over the picture's rectangle.
   * @private
   * @param {LaneView} lane
   * @param {Texts} texts
   * @param {number} frame the picture frame shown (NaN: none)
   * @param {PictureIndex | null} index
   */
  drawOverlay(lane, texts, frame, index) {
    this.clearOverlay();
    const r = this.rect;
    const view = this.view.fill(lane, r.w, r.h, this.direction, texts);
    const c = this.oc;
    c.setTransform(1, 0, 0, 1, r.x, r.y);
    c.save();
    c.beginPath();
    c.rect(0, 0, r.w, r.h);
    c.clip();
    for (let i = 0; i < view.barCount; i++) {
      const b = view.bars[i];
      c.fillStyle = css(b.color);
      c.fillRect(b.left, 0, b.width, r.h);
    }
    for (let i = 0; i < view.discCount; i++) {
      const d = view.discs[i];
      c.fillStyle = css(d.color);
      c.beginPath();
      c.arc(r.w / 2, r.h / 2, d.radius, 0, Math.PI * 2);
      c.fill();
      if (d.ring > 0) {
        c.strokeStyle = c.fillStyle;
        c.lineWidth = d.ringWidth;
        c.beginPath();
        c.arc(r.w / 2, r.h / 2, d.ring, 0, Math.PI * 2);
        c.stroke();
      }
    }
    const sizes = textSizes(r.h);
    if (view.labelCount > 0) {
      c.font = `700 ${sizes.label}px system-ui, sans-serif`;
      c.textBaseline = 'top';
      for (let i = 0; i < view.labelCount; i++) {
        const l = view.labels[i];
        c.fillStyle = css(l.color);
        c.textAlign = l.right ? 'right' : 'left';
        c.fillText(this.capitals(l.text), l.x, l.y);
      }
    }
    const left = texts.left && !Number.isNaN(frame) && index !== null ? this.timecodeText(frame, index) : '';
    if (left || texts.centre || texts.right) {
      c.fillStyle = `rgba(0,0,0,${BAND_ALPHA})`;
      c.fillRect(0, r.h - sizes.band, r.w, sizes.band);
      c.fillStyle = '#fff';
      c.font = `700 ${Math.round(sizes.text)}px ui-monospace, monospace`;
      c.textBaseline = 'middle';
      const y = r.h - sizes.band / 2;
      c.textAlign = 'left';
      if (left) c.fillText(left, sizes.pad, y);
      c.textAlign = 'center';
      if (texts.centre) c.fillText(texts.centre, r.w / 2, y);
      c.textAlign = 'right';
      if (texts.right) c.fillText(texts.right, r.w - sizes.pad, y);
    }
    c.restore();
    this.overlayDrawn = true;
  }

  /**
   * @private
   * @param {number} frame
   * @param {PictureIndex} index
   * @returns {string}
   */
  timecodeText(frame, index) {
    if (frame !== this.timecodeOf) {
      this.timecodeOf = frame;
      this.timecode = timecodeOf(frame, rateOf(index));
    }
    return this.timecode;
  }

  /**
   * @private
   * @param {string} label
   * @returns {string}
   */
  capitals(label) {
    let s = this.upper.get(label);
    if (s === undefined) {
      s = label.toUpperCase();
      this.upper.set(label, s);
    }
    return s;
  }
}
