import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CueBook } from '../lib/screen.js';

const CUE = { id: '1M1', title: 'Main Title', free: false, downbeat: 10, first: 8, end_position: 40, breakdown: {} };

/** A fetcher whose answers the test releases one by one: the clicks say which plan they were made under. */
function gatedFetcher() {
  /** @type {Array<() => void>} */
  const gates = [];
  let plan = 'plain';
  /** @param {string} url */
  const fetcher = async (url) => {
    const made = plan;
    await new Promise((resolve) => gates.push(() => resolve(undefined)));
    let body;
    if (url === '/api/cues') body = [{ id: '1M1', first: 8, end: 40 }];
    else if (url.endsWith('/clicks')) body = [{ time: made === 'pickup' ? 20 : 10, bar: made === 'pickup' ? 0 : 1, beat: 1, kind: 'accent' }];
    else body = CUE;
    return /** @type {Response} */ ({ ok: true, json: async () => body });
  };
  return {
    fetcher,
    /** @param {string} p */
    setPlan(p) { plan = p; },
    release() { for (const g of gates.splice(0)) g(); },
  };
}

const settle = () => new Promise((resolve) => setTimeout(resolve, 0));

test("music asked for before a reload is the old plan's: dropped when it comes, and asked for again", async () => {
  const f = gatedFetcher();
  const book = new CueBook(/** @type {typeof fetch} */ (/** @type {unknown} */ (f.fetcher)));
  assert.equal(book.musicOf('1M1'), undefined); // on its way, under the plain plan
  await settle();
  f.setPlan('pickup');
  const reloading = book.reload(); // a pickup cued up meanwhile
  f.release();
  await reloading;
  await settle();
  assert.equal(book.music.get('1M1'), undefined, "the old plan's clicks were kept");
  assert.equal(book.musicOf('1M1'), undefined); // asked for again, under the pickup
  await settle();
  f.release();
  await settle();
  await settle();
  const m = book.music.get('1M1');
  assert.ok(m !== undefined);
  assert.deepEqual(m.cue.clicks.map((c) => c.time), [20]);
});

test('music that comes with no reload meanwhile is kept', async () => {
  const f = gatedFetcher();
  const book = new CueBook(/** @type {typeof fetch} */ (/** @type {unknown} */ (f.fetcher)));
  book.musicOf('1M1');
  await settle();
  f.release();
  await settle();
  await settle();
  assert.deepEqual(book.music.get('1M1')?.cue.clicks.map((c) => c.time), [10]);
});
