import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseAnchor, position, sameAnchor, timeOf } from '../lib/anchor.js';

test('position and timeOf invert each other', () => {
  const a = { t0: 100, p0: 3600, speed: 1.001 };
  assert.equal(position(a, 100), 3600);
  assert.ok(Math.abs(position(a, 110) - 3610.01) < 1e-9);
  for (const p of [3590, 3600, 3612.345]) assert.ok(Math.abs(position(a, timeOf(a, p)) - p) < 1e-9);
  assert.throws(() => timeOf({ t0: 0, p0: 0, speed: 0 }, 1), RangeError);
});

test('a chase correction under 2 ms over the horizon is the same anchor; a locate, a stop or a varispeed is not', () => {
  const a = { t0: 100, p0: 3600, speed: 1 };
  assert.ok(sameAnchor(a, { t0: 100.5, p0: 3600.5015, speed: 1 }, 101));
  assert.ok(!sameAnchor(a, { t0: 100.5, p0: 3600.503, speed: 1 }, 101));
  assert.ok(!sameAnchor(a, { t0: 101, p0: 3620, speed: 1 }, 101)); // locate
  assert.ok(!sameAnchor(a, { t0: 101, p0: 3601, speed: 0 }, 101)); // stop
  assert.ok(!sameAnchor(a, { t0: 101, p0: 3601, speed: 1.01 }, 101)); // varispeed: 30 ms apart 3 s on
  assert.ok(!sameAnchor({ ...a, speed: 0 }, { ...a, speed: 0 }, 101));
});

test('anchors from protocol data', () => {
  assert.deepEqual(parseAnchor({ t0: 1, p0: 2, speed: 1 }), { t0: 1, p0: 2, speed: 1 });
  assert.equal(parseAnchor({ t0: 1, p0: '2', speed: 1 }), null);
  assert.equal(parseAnchor(null), null);
  assert.equal(parseAnchor({ t0: 1, p0: 2, speed: Infinity }), null);
});
