// The decoder lib/picture-decoder.js feeds, one group of pictures at a time: in a worker of its own
// (lib/picture-worker.js) where the browser can, else on the page's thread.  Both answer the same few calls, as
// a VideoDecoder would: configure, a group's chunks, flush, reset, close, and its state.

/**
 * One chunk of a group: its type, its timestamp (the proxy's sample number), and where its bytes are in the
 * group's bytes.
 * @typedef {{type: 'key' | 'delta', timestamp: number, start: number, end: number}} GroupChunk
 */

/**
 * What a decoder link tells its owner.
 * @typedef {object} LinkInit
 * @property {(frame: VideoFrame) => void} output a decoded frame, the owner's to close
 * @property {(e: Error, unavailable: boolean) => void} error the decoder failed (`unavailable`: it cannot run
 *   where it was put; the owner decodes on its own thread from then on)
 */

/**
 * @typedef {object} DecoderLink
 * @property {'unconfigured' | 'configured' | 'closed'} state
 * @property {boolean} inWorker
 * @property {(config: VideoDecoderConfig) => void} configure
 * @property {(data: Uint8Array, chunks: GroupChunk[]) => void} group
 * @property {() => Promise<void>} flush
 * @property {() => void} reset
 * @property {() => void} close
 */

/** @implements {DecoderLink} */
export class PageDecoder {
  /** @param {LinkInit} init */
  constructor(init) {
    this.inWorker = false;
    this.decoder = new VideoDecoder({ output: init.output, error: (e) => init.error(e, false) });
  }

  get state() {
    return this.decoder.state;
  }

  /** @param {VideoDecoderConfig} config */
  configure(config) {
    this.decoder.configure(config);
  }

  /** @param {Uint8Array} data @param {GroupChunk[]} chunks */
  group(data, chunks) {
    for (const c of chunks) {
      this.decoder.decode(new EncodedVideoChunk({ type: c.type, timestamp: c.timestamp,
                                                  data: data.subarray(c.start, c.end) }));
    }
  }

  flush() {
    return this.decoder.flush();
  }

  reset() {
    this.decoder.reset();
  }

  close() {
    this.decoder.close();
  }
}

/** @implements {DecoderLink} */
export class WorkerDecoder {
  /**
   * @param {LinkInit} init
   * @param {string | URL} [script]
   */
  constructor(init, script = new URL('./picture-worker.js', import.meta.url)) {
    this.inWorker = true;
    this.init = init;
    /** @type {'unconfigured' | 'configured' | 'closed'} */
    this.state = 'unconfigured';
    /** Resets asked for: a frame or a flush answered before the latest one is stale. */
    this.epoch = 0;
    this.nextFlush = 0;
    /** @type {Map<number, {resolve: () => void, reject: (e: Error) => void}>} */
    this.flushes = new Map();
    this.worker = new Worker(script);
    this.worker.onmessage = (ev) => this.heard(ev.data);
    this.worker.onerror = (ev) => {
      ev.preventDefault();
      this.fail(`the decoder's worker failed: ${ev.message || 'it did not load'}`, true);
    };
  }

  /**
   * @private
   * @param {any} m
   */
  heard(m) {
    if (m.op === 'frame') {
      const frame = /** @type {VideoFrame} */ (m.frame);
      if (m.epoch !== this.epoch || this.state === 'closed') frame.close();
      else this.init.output(frame);
    } else if (m.op === 'flushed') {
      const waiting = this.flushes.get(m.id);
      this.flushes.delete(m.id);
      if (waiting === undefined) return;
      if (m.error === null && m.epoch === this.epoch) waiting.resolve();
      else waiting.reject(new Error(m.error ?? 'reset'));
    } else if (m.op === 'error') {
      this.fail(m.message, false);
    } else if (m.op === 'unavailable') {
      this.fail(m.message, true);
    }
  }

  /**
   * @private
   * @param {string} message
   * @param {boolean} unavailable
   */
  fail(message, unavailable) {
    if (this.state === 'closed') return;
    this.close();
    this.init.error(new Error(message), unavailable);
  }

  /** @param {VideoDecoderConfig} config */
  configure(config) {
    if (this.state === 'closed') throw new Error('the decoder is closed');
    this.worker.postMessage({ op: 'configure', config });
    this.state = 'configured';
  }

  /** @param {Uint8Array} data @param {GroupChunk[]} chunks */
  group(data, chunks) {
    if (this.state !== 'configured') throw new Error(`the decoder is ${this.state}`);
    // The group's own bytes, moved to the worker (a copy: the page may still hold the fetched bytes).
    const own = data.slice();
    this.worker.postMessage({ op: 'group', data: own.buffer, chunks }, [own.buffer]);
  }

  /** @returns {Promise<void>} */
  flush() {
    if (this.state !== 'configured') return Promise.reject(new Error(`the decoder is ${this.state}`));
    const id = this.nextFlush++;
    return new Promise((resolve, reject) => {
      this.flushes.set(id, { resolve, reject });
      this.worker.postMessage({ op: 'flush', id });
    });
  }

  /** Drop everything on its way; configure again before the next group. */
  reset() {
    if (this.state === 'closed') return;
    this.epoch++;
    this.worker.postMessage({ op: 'reset' });
    this.state = 'unconfigured';
    this.abortFlushes('reset');
  }

  close() {
    if (this.state === 'closed') return;
    this.state = 'closed';
    this.epoch++;
    this.worker.postMessage({ op: 'close' });
    this.worker.terminate();
    this.abortFlushes('closed');
  }

  /**
   * @private
   * @param {string} why
   */
  abortFlushes(why) {
    for (const f of this.flushes.values()) f.reject(new Error(why));
    this.flushes.clear();
  }
}
