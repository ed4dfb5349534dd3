import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LaneView, MAX_DRAWN, PUNCH_TIME, Schedule, endShown, endTime, toItem } from '../lib/schedule.js';

const A = { t0: 1000, p0: 3600, speed: 1 };
const DT = 1 / 60;

/** A schedule event as the server announces it under `anchor`, drawn `lead` seconds early. */
function ev(key, kind, position, length, anchor = A, lead = 0, extra = {}) {
  const start = anchor.t0 + (position - anchor.p0) / anchor.speed - lead;
  return { key, cue: '1M1', kind, position, length, start, end: start + length / anchor.speed, timecode: '',
    bar: 3, beat: 1, color: 'yellow', label: 'door', late: false, ...extra };
}

function frame(s, t) {
  const v = new LaneView();
  s.frame(t, DT, v);
  return v.drawn.slice(0, v.count).map((d) => ({ key: d.item?.key, progress: d.progress, age: d.age }));
}

test('a streamer travels from its start to its end with picture, then its punch shows on the nearest frame', () => {
  const s = new Schedule();
  s.transport(A, 999);
  s.announce({ anchor: A, events: [ev('s', 'streamer', 3602, 2), ev('p', 'punch', 3604, 0)] });
  assert.deepEqual(frame(s, 1001.9), []);
  assert.deepEqual(frame(s, 1003), [{ key: 's', progress: 0.5, age: 0 }]);
  // Within half a frame after its end the head is held at the end; then it is gone.
  assert.equal(frame(s, 1004 + DT / 4)[0].progress, 1);
  assert.deepEqual(frame(s, 1004 + DT).map((d) => d.key), ['p']);
  // The punch: from half a frame before its instant, for PUNCH_TIME.
  assert.deepEqual(frame(s, 1004 - DT / 2 - 1e-6).map((d) => d.key), ['s']);
  assert.deepEqual(frame(s, 1004 - DT / 2 + 1e-6).map((d) => d.key), ['s', 'p']);
  assert.deepEqual(frame(s, 1004 - DT / 2 + PUNCH_TIME + 1e-6), []);
});

test('the end is reported by the one frame nearest it', () => {
  const s = new Schedule();
  s.transport(A, 999);
  s.announce({ anchor: A, events: [ev('s', 'streamer', 3602, 2), ev('p', 'punch', 3604, 0)] });
  const [streamer, punch] = s.items;
  for (const phase of [0, 0.2, 0.5, 0.9]) {
    const frames = Array.from({ length: 20 }, (_, i) => 1003.85 + (i + phase) * DT);
    const first = frames.find((t) => endShown(streamer, A, t, DT));
    assert.ok(first !== undefined && Math.abs(first - 1004) <= DT / 2 + 1e-9);
    const p = frames.find((t) => endShown(punch, A, t, DT));
    assert.ok(p !== undefined && Math.abs(p - 1004) <= DT / 2 + 1e-9);
  }
});

test('items are drawn with the latest anchor: a varispeed moves them, a small chase correction keeps them', () => {
  const s = new Schedule();
  s.transport(A, 999);
  s.announce({ anchor: A, events: [ev('s', 'streamer', 3602, 2)] });
  const corrected = { t0: 1001, p0: 3601.0015, speed: 1 };
  assert.equal(s.transport(corrected, 1001), false);
  assert.equal(s.items.length, 1);
  // Drawn where the corrected anchor puts picture: 1.5 ms further on.
  assert.ok(Math.abs(frame(s, 1003)[0].progress - 0.50075) < 1e-9);
  // A locate voids it: nothing of the old timeline is drawn.
  assert.equal(s.transport({ t0: 1003, p0: 3700, speed: 1 }, 1003), true);
  assert.deepEqual(frame(s, 1003.1), []);
  // So does a stop and a varispeed.
  s.announce({ anchor: { t0: 1003, p0: 3700, speed: 1 }, events: [ev('t', 'streamer', 3701, 2, { t0: 1003, p0: 3700, speed: 1 })] });
  assert.equal(s.transport({ t0: 1003.5, p0: 3700.5, speed: 0 }, 1003.5), true);
  assert.deepEqual(frame(s, 1004.5), []);
});

test("the server's screen latency is read off the announcement and kept", () => {
  const s = new Schedule();
  s.transport(A, 999);
  s.announce({ anchor: A, events: [ev('s', 'streamer', 3602, 2, A, 0.04)] });
  assert.ok(Math.abs(s.items[0].lead - 0.04) < 1e-9);
  assert.ok(Math.abs(endTime(s.items[0], A) - 1003.96) < 1e-9);
  assert.ok(Math.abs(frame(s, 1002.96)[0].progress - 0.5) < 1e-9);
});

test('a snapshot replaces everything; re-announcing a key replaces it; pruning forgets what ended', () => {
  const s = new Schedule();
  s.load(A, [ev('a', 'punch', 3601, 0), ev('b', 'flutter', 3601.1, 0)]);
  assert.deepEqual(s.items.map((i) => [i.key, i.size]), [['a', 2 - 1], ['b', 0]]);
  s.announce({ anchor: A, events: [ev('a', 'punch', 3601, 0, A, 0, { label: 'end' })] });
  assert.deepEqual(s.items.map((i) => [i.key, i.size]), [['a', 2], ['b', 0]]);
  s.prune(1003);
  assert.deepEqual(s.items, []);
  s.load({ ...A, speed: 0 }, [ev('a', 'punch', 3601, 0)]);
  assert.deepEqual(s.items, []);
});

test('nothing is allocated per frame: the view is reused and holds at most MAX_DRAWN', () => {
  const s = new Schedule();
  s.transport(A, 999);
  s.announce({ anchor: A, events: Array.from({ length: 100 }, (_, i) => ev(`k${i}`, 'streamer', 3601, 2)) });
  const v = new LaneView();
  const before = v.drawn.slice();
  s.frame(1002, DT, v);
  assert.equal(v.count, MAX_DRAWN);
  assert.ok(v.drawn.every((d, i) => d === before[i]));
});

test('garbage in an announcement is skipped', () => {
  assert.equal(toItem({ key: 1, kind: 'punch', position: 1, length: 0 }, A), null);
  assert.equal(toItem({ key: 'x', kind: 'click', position: 1, length: 0 }, A), null);
  const s = new Schedule();
  s.announce({ anchor: A, events: [null, 3, { key: 'x' }, ev('ok', 'punch', 3601, 0)] });
  assert.deepEqual(s.items.map((i) => i.key), ['ok']);
});
