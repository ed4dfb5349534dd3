// What a page put on screen at every refresh, read from its pixels: the test cuts' block code
// (tests/peers/cuts.py) read back from a canvas after the page's animation-frame callbacks ran.
//
// A classic script (no module): a test or benchmark adds it to a browser context before any page script runs
// (Playwright's add_init_script), or imports it in Node to test `readRows` (`globalThis.cutCode`).  In a page it wraps
//  - requestAnimationFrame: after each callback, what `pictureProbe.target()` names is read (by default the
//    picture of the stage's <stage-picture>, or its fallback <video>); one record
//    per refresh {raf, code, script} (the last read of that refresh wins: it is what the refresh shows);
//    `script` is the time the page's own callbacks took, the read left out;
//  - the page's decoder, in its worker (a group's chunks posted, each frame coming back) or, on the page,
//    VideoDecoder itself: the time from each chunk's decode to its frame's output, and the chunks decoded;
//  - VideoFrame.close and clone: how many decoded frames are open (memory the JS heap does not count).
// The page is never asked what it drew: the pixels say it.

(function (root) {
  'use strict';
  const BITS = 16;
  const CELLS = BITS + 2;
  const STRIP = 0.1; // each strip's share of the picture's height
  const DARK = 70; // a cell darker than this reads 0, lighter than LIGHT 1, between: not one clean frame
  const LIGHT = 185;

  /**
   * The bits of one strip: a row of RGBA pixels across the picture's width, each cell's middle 60 % taken by
   * its median luma (a thin streamer bar over part of a cell does not change it); -1 for a cell that is
   * neither black nor white.
   * @param {ArrayLike<number>} rgba
   * @param {number} width
   * @returns {number[]}
   */
  function cells(rgba, width) {
    const out = [];
    const values = [];
    for (let i = 0; i < CELLS; i++) {
      const x0 = Math.round(((i + 0.2) * width) / CELLS);
      const x1 = Math.max(x0 + 1, Math.round(((i + 0.8) * width) / CELLS));
      values.length = 0;
      for (let x = x0; x < x1; x++) {
        const p = 4 * x;
        values.push(0.299 * rgba[p] + 0.587 * rgba[p + 1] + 0.114 * rgba[p + 2]);
      }
      values.sort((a, b) => a - b);
      const median = values[values.length >> 1];
      out.push(median < DARK ? 0 : median > LIGHT ? 1 : -1);
    }
    return out;
  }

  /**
   * The frame number two strip rows carry (the code, then the same code inverted), or null.
   * @param {ArrayLike<number>} top one row of RGBA through the middle of the upper strip
   * @param {ArrayLike<number>} bottom one row through the middle of the lower (inverted) strip
   * @param {number} width pixels in each row
   * @returns {number | null}
   */
  function readRows(top, bottom, width) {
    const a = cells(top, width);
    const b = cells(bottom, width);
    if (a[0] !== 1 || a[CELLS - 1] !== 0) return null;
    let k = 0;
    for (let i = 0; i < CELLS; i++) {
      if (a[i] < 0 || b[i] < 0 || a[i] === b[i]) return null;
      if (i > 0 && i < CELLS - 1) k = k * 2 + a[i];
    }
    return k;
  }

  /** @type {HTMLCanvasElement | null} */
  let scratch = null;
  /** @type {CanvasRenderingContext2D | null} */
  let scratchCtx = null;

  /**
   * The code in the rectangle (x, y, w, h) of any canvas (2D, WebGL, bitmaprenderer) or video element: its
   * two strip rows copied to a 2D canvas of our own and read there.
   * @param {CanvasImageSource} source
   * @param {{x: number, y: number, w: number, h: number}} rect
   * @returns {number | null}
   */
  function readSource(source, rect) {
    const w = Math.max(CELLS, Math.round(rect.w));
    if (scratch === null) {
      scratch = document.createElement('canvas');
      scratchCtx = scratch.getContext('2d', { willReadFrequently: true });
    }
    if (scratch.width !== w) scratch.width = w;
    if (scratch.height !== 2) scratch.height = 2;
    const ctx = /** @type {CanvasRenderingContext2D} */ (scratchCtx);
    ctx.imageSmoothingEnabled = false;
    ctx.clearRect(0, 0, w, 2);
    for (let row = 0; row < 2; row++) {
      const y = Math.floor(rect.y + rect.h * STRIP * (row + 0.5));
      ctx.drawImage(source, Math.round(rect.x), y, w, 1, 0, row, w, 1);
    }
    const data = ctx.getImageData(0, 0, w, 2).data;
    return readRows(data.subarray(0, 4 * w), data.subarray(4 * w), w);
  }

  const api = { BITS, CELLS, STRIP, cells, readRows, readSource };
  root.cutCode = api;
  if (typeof window === 'undefined' || typeof window.requestAnimationFrame !== 'function') return;

  // -- in a page -------------------------------------------------------------------------------------------

  /**
   * By default, the stage's <stage-picture>: its picture canvas and the picture's rectangle in it (the overlay is
   * a canvas of its own above: a streamer never hides the code); in its fallback, the <video> itself.
   * @returns {{source: CanvasImageSource, x: number, y: number, w: number, h: number} | null}
   */
  function stagePicture() {
    const host = /** @type {any} */ (document.querySelector('stage-picture'));
    if (!host) return null;
    if (host.fallback) {
      const v = host.video;
      return v.videoWidth ? { source: v, x: 0, y: 0, w: v.videoWidth, h: v.videoHeight } : null;
    }
    const r = host.rect;
    return r && r.w > 0 ? { source: host.picture, x: r.x, y: r.y, w: r.w, h: r.h } : null;
  }

  const probe = {
    /** What to read at each refresh (a page of another kind sets its own). */
    target: stagePicture,
    /** @type {{raf: number, code: number | null, script: number, read: number}[]} one per refresh */
    frames: [],
    /** decode() to output, ms, per chunk */
    decode: /** @type {number[]} */ ([]),
    chunks: 0,
    outputs: 0,
    clones: 0,
    closed: 0,
    /** Frames decoded and not closed yet. */
    get open() {
      return this.outputs + this.clones - this.closed;
    },
    /** Everything recorded so far, and forget it (the counters stay). */
    take() {
      const out = { frames: this.frames, decode: this.decode, chunks: this.chunks, outputs: this.outputs,
        open: this.open, heap: performance.memory ? performance.memory.usedJSHeapSize : null };
      this.frames = [];
      this.decode = [];
      return out;
    },
  };
  root.pictureProbe = probe;

  let lastRaf = -1;
  /** @type {{raf: number, code: number | null, script: number, read: number} | null} */
  let current = null;
  const nativeRaf = window.requestAnimationFrame.bind(window);
  window.requestAnimationFrame = function (callback) {
    return nativeRaf((t) => {
      const begin = performance.now();
      try {
        callback(t);
      } finally {
        const end = performance.now();
        if (t !== lastRaf || current === null) {
          lastRaf = t;
          current = { raf: t, code: null, script: 0, read: 0 };
          probe.frames.push(current);
        }
        current.script += end - begin;
        const where = probe.target();
        if (where !== null) {
          try {
            current.code = readSource(where.source, where);
          } catch (e) {
            current.code = null;
          }
        }
        current.read += performance.now() - end;
      }
    });
  };

  if (typeof VideoFrame === 'function') {
    const closed = new WeakSet();
    const close = VideoFrame.prototype.close;
    VideoFrame.prototype.close = function () {
      if (!closed.has(this)) {
        closed.add(this);
        probe.closed++;
      }
      return close.call(this);
    };
    const clone = VideoFrame.prototype.clone;
    VideoFrame.prototype.clone = function () {
      probe.clones++;
      return clone.call(this);
    };
  }
  // The page's decoder in a worker (lib/picture-worker.js): a group's chunks go out in one message and each
  // frame comes back in one; timed and counted here, as the decoder's own calls are below when it runs on the page.
  if (typeof Worker === 'function' && root.pictureProbeDecoder !== false) {
    const NativeWorker = Worker;
    root.Worker = class extends NativeWorker {
      /** @param {string | URL} script @param {WorkerOptions} [options] */
      constructor(script, options) {
        super(script, options);
        /** @type {Map<number, number>} */
        const sent = new Map();
        this.sent = sent;
        this.addEventListener('message', (ev) => {
          const frame = ev.data?.frame;
          if (ev.data?.op !== 'frame' || !(frame instanceof VideoFrame)) return;
          probe.outputs++;
          const at = sent.get(frame.timestamp);
          if (at !== undefined) {
            probe.decode.push(performance.now() - at);
            sent.delete(frame.timestamp);
          }
        });
      }

      /** @param {any} message @param {any} [moved] */
      postMessage(message, moved) {
        if (message?.op === 'group') {
          const now = performance.now();
          for (const c of message.chunks) {
            probe.chunks++;
            this.sent.set(c.timestamp, now);
          }
        } else if (message?.op === 'reset') {
          this.sent.clear();
        }
        return super.postMessage(message, moved);
      }
    };
  }
  // `globalThis.pictureProbeDecoder = false` set before this script leaves WebCodecs' decoder as it is.
  if (typeof VideoDecoder === 'function' && root.pictureProbeDecoder !== false) {
    const Native = VideoDecoder;
    root.VideoDecoder = class extends Native {
      /** @param {VideoDecoderInit} init */
      constructor(init) {
        /** @type {Map<number, number>} */
        const sent = new Map();
        super({
          ...init,
          output: (frame) => {
            probe.outputs++;
            const at = sent.get(frame.timestamp);
            if (at !== undefined) {
              probe.decode.push(performance.now() - at);
              sent.delete(frame.timestamp);
            }
            init.output(frame);
          },
        });
        this.sent = sent;
      }

      /** @param {EncodedVideoChunk} chunk */
      decode(chunk) {
        probe.chunks++;
        this.sent.set(chunk.timestamp, performance.now());
        return super.decode(chunk);
      }

      reset() {
        this.sent.clear();
        return super.reset();
      }
    };
  }
})(globalThis);
