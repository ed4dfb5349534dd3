// The proxy decoded with WebCodecs around the playhead: groups of pictures fetched by HTTP range from the index's
// offsets (the stage parsed the file when it imported it: no demuxer runs in the browser), fed to one
// VideoDecoder (in a worker of its own where the browser can: lib/decoder-link.js), and a small bounded cache of
// decoded frames, each closed as it passes or is evicted.
//
// `update(due, speed)` is called at every refresh with the sample due; `frame(k)` answers the decoded frame, or
// null while it is on its way.  What to fetch and what to keep is lib/picture-frame.js's (pure) answer.

import { PageDecoder, WorkerDecoder } from './decoder-link.js';
import {
  MAX_HELD, aimAt, farthest, gopBytes, gopOf, gopSamples, groupsToFetch, groupsToRead, inCut, keep,
} from './picture-frame.js';

/** @typedef {import('./picture-frame.js').PictureIndex} PictureIndex */
/** @typedef {import('./decoder-link.js').DecoderLink} DecoderLink */
/** @typedef {import('./decoder-link.js').GroupChunk} GroupChunk */

/**
 * Bytes of base64 text.
 * @param {string} text
 * @returns {Uint8Array}
 */
export function fromBase64(text) {
  const raw = atob(text);
  const out = new Uint8Array(raw.length);
  for (let i = 0; i < raw.length; i++) out[i] = raw.charCodeAt(i);
  return out;
}

/**
 * What is wrong with the answer to a request for bytes [start, end) of the proxy, or null when it holds them.
 * @param {number} status
 * @param {string | null} contentRange
 * @param {number} length the body's bytes
 * @param {number} start
 * @param {number} end
 * @returns {string | null}
 */
export function rangeProblem(status, contentRange, length, start, end) {
  if (status === 200) return length >= end ? null : `the whole file sent, ${length} bytes, short of byte ${end}`;
  if (contentRange !== null && !contentRange.startsWith(`bytes ${start}-${end - 1}/`)) {
    return `asked for bytes ${start}-${end - 1}, sent ${contentRange}`;
  }
  if (length !== end - start) return `asked for ${end - start} bytes, ${length} came`;
  return null;
}

/** What the decoder did, for the page's debug hook (`?debug=1`) and benchmarks: never what it shows. */
export class DecoderStats {
  constructor() {
    /** Groups fetched, and their bytes. */
    this.groups = 0;
    this.bytes = 0;
    /** Frames decoded, and those closed unseen (decoded outside what was kept). */
    this.decoded = 0;
    this.dropped = 0;
    /** Resets (a locate away from everything on its way). */
    this.resets = 0;
    /** Milliseconds from a group's request to its first frame out, the latest. */
    this.firstFrameMs = 0;
    /** Decoded frames held now, and the most held at once. */
    this.held = 0;
    this.maxHeld = 0;
    /** Errors from the decoder or the network, the latest; and how often the decoder failed (made again). */
    this.error = '';
    this.failures = 0;
    /** Ranges that came back other than asked (short, or another range): fetched again, never decoded. */
    this.badRanges = 0;
    /** True while the decoder runs in a worker of its own; false on the page's thread. */
    this.worker = false;
  }
}

export class PictureDecoder {
  /**
   * @param {PictureIndex} index
   * @param {string} url the proxy's URL
   * @param {typeof fetch} [fetcher]
   * @param {boolean} [inWorker] decode in a worker (false: on the page's thread, or where there are no workers)
   */
  constructor(index, url, fetcher = fetch.bind(globalThis), inWorker = typeof Worker !== 'undefined') {
    this.index = index;
    this.url = url;
    this.fetcher = fetcher;
    /** @type {Map<number, VideoFrame>} decoded frames by sample */
    this.held = new Map();
    /** Groups fetched or decoding, with the frames still to come out of each. */
    /** @type {Map<number, number>} */
    this.pending = new Map();
    /** Bumped on every reset: work from before it is dropped. */
    this.generation = 0;
    /** The refresh's sample and speed, for what to keep as frames come out. */
    this.due = 0;
    this.speed = 0;
    this.stats = new DecoderStats();
    /** @type {Promise<void>} decodes run in order, one group after another */
    this.chain = Promise.resolve();
    /** @type {Map<number, number>} when each group was asked for (ms) */
    this.asked = new Map();
    /** @type {Map<number, Promise<Uint8Array>>} groups' bytes fetched ahead of their decoding */
    this.bytes = new Map();
    /** Fetches under way of groups asked for decoding (not ahead). */
    this.fetching = 0;
    /** The newest frame decoded too late for its refresh (its sample in `lateSample`): shown while the decoder
     * catches up rather than nothing. */
    /** @type {VideoFrame | null} */
    this.late = null;
    this.lateSample = -1;
    this.closed = false;
    this.description = fromBase64(index.description);
    this.inWorker = inWorker;
    /** @type {DecoderLink | null} */
    this.decoder = null;
    this.open();
  }

