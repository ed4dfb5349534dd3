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
