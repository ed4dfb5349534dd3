// The proxy decoded with WebCodecs around the playhead: groups of pictures fetched by HTTP range from the index's
// offsets (the stage parsed the file when it imported it: no demuxer runs in the browser), fed to one
// VideoDecoder, and a small bounded cache of decoded frames, each closed as it passes or is evicted.
//
// `update(due, speed)` is called at every refresh with the sample due; `frame(k)` answers the decoded frame, or
// null while it is on its way.  What to fetch and what to keep is lib/picture-frame.js's (pure) answer.

import {
  MAX_HELD, farthest, gopBytes, gopOf, gopSamples, groupsToFetch, groupsToRead, inCut, keep,
} from './picture-frame.js';

/** @typedef {import('./picture-frame.js').PictureIndex} PictureIndex */

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
  }
}

export class PictureDecoder {
  /**
   * @param {PictureIndex} index
   * @param {string} url the proxy's URL
   * @param {typeof fetch} [fetcher]
   */
  constructor(index, url, fetcher = fetch.bind(globalThis)) {
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
    /** The newest frame decoded too late for its refresh (its sample in `lateSample`): shown while the decoder
     * catches up rather than nothing. */
    /** @type {VideoFrame | null} */
    this.late = null;
    this.lateSample = -1;
    this.closed = false;
    this.description = fromBase64(index.description);
    /** @type {VideoDecoder | null} */
    this.decoder = null;
    this.open();
  }

  /** @private */
  open() {
    const decoder = new VideoDecoder({
      output: (frame) => this.output(frame),
      error: (e) => {
        this.stats.error = String(e);
        this.stats.failures++;
        this.decoder = null; // made again at the next refresh
        this.pending.clear();
        this.bytes.clear(); // and the bytes fetched again: whatever the decoder choked on is not fed to it twice
      },
    });
    decoder.configure({ codec: this.index.codec, description: this.description, codedWidth: this.index.width,
                        codedHeight: this.index.height, optimizeForLatency: true });
    this.decoder = decoder;
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
    if (inCut(index, due) && !this.held.has(due) && !this.pending.has(gopOf(index, due)) && this.pending.size > 0) {
      this.reset();
    }
    for (const g of groupsToFetch(index, due, speed, (k) => this.held.has(k), new Set(this.pending.keys()))) {
      this.request(g);
    }
    // The bytes ahead: fetched now, decoded when their turn comes; those left behind are let go.
    const reading = groupsToRead(index, due, speed);
    for (const g of reading) if (!this.bytes.has(g)) this.bytes.set(g, this.fetchAhead(g));
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
      this.decoder.configure({ codec: this.index.codec, description: this.description, codedWidth: this.index.width,
                               codedHeight: this.index.height, optimizeForLatency: true });
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
      bytes = this.fetchGroup(g);
      this.bytes.set(g, bytes);
    }
    this.chain = this.chain.then(async () => {
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
      try {
        for (let k = first; k < end; k++) {
          const at = index.offsets[k] - base;
          decoder.decode(new EncodedVideoChunk({
            type: k === first ? 'key' : 'delta',
            timestamp: k,
            data: data.subarray(at, at + index.sizes[k]),
          }));
        }
      } catch (e) {
        // The browser closed the decoder under us (reclaimed it, or it failed): made again at the next refresh.
        this.stats.error = String(e);
        if (generation === this.generation) this.pending.delete(g);
        return;
      }
      this.stats.groups++;
      this.stats.bytes += data.byteLength;
      // Out with every frame of the group now (a decoder may hold the last ones back for more input); the next
      // group starts on a keyframe, as a flush asks.  A reset meanwhile rejects it: nothing to do then.
      try {
        await decoder.flush();
      } catch {
        // reset or closed
      }
    });
  }

  /**
   * Group `g`'s bytes fetched ahead of their turn: a failure is the decoding's to see (it drops them and asks
   * again), not an unhandled rejection while nobody waits for them yet.
   * @private
   * @param {number} g
   * @returns {Promise<Uint8Array>}
   */
  fetchAhead(g) {
    const bytes = this.fetchGroup(g);
    bytes.catch(() => {
      if (this.bytes.get(g) === bytes && !this.pending.has(g)) this.bytes.delete(g);
    });
    return bytes;
  }

  /**
   * The bytes of group `g`: one HTTP range.
   * @private
   * @param {number} g
   * @returns {Promise<Uint8Array>}
   */
  async fetchGroup(g) {
    const { start, end } = gopBytes(this.index, g);
    // Never from the browser's HTTP cache: with several pages reading ranges of one file at once, Chromium has
    // answered a range from its cache with a body shorter than the Content-Range it gave, and bytes that are
    // not the group's make the decoder fail on every group after them.
    const r = await this.fetcher(this.url, { cache: 'no-store', headers: { Range: `bytes=${start}-${end - 1}` } });
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
