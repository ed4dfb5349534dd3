import assert from 'node:assert/strict';
import { test } from 'node:test';
import { clockView } from '../lib/timesource.js';

test('the internal clock has nothing to lock to', () => {
  assert.deepEqual(clockView({ source: 'internal', sync: null }), { source: 'internal', word: 'INTERNAL', detail: 'internal clock', ok: null });
  assert.equal(clockView({}).source, 'internal'); // before the first transport event
  assert.equal(clockView({ source: 'smpte' }).source, 'internal');
});

test('a chased source says which and how its lock is', () => {
  const ltc = (/** @type {Record<string, unknown> | null} */ sync) => clockView({ source: 'ltc', sync });
  assert.deepEqual(ltc({ state: 'locked', locked: true, user_bits: '20240611' }),
    { source: 'ltc', word: 'LTC LOCKED', detail: 'LTC in: locked · user bits 20240611', ok: true });
  assert.deepEqual(ltc({ state: 'locating', locked: false, user_bits: null }),
    { source: 'ltc', word: 'LTC LOCKING', detail: 'LTC in: locking', ok: false });
  assert.equal(ltc({ state: 'freewheel', locked: false }).word, 'LTC FREEWHEELING');
  assert.deepEqual(ltc({ state: 'stopped', locked: false }), { source: 'ltc', word: 'NO LTC', detail: 'LTC in: no signal', ok: false });
  assert.equal(ltc(null).word, 'NO LTC'); // no chase state heard yet
  assert.equal(ltc({ state: 'confused' }).word, 'NO LTC');
  const mtc = clockView({ source: 'mtc', sync: { state: 'locked', locked: true, user_bits: null } });
  assert.deepEqual([mtc.word, mtc.detail], ['MTC LOCKED', 'MTC in: locked']);
});
