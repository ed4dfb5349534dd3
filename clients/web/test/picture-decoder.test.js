import assert from 'node:assert/strict';
import test from 'node:test';

import { DecoderStats, PictureDecoder, rangeProblem } from '../lib/picture-decoder.js';

test('a range answer holds the group only when it is the range asked for, every byte of it', () => {
  assert.equal(rangeProblem(206, 'bytes 100-199/5000', 100, 100, 200), null);
  assert.equal(rangeProblem(206, null, 100, 100, 200), null);
  assert.equal(rangeProblem(206, 'bytes 100-199/5000', 61, 100, 200), 'asked for 100 bytes, 61 came');
  assert.equal(rangeProblem(206, 'bytes 0-99/5000', 100, 100, 200), 'asked for bytes 100-199, sent bytes 0-99/5000');
  // A server that ignores ranges: the whole file, which must reach the group's end.
  assert.equal(rangeProblem(200, null, 5000, 100, 200), null);
  assert.equal(rangeProblem(200, null, 150, 100, 200), 'the whole file sent, 150 bytes, short of byte 200');
});

/**
 * The decoder's fetch of a group, run against `answer` (no VideoDecoder needed to fetch).
 * @param {(init: RequestInit) => Response} answer
 */
function fetcherOf(answer) {
  /** @type {RequestInit[]} */
  const asked = [];
  const self = {
    index: { offsets: [1000, 6000, 6700], sizes: [5000, 700, 701], keyframes: [0], frames: 3 },
    url: '/picture/proxy.mp4',
    stats: new DecoderStats(),
    /** @param {string} _url @param {RequestInit} init */
    fetcher: async (_url, init) => { asked.push(init); return answer(init); },
  };
  return { self, asked, fetch: () => PictureDecoder.prototype.fetchGroup.call(self, 0) };
}

test('a group is read past the browser cache, and a short range is refused, counted and never handed on', async () => {
  const body = new Uint8Array(6401).fill(7);
  const good = fetcherOf(() => new Response(body, { status: 206, headers: { 'Content-Range': 'bytes 1000-7400/9000' } }));
  const bytes = await good.fetch();
  assert.equal(bytes.byteLength, 6401);
  assert.equal(good.asked[0].cache, 'no-store');
  assert.deepEqual(good.asked[0].headers, { Range: 'bytes=1000-7400' });
  assert.equal(good.self.stats.badRanges, 0);

  const short = fetcherOf(() => new Response(body.subarray(0, 1221), {
    status: 206, headers: { 'Content-Range': 'bytes 1000-7400/9000' },
  }));
  await assert.rejects(short.fetch(), /group 0: asked for 6401 bytes, 1221 came/);
  assert.equal(short.self.stats.badRanges, 1);

  const whole = fetcherOf(() => new Response(new Uint8Array(9000).fill(3), { status: 200 }));
  const cut = await whole.fetch();
  assert.equal(cut.byteLength, 6401);
  assert.equal(whole.self.stats.badRanges, 0);
});

/** An index of `frames` samples, a keyframe every 6, each sample 100 bytes from byte 0. */
function sixes(frames) {
  const offsets = [];
  const sizes = [];
  for (let k = 0; k < frames; k++) {
    offsets.push(k * 100);
    sizes.push(100);
  }
  const keyframes = [];
  for (let k = 0; k < frames; k += 6) keyframes.push(k);
  return /** @type {import('../lib/picture-frame.js').PictureIndex} */ ({
    revision: '1-abc', codec: 'avc1.64001f', description: 'AWQAH/8=', width: 320, height: 180, rate: '23.976',
    fps: [24000, 1001], start_frame: 0, frames, keyframes, offsets, sizes,
  });
}

test('after a locate, the groups to decode are fetched first and alone; the bytes ahead once they are in', async () => {
  /** @type {any[]} */
  const sent = [];
  /** @type {any} */ (globalThis).Worker = class {
    constructor() {
      /** @type {((ev: {data: any}) => void) | null} */
      this.onmessage = null;
      this.onerror = null;
    }

    /** @param {any} message */
    postMessage(message) {
      sent.push(message);
    }

    terminate() {}
  };
  /** @type {{range: string, priority: string, answer: () => void}[]} */
  const asked = [];
  /** @type {typeof fetch} */
  const fetcher = async (_url, init) => {
    const range = /** @type {Record<string, string>} */ (init?.headers).Range;
    const [start, last] = range.slice(6).split('-').map(Number);
    await new Promise((resolve) => asked.push({ range, priority: String(init?.priority), answer: () => resolve(null) }));
    return new Response(new Uint8Array(last - start + 1), {
      status: 206, headers: { 'Content-Range': `bytes ${start}-${last}/${480 * 100}` },
    });
  };
  const decoder = new PictureDecoder(sixes(480), '/proxy.mp4', fetcher, true);
  assert.equal(decoder.stats.worker, true);
  // Rolling, located to 100 (group 16 is 96 … 101): picture will be some frames on before anything shows, so the
  // groups from there on are asked for, at high priority, and nothing else.
  decoder.update(100, 1);
  const first = asked.map((a) => [a.range, a.priority]);
  assert.deepEqual(first.map(([, p]) => p), first.map(() => 'high'));
  assert.equal(first[0][0], `bytes=${17 * 600}-${18 * 600 - 1}`); // group 17: 102 …, where 100 + LEAD lands
  decoder.update(101, 1);
  assert.equal(asked.length, first.length, 'no bytes ahead while the groups due are on their way');
  for (const a of asked) a.answer();
  await new Promise((resolve) => setTimeout(resolve, 10));
  decoder.update(102, 1);
  const ahead = asked.slice(first.length);
  assert.ok(ahead.length > 0);
  assert.deepEqual(ahead.map((a) => a.priority), ahead.map(() => 'low'));
  // Each group went to the worker whole, in order, and nothing waits for a flush between them.
  const groups = sent.filter((m) => m.op === 'group').map((m) => m.chunks[0].timestamp);
  assert.deepEqual(groups, [102, 108, 114].slice(0, groups.length));
  assert.ok(groups.length >= 2, String(groups));
  assert.equal(sent.filter((m) => m.op === 'flush').length, 1);
  decoder.close();
});
