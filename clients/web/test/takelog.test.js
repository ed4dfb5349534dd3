import assert from 'node:assert/strict';
import { test } from 'node:test';
import { TakeLog, changedMarks, durationText, marksOf, rebaseMarks } from '../lib/takelog.js';
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
  assert.equal(s.get('1M2').best, null); // an unmarked take is not judged yet
});

test("a cue's best take is a usable one: never unmarked, a false start or a breakdown", () => {
  const log = new TakeLog();
  log.load([row(1, '1M1', 1, 'false_start'), row(2, '1M1', 2, 'breakdown'), row(3, '1M1', 3, null)]);
  assert.equal(log.summary().get('1M1').best, null);
  log.apply({ event: 'edited', take: row(2, '1M1', 2, 'incomplete', 1) });
  assert.equal(log.summary().get('1M1').best.id, 2);
  log.apply({ event: 'started', take: row(4, '1M1', 4, 'complete') });
  log.apply({ event: 'started', take: row(5, '1M1', 5, 'hold') });
  log.apply({ event: 'started', take: row(6, '1M1', 6, 'hold') });
  assert.equal(log.summary().get('1M1').best.id, 6); // the later of equals
  log.apply({ event: 'edited', take: row(4, '1M1', 4, 'print', 1) });
  assert.deepEqual([log.summary().get('1M1').best.id, log.summary().get('1M1').circled], [4, 1]);
});

test('the take being recorded is pending from the session at once, and kept only once its take event comes', () => {
  const log = new TakeLog();
  log.load([row(1, '1M1', 1, null)]);
  const rolling = { ...row(null, '1M1', 2, null), tc_in: '01:00:05:00', date: '2026-12-07', time_of_day: '04:00:01' };
  assert.equal(log.announce(rolling), true);
  assert.equal(log.announce({ ...rolling }), false); // the same again: nothing changed
  assert.deepEqual(log.entries().map((e) => [e.key, e.kept]), [['id 1', true], ['new 1M1-2', false]]);
  assert.deepEqual(log.list().map((r) => r.id), [1]); // never among the kept rows (counts, best take)
  assert.equal(log.summary().get('1M1').count, 1);
  assert.deepEqual(log.entries('1M2'), []);
  log.apply({ event: 'started', take: { ...rolling, id: 7, version: 0 } });
  assert.deepEqual(log.entries().map((e) => [e.key, e.kept, e.take.id]), [['id 1', true, 1], ['id 7', true, 7]]);
  // The session says it again once stored (with its id), or late without: it is kept already.
  assert.equal(log.announce({ ...rolling, id: 7 }), false);
  assert.equal(log.announce(rolling), false);
  assert.equal(log.announce(null), false);
});

test('a pending take logged under another number is the same take; a reload forgets what is pending', () => {
  const log = new TakeLog();
  const rolling = { ...row(null, '1M1', 3, null), tc_in: '01:00:05:00', date: '2026-12-07', time_of_day: '04:00:01' };
  log.announce(rolling);
  log.announce({ ...row(null, '1M2', 1, null), tc_in: '01:02:00:00' });
  assert.deepEqual(log.entries().map((e) => e.key), ['new 1M1-3', 'new 1M2-1']);
  log.apply({ event: 'started', take: { ...rolling, id: 9, take: 4 } }); // 3 was taken by another controller
  assert.deepEqual(log.entries().map((e) => e.key), ['id 9', 'new 1M2-1']);
  log.apply({ event: 'started', take: { ...rolling, id: 10, take: 5, tc_in: '01:00:09:00' } }); // another take
  assert.deepEqual(log.entries().map((e) => e.key), ['id 9', 'id 10', 'new 1M2-1']);
  log.load([row(9, '1M1', 4, null)]);
  assert.deepEqual(log.entries().map((e) => e.key), ['id 9']);
});

test('an editor sends only the fields its user changed, and after a conflict keeps those and takes the rest', () => {
  const opened = marksOf(row(1, '1M1', 1, null));
  assert.deepEqual(opened, { status: null, pickup_bar: null, wild: false });
  assert.deepEqual(changedMarks(opened, { ...opened }), {});
  assert.deepEqual(changedMarks(opened, { status: 'hold', pickup_bar: null, wild: false }), { status: 'hold' });
  assert.deepEqual(changedMarks(opened, { status: null, pickup_bar: 17, wild: true }), { pickup_bar: 17, wild: true });
  // Someone else circled it and called it wild while this user set a pickup bar: their marks stay, hers go on top.
  const mine = { status: null, pickup_bar: 17, wild: false };
  const now = { status: 'print', pickup_bar: null, wild: true };
  const { opened: again, form } = rebaseMarks(opened, mine, now);
  assert.deepEqual(form, { status: 'print', pickup_bar: 17, wild: true });
  assert.deepEqual(changedMarks(again, form), { pickup_bar: 17 });
  // Where both changed the same field, hers is sent: saving on top.
  const both = rebaseMarks(opened, { status: 'hold', pickup_bar: null, wild: false }, now);
  assert.deepEqual(changedMarks(both.opened, both.form), { status: 'hold' });
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