  /** @private */
  open() {
    /** @type {import('./decoder-link.js').LinkInit} */
    const init = {
      output: (frame) => this.output(frame),
      error: (e, unavailable) => {
        this.stats.error = String(e);
        if (unavailable) this.inWorker = false; // no decoder in a worker here: the page's thread from now on
        else this.stats.failures++;
        this.decoder = null; // made again at the next refresh
        this.pending.clear();
        this.bytes.clear(); // and the bytes fetched again: whatever the decoder choked on is not fed to it twice
      },
    };
    const decoder = this.inWorker ? new WorkerDecoder(init) : new PageDecoder(init);
    decoder.configure(this.config());
    this.decoder = decoder;
    this.stats.worker = decoder.inWorker;
  }

  /**
   * What the decoder is configured with.
   * @private
   * @returns {VideoDecoderConfig}
   */
  config() {
    return { codec: this.index.codec, description: this.description, codedWidth: this.index.width,
             codedHeight: this.index.height, optimizeForLatency: true };
  }

  /**
   * The decoded frame of sample `k`, or null.
   * @param {number} k
   * @returns {VideoFrame | null}
   */
  frame(k) {
    return this.held.get(k) ?? null;
  }

  /**
   * The newest frame decoded behind sample `k` when `k` itself is not (decoding late): its sample and frame.
   * @param {number} k
   * @returns {{sample: number, frame: VideoFrame} | null}
   */
  behind(k) {
    let best = -1;
    for (const s of this.held.keys()) if (s < k && s > best) best = s;
    if (best < 0 && this.late !== null && this.lateSample < k) return { sample: this.lateSample, frame: this.late };
    const frame = best >= 0 ? this.held.get(best) : undefined;
    return frame === undefined ? null : { sample: best, frame };
  }

  /**
   * A refresh at sample `due`, picture moving at `speed`: frames no longer wanted are closed, what is missing is
   * asked for (after a locate away from everything on its way, the decoder is reset first).
   * @param {number} due
   * @param {number} speed
   */
  update(due, speed) {
    if (this.closed) return;
    this.due = due;
    this.speed = speed;
    const index = this.index;
    for (const [k, frame] of this.held) {
      if (!keep(index, k, due, speed)) {
        frame.close();
        this.held.delete(k);
      }
    }
    if (this.late !== null && (this.lateSample > due || this.held.has(due))) {
      this.late.close();
      this.late = null;
      this.lateSample = -1;
    }
    if (this.decoder === null || this.decoder.state === 'closed') {
      this.generation++;
      this.pending.clear();
      this.open();
    }
    // Nothing at the playhead, nor on its way: decode towards where it will be by then, dropping work elsewhere.
    let from = due;
    if (inCut(index, due) && !this.held.has(due) && !this.pending.has(gopOf(index, due))) {
      from = aimAt(index, due, speed);
      if (!this.pending.has(gopOf(index, from)) && this.pending.size > 0) this.reset();
    }
    for (const g of groupsToFetch(index, from, speed, (k) => this.held.has(k), new Set(this.pending.keys()))) {
      this.request(g);
    }
    // The bytes ahead: fetched once the groups to decode have theirs (after a locate, the group due must not
    // share the stage and the network with seconds of picture after it), decoded when their turn comes; those
    // left behind are let go.
    const reading = groupsToRead(index, due, speed);
    if (this.fetching === 0) for (const g of reading) if (!this.bytes.has(g)) this.bytes.set(g, this.fetchAhead(g));
    if (this.bytes.size > reading.length) {
      for (const g of this.bytes.keys()) if (!reading.includes(g) && !this.pending.has(g)) this.bytes.delete(g);
    }
    this.stats.held = this.held.size;
  }

  /** Drop everything on its way: the decoder's queue and the groups fetched or asked for. */
  reset() {
    this.generation++;
    this.pending.clear();
    this.stats.resets++;
    if (this.decoder !== null && this.decoder.state === 'configured') {
      this.decoder.reset();
      this.decoder.configure(this.config());
    }
    this.chain = Promise.resolve();
  }

