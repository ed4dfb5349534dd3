import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DrawLoop, REST_MS } from '../lib/drawloop.js';

/** A page's refreshes (every 1000/60 ms) and timers on a fake clock. */
class FakeHost {
  constructor() {
    this.now = 0;
    /** @type {((t: number) => void)[]} */
    this.frames = [];
    /** @type {Map<number, {at: number, fn: () => void}>} */
    this.timers = new Map();
    this.next = 1;
    this.requested = 0;
  }

  request = (fn) => {
    this.requested++;
    this.frames.push(fn);
  };

  later = (fn, ms) => {
    const id = this.next++;
    this.timers.set(id, { at: this.now + ms, fn });
    return id;
  };

  cancel = (id) => {
    this.timers.delete(id);
  };

  /** Run `ms` of time: refreshes every 1000/60 ms (counted, so that no rounding adds one), timers when due. */
  advance(ms) {
    const end = this.now + ms + 1e-6;
    this.step ??= 0;
    while ((this.step + 1) * (1000 / 60) <= end) {
      this.step++;
      this.now = this.step * (1000 / 60);
      for (const [id, t] of [...this.timers]) {
        if (t.at <= this.now) {
          this.timers.delete(id);
          t.fn();
        }
      }
      const due = this.frames;
      this.frames = [];
      for (const fn of due) fn(this.now);
    }
  }
}

test('while something moves it draws at every refresh, each frame steady after the first', () => {
  const host = new FakeHost();
  /** @type {{raf: number, steady: boolean}[]} */
  const drawn = [];
  const loop = new DrawLoop((raf, steady) => {
    drawn.push({ raf, steady });
    return true;
  }, host);
  loop.wake();
  host.advance(1000);
  assert.equal(drawn.length, 60);
  assert.equal(drawn[0].steady, false);
  assert.ok(drawn.slice(1).every((d) => d.steady));
});

test('at rest it looks again every REST_MS, and a wake draws at the next refresh', () => {
  const host = new FakeHost();
  let moving = false;
  /** @type {number[]} */
  const drawn = [];
  const loop = new DrawLoop((raf) => {
    drawn.push(raf);
    return moving;
  }, host);
  loop.wake();
  host.advance(1000);
  // The first frame (at 16.7 ms), then one look REST_MS after the one before: 266.7, 516.7 and 766.7 ms.
  assert.deepEqual(drawn.map((t) => Math.round(t)), [17, 267, 517, 767]);
  const before = drawn.length;
  host.advance(5);
  moving = true;
  loop.wake();
  loop.wake(); // twice in one refresh: one frame
  host.advance(1000 / 60);
  assert.equal(drawn.length, before + 1);
  host.advance(500);
  assert.equal(drawn.length, before + 1 + 30, 'moving again: every refresh');
  moving = false;
  host.advance(1000 / 60);
  const rested = drawn.length;
  host.advance(REST_MS - 20);
  assert.equal(drawn.length, rested, 'at rest: nothing until the next look');
  assert.equal(host.timers.size, 1, 'one timer, no more');
});

test('a wake while resting cancels the look it replaces: never two loops', () => {
  const host = new FakeHost();
  const loop = new DrawLoop(() => false, host);
  for (let i = 0; i < 50; i++) {
    loop.wake();
    host.advance(37);
  }
  assert.ok(host.timers.size <= 1);
  assert.ok(host.frames.length <= 1);
  // Each refresh asked for at most once.
  assert.ok(host.requested <= loop.frames + 1);
});
