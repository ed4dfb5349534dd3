import assert from 'node:assert/strict';
import { test } from 'node:test';
import { BURST, ClockSync, INTERVAL, MAX_UNCERTAINTY, STALE, exchange } from '../lib/clock.js';

/** A deterministic pseudo-random source (mulberry32). */
function random(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

test('one exchange: round trip and offset by the textbook', () => {
  const s = exchange(10, 1010.004, 1010.005, 10.01);
  assert.ok(Math.abs(s.delay - 0.009) < 1e-9);
  assert.ok(Math.abs(s.offset - 999.9995) < 1e-9);
});

/**
 * Run bursts against a simulated server clock: server = client × (1 + drift) + offset, one-way delays
 * base + jitter (asymmetric), replies sent 20 µs after the request is read.
 */
function simulate({ offset, drift, base, jitter, bursts, seed = 1 }) {
  const rnd = random(seed);
  const clock = new ClockSync();
  const server = (t) => t * (1 + drift) + offset;
  let t = 5;
  const errors = [];
  for (let b = 0; b < bursts; b++) {
    for (let i = 0; i < BURST; i++) {
      const t0 = t;
      const up = base + jitter * rnd() ** 3; // mostly short, sometimes long: a queue somewhere
      const down = base + jitter * rnd() ** 3;
      const t1 = server(t0 + up);
      const t2 = t1 + 20e-6;
      const t3 = t0 + up + 20e-6 / (1 + drift) + down;
      clock.add(t0, t1, t2, t3);
      t = t3 + 0.025;
    }
    clock.endBurst();
    // Judge the estimate across the interval to the next burst, where the page draws from it.
    for (let k = 0; k <= 10; k++) {
      const at = t + (INTERVAL * k) / 10;
      errors.push(Math.abs(clock.toServer(at) - server(at)));
    }
    t += INTERVAL;
  }
  return { clock, errors, t };
}

test('on a LAN with jitter the offset is known to a fraction of a millisecond', () => {
  const { errors, clock, t } = simulate({ offset: 1234.5678, drift: 0, base: 0.0003, jitter: 0.004, bursts: 10 });
  assert.ok(Math.max(...errors) < 0.0005, `max error ${Math.max(...errors)}`);
  const q = clock.quality(t);
  assert.equal(q.trusted, true);
  assert.ok(q.delay < 0.002);
});

test('drift between the two clocks is followed between bursts', () => {
  // 100 ppm: a clock left alone would be 0.4 ms out by the next burst.
  const { errors } = simulate({ offset: -50, drift: 100e-6, base: 0.0002, jitter: 0.002, bursts: 20, seed: 7 });
  const late = errors.slice(-60);
  assert.ok(Math.max(...late) < 0.0003, `max error once drift is fitted: ${Math.max(...late)}`);
});

test('a clock behind long round trips is not trusted, nor one not refreshed', () => {
  const slow = simulate({ offset: 3, drift: 0, base: MAX_UNCERTAINTY * 2, jitter: 0.001, bursts: 2 });
  const q = slow.clock.quality(slow.t);
  assert.equal(q.trusted, false);
  assert.match(q.reason, /round trip/);
  const ok = simulate({ offset: 3, drift: 0, base: 0.0002, jitter: 0.001, bursts: 2 });
  assert.equal(ok.clock.quality(ok.t).trusted, true);
  assert.equal(ok.clock.quality(ok.t + STALE + 1).trusted, false);
  assert.equal(new ClockSync().quality(0).trusted, false);
});

test('another server (a jump of the offset) starts the estimate again instead of averaging it in', () => {
  const clock = new ClockSync();
  for (let b = 0; b < 3; b++) {
    clock.add(b * 4, b * 4 + 100.0001, b * 4 + 100.0001, b * 4 + 0.0002);
    clock.endBurst();
  }
  clock.add(12, 12 + 500.0001, 12 + 500.0001, 12.0002);
  clock.endBurst();
  assert.ok(Math.abs(clock.toServer(13) - 513) < 1e-6);
  assert.equal(clock.bests.length, 1);
});

test('toClient inverts toServer', () => {
  const { clock } = simulate({ offset: 77, drift: 50e-6, base: 0.0002, jitter: 0.001, bursts: 5 });
  for (const t of [10, 20, 33.3]) assert.ok(Math.abs(clock.toClient(clock.toServer(t)) - t) < 1e-9);
});