  /**
   * Fetch group `g` now and decode it after the ones before it.
   * @private
   * @param {number} g
   */
  request(g) {
    const index = this.index;
    const { first, end } = gopSamples(index, g);
    this.pending.set(g, end - first);
    this.asked.set(g, performance.now());
    const generation = this.generation;
    let bytes = this.bytes.get(g);
    if (bytes === undefined) {
      bytes = this.fetchGroup(g, 'high');
      this.bytes.set(g, bytes);
      this.fetching++;
      const done = () => { this.fetching--; };
      bytes.then(done, done);
    }
    const mine = this.chain.then(async () => {
      let data;
      try {
        data = await bytes;
      } catch (e) {
        this.bytes.delete(g);
        this.stats.error = String(e);
        if (generation === this.generation) this.pending.delete(g);
        return;
      }
      const decoder = this.decoder;
      if (generation !== this.generation || this.closed) return;
      if (decoder === null || decoder.state !== 'configured') {
        this.pending.delete(g); // asked for again at the next refresh, from a decoder made afresh
        return;
      }
      const base = index.offsets[first];
      /** @type {GroupChunk[]} */
      const chunks = [];
      for (let k = first; k < end; k++) {
        const at = index.offsets[k] - base;
        chunks.push({ type: k === first ? 'key' : 'delta', timestamp: k, start: at, end: at + index.sizes[k] });
      }
      try {
        decoder.group(data, chunks);
      } catch (e) {
        // The browser closed the decoder under us (reclaimed it, or it failed): made again at the next refresh.
        this.stats.error = String(e);
        if (generation === this.generation) this.pending.delete(g);
        return;
      }
      this.stats.groups++;
      this.stats.bytes += data.byteLength;
      // The last group asked for: out with all its frames now (a decoder may hold the last ones back for more
      // input).  Not awaited, and never between groups: the next group's chunks go in at once behind this one's
      // (it starts on a keyframe, as after a flush), and the decoder is never left idle for a round trip to this
      // thread.  A reset meanwhile rejects the flush: nothing to do then.
      if (this.chain === mine) decoder.flush().catch(() => {});
    });
    this.chain = mine;
  }

  /**
   * Group `g`'s bytes fetched ahead of their turn: a failure is the decoding's to see (it drops them and asks
   * again), not an unhandled rejection while nobody waits for them yet.
   * @private
   * @param {number} g
   * @returns {Promise<Uint8Array>}
   */
  fetchAhead(g) {
    const bytes = this.fetchGroup(g, 'low');
    bytes.catch(() => {
      if (this.bytes.get(g) === bytes && !this.pending.has(g)) this.bytes.delete(g);
    });
    return bytes;
  }

  /**
   * The bytes of group `g`: one HTTP range.
   * @private
   * @param {number} g
   * @param {'high' | 'low'} priority the group due and the next ones to decode, or bytes ahead
   * @returns {Promise<Uint8Array>}
   */
  async fetchGroup(g, priority) {
    const { start, end } = gopBytes(this.index, g);
    // Never from the browser's HTTP cache: with several pages reading ranges of one file at once, Chromium has
    // answered a range from its cache with a body shorter than the Content-Range it gave, and bytes that are
    // not the group's make the decoder fail on every group after them.
    const r = await this.fetcher(this.url, { cache: 'no-store', priority,
                                             headers: { Range: `bytes=${start}-${end - 1}` } });
    if (r.status !== 206 && r.status !== 200) throw new Error(`proxy: HTTP ${r.status}`);
    const all = new Uint8Array(await r.arrayBuffer());
    const problem = rangeProblem(r.status, r.headers.get('content-range'), all.byteLength, start, end);
    if (problem !== null) {
      this.stats.badRanges++;
      throw new Error(`proxy: group ${g}: ${problem}`); // dropped from the bytes ahead, asked for again
    }
    // A server that ignores ranges sends the whole file.
    return r.status === 200 ? all.subarray(start, end) : all;
  }

  /**
   * A decoded frame out of the decoder: held if it is wanted, closed at once otherwise.
   * @private
   * @param {VideoFrame} frame
   */
  output(frame) {
    const k = frame.timestamp;
    const index = this.index;
    const g = gopOf(index, k);
    this.stats.decoded++;
    const left = this.pending.get(g);
    if (left !== undefined) {
      if (left === gopSamples(index, g).end - gopSamples(index, g).first) {
        this.stats.firstFrameMs = performance.now() - (this.asked.get(g) ?? performance.now());
      }
      if (left <= 1) this.pending.delete(g);
      else this.pending.set(g, left - 1);
    }
    if (this.closed || !keep(index, k, this.due, this.speed)) {
      this.stats.dropped++;
      if (!this.closed && k <= this.due && k > this.lateSample) {
        this.late?.close();
        this.late = frame;
        this.lateSample = k;
      } else {
        frame.close();
      }
      return;
    }
    this.held.get(k)?.close();
    this.held.set(k, frame);
    while (this.held.size > MAX_HELD) {
      const far = farthest(this.held.keys(), this.due);
      if (far === null) break;
      this.held.get(far)?.close();
      this.held.delete(far);
    }
    this.stats.held = this.held.size;
    if (this.held.size > this.stats.maxHeld) this.stats.maxHeld = this.held.size;
  }

  /** Close every frame and the decoder. */
  close() {
    this.closed = true;
    this.generation++;
    for (const frame of this.held.values()) frame.close();
    this.held.clear();
    this.late?.close();
    this.late = null;
    this.bytes.clear();
    this.pending.clear();
    if (this.decoder !== null && this.decoder.state !== 'closed') this.decoder.close();
    this.decoder = null;
  }
}
