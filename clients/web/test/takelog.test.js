import assert from 'node:assert/strict';
import { test } from 'node:test';
import { TakeLog, durationText } from '../lib/takelog.js';
import { codeInHash, isPairingCode, keepToken, keptToken } from '../lib/auth.js';

const row = (id, cue, take, status, version = 0) => ({ id, cue, take, status, version, pickup_bar: null, wild: false, tc_in: '', tc_out: null, duration: null, time_of_day: '', date: '', notes: [], ended_at: null });

test('take events update rows by id and never go back a version', () => {
  const log = new TakeLog();
  log.load([row(1, '1M1', 1, 'false_start'), row(2, '1M1', 2, null)]);
  log.apply({ event: 'edited', take: row(2, '1M1', 2, 'print', 2) });
  log.apply({ event: 'edited', take: row(2, '1M1', 2, 'hold', 1) }); // arrived late
  assert.equal(log.rows.get(2).status, 'print');
  log.apply({ event: 'started', take: row(3, '1M2', 1, null) });
  assert.deepEqual(log.list('1M1').map((r) => r.id), [1, 2]);
  assert.equal(log.latest().id, 3);
  const s = log.summary();
  assert.deepEqual([s.get('1M1').count, s.get('1M1').circled, s.get('1M1').best.id], [2, 1, 2]);
  assert.equal(s.get('1M2').best.id, 3);
});

test('durations, pairing codes and the kept token', () => {
  assert.equal(durationText(83.04), '1:23.0');
  assert.equal(durationText(null), '');
  assert.equal(isPairingCode('048 213'), true);
  assert.equal(isPairingCode('tok-conductor'), false);
  assert.equal(codeInHash('#pair=048213'), '048213');
  assert.equal(codeInHash('#x=1&pair=12345'), '');
  const store = new Map();
  const s = { getItem: (k) => store.get(k) ?? null, setItem: (k, v) => store.set(k, v), removeItem: (k) => store.delete(k) };
  keepToken(s, 'conductor', 'abc');
  assert.equal(keptToken(s, 'conductor'), 'abc');
  keepToken(s, 'conductor', '');
  assert.equal(keptToken(s, 'conductor'), '');
  assert.equal(keptToken(null, 'conductor'), '');
});
