import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CHANGED, ScreenState } from '../lib/state.js';

const anchor = { t0: 10, p0: 3600, speed: 1 };
const sched = (key, position) => ({ key, kind: 'punch', cue: '1M1', position, length: 0, start: anchor.t0 + position - anchor.p0 });

test('a snapshot, then events: the transport voids the schedule, the session says record', () => {
  const s = new ScreenState();
  const got = s.apply({ type: 'snapshot', server_time: 10, seq: 5, schedule: [sched('a', 3602)],
    state: { transport: { anchor, cue: '1M1', rolling: true }, session: { mode: 'rehearse', armed: '1M1' }, take: null } }, 10);
  assert.ok(got & CHANGED.DROPPED);
  assert.deepEqual(s.schedule.items.map((i) => i.key), ['a']);
  assert.equal(s.cue, '1M1');
  assert.equal(s.armed, '1M1');
  s.apply({ type: 'event', topic: 'schedule', seq: 6, data: { anchor, events: [sched('b', 3603)] } }, 11);
  assert.deepEqual(s.schedule.items.map((i) => i.key), ['a', 'b']);
  const located = s.apply({ type: 'event', topic: 'transport', seq: 7,
    data: { anchor: { t0: 11, p0: 3700, speed: 1 }, cue: null, rolling: true } }, 11);
  assert.ok(located & CHANGED.DROPPED && located & CHANGED.CUE);
  assert.deepEqual(s.schedule.items, []);
  s.apply({ type: 'event', topic: 'session', seq: 8, data: { mode: 'record', rolling: true, take: { take: 7 } } }, 12);
  assert.equal(s.recording, true);
  assert.equal(s.take?.take, 7);
});
